"""Crash recovery: a job found RUNNING after its lease expired was interrupted (process killed, machine lost).

An idempotent kind (metadata, stage moves) is simply run again. A non-idempotent send is decided by its
hand-over mark, committed right before the provider call (by the message row of a one-message kind, otherwise
by the engine as the handler starts): not handed over → run again, nothing left the app; its message sent →
succeeded; its message refused → run again; otherwise the send may or may not have happened — providers have no
idempotency keys — so it becomes UNKNOWN: never re-sent blindly; reconciliation (a look-up at the provider) or a
person decides. Its successor keeps waiting meanwhile.
"""

from __future__ import annotations

import logging
from datetime import datetime

from saleor_app.domain import kinds
from saleor_app.domain.automation import Activity, Job
from saleor_app.domain.jobs import JobState
from saleor_app.domain.ports import AutomationStore, AutomationTransaction, Clock
from saleor_app.domain.providers import ACCEPTED, MessageState
from saleor_app.engine.execute import settle_successors

log = logging.getLogger(__name__)


class RecoverLeases:
    def __init__(self, store: AutomationStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def __call__(self) -> int:
        now = self._clock.now()
        recovered = 0
        for job in await self._store.expired_leases(now):
            async with self._store.transaction() as tx:
                current = await tx.job(job.id)
                if current is None or current.state is not JobState.RUNNING or (
                    current.lease_until is not None and current.lease_until >= now
                ):
                    continue
                state, reason = await _verdict(tx, current)
                changes: dict[str, object] = {"state": state, "lease_until": None, "reason": reason}
                if state is JobState.RETRYING:
                    changes["due_at"] = now
                await tx.update_job(job.id, now, **changes)
                await tx.log(Activity(job.installation_id, "job", f"{job.rule_key}: {reason}",
                                      order_row_id=job.order_row_id, job_id=job.id, state=state.value,
                                      rule_key=job.rule_key), now)
                if state is JobState.SUCCEEDED:
                    await settle_successors(tx, current, state, now)
                recovered += 1
                log.warning("job lease expired", extra={"job_id": job.id, "installation_id": job.installation_id,
                                                        "state": state.value})
        return recovered


async def _verdict(tx: AutomationTransaction, job: Job) -> tuple[JobState, str]:
    try:
        kind = kinds.kind(job.kind)
    except kinds.UnknownKind:
        kind = None
    if kind is not None and kind.idempotent:
        return JobState.RETRYING, "interrupted mid-run (lease expired); run again (idempotent)"
    if job.handed_over_at is None:
        return JobState.RETRYING, ("interrupted before anything was handed to a provider (lease expired); "
                                   "run again: nothing was sent")
    latest = await tx.latest_message(job.id) if kind is not None and kind.one_message else None
    if latest is not None and latest[1] in ACCEPTED:
        return JobState.SUCCEEDED, (f"succeeded: the provider had accepted it (message {latest[0]}) before the "
                                    "run was interrupted (lease expired)")
    if latest is not None and latest[1] is MessageState.FAILED:
        return JobState.RETRYING, (f"interrupted after the provider refused it (message {latest[0]}); "
                                   "run again: nothing was sent")
    return JobState.UNKNOWN, ("interrupted mid-send (lease expired) after it was handed to the provider: whether "
                              "it was sent is unknown, so it is not re-sent; it is looked up where the provider "
                              "allows, otherwise check and resolve it")


async def decide_unknown(store: AutomationStore, job_id: int, sent: bool, reason: str, now: datetime) -> bool:
    """Settle a job whose outcome was unknown once a provider's records (or a person) tell: sent → succeeded (its
    successor is released); not sent → retried now. A job someone has decided meanwhile (a replay) is left alone:
    returns whether this call decided it."""
    state = JobState.SUCCEEDED if sent else JobState.RETRYING
    async with store.transaction() as tx:
        job = await tx.job(job_id)
        if job is None or job.state is not JobState.UNKNOWN:
            return False
        changes: dict[str, object] = {"state": state, "reason": reason, "lease_until": None}
        if not sent:
            changes["due_at"] = now
        await tx.update_job(job.id, now, **changes)
        await tx.log(Activity(job.installation_id, "job", f"{job.rule_key}: {reason}", order_row_id=job.order_row_id,
                              job_id=job.id, state=state.value, rule_key=job.rule_key), now)
        if sent:
            await settle_successors(tx, job, state, now)
    return True


async def note_unknown(store: AutomationStore, job_id: int, reason: str, now: datetime) -> bool:
    """Say on a job that stays `unknown` why nothing could decide it (a lookup found it ambiguous), so a person
    sees it; logged once per new reason. Returns whether the reason changed."""
    async with store.transaction() as tx:
        job = await tx.job(job_id)
        if job is None or job.state is not JobState.UNKNOWN or job.reason == reason:
            return False
        await tx.update_job(job.id, now, reason=reason)
        await tx.log(Activity(job.installation_id, "job", f"{job.rule_key}: {reason}", order_row_id=job.order_row_id,
                              job_id=job.id, state=JobState.UNKNOWN.value, rule_key=job.rule_key), now)
    return True
