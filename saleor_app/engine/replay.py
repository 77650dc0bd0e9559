"""Replay a failed, dead or unknown job: preview exactly what it would do now, then run it again.

A replay keeps the job (its idempotency key, its place in a chain): it is scheduled now with its attempts reset
and runs with its rule as it is today. A successor held behind an `unknown` job is released when the replay
succeeds; successors of a failed or dead job were cancelled then and stay so (the preview says it).

An `unknown` job can instead be resolved by a person who checked (the provider's log, the customer): sent → it
succeeded and the rule after it follows; not sent → it is sent again now (recovery.decide_unknown).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from saleor_app.domain.automation import Activity, Job
from saleor_app.domain.errors import PermanentError, Refused
from saleor_app.domain.installations import Installation
from saleor_app.domain.jobs import MOVE_JOB, JobState
from saleor_app.domain.ports import AutomationStore, Clock
from saleor_app.engine.actions import describe_move
from saleor_app.engine.dry_run import DryRun, Rehearsal
from saleor_app.engine.recovery import decide_unknown

REPLAYABLE = frozenset({JobState.FAILED, JobState.DEAD, JobState.UNKNOWN})


@dataclass(frozen=True, slots=True)
class ReplayPreview:
    job: Job
    rehearsal: Rehearsal
    notes: tuple[str, ...]


class ReplayJob:
    def __init__(self, store: AutomationStore, dry_run: DryRun, clock: Clock,
                 wake: Callable[[], None] | None = None) -> None:
        self._store = store
        self._dry_run = dry_run
        self._clock = clock
        self._wake = wake

    async def preview(self, installation: Installation, job_id: int) -> ReplayPreview:
        now = self._clock.now()
        async with self._store.reading() as tx:
            job = await tx.job(job_id)
            if job is None or job.installation_id != installation.id:
                raise Refused(404, f"there is no job {job_id}")
            if job.state not in REPLAYABLE:
                raise Refused(409, f"job {job_id} is {job.state.value}; only failed, dead and unknown jobs "
                                    "can be replayed")
            order = await tx.order_by_row(job.order_row_id)
            entry = await tx.entry(job.entry_id) if job.entry_id is not None else None
            rule = await tx.rule(job.rule_id) if job.rule_id is not None else None
            pipeline = await tx.pipeline(installation.id)
            settings = await tx.settings(installation.id)
            successors = await tx.successors(job.id)
        if order is None:
            raise Refused(409, "the order of this job is gone")
        if entry is not None and entry.left_at is not None:
            raise Refused(409, f"the order has left {entry.stage_key} since; a replay would be cancelled at "
                                "once (its stage's jobs stop when the order leaves)")
        notes: list[str] = []
        if job.state is JobState.UNKNOWN:
            notes.append("it is unknown whether the first attempt happened: check the order before replaying, or "
                         "the customer may get it twice")
        cancelled = [s.rule_key for s in successors if s.state is JobState.CANCELLED]
        if cancelled:
            notes.append(f"the rules after it ({', '.join(cancelled)}) were cancelled and will not run again")
        held = [s.rule_key for s in successors if s.state is JobState.WAITING]
        if held:
            notes.append(f"if it succeeds, {', '.join(held)} will follow")
        if job.kind == MOVE_JOB:
            stage_key = str((job.payload or {}).get("stage"))
            try:
                outcome, runs = describe_move(pipeline, order, stage_key), True
            except PermanentError as exc:  # the move would fail again
                outcome, runs = f"would fail: {exc}", False
            rehearsal = Rehearsal(job.rule_key, job.rule_key, job.kind, runs, "now", now, None, outcome)
        elif rule is None or not rule.enabled:
            raise Refused(409, f"the rule of this job was {'deleted' if rule is None else 'disabled'}")
        else:
            rehearsal = self._dry_run.rehearse(rule, order, pipeline, now, settings.time_zone, "now", now)
        return ReplayPreview(job, rehearsal, tuple(notes))

    async def replay(self, installation: Installation, job_id: int, *, asked_by: str) -> Job:
        await self.preview(installation, job_id)  # the same checks, on the same rows
        now = self._clock.now()
        async with self._store.transaction() as tx:
            job = await tx.job(job_id)
            if job is None or job.state not in REPLAYABLE:
                raise Refused(409, f"job {job_id} changed meanwhile; look again")
            reason = f"replay asked by {asked_by} (was {job.state.value})"
            await tx.update_job(job.id, now, state=JobState.SCHEDULED, due_at=now, attempts=0, first_attempt_at=None,
                                lease_until=None, reason=reason)
            await tx.log(Activity(installation.id, "job", f"{job.rule_key}: {reason}", order_row_id=job.order_row_id,
                                  job_id=job.id, state=JobState.SCHEDULED.value, rule_key=job.rule_key), now)
            replayed = await tx.job(job.id)
        assert replayed is not None
        if self._wake is not None:
            self._wake()
        return replayed

    async def resolve(self, installation: Installation, job_id: int, *, sent: bool, decided_by: str) -> Job:
        """Settle an `unknown` job as sent or not sent, on a person's word; the log says who decided."""
        async with self._store.reading() as tx:
            job = await tx.job(job_id)
        if job is None or job.installation_id != installation.id:
            raise Refused(404, f"there is no job {job_id}")
        if job.state is not JobState.UNKNOWN:
            hint = " (replay it instead)" if job.state in REPLAYABLE else ""
            raise Refused(409, f"job {job_id} is {job.state.value}; only a job whose outcome is unknown can be "
                               f"resolved as sent or not sent{hint}")
        reason = (f"resolved as sent by {decided_by}: it is not sent again" if sent
                  else f"resolved as not sent by {decided_by}: it is sent again now")
        if not await decide_unknown(self._store, job_id, sent, reason, self._clock.now()):
            raise Refused(409, f"job {job_id} changed meanwhile; look again")
        async with self._store.reading() as tx:
            decided = await tx.job(job_id)
        assert decided is not None
        if not sent and self._wake is not None:
            self._wake()
        return decided
