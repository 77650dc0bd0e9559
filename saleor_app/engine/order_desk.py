"""The order desk: what staff see and do for one order from the Dashboard's order page (widget and popup).

It reads the order's stage, history, timeline and pending jobs (each with why it waits), and carries out two
staff actions through the engine's own paths: a move is a MOVE_JOB system job, the one a trigger plans, run at
once in the request (MoveOrder and its write-back plan, its outcome recorded by ExecuteJob, a Saleor outage
retried by the runner); "run rule now" is a job of the rule scheduled now in the order's open stage entry.
An order the app has never seen is handed to the engine as a caught-up delivery, the path the catch-up poller
uses for orders whose webhooks were lost: the engine adopts it (placed before the install: no rules run).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from saleor_app.domain.automation import Activity, ActivityFilter, Job, LoggedActivity, NewJob, OrderRecord, StageEntry
from saleor_app.domain.catchup import caught_up_body
from saleor_app.domain.errors import PermanentError, Refused, RetryableError
from saleor_app.domain.installations import Installation
from saleor_app.domain.jobs import MOVE_JOB, PENDING, JobState
from saleor_app.domain.pipeline import Stage
from saleor_app.domain.planning import idempotency_key
from saleor_app.domain.ports import AutomationStore, Clock, GatewayFor, WebhookInbox
from saleor_app.domain.rules import Rule
from saleor_app.domain.webhooks import CAUGHT_UP_EVENT, triage
from saleor_app.domain.writeback_check import ShopRules
from saleor_app.engine.actions import describe_move

STAFF_MOVE = "staff-move"  # the rule key of a staff member's move job (the activity log filters on it)
TIMELINE_CAP = 50
HISTORY_CAP = 50
ADOPT_POLL = 0.1

RunJobs = Callable[[Sequence[int]], Awaitable[dict[int, JobState]]]


@dataclass(frozen=True, slots=True)
class HistoryItem:
    entry: StageEntry
    name: str
    reason: str


@dataclass(frozen=True, slots=True)
class PendingJob:
    job: Job
    why: str


@dataclass(frozen=True, slots=True)
class OrderView:
    order: OrderRecord
    stage: Stage | None
    since: datetime | None
    history: list[HistoryItem]
    timeline: list[LoggedActivity]
    pending: list[PendingJob]
    stages: tuple[Stage, ...]
    rules: list[Rule]  # the current stage's enabled rules: what "run rule now" offers
    time_zone: str


@dataclass(frozen=True, slots=True)
class MovePreview:
    stage: Stage
    outcome: str  # what the move would ask Saleor to do (describe_move)
    possible: bool
    rules: list[str]  # the target stage's enabled rules, which run when the order enters it


class OrderDesk:
    def __init__(self, store: AutomationStore, gateways: GatewayFor, inbox: WebhookInbox, run_jobs: RunJobs,
                 clock: Clock, *, wake: Callable[[], None] | None = None, lease: timedelta = timedelta(minutes=5),
                 adopt_wait: float = 3.0) -> None:
        self._store = store
        self._gateways = gateways
        self._inbox = inbox
        self._run_jobs = run_jobs
        self._clock = clock
        self._wake = wake or (lambda: None)
        self._lease = lease
        self._adopt_wait = adopt_wait

    async def find(self, installation: Installation, ref: str) -> OrderRecord:
        """The order by Saleor id or number; one the app has never seen is adopted from Saleor first."""
        ref = ref.strip()
        order = await self._known(installation.id, ref)
        if order is not None:
            return order
        gateway = await self._gateways(installation)
        number = ref.lstrip("#")
        try:
            order_id = await gateway.order_id_by_number(number) if number.isdigit() else ref
            snapshot = await gateway.get_order(order_id) if order_id else None
        except RetryableError as exc:
            raise Refused(503, f"Saleor did not answer while looking the order up: {exc}", "saleor_unreachable") \
                from exc
        except PermanentError:
            snapshot = None  # not an order id this Saleor knows (another Saleor's, or a mistyped one)
        if snapshot is None or snapshot.get("status") == "DRAFT":
            raise Refused(404, f"this Saleor has no order {ref!r} (give its id or number)", "unknown_order")
        now = self._clock.now()
        await self._inbox.store(triage(installation.id, CAUGHT_UP_EVENT, caught_up_body(snapshot), now))
        self._wake()
        waited = 0.0
        while waited < self._adopt_wait:
            await asyncio.sleep(ADOPT_POLL)
            waited += ADOPT_POLL
            order = await self._known(installation.id, str(snapshot.get("id")))
            if order is not None and order.stage_key is not None:
                return order
        raise Refused(404, f"order {snapshot.get('number') or ref} was placed before the app saw it; the app is "
                           "taking it over now. Reload in a few seconds.", "adopting")

    async def _known(self, installation_id: int, ref: str) -> OrderRecord | None:
        async with self._store.reading() as tx:
            order = await tx.order(installation_id, ref)
            if order is None and ref.lstrip("#").isdigit():
                order = await tx.order_by_number(installation_id, ref.lstrip("#"))
        return order

    async def view(self, installation: Installation, order: OrderRecord) -> OrderView:
        now = self._clock.now()
        async with self._store.reading() as tx:
            pipeline = await tx.pipeline(installation.id)
            settings = await tx.settings(installation.id)
            history = await tx.order_history(order.id, HISTORY_CAP)
            jobs = await tx.order_jobs(order.id, PENDING | {JobState.RUNNING})
            timeline = await tx.activity(installation.id, ActivityFilter(order_row_id=order.id, limit=TIMELINE_CAP))
            rules = await tx.rules(installation.id, order.stage_key) if order.stage_key else []
            by_id = {job.id: job for job in jobs}
            for job in jobs:
                if job.predecessor_id is not None and job.predecessor_id not in by_id:
                    predecessor = await tx.job(job.predecessor_id)
                    if predecessor is not None:
                        by_id[predecessor.id] = predecessor
        names = {stage.key: stage.name for stage in pipeline.stages}
        open_entry = next((entry for entry, _ in history if entry.left_at is None), None)
        return OrderView(
            order=order, stage=pipeline.stage(order.stage_key), since=open_entry.entered_at if open_entry else None,
            history=[HistoryItem(entry, names.get(entry.stage_key, entry.stage_key), reason)
                     for entry, reason in history],
            timeline=timeline,
            pending=[PendingJob(job, why_waiting(job, by_id, now, settings.zone, paused=settings.paused))
                     for job in sorted(jobs, key=lambda j: (j.due_at or now + timedelta(days=3650), j.id))],
            stages=pipeline.stages, rules=[rule for rule in sorted(rules, key=lambda r: r.position) if rule.enabled],
            time_zone=settings.time_zone,
        )

    async def preview_move(self, installation: Installation, order: OrderRecord, stage_key: str) -> MovePreview:
        """What moving the order to `stage_key` would ask Saleor to do, on the order as Saleor has it now."""
        async with self._store.reading() as tx:
            pipeline = await tx.pipeline(installation.id)
            rules = await tx.rules(installation.id, stage_key)
        stage = pipeline.stage(stage_key)
        if stage is None:
            raise Refused(404, f"there is no stage {stage_key!r}", "unknown_stage")
        fresh, shop = await self._reread(installation, order)
        if fresh.stage_key == stage_key:
            return MovePreview(stage, f"the order is in {stage.name} already: nothing would change", False, [])
        try:
            outcome, possible = describe_move(pipeline, fresh, stage_key, shop), True
        except PermanentError as exc:
            outcome, possible = str(exc), False
        return MovePreview(stage, outcome, possible,
                           [rule.name for rule in sorted(rules, key=lambda r: r.position) if rule.enabled])

    async def move(self, installation: Installation, order: OrderRecord, stage_key: str, *, by: str) -> Job:
        """Move the order through the write-back plan, now; the finished job says what happened (its reason)."""
        preview = await self.preview_move(installation, order, stage_key)
        if not preview.possible:
            raise Refused(409 if order.stage_key == stage_key else 422, preview.outcome, "move_impossible")
        now = self._clock.now()
        reason = f"moved by staff {by} from the Dashboard"
        async with self._store.transaction() as tx:
            job_id = await tx.add_job(NewJob(
                installation_id=installation.id, order_row_id=order.id, entry_id=None, rule_id=None,
                rule_key=STAFF_MOVE, kind=MOVE_JOB, state=JobState.RUNNING, due_at=now,
                idempotency_key=idempotency_key(installation.id, order.order_id, f"staff:{uuid.uuid4().hex}",
                                                STAFF_MOVE),
                payload={"stage": stage_key, "reason": reason},
            ), now)
            assert job_id is not None  # a fresh key
            # Claimed by this request (a lease, as the runner would): if the process dies, lease recovery finds it.
            await tx.update_job(job_id, now, lease_until=now + self._lease, attempts=1, first_attempt_at=now)
            await tx.log(Activity(installation.id, "job", f"{STAFF_MOVE}: {by} asked from the Dashboard to move "
                                  f"the order to {preview.stage.name}", order_row_id=order.id, job_id=job_id,
                                  state=JobState.RUNNING.value, stage_key=stage_key, rule_key=STAFF_MOVE), now)
        await self._run_jobs([job_id])
        self._wake()  # a retry, or the new stage's jobs due now
        async with self._store.reading() as tx:
            job = await tx.job(job_id)
        assert job is not None
        return job

    async def run_rule(self, installation: Installation, order: OrderRecord, rule_key: str, *, by: str) -> Job:
        """A job of the rule for this order, due now, in the order's open entry of the rule's stage.

        Only a rule of the stage the order is in: a stage's rules are written for orders in it, and their jobs
        stop when the order leaves; running one elsewhere would escape both. Event rules run on their event."""
        async with self._store.reading() as tx:
            rule = await tx.rule_by_key(installation.id, rule_key)
            entry = await tx.open_entry(order.id)
        if rule is None:
            raise Refused(404, f"there is no rule {rule_key!r}", "unknown_rule")
        if not rule.enabled:
            raise Refused(409, f"rule {rule.name} is disabled; enable it on the board first", "rule_disabled")
        if rule.stage_key is None:
            raise Refused(409, f"rule {rule.name} runs on its event ({rule.event}), not in a stage", "event_rule")
        if entry is None or entry.stage_key != rule.stage_key:
            where = entry.stage_key if entry is not None else "no stage"
            raise Refused(409, f"rule {rule.name} belongs to stage {rule.stage_key} and the order is in {where}: "
                               "move the order there first, or use the dry run to see what it would do",
                          "rule_of_another_stage")
        now = self._clock.now()
        async with self._store.transaction() as tx:
            job_id = await tx.add_job(NewJob(
                installation_id=installation.id, order_row_id=order.id, entry_id=entry.id, rule_id=rule.id,
                rule_key=rule.key, kind=rule.kind, state=JobState.SCHEDULED, due_at=now,
                idempotency_key=idempotency_key(installation.id, order.order_id, f"staff-run:{uuid.uuid4().hex}",
                                                rule.key),
            ), now)
            assert job_id is not None  # a fresh key
            await tx.update_job(job_id, now, reason=f"run now by staff {by} from the Dashboard")
            await tx.log(Activity(installation.id, "job", f"{rule.key}: run now by staff {by} from the Dashboard",
                                  order_row_id=order.id, job_id=job_id, state=JobState.SCHEDULED.value,
                                  stage_key=rule.stage_key, rule_key=rule.key), now)
            job = await tx.job(job_id)
        assert job is not None
        self._wake()
        return job

    async def _reread(self, installation: Installation, order: OrderRecord) -> tuple[OrderRecord, ShopRules]:
        try:
            gateway = await self._gateways(installation)
            snapshot = await gateway.get_order(order.order_id)
            shop = ShopRules.from_shop(await gateway.shop_settings())
        except RetryableError as exc:
            raise Refused(503, f"could not re-read the order from Saleor: {exc}", "saleor_unreachable") from exc
        if snapshot is None:
            raise Refused(404, "Saleor no longer has this order", "unknown_order")
        return replace(order, snapshot=snapshot), shop


def why_waiting(job: Job, jobs: dict[int, Job], now: datetime, zone: ZoneInfo, *, paused: bool = False) -> str:
    """Why a pending or running job has not run yet, in words."""
    if job.state is JobState.RUNNING:
        until = f" until {_at(job.lease_until, zone)}" if job.lease_until else ""
        return f"running: a worker holds its lease{until}"
    if job.state is JobState.WAITING:
        predecessor = jobs.get(job.predecessor_id) if job.predecessor_id is not None else None
        if predecessor is not None and predecessor.state is JobState.UNKNOWN:
            return (f"held: {predecessor.rule_key} is unknown (it may or may not have happened); resolve it in "
                    "Activity")
        return f"after {predecessor.rule_key if predecessor else 'the previous rule'} finishes"
    if paused:
        return "automation is paused in Settings"
    due = job.due_at
    if due is None or due <= now:
        return "due now: the runner picks it up in a moment"
    if job.state is JobState.RETRYING:
        return f"retrying at {_at(due, zone)} after: {job.reason.split(': ', 1)[-1]}"
    if job.reason.startswith("deferred to the end of quiet hours"):
        return f"quiet hours until {_at(due, zone)}"
    return f"a delay until {_at(due, zone)}"


def _at(moment: datetime | None, zone: ZoneInfo) -> str:
    if moment is None:
        return "—"
    return f"{moment.astimezone(zone).strftime('%Y-%m-%d %H:%M')} ({zone.key})"
