"""Failure alerts: the banner's summary, the daily digest e-mail to chosen team members, and the same failures
reported to Saleor as app problems. `run_once` is the periodic task; every replica may run it.

Replicas: a tick runs in one process at a time (a PostgreSQL advisory lock taken for the tick; a replica that
finds it taken skips its turn; SQLite serves one process), and the digest is also claimed by a conditional
update of the installation's row before anything is sent, so no two processes ever send the same day's digest.
A claimed digest is attempted once: a failure (no mailbox, a refusal) is recorded, not retried every tick.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from saleor_app.domain.alerts import (
    AGGREGATION_MINUTES,
    DIGEST_LIMIT,
    NEWEST,
    AlertSettings,
    AppProblems,
    DigestState,
    FailedJob,
    FailureSummary,
    ProblemState,
    Reported,
    app_link,
    default_dashboard_url,
    digest_day,
    digest_email,
    headline,
    plan_problems,
    window,
)
from saleor_app.domain.automation import Activity
from saleor_app.domain.email import AUTO, Mailbox, OutgoingEmail, single_line
from saleor_app.domain.employee_ports import TeamStore
from saleor_app.domain.errors import AutomationError, Refused, RetryableError
from saleor_app.domain.installations import Installation
from saleor_app.domain.jobs import JobAttempt
from saleor_app.domain.ports import AutomationStore, Clock, InstallationRepository

log = logging.getLogger(__name__)


class AlertStore(Protocol):
    def turn(self) -> AbstractAsyncContextManager[bool]: ...

    async def failures(self, installation_id: int, since: datetime, until: datetime, *, newest: int
                       ) -> tuple[FailureSummary, list[FailedJob]]: ...

    async def settings(self, installation_id: int) -> AlertSettings: ...

    async def save_settings(self, installation_id: int, settings: AlertSettings, now: datetime) -> None: ...

    async def digest_state(self, installation_id: int) -> DigestState: ...

    async def claim_digest(self, installation_id: int, day: date, now: datetime) -> bool: ...

    async def release_digest(self, installation_id: int, day: date | None, outcome: str, now: datetime) -> None: ...

    async def finish_digest(self, installation_id: int, outcome: str, failed: bool, activity: Activity,
                            now: datetime) -> None: ...

    async def problem_state(self, installation_id: int) -> ProblemState: ...

    async def save_problem_state(self, installation_id: int, reported: dict[str, Reported], *,
                                 at: datetime | None, error: str, now: datetime) -> None: ...


class Mailer(Protocol):
    """EmailService's two calls the digest needs (the same path as team notices: the "auto" mailbox)."""

    async def choose(self, installation_id: int, wanted: str, provider: str | None = None) -> Mailbox: ...

    async def send(self, installation_id: int, mailbox: Mailbox, email: OutgoingEmail, *,
                   job: JobAttempt | None = None, order_row_id: int | None = None, is_test: bool = False) -> object: ...


