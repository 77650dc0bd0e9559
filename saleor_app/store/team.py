"""SqlTeamStore: team members, groups and each job's round-robin pick, in SQL.

A rotation pick is one short write transaction: the group's row is locked (`FOR UPDATE` on PostgreSQL; SQLite
has one writer), the next member chosen, the group's position and the job's pick written together — so two jobs
never get the same turn, and a retried job finds its pick instead of taking another turn.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from saleor_app.domain.employee_ports import RotationResult
from saleor_app.domain.ports import AutomationTransaction
from saleor_app.domain.team import (
    GroupSpec,
    MemberSource,
    MemberSpec,
    TeamGroup,
    TeamMember,
    member_key_for,
    next_in_rotation,
    why_nobody,
)
from saleor_app.store.automation import SqlAutomationTransaction
from saleor_app.store.tables import RotationPickRow, TeamGroupRow, TeamMemberRow

MEMBERS = TeamMemberRow.__table__  # type: ignore[attr-defined]
GROUPS = TeamGroupRow.__table__  # type: ignore[attr-defined]
PICKS = RotationPickRow.__table__  # type: ignore[attr-defined]


def _member(row: Mapping[Any, Any]) -> TeamMember:
    return TeamMember(id=row["id"], installation_id=row["installation_id"], key=row["key"], name=row["name"],
                      email=row["email"], phone=row["phone"], away=bool(row["away"]),
                      saleor_user_id=row["saleor_user_id"], source=MemberSource(row["source"]))


def _group(row: Mapping[Any, Any]) -> TeamGroup:
    return TeamGroup(id=row["id"], installation_id=row["installation_id"], key=row["key"], name=row["name"],
                     member_keys=tuple(row["member_keys"] or ()), last_pick=row["last_pick"])


@asynccontextmanager
async def write_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A write transaction that takes SQLite's write lock up front (a read that later writes would otherwise
    fail at once with SQLITE_BUSY when another writer committed meanwhile)."""
    async with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            await connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            await connection.begin()
        try:
            yield connection
        except BaseException:
            await connection.rollback()
            raise
        await connection.commit()


def transaction_connection(tx: AutomationTransaction) -> AsyncConnection:
    """The connection of an automation transaction, for a store that writes inside it."""
    if not isinstance(tx, SqlAutomationTransaction):
        raise TypeError(f"a SQL store cannot write inside {type(tx).__name__}")
    return tx.connection


@asynccontextmanager
async def bound_connection(engine: AsyncEngine, within: AsyncConnection | None) -> AsyncIterator[AsyncConnection]:
    """The transaction's connection when bound to one, else a connection of its own."""
    if within is not None:
        yield within
        return
    async with engine.connect() as connection:
        yield connection


@asynccontextmanager
async def bound_write(engine: AsyncEngine, within: AsyncConnection | None) -> AsyncIterator[AsyncConnection]:
    """The transaction's connection when bound to one (its owner commits), else a write transaction of its own."""
    if within is not None:
        yield within
        return
    async with write_transaction(engine) as connection:
        yield connection


