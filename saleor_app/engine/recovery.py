"""Crash recovery: a job found RUNNING after its lease expired was interrupted (process killed, machine lost).

An idempotent kind (metadata, stage moves) is simply run again. A non-idempotent send may or may not have
happened — providers have no idempotency keys — so it becomes UNKNOWN: never re-sent blindly; a person (or, in
later issues, a look-up at the provider) decides. Its successor keeps waiting meanwhile.
"""

from __future__ import annotations

import logging
from datetime import datetime

from saleor_app.domain import kinds
from saleor_app.domain.automation import Activity
from saleor_app.domain.jobs import JobState
from saleor_app.domain.ports import AutomationStore, Clock
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
                try:
                    idempotent = kinds.kind(current.kind).idempotent
                except kinds.UnknownKind:
                    idempotent = False
                if idempotent:
                    state, reason = JobState.RETRYING, "interrupted mid-run (lease expired); run again (idempotent)"
                    await tx.update_job(job.id, now, state=state, due_at=now, lease_until=None, reason=reason)
                else:
                    state = JobState.UNKNOWN
                    reason = ("interrupted mid-run (lease expired): whether it happened is unknown, so it is not "
                              "re-sent; check and resolve it")
                    await tx.update_job(job.id, now, state=state, lease_until=None, reason=reason)
                await tx.log(Activity(job.installation_id, "job", f"{job.rule_key}: {reason}",
                                      order_row_id=job.order_row_id, job_id=job.id, state=state.value,
                                      rule_key=job.rule_key), now)
                recovered += 1
                log.warning("job lease expired", extra={"job_id": job.id, "installation_id": job.installation_id,
                                                        "state": state.value})
        return recovered


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
