"""SqlProviderStore: provider accounts, senders, messages and suppressions (domain/provider_ports.py ProviderStore).

Channel-neutral: Postmark, SMTP and Twilio share these tables. Each method is one short transaction of its own,
so nothing is ever held open across a call to a provider.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, cast

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from saleor_app.domain.errors import RunTakenOver
from saleor_app.domain.jobs import JobState
from saleor_app.domain.provider_ports import AccountWrite
from saleor_app.domain.providers import (
    Channel,
    Message,
    MessageState,
    NewMessage,
    ProviderAccount,
    ProviderStatus,
    Sender,
    SenderInfo,
    SenderKind,
    Suppression,
    SuppressionChannel,
    normalise_address,
)
from saleor_app.store.database import aware
from saleor_app.store.hand_over import mark_handed_over
from saleor_app.store.tables import JobRow, MessageRow, ProviderAccountRow, SenderRow, SuppressionRow

ACCOUNTS = ProviderAccountRow.__table__  # type: ignore[attr-defined]
SENDERS = SenderRow.__table__  # type: ignore[attr-defined]
MESSAGES = MessageRow.__table__  # type: ignore[attr-defined]
SUPPRESSIONS = SuppressionRow.__table__  # type: ignore[attr-defined]
JOBS = JobRow.__table__  # type: ignore[attr-defined]

_ACCOUNT_COLUMNS = [column for column in ACCOUNTS.c
                    if column.name not in ("credentials_encrypted", "callback_secret_encrypted")]


def _account(row: Mapping[str, Any]) -> ProviderAccount:
    return ProviderAccount(
        id=row["id"], installation_id=row["installation_id"], kind=row["kind"], key=row["key"], name=row["name"],
        settings=dict(row["settings"] or {}), status=ProviderStatus(row["status"]),
        status_message=row["status_message"], checked_at=aware(row["checked_at"]),
        last_event_at=aware(row["last_event_at"]), created_at=aware(row["created_at"]) or row["created_at"],
        registered=dict(row["registered"] or {}),
    )


def _sender(row: Mapping[str, Any]) -> Sender:
    return Sender(
        id=row["id"], provider_account_id=row["provider_account_id"], installation_id=row["installation_id"],
        kind=SenderKind(row["kind"]), address=row["address"], display_name=row["display_name"],
        external_id=row["external_id"], enabled=bool(row["enabled"]), last_sent_at=aware(row["last_sent_at"]),
    )


def _message(row: Mapping[str, Any]) -> Message:
    return Message(
        id=row["id"], installation_id=row["installation_id"], job_id=row["job_id"], order_row_id=row["order_row_id"],
        provider_account_id=row["provider_account_id"], sender_id=row["sender_id"], channel=Channel(row["channel"]),
        sender=row["sender"], recipient=row["recipient"], provider_message_id=row["provider_message_id"],
        state=MessageState(row["state"]), reason=row["reason"], last_event=row["last_event"],
        last_event_at=aware(row["last_event_at"]), is_test=bool(row["is_test"]), excerpt=row["excerpt"],
        created_at=aware(row["created_at"]) or row["created_at"],
    )


def _suppression(row: Mapping[str, Any]) -> Suppression:
    return Suppression(channel=SuppressionChannel(row["channel"]), address=row["address"], reason=row["reason"],
                       source=row["source"], created_at=aware(row["created_at"]) or row["created_at"])


class SqlProviderStore:
    def __init__(self, engine: AsyncEngine, *, within: AsyncConnection | None = None) -> None:
        self._engine = engine
        self._within = within

    @classmethod
    def within(cls, connection: AsyncConnection) -> SqlProviderStore:
        """The store inside a transaction someone else opened (a configuration import writes providers, rules and
        triggers in one): every call reads and writes through it, and nothing commits until its owner does."""
        return cls(connection.engine, within=connection)

    @asynccontextmanager
    async def _connect(self) -> AsyncIterator[AsyncConnection]:
        if self._within is not None:
            yield self._within
            return
        async with self._engine.connect() as connection:
            yield connection

    @asynccontextmanager
    async def _begin(self) -> AsyncIterator[AsyncConnection]:
        if self._within is not None:
            yield self._within
            return
        async with self._engine.begin() as connection:
            yield connection

    async def _one(self, statement: Any) -> Mapping[str, Any] | None:
        async with self._connect() as connection:
            row = (await connection.execute(statement)).mappings().first()
            return cast(Mapping[str, Any] | None, row)

    async def _all(self, statement: Any) -> list[Mapping[str, Any]]:
        async with self._connect() as connection:
            return cast(list[Mapping[str, Any]], list((await connection.execute(statement)).mappings().all()))

    async def _write(self, statement: Any) -> int:
        async with self._begin() as connection:
            return int((await connection.execute(statement)).rowcount or 0)

    # accounts

    async def accounts(self, installation_id: int, kind: str | None = None) -> list[ProviderAccount]:
        query = select(*_ACCOUNT_COLUMNS).where(ACCOUNTS.c.installation_id == installation_id)
        if kind is not None:
            query = query.where(ACCOUNTS.c.kind == kind)
        return [_account(row) for row in await self._all(query.order_by(ACCOUNTS.c.id))]

    async def accounts_everywhere(self) -> list[ProviderAccount]:
        return [_account(row) for row in await self._all(select(*_ACCOUNT_COLUMNS).order_by(ACCOUNTS.c.id))]

    async def account(self, installation_id: int, key: str) -> ProviderAccount | None:
        row = await self._one(select(*_ACCOUNT_COLUMNS).where(
            ACCOUNTS.c.installation_id == installation_id, ACCOUNTS.c.key == key))
        return _account(row) if row is not None else None

    async def account_by_id(self, account_id: int) -> ProviderAccount | None:
        row = await self._one(select(*_ACCOUNT_COLUMNS).where(ACCOUNTS.c.id == account_id))
        return _account(row) if row is not None else None

    async def save_account(self, installation_id: int, write: AccountWrite, now: datetime) -> ProviderAccount:
        values: dict[str, Any] = {"kind": write.kind, "name": write.name, "settings": write.settings,
                                  "status": ProviderStatus.UNCHECKED.value, "status_message": "", "updated_at": now}
        if write.credentials_encrypted is not None:
            values["credentials_encrypted"] = write.credentials_encrypted
        async with self._begin() as connection:
            existing = (await connection.execute(select(ACCOUNTS.c.id).where(
                ACCOUNTS.c.installation_id == installation_id, ACCOUNTS.c.key == write.key))).scalar()
            if existing is None:
                if write.credentials_encrypted is None:
                    raise ValueError(f"provider {write.key!r} is new: its credentials are needed")
                await connection.execute(insert(ACCOUNTS).values(
                    installation_id=installation_id, key=write.key, registered={}, created_at=now, **values))
            else:
                await connection.execute(update(ACCOUNTS).where(ACCOUNTS.c.id == existing).values(**values))
        saved = await self.account(installation_id, write.key)
        assert saved is not None
        return saved

    async def credentials(self, account_id: int) -> str:
        row = await self._one(select(ACCOUNTS.c.credentials_encrypted).where(ACCOUNTS.c.id == account_id))
        if row is None:
            raise LookupError(f"provider account {account_id} does not exist")
        return str(row["credentials_encrypted"])

    async def callback_secret(self, account_id: int) -> str | None:
        row = await self._one(select(ACCOUNTS.c.callback_secret_encrypted).where(ACCOUNTS.c.id == account_id))
        return row["callback_secret_encrypted"] if row is not None else None

    async def set_status(self, account_id: int, status: ProviderStatus, message: str, now: datetime, *,
                         registered: Mapping[str, Any] | None = None,
                         callback_secret_encrypted: str | None = None) -> None:
        values: dict[str, Any] = {"status": status.value, "status_message": message[:1000], "checked_at": now,
                                  "updated_at": now}
        if registered is not None:
            values["registered"] = dict(registered)
        if callback_secret_encrypted is not None:
            values["callback_secret_encrypted"] = callback_secret_encrypted
        await self._write(update(ACCOUNTS).where(ACCOUNTS.c.id == account_id).values(**values))

    async def delete_account(self, account_id: int) -> None:
        async with self._begin() as connection:
            # SQLite enforces ON DELETE only with foreign keys on (they are, see database.py); done by hand
            # anyway so the result is the same on every database.
            await connection.execute(delete(SENDERS).where(SENDERS.c.provider_account_id == account_id))
            await connection.execute(delete(ACCOUNTS).where(ACCOUNTS.c.id == account_id))

    async def event_received(self, account_id: int, now: datetime) -> None:
        await self._write(update(ACCOUNTS).where(ACCOUNTS.c.id == account_id).values(last_event_at=now))

    # senders

    async def replace_senders(self, account: ProviderAccount, found: Sequence[SenderInfo], now: datetime) -> None:
        async with self._begin() as connection:
            rows = (await connection.execute(select(SENDERS.c.id, SENDERS.c.kind, SENDERS.c.address).where(
                SENDERS.c.provider_account_id == account.id))).mappings().all()
            known = {(row["kind"], row["address"]): row["id"] for row in rows}
            seen: set[int] = set()
            for info in found:
                address = info.address.strip().lower() if info.kind is SenderKind.EMAIL else info.address.strip()
                sender_id = known.get((info.kind.value, address))
                if sender_id is None:
                    await connection.execute(insert(SENDERS).values(
                        provider_account_id=account.id, installation_id=account.installation_id,
                        kind=info.kind.value, address=address, display_name=info.display_name,
                        external_id=info.external_id, enabled=info.usable, created_at=now, updated_at=now))
                    continue
                seen.add(sender_id)
                values: dict[str, Any] = {"display_name": info.display_name, "external_id": info.external_id,
                                          "updated_at": now}
                if not info.usable:
                    values["enabled"] = False
                await connection.execute(update(SENDERS).where(SENDERS.c.id == sender_id).values(**values))
            gone = set(known.values()) - seen
            if gone:
                await connection.execute(delete(SENDERS).where(SENDERS.c.id.in_(gone)))

    async def senders(self, installation_id: int, kind: SenderKind | None = None, *,
                      connected_only: bool = False) -> list[Sender]:
        query = select(SENDERS).where(SENDERS.c.installation_id == installation_id)
        if kind is not None:
            query = query.where(SENDERS.c.kind == kind.value)
        if connected_only:
            query = query.join(ACCOUNTS, and_(ACCOUNTS.c.id == SENDERS.c.provider_account_id,
                                              ACCOUNTS.c.status == ProviderStatus.CONNECTED.value)).where(
                SENDERS.c.enabled.is_(True))
        rows = await self._all(query.order_by(SENDERS.c.provider_account_id, SENDERS.c.id))
        return [_sender(row) for row in rows]

    async def set_sender_enabled(self, sender_id: int, enabled: bool, now: datetime) -> None:
        await self._write(update(SENDERS).where(SENDERS.c.id == sender_id).values(enabled=enabled, updated_at=now))

    async def mark_sender_used(self, sender_id: int, now: datetime) -> None:
        await self._write(update(SENDERS).where(SENDERS.c.id == sender_id).values(last_sent_at=now))

    # messages

    async def add_message(self, message: NewMessage, now: datetime) -> int:
        """The new row (SENDING). Written right before the provider call, so for a job it is also the attempt's
        hand-over mark, in the same commit (a kill after it may have sent; before it, nothing left). RunTakenOver,
        writing nothing, when the run no longer holds its job (store/hand_over.py)."""
        async with self._begin() as connection:
            if message.job_id is not None:
                if message.attempt is None:
                    raise ValueError("a job's message names the attempt that sends it")
                if not await mark_handed_over(connection, message.job_id, message.attempt, now):
                    raise RunTakenOver(f"job {message.job_id} is no longer held by attempt {message.attempt}")
            result = await connection.execute(insert(MESSAGES).values(
                installation_id=message.installation_id, job_id=message.job_id, order_row_id=message.order_row_id,
                provider_account_id=message.provider_account_id, sender_id=message.sender_id,
                channel=message.channel.value, sender=message.sender[:320], recipient=message.recipient[:320],
                state=MessageState.SENDING.value, reason="", is_test=message.is_test,
                excerpt=message.excerpt[:500], created_at=now, updated_at=now,
            ).returning(MESSAGES.c.id))
            return int(result.scalar_one())

    async def finish_message(self, message_id: int, state: MessageState, now: datetime, *, reason: str = "",
                             provider_message_id: str | None = None) -> None:
        values: dict[str, Any] = {"state": state.value, "reason": reason[:1000], "updated_at": now}
        if provider_message_id is not None:
            values["provider_message_id"] = provider_message_id[:255]
        await self._write(update(MESSAGES).where(MESSAGES.c.id == message_id).values(**values))

    async def message(self, message_id: int) -> Message | None:
        row = await self._one(select(MESSAGES).where(MESSAGES.c.id == message_id))
        return _message(row) if row is not None else None

    async def message_by_provider_id(self, account_id: int, provider_message_id: str) -> Message | None:
        row = await self._one(select(MESSAGES).where(
            MESSAGES.c.provider_message_id == provider_message_id, MESSAGES.c.provider_account_id == account_id))
        return _message(row) if row is not None else None

    async def record_event(self, message_id: int, state: MessageState, event: str, at: datetime) -> None:
        await self._write(update(MESSAGES).where(MESSAGES.c.id == message_id).values(
            state=state.value, last_event=event[:40], last_event_at=at, updated_at=at))

    async def messages(self, installation_id: int, *, job_id: int | None = None, limit: int = 100) -> list[Message]:
        query = select(MESSAGES).where(MESSAGES.c.installation_id == installation_id)
        if job_id is not None:
            query = query.where(MESSAGES.c.job_id == job_id)
        return [_message(row) for row in await self._all(query.order_by(MESSAGES.c.id.desc()).limit(limit))]

    async def unresolved_emails(self, created_before: datetime, limit: int = 100) -> list[int]:
        """Emails of jobs whose outcome is unknown, created before `created_before`, oldest first: the send's
        answer was lost (message unknown), or the process died during it (message still sending)."""
        rows = await self._all(select(MESSAGES.c.id).join(JOBS, JOBS.c.id == MESSAGES.c.job_id).where(
            MESSAGES.c.channel == Channel.EMAIL.value, JOBS.c.state == JobState.UNKNOWN.value,
            MESSAGES.c.state.in_([MessageState.UNKNOWN.value, MessageState.SENDING.value]),
            MESSAGES.c.created_at < created_before).order_by(MESSAGES.c.id).limit(limit))
        return [int(row["id"]) for row in rows]

    # suppressions

    async def suppressed(self, installation_id: int, channel: SuppressionChannel, address: str
                         ) -> Suppression | None:
        row = await self._one(select(SUPPRESSIONS).where(
            SUPPRESSIONS.c.installation_id == installation_id, SUPPRESSIONS.c.channel == channel.value,
            SUPPRESSIONS.c.address == normalise_address(channel, address)))
        return _suppression(row) if row is not None else None

    async def suppress(self, installation_id: int, channel: SuppressionChannel, address: str, reason: str,
                       source: str, now: datetime) -> bool:
        statement = insert(SUPPRESSIONS).values(
            installation_id=installation_id, channel=channel.value, address=normalise_address(channel, address),
            reason=reason[:500], source=source[:40], created_at=now)
        try:
            if self._within is None:
                await self._write(statement)
            else:  # a savepoint: a refused insert must not abort the owner's transaction (PostgreSQL would)
                async with self._within.begin_nested():
                    await self._within.execute(statement)
        except IntegrityError:
            return False
        return True

    async def unsuppress(self, installation_id: int, channel: SuppressionChannel, address: str) -> bool:
        return await self._write(delete(SUPPRESSIONS).where(
            SUPPRESSIONS.c.installation_id == installation_id, SUPPRESSIONS.c.channel == channel.value,
            SUPPRESSIONS.c.address == normalise_address(channel, address))) > 0

    async def suppressions(self, installation_id: int) -> list[Suppression]:
        rows = await self._all(select(SUPPRESSIONS).where(SUPPRESSIONS.c.installation_id == installation_id)
                               .order_by(SUPPRESSIONS.c.channel, SUPPRESSIONS.c.address))
        return [_suppression(row) for row in rows]
