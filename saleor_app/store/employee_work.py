"""SQL for what employee rules keep: number sequences, tasks, workflows (their steps are rows of `rules`) and the
installation's signing secret.

A number is allocated in one transaction that bumps the sequence's counter (`UPDATE … RETURNING`: the row lock
orders concurrent allocations on PostgreSQL; SQLite has one writer) and records it for the job; if anything
fails, both roll back, so a number is never skipped by a retry nor handed out twice (a unique constraint guards
that too).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from saleor_app.domain.ports import AutomationTransaction
from saleor_app.domain.rules import Repeat, Rule
from saleor_app.domain.sequences import DEFAULT_SEQUENCE, NumberSequence, SequenceSpec
from saleor_app.domain.tasks import NewTask, Task, TaskState
from saleor_app.domain.workflows import Workflow, WorkflowSpec, step_rule_key
from saleor_app.store.automation import ORDERS, RULES, rule_from_row
from saleor_app.store.database import aware
from saleor_app.store.tables import SequenceNumberRow, SequenceRow, SigningSecretRow, TaskRow, WorkflowRow
from saleor_app.store.team import bound_connection, bound_write, transaction_connection

SEQUENCES = SequenceRow.__table__  # type: ignore[attr-defined]
NUMBERS = SequenceNumberRow.__table__  # type: ignore[attr-defined]
TASKS = TaskRow.__table__  # type: ignore[attr-defined]
WORKFLOWS = WorkflowRow.__table__  # type: ignore[attr-defined]
SECRETS = SigningSecretRow.__table__  # type: ignore[attr-defined]


def _sequence(row: Mapping[Any, Any]) -> NumberSequence:
    return NumberSequence(row["id"], row["installation_id"], row["key"], row["prefix"], row["padding"],
                          row["next_value"])


def _task(row: Mapping[Any, Any]) -> Task:
    return Task(id=row["id"], installation_id=row["installation_id"], order_row_id=row["order_row_id"],
                order_id=row["order_id"], order_number=row["number"], job_id=row["job_id"],
                rule_key=row["rule_key"], title=row["title"], description=row["description"],
                assignee_key=row["assignee_key"], assignee_label=row["assignee_label"], priority=row["priority"],
                due_at=aware(row["due_at"]), state=TaskState(row["state"]), created_at=_at(row["created_at"]),
                closed_at=aware(row["closed_at"]), closed_by=row["closed_by"])


def _at(value: datetime) -> datetime:
    moment = aware(value)
    assert moment is not None
    return moment


def _workflow(row: Mapping[Any, Any]) -> Workflow:
    return Workflow(row["id"], row["installation_id"], row["key"], row["name"], bool(row["outlive_stage"]),
                    bool(row["enabled"]), WorkflowSpec.model_validate(row["spec"]))


_TASK_COLUMNS = (*TASKS.c, ORDERS.c.order_id, ORDERS.c.number)


class SqlEmployeeWorkStore:
    def __init__(self, engine: AsyncEngine, *, encrypt: Callable[[str], str],
                 decrypt: Callable[[str], str], within: AsyncConnection | None = None) -> None:
        self._engine = engine
        self._encrypt = encrypt
        self._decrypt = decrypt
        self._within = within

    def within(self, tx: AutomationTransaction) -> SqlEmployeeWorkStore:
        """This store inside an automation transaction (a configuration import writes sequences and workflows
        with the rules): it reads and writes through it, and nothing commits until the transaction does."""
        return SqlEmployeeWorkStore(self._engine, encrypt=self._encrypt, decrypt=self._decrypt,
                                    within=transaction_connection(tx))

    @asynccontextmanager
    async def _connect(self) -> AsyncIterator[AsyncConnection]:
        async with bound_connection(self._engine, self._within) as connection:
            yield connection

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        async with bound_write(self._engine, self._within) as connection:
            yield connection

    def _insert(self) -> Any:
        return sqlite.insert if self._engine.dialect.name == "sqlite" else postgresql.insert

    # -- sequences ------------------------------------------------------------------------------------------------

    async def sequences(self, installation_id: int) -> list[NumberSequence]:
        async with self._connect() as connection:
            rows = (await connection.execute(select(SEQUENCES).where(SEQUENCES.c.installation_id == installation_id)
                                             .order_by(SEQUENCES.c.key))).mappings().all()
        return [_sequence(row) for row in rows]

    async def save_sequence(self, installation_id: int, spec: SequenceSpec, now: datetime) -> NumberSequence:
        """Prefix and padding change at once; `start` only sets where a new sequence begins (or moves one
        forward: a sequence never goes back, which would hand out numbers twice)."""
        async with self._write() as connection:
            row = (await connection.execute(select(SEQUENCES).where(
                SEQUENCES.c.installation_id == installation_id, SEQUENCES.c.key == spec.key))).mappings().first()
            if row is None:
                await connection.execute(insert(SEQUENCES).values(installation_id=installation_id, key=spec.key,
                                                                  prefix=spec.prefix, padding=spec.padding,
                                                                  next_value=spec.start, updated_at=now))
            else:
                await connection.execute(update(SEQUENCES).where(SEQUENCES.c.id == row["id"]).values(
                    prefix=spec.prefix, padding=spec.padding, next_value=max(row["next_value"], spec.start),
                    updated_at=now))
            saved = (await connection.execute(select(SEQUENCES).where(
                SEQUENCES.c.installation_id == installation_id, SEQUENCES.c.key == spec.key))).mappings().one()
        return _sequence(saved)

    async def delete_sequence(self, installation_id: int, key: str) -> bool:
        async with self._write() as connection:
            result = await connection.execute(delete(SEQUENCES).where(
                SEQUENCES.c.installation_id == installation_id, SEQUENCES.c.key == key).returning(SEQUENCES.c.id))
            return result.first() is not None

    async def allocate(self, installation_id: int, key: str, job_id: int, now: datetime) -> str:
        async with self._write() as connection:
            await connection.execute(self._insert()(SEQUENCES).values(
                installation_id=installation_id, key=key, prefix="", padding=0, next_value=1, updated_at=now,
            ).on_conflict_do_nothing(index_elements=["installation_id", "key"]))
            # Lock the sequence first: a job's retry racing its first attempt waits here, then finds its number.
            locked = select(SEQUENCES).where(SEQUENCES.c.installation_id == installation_id, SEQUENCES.c.key == key)
            if self._engine.dialect.name == "postgresql":
                locked = locked.with_for_update()
            sequence = _sequence((await connection.execute(locked)).mappings().one())
            earlier = (await connection.execute(select(NUMBERS.c.formatted).where(
                NUMBERS.c.sequence_id == sequence.id, NUMBERS.c.job_id == job_id))).first()
            if earlier is not None:
                return str(earlier[0])
            bumped = (await connection.execute(
                update(SEQUENCES).where(SEQUENCES.c.id == sequence.id)
                .values(next_value=SEQUENCES.c.next_value + 1, updated_at=now)
                .returning(SEQUENCES.c.next_value, SEQUENCES.c.prefix, SEQUENCES.c.padding))).one()
            value = bumped[0] - 1
            formatted = NumberSequence(sequence.id, installation_id, key, bumped[1], bumped[2], value).format(value)
            await connection.execute(insert(NUMBERS).values(sequence_id=sequence.id, job_id=job_id, value=value,
                                                            formatted=formatted, allocated_at=now))
        return formatted

    async def peek(self, installation_id: int, key: str) -> str:
        async with self._connect() as connection:
            row = (await connection.execute(select(SEQUENCES).where(
                SEQUENCES.c.installation_id == installation_id, SEQUENCES.c.key == key))).mappings().first()
        sequence = _sequence(row) if row is not None else NumberSequence(0, installation_id, key or DEFAULT_SEQUENCE,
                                                                          "", 0, 1)
        return sequence.format(sequence.next_value)

    # -- tasks ----------------------------------------------------------------------------------------------------

    async def create_task(self, task: NewTask, now: datetime) -> tuple[Task, bool]:
        async with self._write() as connection:
            inserted = (await connection.execute(self._insert()(TASKS).values(
                installation_id=task.installation_id, order_row_id=task.order_row_id, job_id=task.job_id,
                rule_key=task.rule_key, title=task.title[:500], description=task.description,
                assignee_key=task.assignee_key, assignee_label=task.assignee_label[:500], priority=task.priority,
                due_at=task.due_at, state=TaskState.OPEN.value, created_at=now,
            ).on_conflict_do_nothing(index_elements=["job_id"]).returning(TASKS.c.id))).first()
            row = (await connection.execute(select(*_TASK_COLUMNS).join(ORDERS, ORDERS.c.id == TASKS.c.order_row_id)
                                            .where(TASKS.c.job_id == task.job_id))).mappings().one()
        return _task(row), inserted is not None

    async def task(self, installation_id: int, task_id: int) -> Task | None:
        async with self._connect() as connection:
            row = (await connection.execute(select(*_TASK_COLUMNS).join(ORDERS, ORDERS.c.id == TASKS.c.order_row_id)
                                            .where(TASKS.c.installation_id == installation_id,
                                                   TASKS.c.id == task_id))).mappings().first()
        return _task(row) if row is not None else None

    async def tasks(self, installation_id: int, *, state: TaskState | None = None, assignee: str | None = None,
                    order_row_id: int | None = None, before_id: int | None = None, limit: int = 100) -> list[Task]:
        query = (select(*_TASK_COLUMNS).join(ORDERS, ORDERS.c.id == TASKS.c.order_row_id)
                 .where(TASKS.c.installation_id == installation_id).order_by(TASKS.c.id.desc()).limit(limit))
        if state is not None:
            query = query.where(TASKS.c.state == state.value)
        if assignee is not None:
            query = query.where(TASKS.c.assignee_key == assignee)
        if order_row_id is not None:
            query = query.where(TASKS.c.order_row_id == order_row_id)
        if before_id is not None:
            query = query.where(TASKS.c.id < before_id)
        async with self._connect() as connection:
            rows = (await connection.execute(query)).mappings().all()
        return [_task(row) for row in rows]

    async def close_task(self, installation_id: int, task_id: int, state: TaskState, by: str,
                         now: datetime) -> Task | None:
        async with self._write() as connection:
            closed = (await connection.execute(
                update(TASKS).where(TASKS.c.installation_id == installation_id, TASKS.c.id == task_id,
                                    TASKS.c.state == TaskState.OPEN.value)
                .values(state=state.value, closed_at=now, closed_by=by[:255]).returning(TASKS.c.id))).first()
        return await self.task(installation_id, task_id) if closed is not None else None

    # -- workflows ------------------------------------------------------------------------------------------------

    async def workflows(self, installation_id: int) -> list[Workflow]:
        async with self._connect() as connection:
            rows = (await connection.execute(select(WORKFLOWS).where(WORKFLOWS.c.installation_id == installation_id)
                                             .order_by(WORKFLOWS.c.key))).mappings().all()
        return [_workflow(row) for row in rows]

    async def workflow(self, installation_id: int, key: str) -> Workflow | None:
        async with self._connect() as connection:
            row = (await connection.execute(select(WORKFLOWS).where(
                WORKFLOWS.c.installation_id == installation_id, WORKFLOWS.c.key == key))).mappings().first()
        return _workflow(row) if row is not None else None

    async def steps(self, workflow: Workflow) -> list[Rule]:
        async with self._connect() as connection:
            rows = (await connection.execute(select(RULES).where(
                RULES.c.installation_id == workflow.installation_id, RULES.c.workflow_key == workflow.key)
                .order_by(RULES.c.position, RULES.c.id))).mappings().all()
        return [rule_from_row(row) for row in rows]

    async def save_workflow(self, installation_id: int, spec: WorkflowSpec, now: datetime) -> Workflow:
        """The workflow and its steps; a step's rule row keeps its id while its key stays (pending jobs run it
        with the new config, as an edited rule's do); removed steps' rows go (their pending jobs are cancelled)."""
        values = {"name": spec.name, "outlive_stage": spec.outlive_stage, "enabled": spec.enabled,
                  "spec": spec.model_dump(mode="json"), "updated_at": now}
        async with self._write() as connection:
            found = (await connection.execute(select(WORKFLOWS.c.id).where(
                WORKFLOWS.c.installation_id == installation_id, WORKFLOWS.c.key == spec.key))).first()
            if found is None:
                await connection.execute(insert(WORKFLOWS).values(installation_id=installation_id, key=spec.key,
                                                                  **values))
            else:
                await connection.execute(update(WORKFLOWS).where(WORKFLOWS.c.id == found[0]).values(**values))
            stored = {row["key"]: row["id"] for row in (await connection.execute(select(RULES.c.key, RULES.c.id).where(
                RULES.c.installation_id == installation_id, RULES.c.workflow_key == spec.key))).mappings()}
            wanted = {step_rule_key(spec.key, step.key) for step in spec.steps}
            gone = [rule_id for key, rule_id in stored.items() if key not in wanted]
            if gone:
                await connection.execute(delete(RULES).where(RULES.c.id.in_(gone)))
            for position, step in enumerate(spec.steps):
                key = step_rule_key(spec.key, step.key)
                row = {"stage_key": None, "event": None, "event_params": None, "cancel_on_move": False,
                       "workflow_key": spec.key, "name": step.name or step.key, "kind": step.kind,
                       "config": dict(step.config), "position": position, "enabled": spec.enabled,
                       "delay_seconds": step.delay_seconds, "at_time": step.at.strftime("%H:%M") if step.at else None,
                       "after_previous": step.after_previous, "repeat": Repeat.EVERY_ENTRY.value,
                       "condition": step.condition.model_dump(mode="json") if step.condition else None,
                       "max_age_seconds": step.max_age_seconds, "updated_at": now}
                if key in stored:
                    await connection.execute(update(RULES).where(RULES.c.id == stored[key]).values(**row))
                else:
                    await connection.execute(insert(RULES).values(installation_id=installation_id, key=key, **row))
        saved = await self.workflow(installation_id, spec.key)
        assert saved is not None
        return saved

    async def delete_workflow(self, installation_id: int, key: str) -> bool:
        async with self._write() as connection:
            await connection.execute(delete(RULES).where(RULES.c.installation_id == installation_id,
                                                         RULES.c.workflow_key == key))
            result = await connection.execute(delete(WORKFLOWS).where(
                WORKFLOWS.c.installation_id == installation_id, WORKFLOWS.c.key == key).returning(WORKFLOWS.c.id))
            return result.first() is not None

    # -- signing secret -------------------------------------------------------------------------------------------

    async def secret(self, installation_id: int, now: datetime) -> str:
        async with self._connect() as connection:
            row = (await connection.execute(select(SECRETS.c.secret_encrypted).where(
                SECRETS.c.installation_id == installation_id))).first()
        if row is not None:
            return self._decrypt(row[0])
        async with self._write() as connection:
            await connection.execute(self._insert()(SECRETS).values(
                installation_id=installation_id, secret_encrypted=self._encrypt(secrets.token_urlsafe(32)),
                created_at=now).on_conflict_do_nothing(index_elements=["installation_id"]))
            stored = (await connection.execute(select(SECRETS.c.secret_encrypted).where(
                SECRETS.c.installation_id == installation_id))).one()
        return self._decrypt(stored[0])

    async def rotate(self, installation_id: int, now: datetime) -> str:
        secret = secrets.token_urlsafe(32)
        async with self._write() as connection:
            await connection.execute(delete(SECRETS).where(SECRETS.c.installation_id == installation_id))
            await connection.execute(insert(SECRETS).values(installation_id=installation_id,
                                                            secret_encrypted=self._encrypt(secret),
                                                            created_at=now))
        return secret
