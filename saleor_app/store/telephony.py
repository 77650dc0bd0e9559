"""SqlTelephonyLookup: the questions about SMS and calls the neutral provider store does not answer — which message
an inbound reply answers, which sends still wait for reconciliation, and which Twilio record is already credited
to a send (one record settles at most one send). Ids only: the messages themselves are read through
SqlProviderStore."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from saleor_app.domain.jobs import JobState
from saleor_app.domain.providers import Channel, Message, MessageState
from saleor_app.store.tables import JobRow, MessageRow

MESSAGES = MessageRow.__table__  # type: ignore[attr-defined]
JOBS = JobRow.__table__  # type: ignore[attr-defined]
_PHONE_CHANNELS = (Channel.SMS.value, Channel.CALL.value)
_OPEN = (MessageState.SENDING.value, MessageState.UNKNOWN.value)


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
        """SMS and calls whose outcome is unknown, created before `created_before`: the answer was lost (message
        unknown) or the process died during the send (message still sending) — the same question either way —
        while its job is still unknown (one a person resolved is left alone), or it had no job (a test send).
        Least recently looked at first, so sends left ambiguous (each look touches them) never crowd out newer
        ones."""
        query = (select(MESSAGES.c.id).select_from(MESSAGES.outerjoin(JOBS, JOBS.c.id == MESSAGES.c.job_id)).where(
            MESSAGES.c.channel.in_(_PHONE_CHANNELS), MESSAGES.c.created_at < created_before,
            MESSAGES.c.state.in_(_OPEN), or_(MESSAGES.c.job_id.is_(None), JOBS.c.state == JobState.UNKNOWN.value))
            .order_by(MESSAGES.c.updated_at, MESSAGES.c.id).limit(limit))
        async with self._engine.connect() as connection:
            return list((await connection.execute(query)).scalars())

    async def claimed(self, account_id: int, provider_ids: Sequence[str]) -> set[str]:
        """Which of `provider_ids` a message of the account already has."""
        if not provider_ids:
            return set()
        query = select(MESSAGES.c.provider_message_id).where(
            MESSAGES.c.provider_account_id == account_id, MESSAGES.c.provider_message_id.in_(list(provider_ids)))
        async with self._engine.connect() as connection:
            return {str(value) for value in (await connection.execute(query)).scalars()}

    async def claim(self, message_id: int, account_id: int, provider_id: str, now: datetime) -> bool:
        """Give the message `provider_id` unless it has one already or another message of the account has this
        one: one conditional write, so a callback and the reconciler cannot both credit it."""
        other = MESSAGES.alias("other")
        query = update(MESSAGES).where(
            MESSAGES.c.id == message_id, MESSAGES.c.provider_message_id.is_(None),
            ~exists().where(other.c.provider_account_id == account_id,
                            other.c.provider_message_id == provider_id)).values(
            provider_message_id=provider_id[:255], updated_at=now)
        async with self._engine.begin() as connection:
            return bool((await connection.execute(query)).rowcount)

    async def rivals(self, message: Message, since: datetime, until: datetime) -> int:
        """Other sends still open (sending or unknown, no Twilio id) that a record fitting `message` could equally
        be: same account, channel, recipient, sender and text, created in [since, until]."""
        query = select(func.count()).select_from(MESSAGES).where(
            MESSAGES.c.id != message.id, MESSAGES.c.provider_account_id == message.provider_account_id,
            MESSAGES.c.channel == message.channel.value, MESSAGES.c.recipient == message.recipient,
            MESSAGES.c.sender == message.sender, MESSAGES.c.excerpt == message.excerpt,
            MESSAGES.c.state.in_(_OPEN), MESSAGES.c.provider_message_id.is_(None),
            MESSAGES.c.created_at >= since, MESSAGES.c.created_at <= until)
        async with self._engine.connect() as connection:
            return int((await connection.execute(query)).scalar_one())