class SqlTeamStore:
    def __init__(self, engine: AsyncEngine, *, within: AsyncConnection | None = None) -> None:
        self._engine = engine
        self._within = within

    def within(self, tx: AutomationTransaction) -> SqlTeamStore:
        """This store inside an automation transaction (a configuration import writes the team with the rules):
        it reads and writes through it, and nothing commits until the transaction does."""
        return SqlTeamStore(self._engine, within=transaction_connection(tx))

    @asynccontextmanager
    async def _connect(self) -> AsyncIterator[AsyncConnection]:
        async with bound_connection(self._engine, self._within) as connection:
            yield connection

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        async with bound_write(self._engine, self._within) as connection:
            yield connection

    async def members(self, installation_id: int) -> list[TeamMember]:
        async with self._connect() as connection:
            rows = (await connection.execute(select(MEMBERS).where(MEMBERS.c.installation_id == installation_id)
                                             .order_by(MEMBERS.c.key))).mappings().all()
        return [_member(row) for row in rows]

    async def save_member(self, installation_id: int, spec: MemberSpec, now: datetime, *,
                          source: MemberSource = MemberSource.MANUAL) -> TeamMember:
        values = {"name": spec.name, "email": spec.email, "phone": spec.phone, "away": spec.away, "updated_at": now}
        async with self._write() as connection:
            found = (await connection.execute(select(MEMBERS.c.id).where(
                MEMBERS.c.installation_id == installation_id, MEMBERS.c.key == spec.key))).first()
            if found is None:
                await connection.execute(insert(MEMBERS).values(installation_id=installation_id, key=spec.key,
                                                                source=source.value, **values))
            else:
                await connection.execute(update(MEMBERS).where(MEMBERS.c.id == found[0]).values(**values))
            row = (await connection.execute(select(MEMBERS).where(
                MEMBERS.c.installation_id == installation_id, MEMBERS.c.key == spec.key))).mappings().one()
        return _member(row)

    async def record_staff(self, installation_id: int, user_id: str, email: str, name: str, now: datetime, *,
                           source: MemberSource) -> TeamMember:
        async with self._write() as connection:
            row = (await connection.execute(select(MEMBERS).where(
                MEMBERS.c.installation_id == installation_id, MEMBERS.c.saleor_user_id == user_id))).mappings().first()
            if row is None:  # a member added by hand with this e-mail becomes this staff user
                row = (await connection.execute(select(MEMBERS).where(
                    MEMBERS.c.installation_id == installation_id, MEMBERS.c.saleor_user_id.is_(None),
                    MEMBERS.c.email == email))).mappings().first()
            if row is None:
                taken = set((await connection.execute(select(MEMBERS.c.key).where(
                    MEMBERS.c.installation_id == installation_id))).scalars())
                await connection.execute(insert(MEMBERS).values(
                    installation_id=installation_id, key=member_key_for(email, taken), name=name, email=email,
                    away=False, saleor_user_id=user_id, source=source.value, updated_at=now))
            else:
                await connection.execute(update(MEMBERS).where(MEMBERS.c.id == row["id"]).values(
                    saleor_user_id=user_id, email=email, name=name or row["name"], updated_at=now))
            saved = (await connection.execute(select(MEMBERS).where(
                MEMBERS.c.installation_id == installation_id, MEMBERS.c.saleor_user_id == user_id))).mappings().one()
        return _member(saved)

    async def set_away(self, installation_id: int, key: str, away: bool, now: datetime) -> TeamMember | None:
        async with self._write() as connection:
            row = (await connection.execute(
                update(MEMBERS).where(MEMBERS.c.installation_id == installation_id, MEMBERS.c.key == key)
                .values(away=away, updated_at=now).returning(*MEMBERS.c))).mappings().first()
        return _member(row) if row is not None else None

    async def delete_member(self, installation_id: int, key: str) -> bool:
        async with self._write() as connection:
            result = await connection.execute(delete(MEMBERS).where(
                MEMBERS.c.installation_id == installation_id, MEMBERS.c.key == key).returning(MEMBERS.c.id))
            return result.first() is not None

    async def groups(self, installation_id: int) -> list[TeamGroup]:
        async with self._connect() as connection:
            rows = (await connection.execute(select(GROUPS).where(GROUPS.c.installation_id == installation_id)
                                             .order_by(GROUPS.c.key))).mappings().all()
        return [_group(row) for row in rows]

    async def save_group(self, installation_id: int, spec: GroupSpec, now: datetime) -> TeamGroup:
        async with self._write() as connection:
            row = (await connection.execute(select(GROUPS).where(
                GROUPS.c.installation_id == installation_id, GROUPS.c.key == spec.key))).mappings().first()
            if row is None:
                await connection.execute(insert(GROUPS).values(installation_id=installation_id, key=spec.key,
                                                               name=spec.name, member_keys=list(spec.members),
                                                               last_pick=-1, updated_at=now))
            elif (row["name"], tuple(row["member_keys"])) != (spec.name, spec.members):
                # Keep the rotation's place: continue after the member picked last, wherever it now stands.
                last = row["member_keys"][row["last_pick"]] if 0 <= row["last_pick"] < len(row["member_keys"]) \
                    else None
                position = spec.members.index(last) if last in spec.members else -1
                await connection.execute(update(GROUPS).where(GROUPS.c.id == row["id"]).values(
                    name=spec.name, member_keys=list(spec.members), last_pick=position, updated_at=now))
            saved = (await connection.execute(select(GROUPS).where(
                GROUPS.c.installation_id == installation_id, GROUPS.c.key == spec.key))).mappings().one()
        return _group(saved)

    async def delete_group(self, installation_id: int, key: str) -> bool:
        async with self._write() as connection:
            result = await connection.execute(delete(GROUPS).where(
                GROUPS.c.installation_id == installation_id, GROUPS.c.key == key).returning(GROUPS.c.id))
            return result.first() is not None

    async def pick(self, installation_id: int, group_key: str, job_id: int, now: datetime) -> RotationResult:
        async with self._write() as connection:
            query = select(GROUPS).where(GROUPS.c.installation_id == installation_id, GROUPS.c.key == group_key)
            if self._engine.dialect.name == "postgresql":
                query = query.with_for_update()
            row = (await connection.execute(query)).mappings().first()
            if row is None:
                return RotationResult(None, f"group {group_key!r} was removed")
            group = _group(row)
            rows = (await connection.execute(select(MEMBERS).where(
                MEMBERS.c.installation_id == installation_id,
                MEMBERS.c.key.in_(list(group.member_keys))))).mappings().all()
            members = {r["key"]: _member(r) for r in rows}
            earlier = (await connection.execute(select(PICKS.c.member_key).where(
                PICKS.c.group_id == group.id, PICKS.c.job_id == job_id))).first()
            if earlier is not None:
                member = members.get(earlier[0])
                if member is None:
                    return RotationResult(None, f"{earlier[0]}, picked from group {group_key} before, was removed "
                                                "since", reused=True)
                return RotationResult(member, f"{member.key} (picked from group {group_key} on the first attempt)",
                                      reused=True)
            chosen = next_in_rotation(group, members)
            if chosen is None:
                return RotationResult(None, why_nobody(group, members))
            await connection.execute(update(GROUPS).where(GROUPS.c.id == group.id).values(last_pick=chosen.index))
            await connection.execute(insert(PICKS).values(group_id=group.id, job_id=job_id,
                                                          member_key=chosen.member.key, picked_at=now))
        skipped = [key for key in _between(group, chosen.index) if key in members and members[key].away]
        note = f" (skipping {', '.join(skipped)}: away)" if skipped else ""
        return RotationResult(chosen.member, f"{chosen.member.key}, next in group {group_key}{note}")


def _between(group: TeamGroup, index: int) -> list[str]:
    """Members the rotation passed over to reach `index`."""
    size = len(group.member_keys)
    steps = (index - group.last_pick) % size or size
    return [group.member_keys[(group.last_pick + step) % size] for step in range(1, steps)]