class InvalidAlertSettings(Exception):
    """Settings to fix, field by field."""

    def __init__(self, fields: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{item['field']}: {item['message']}" for item in fields))
        self.fields = fields


@dataclass(frozen=True, slots=True)
class AlertsOverview:
    summary: FailureSummary
    digest: DigestState
    problems: ProblemState


@dataclass(frozen=True, slots=True)
class Delivery:
    outcome: str
    failed: bool
    retry: bool = False  # nothing went out and every refusal was temporary: the day's digest is tried again


class FailureAlerts:
    def __init__(self, store: AlertStore, installations: InstallationRepository, automation: AutomationStore,
                 team: TeamStore, mailer: Mailer, problems: Callable[[Installation], Awaitable[AppProblems]],
                 clock: Clock) -> None:
        self._store = store
        self._installations = installations
        self._automation = automation
        self._team = team
        self._mailer = mailer
        self._problems = problems
        self._clock = clock

    async def overview(self, installation_id: int) -> AlertsOverview:
        since, until = window(self._clock.now())
        summary, _ = await self._store.failures(installation_id, since, until, newest=NEWEST)
        return AlertsOverview(summary, await self._store.digest_state(installation_id),
                              await self._store.problem_state(installation_id))

    async def settings(self, installation_id: int) -> AlertSettings:
        return await self._store.settings(installation_id)

    async def save_settings(self, installation_id: int, settings: AlertSettings) -> AlertSettings:
        members = {member.key: member for member in await self._team.members(installation_id)}
        unknown = [key for key in settings.recipients if key not in members]
        no_address = [key for key in settings.recipients if key in members and not members[key].email]
        fields = []
        if unknown:
            fields.append({"field": "recipients", "message": f"not in the team directory: {', '.join(unknown)}. "
                                                             "Pick members listed under Team, or add them there."})
        if no_address:
            fields.append({"field": "recipients", "message": f"no e-mail address: {', '.join(no_address)}. Add one "
                                                             "under Team, or pick someone else."})
        if settings.digest_enabled and not settings.recipients:
            fields.append({"field": "recipients", "message": "choose at least one member to send the digest to"})
        if fields:
            raise InvalidAlertSettings(fields)
        await self._store.save_settings(installation_id, settings, self._clock.now())
        return settings

    # -- the periodic task --------------------------------------------------------------------------------------

    async def run_once(self) -> None:
        async with self._store.turn() as mine:
            if not mine:
                return  # another replica is at it
            for installation in await self._installations.list_active():
                try:
                    await self.tick(installation)
                except Exception:  # one installation's trouble must not keep the others' alerts back
                    log.exception("failure alerts failed; retried next round",
                                  extra={"installation_id": installation.id})

    async def tick(self, installation: Installation) -> None:
        now = self._clock.now()
        since, until = window(now)
        summary, failures = await self._store.failures(installation.id, since, until, newest=DIGEST_LIMIT)
        await self._digest(installation, summary, failures, now)
        await self._report_problems(installation, summary, now)

    async def _digest(self, installation: Installation, summary: FailureSummary, failures: Sequence[FailedJob],
                      now: datetime) -> None:
        settings = await self._store.settings(installation.id)
        if not settings.digest_enabled or not settings.recipients or summary.total == 0:
            return  # nothing to report: no e-mail (a later failure the same day still gets its digest)
        async with self._automation.reading() as tx:
            zone = (await tx.settings(installation.id)).zone
        last = await self._store.digest_state(installation.id)
        day = digest_day(now, zone, settings.digest_hour, last.day)
        if day is None or not await self._store.claim_digest(installation.id, day, now):
            return
        members = {member.key: member for member in await self._team.members(installation.id)}
        addresses: list[str] = []
        left_out: list[str] = []
        for key in settings.recipients:
            member = members.get(key)
            if member is None:
                left_out.append(f"{key} was removed from the team")
            elif member.away:
                left_out.append(f"{key} is away")
            elif not member.email:
                left_out.append(f"{key} has no e-mail address")
            else:
                addresses.append(member.email)
        delivery = await self._deliver(installation, settings, summary, failures, addresses, left_out, test=False)
        if delivery.retry:  # the day is given back: the next check sends it (logged once it is settled)
            await self._store.release_digest(installation.id, last.day,
                                             f"{delivery.outcome}; tried again at the next check", self._clock.now())
            log.warning("failure digest not sent yet; tried again at the next check",
                        extra={"installation_id": installation.id, "outcome": delivery.outcome})
            return
        message = f"daily failure digest ({headline(summary).lower()}): {delivery.outcome}"
        await self._store.finish_digest(installation.id, delivery.outcome, delivery.failed, Activity(
            installation_id=installation.id, kind="alert", message=message,
            state="failed" if delivery.failed else "succeeded"), self._clock.now())
        log_at = log.warning if delivery.failed else log.info
        log_at("failure digest " + ("not sent" if delivery.failed else "sent"),
               extra={"installation_id": installation.id, "outcome": delivery.outcome})

    async def send_test(self, installation: Installation, to: str | None) -> str:
        """The digest as it would be now, to the signed-in staff member only; Refused says why it was not sent."""
        if not to:
            raise Refused(422, "your Dashboard session carries no e-mail address to send the test to",
                          "no_email")
        since, until = window(self._clock.now())
        summary, failures = await self._store.failures(installation.id, since, until, newest=DIGEST_LIMIT)
        settings = await self._store.settings(installation.id)
        delivery = await self._deliver(installation, settings, summary, failures, [to], [], test=True)
        if delivery.failed:
            raise Refused(409, f"the test digest was not sent: {delivery.outcome}", "digest_not_sent")
        return delivery.outcome

    async def _deliver(self, installation: Installation, settings: AlertSettings, summary: FailureSummary,
                       failures: Sequence[FailedJob], addresses: Sequence[str], left_out: list[str], *, test: bool
                       ) -> Delivery:
        suffix = f"; left out: {'; '.join(left_out)}" if left_out else ""
        if not addresses:
            return Delivery(f"not sent: nobody to send it to{suffix}", True)
        try:
            mailbox = await self._mailer.choose(installation.id, AUTO)
        except AutomationError as exc:  # SkipJob: no connected mailbox
            return Delivery(f"not sent: {exc}", True)
        async with self._automation.reading() as tx:
            zone = (await tx.settings(installation.id)).zone
        link = app_link(settings.dashboard_url or default_dashboard_url(installation.saleor_api_url),
                        installation.app_id)
        subject, text = digest_email(summary, failures, zone, link, test=test)
        sent: list[str] = []
        refused: list[str] = []
        temporary = 0
        for address in addresses:
            try:
                await self._mailer.send(installation.id, mailbox, OutgoingEmail(
                    from_address=mailbox.sender.address, from_name=mailbox.sender.display_name, to=address,
                    subject=single_line(subject), html="", text=text), is_test=test)
            except AutomationError as exc:  # suppressed, refused, unreachable, or unknown: said
                refused.append(f"{address}: {exc}")
                temporary += isinstance(exc, RetryableError)
            else:
                sent.append(address)
        if not sent:
            # Only when nobody got it and every refusal was temporary (the mail server or Postmark unreachable,
            # a 4xx, a 429) is it tried again: a partial send or an unknown outcome would mail someone twice.
            retry = not test and temporary == len(refused)
            return Delivery(f"not sent: {'; '.join(refused)}{suffix}", True, retry=retry)
        outcome = f"sent to {', '.join(sent)} from {mailbox.sender.address}"
        if refused:
            outcome += f"; not sent to {'; '.join(refused)}"
        return Delivery(outcome + suffix, False)

    # -- app problems in Saleor ----------------------------------------------------------------------------------

    async def _report_problems(self, installation: Installation, summary: FailureSummary, now: datetime) -> None:
        state = await self._store.problem_state(installation.id)
        plan = plan_problems(summary, state, now)
        if plan.empty:
            return
        reported = dict(state.reported)
        try:
            problems = await self._problems(installation)
            if plan.dismiss or plan.refresh:
                await problems.dismiss([*plan.dismiss, *plan.refresh])
                for key in plan.dismiss:
                    reported.pop(key, None)
            for key, count, message in plan.report:
                await problems.report(key, message, aggregation_minutes=AGGREGATION_MINUTES)
                reported[key] = Reported(count, now)
        except AutomationError as exc:  # refused, outage, token lost: what went through is kept, the rest retried
            log.warning("could not report app problems to Saleor; retried next round",
                        extra={"installation_id": installation.id, "reason": str(exc)})
            await self._store.save_problem_state(installation.id, reported, at=None, error=str(exc), now=now)
            return
        await self._store.save_problem_state(installation.id, reported, at=now, error="", now=now)
