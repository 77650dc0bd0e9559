"""SqlTelephonyLookup: the two questions about SMS and calls the neutral provider store does not answer — which
message an inbound reply answers, and which sends still wait for reconciliation. Ids only: the messages
themselves are read through SqlProviderStore."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from saleor_app.domain.providers import Channel, MessageState
from saleor_app.store.tables import MessageRow

MESSAGES = MessageRow.__table__  # type: ignore[attr-defined]
_PHONE_CHANNELS = (Channel.SMS.value, Channel.CALL.value)


class SqlTelephonyLookup:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def latest_sms_to(self, installation_id: int, recipient: str) -> int | None:
        """The id of the latest SMS the installation sent to `recipient` for an order (tests left out)."""
        query = (select(MESSAGES.c.id).where(
            MESSAGES.c.installation_id == installation_id, MESSAGES.c.recipient == recipient,
            MESSAGES.c.channel == Channel.SMS.value, MESSAGES.c.is_test.is_(False),
            MESSAGES.c.order_row_id.is_not(None), MESSAGES.c.provider_message_id.is_not(None))
            .order_by(MESSAGES.c.id.desc()).limit(1))
        async with self._engine.connect() as connection:
            return (await connection.execute(query)).scalar_one_or_none()

    async def unresolved_sends(self, created_before: datetime, limit: int = 100) -> list[int]:
        """SMS and calls whose outcome is unknown, created before `created_before`, oldest first."""
        query = (select(MESSAGES.c.id).where(
            MESSAGES.c.channel.in_(_PHONE_CHANNELS), MESSAGES.c.state == MessageState.UNKNOWN.value,
            MESSAGES.c.created_at < created_before).order_by(MESSAGES.c.id).limit(limit))
        async with self._engine.connect() as connection:
            return list((await connection.execute(query)).scalars())
