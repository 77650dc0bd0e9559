"""The composition root: reads settings, builds every adapter and use case. Nothing else constructs them."""

from __future__ import annotations

import logging
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from saleor_app.domain.employee_ports import TeamMessenger
from saleor_app.domain.errors import AppAccessLost, AutomationError
from saleor_app.domain.installations import Installation
from saleor_app.domain.pipeline import DEFAULT_PIPELINE
from saleor_app.domain.ports import Clock
from saleor_app.domain.provider_config import ShellEnvironment, StoredCredentials
from saleor_app.domain.provider_ports import ProviderConnector, ProviderStore
from saleor_app.domain.telephony import TelephonyUrls
from saleor_app.engine.actions import HANDLERS, PREVIEWS, Previewer
from saleor_app.engine.alerts import FailureAlerts
from saleor_app.engine.backfill import Backfill
from saleor_app.engine.catchup import CatchUp
from saleor_app.engine.config_parsing import ConfigParsing
from saleor_app.engine.configure import ConfigureAutomation
from saleor_app.engine.dry_run import DryRun
from saleor_app.engine.email import EmailService
from saleor_app.engine.email_action import EmailAction, preview_email
from saleor_app.engine.email_reconcile import ReconcileEmail, UnresolvedEmails
from saleor_app.engine.employee_config import EmployeeConfigSections
from saleor_app.engine.execute import ActionHandler, ExecuteJob
from saleor_app.engine.inbound import ReceiveInbound
from saleor_app.engine.ingest import IngestWebhook
from saleor_app.engine.lifecycle import AppLifecycle
from saleor_app.engine.moves import MoveOrder
from saleor_app.engine.notify import NotifyTeamAction, preview_notify
from saleor_app.engine.order_desk import OrderDesk
from saleor_app.engine.order_events import DrainLimits, HandleOrderEvents
from saleor_app.engine.order_update import UpdateOrderAction, preview_update
from saleor_app.engine.outbound_request import HttpRequestAction, preview_request
from saleor_app.engine.provider_config import AllSections, ProviderConfigSections
from saleor_app.engine.provider_events import ReceiveProviderEvents
from saleor_app.engine.providers import ManageProviders
from saleor_app.engine.recovery import RecoverLeases
from saleor_app.engine.replay import ReplayJob
from saleor_app.engine.responsible import SetResponsibleAction, preview_responsible
from saleor_app.engine.tasks import CloseTask, CreateTaskAction, preview_task
from saleor_app.engine.team import ManageTeam
from saleor_app.engine.team_messages import ProviderTeamMessenger
from saleor_app.engine.telephony import TelephonyService
from saleor_app.engine.telephony_actions import CallAction, SmsAction, preview_call, preview_sms
from saleor_app.engine.telephony_callbacks import ReceiveTelephonyCallbacks
from saleor_app.engine.telephony_checks import TelephonyRuleCheck
from saleor_app.engine.telephony_reconcile import ReconcileTelephony
from saleor_app.engine.workflows import RunWorkflowAction, SaveWorkflows, preview_workflow
from saleor_app.providers.addresses import AddressPolicy, GuardedTransport, hosts_named_in
from saleor_app.providers.audio_link import GuardedAudioLinkCheck
from saleor_app.providers.outbound_http import GuardedHttpClient
from saleor_app.providers.outbound_post import GuardedOutboundPoster
from saleor_app.providers.postmark import PostmarkProvider
from saleor_app.providers.smtp import SmtpProvider
from saleor_app.providers.twilio_api import TwilioApi
from saleor_app.providers.twilio_connector import TwilioConnector
from saleor_app.queues.background import BackgroundLoop, Periodic
from saleor_app.queues.celery_worker import counted
from saleor_app.queues.dispatcher import CeleryDispatcher
from saleor_app.queues.inprocess import InProcessRunner
from saleor_app.queues.runner_process import RunnerSupervisor
from saleor_app.saleor.clients import SaleorClients
from saleor_app.saleor.graphql_client import connect_timeout
from saleor_app.saleor.keys import SaleorKeys
from saleor_app.saleor.manifest import webhook_definitions
from saleor_app.saleor.register import RegisterInstallation
from saleor_app.saleor.staff import SaleorStaffDirectory
from saleor_app.saleor.webhook_sync import sync_webhooks
from saleor_app.scale_out import celery_dispatcher, pool_options, retention_task
from saleor_app.settings import AppEnv, Settings, environment_variable
from saleor_app.store.alerts import SqlAlertStore
from saleor_app.store.automation import SqlAutomationStore
from saleor_app.store.catchup import SqlCatchUpStore
from saleor_app.store.database import create_engine
from saleor_app.store.employee_work import SqlEmployeeWorkStore
from saleor_app.store.inbox import SqlWebhookInbox
from saleor_app.store.installations import SqlInstallationRepository
from saleor_app.store.providers import SqlProviderStore
from saleor_app.store.secrets import SecretCipher, load_or_create_dev_key
from saleor_app.store.team import SqlTeamStore
from saleor_app.store.telephony import SqlTelephonyLookup
from saleor_app.web.postmark_webhooks import postmark_events_url
from saleor_app.web.rate_limit import ClientAddress, RateLimiter

log = logging.getLogger(__name__)


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def encryption_keys(settings: Settings) -> list[str]:
    if settings.encryption_keys:
        return list(settings.encryption_keys)
    if settings.app_env is AppEnv.PRODUCTION:  # the settings validator refuses this already
        raise ValueError("ENCRYPTION_KEYS is required in production")
    return [load_or_create_dev_key(settings.data_dir)]


@dataclass
class EmployeeAutomation:
    """Issue 7: the team directory, sequences, tasks, workflows and the outbound signing secret."""

    team: ManageTeam
    team_store: SqlTeamStore
    work: SqlEmployeeWorkStore  # sequences, tasks, workflows, signing secret
    workflows: SaveWorkflows
    close_task: CloseTask
    config_sections: EmployeeConfigSections
    handlers: dict[str, ActionHandler]


def build_employee_automation(engine: AsyncEngine, automation: SqlAutomationStore, saleor: SaleorClients,
                              outbound: GuardedHttpClient, inbox: SqlWebhookInbox, cipher: SecretCipher,
                              clock: Clock, timeout: float, messenger: TeamMessenger | None = None,
                              ) -> EmployeeAutomation:
    team_store = SqlTeamStore(engine)
    work = SqlEmployeeWorkStore(engine, encrypt=cipher.encrypt, decrypt=cipher.decrypt)
    poster = GuardedOutboundPoster(outbound)
    handlers: dict[str, ActionHandler] = {
        "update_order": UpdateOrderAction(automation, work, saleor.order_gateway, clock),
        "set_responsible": SetResponsibleAction(automation, team_store, clock),
        "create_task": CreateTaskAction(team_store, work, messenger, clock),
        "notify_team": NotifyTeamAction(team_store, poster, messenger),
        "run_workflow": RunWorkflowAction(automation, work, clock),
        "http_request": HttpRequestAction(poster, work, clock),
    }
    workflows = SaveWorkflows(automation, work, team_store, clock)
    return EmployeeAutomation(
        team=ManageTeam(team_store, SaleorStaffDirectory(saleor, timeout=timeout), clock),
        team_store=team_store, work=work, workflows=workflows,
        close_task=CloseTask(work, automation, inbox, clock),
        config_sections=EmployeeConfigSections(team_store, work, work, workflows, clock), handlers=handlers,
    )


EMPLOYEE_PREVIEWS: dict[str, Previewer] = {
    "update_order": preview_update, "set_responsible": preview_responsible, "create_task": preview_task,
    "notify_team": preview_notify, "run_workflow": preview_workflow, "http_request": preview_request,
}


@dataclass
class Telephony:
    """Issue 6: SMS and calls through Twilio. `service` is the entry point for anything that texts or calls."""

    api: TwilioApi
    store: ProviderStore
    connector: TwilioConnector
    service: TelephonyService
    callbacks: ReceiveTelephonyCallbacks
    reconcile: ReconcileTelephony
    rule_check: TelephonyRuleCheck
    handlers: dict[str, ActionHandler]
    wakers: list[Callable[[], None]]  # the runner's wake, once it exists: a callback or a resolved send wakes it


TELEPHONY_PREVIEWS: dict[str, Previewer] = {"sms": preview_sms, "call": preview_call}


@dataclass
class ClientEmail:
    """Issue 5: Postmark and SMTP. `service` is the entry point for anything that sends an email."""

    postmark: PostmarkProvider
    smtp: SmtpProvider
    service: EmailService
    action: EmailAction
    events: ReceiveProviderEvents  # Postmark's webhooks
    reconcile: ReconcileEmail  # unknown Postmark sends

    @property
    def connectors(self) -> dict[str, ProviderConnector]:
        return {self.postmark.kind: self.postmark, self.smtp.kind: self.smtp}


def build_client_email(settings: Settings, providers: ProviderStore, lookup: UnresolvedEmails,
                       automation: SqlAutomationStore,
                       inbox: SqlWebhookInbox, credentials: Callable[[int], Awaitable[dict[str, str]]],
                       clock: Clock) -> ClientEmail:
    postmark = PostmarkProvider(base_url=settings.postmark_api_base_url, timeout=settings.postmark_timeout_seconds,
                                threads=settings.postmark_threads)
    smtp = SmtpProvider(timeout=settings.smtp_timeout_seconds,
                        policy=AddressPolicy.of(allow_loopback=settings.loopback_allowed),
                        cert_bundle=settings.smtp_ca_bundle)
    service = EmailService(providers, {postmark.kind: postmark, smtp.kind: smtp}, credentials, clock)
    return ClientEmail(postmark, smtp, service, EmailAction(service),
                       ReceiveProviderEvents(providers, automation, inbox, clock),
                       ReconcileEmail(providers, lookup, {postmark.kind: postmark}, credentials, automation, clock,
                                      settle=timedelta(seconds=settings.reconcile_settle_seconds)))


def build_telephony(settings: Settings, providers: ProviderStore, lookup: SqlTelephonyLookup,
                    credentials: Callable[[int], Awaitable[dict[str, str]]], automation: SqlAutomationStore,
                    inbox: SqlWebhookInbox, outbound: GuardedHttpClient, clock: Clock) -> Telephony:
    api = TwilioApi(settings.twilio_api_base_url, connect_timeout=settings.twilio_connect_timeout_seconds,
                    read_timeout=settings.twilio_read_timeout_seconds, max_concurrency=settings.twilio_threads)
    service = TelephonyService(providers, api, credentials, TelephonyUrls(settings.api_base_url), clock)
    wakers: list[Callable[[], None]] = []

    def wake() -> None:
        for each in wakers:
            each()

    events = ReceiveProviderEvents(providers, automation, inbox, clock, on_stored=wake)
    return Telephony(
        api=api, store=providers, connector=TwilioConnector(api), service=service,
        callbacks=ReceiveTelephonyCallbacks(events, providers, lookup, automation, inbox, clock, on_stored=wake),
        reconcile=ReconcileTelephony(providers, lookup, api, credentials, automation, clock, wake=wake,
                                     settle=timedelta(seconds=settings.reconcile_settle_seconds)),
        rule_check=TelephonyRuleCheck(GuardedAudioLinkCheck(outbound)),
        handlers={"sms": SmsAction(service), "call": CallAction(service)}, wakers=wakers,
    )


@dataclass
class Container:
    settings: Settings
    engine: AsyncEngine
    http: httpx.AsyncClient
    outbound: GuardedHttpClient  # every URL a merchant types goes through this one
    clock: Clock
    installations: SqlInstallationRepository
    inbox: SqlWebhookInbox
    keys: SaleorKeys
    saleor: SaleorClients
    lifecycle: AppLifecycle
    ingest: IngestWebhook
    register: RegisterInstallation
    register_limit: RateLimiter | None  # install attempts per client address; None: unlimited
    client_address: ClientAddress  # who is calling, behind TRUSTED_PROXIES
    background: BackgroundLoop = field(init=False)  # built from the container's own tasks, below
    automation: SqlAutomationStore
    order_events: HandleOrderEvents
    execute_job: ExecuteJob
    recover_leases: RecoverLeases
    # JOB_RUNNER=inprocess: the runner itself (inline), or `serve`'s supervisor of the runner process
    # (RUNNER_MODE=process); JOB_RUNNER=celery: the dispatcher that sends due jobs to the workers
    runner: InProcessRunner | RunnerSupervisor | CeleryDispatcher
    configure: ConfigureAutomation
    catch_up: CatchUp
    backfill: Backfill
    inbound: ReceiveInbound
    dry_run: DryRun
    replay: ReplayJob
    employees: EmployeeAutomation
    providers: ManageProviders
    telephony: Telephony
    email: ClientEmail
    order_desk: OrderDesk  # the order widget's and popup's reads and staff actions
    alerts: FailureAlerts  # the banner, the daily digest, Saleor app problems
    config_parsing: ConfigParsing = field(default_factory=ConfigParsing)  # off the event loop

    async def sync_all_webhooks(self) -> None:
        for installation in await self.installations.list_active():
            await self.sync_installation_webhooks(installation)

    async def sync_installation_webhooks(self, installation: Installation) -> None:
        extra = {"installation_id": installation.id, "saleor_api_url": installation.saleor_api_url}
        try:
            client = await self.saleor.client(installation)
            outcome = await sync_webhooks(client, webhook_definitions(self.settings.api_base_url))
        except AppAccessLost as exc:
            log.warning("webhook sync skipped: Saleor refused the app's token", extra={**extra, "reason": str(exc)})
        except AutomationError as exc:
            log.warning("webhook sync failed; retried at next start", extra={**extra, "reason": str(exc)})
        else:
            log.info("webhooks in sync", extra={**extra, "webhooks": outcome})

    async def purge_personal_data(self) -> None:
        await self.lifecycle.purge_personal_data(timedelta(days=self.settings.uninstalled_data_retention_days))

    async def seed_installation(self, installation: Installation) -> None:
        """A new installation starts with the default pipeline (a reinstall keeps its own)."""
        await self.automation.seed_pipeline(installation.id, DEFAULT_PIPELINE, self.clock.now())

    def start(self) -> None:
        self.background.start()
        if isinstance(self.runner, InProcessRunner | RunnerSupervisor) or self.settings.dispatcher_enabled:
            self.runner.start()

    async def aclose(self) -> None:
        await self.runner.stop()
        await self.order_events.aclose()
        await self.background.stop()
        await self.inbox.close()
        await self.saleor.aclose()
        await self.http.aclose()
        await self.outbound.aclose()
        self.telephony.api.close()
        self.email.postmark.close()
        self.config_parsing.close()
        await self.engine.dispose()


def build_container(
    settings: Settings,
    *,
    saleor_transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock | None = None,
    extra_handlers: Mapping[str, ActionHandler] | None = None,
    operator_shell: bool = False,
    serving: bool = False,
) -> Container:
    """Tests inject a Saleor stand-in under the JWKS/register client, a clock, and handlers of test-only kinds.

    `operator_shell`: the container serves a command the operator runs on the server (`config import`), so the
    `${VAR}` references of an imported configuration are read from this process's environment. Every other
    container (the web app's above all) has no way to read it: a configuration sent through the API never sets a
    credential.

    `serving`: the container of `serve`'s web process. With JOB_RUNNER=inprocess and RUNNER_MODE=process, its
    runner and background tasks run in a child process it supervises (every other container keeps them inline:
    commands, tests and that child itself)."""
    engine = create_engine(settings.database_url, **pool_options(settings))
    cipher = SecretCipher(encryption_keys(settings))
    clock = clock or SystemClock()
    timeout = settings.saleor_timeout_seconds
    # One address policy for every call to Saleor: public addresses, a host ALLOWED_SALEOR_URLS names (the
    # operator vouched for it, e.g. Docker's `api`), loopback only when allowed.
    saleor_policy = AddressPolicy.of(allow_loopback=settings.loopback_allowed,
                                     trusted_hosts=hosts_named_in(settings.allowed_saleor_urls))

    def saleor_guarded() -> httpx.AsyncBaseTransport:
        return GuardedTransport(saleor_policy, metric=None)  # the Saleor calls are timed as "saleor" already

    http = httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=connect_timeout(timeout)), follow_redirects=False, trust_env=False,
        transport=saleor_transport or saleor_guarded(),
    )
    installations = SqlInstallationRepository(engine, cipher, cache_seconds=settings.installation_cache_seconds)
    inbox = SqlWebhookInbox(settings.database_url)
    keys = SaleorKeys(installations, http, refetch_interval=settings.jwks_refetch_interval_seconds)
    saleor = SaleorClients(installations, timeout=timeout, transport=saleor_guarded)
    lifecycle = AppLifecycle(installations, clock)
    automation = SqlAutomationStore(engine)
    lease = timedelta(seconds=settings.job_lease_seconds)
    order_events = HandleOrderEvents(automation, installations, saleor.order_gateway, clock, lease=lease,
                                     limits=DrainLimits(settings.inbox_concurrency, settings.inbox_batch_size,
                                                        settings.inbox_settle_ms / 1000))
    outbound = GuardedHttpClient(
        timeout=settings.outbound_timeout_seconds,
        max_response_bytes=settings.outbound_max_response_bytes,
        policy=AddressPolicy.of(allow_loopback=settings.loopback_allowed),
    )
    provider_store = SqlProviderStore(engine)

    async def provider_credentials(account_id: int) -> dict[str, str]:
        return await providers.credentials(account_id)

    telephony = build_telephony(settings, provider_store, SqlTelephonyLookup(engine), provider_credentials,
                                automation, inbox, outbound, clock)
    email = build_client_email(settings, provider_store, provider_store, automation, inbox, provider_credentials,
                               clock)
    employees = build_employee_automation(engine, automation, saleor, outbound, inbox, cipher, clock, timeout,
                                          ProviderTeamMessenger(email.service, telephony.service))
    telephony_urls = TelephonyUrls(settings.api_base_url)
    providers = ManageProviders(provider_store, {telephony.connector.kind: telephony.connector,
                                                 **email.connectors}, clock,
                                encrypt=cipher.encrypt, decrypt=cipher.decrypt,
                                callback_url=lambda account: postmark_events_url(settings.api_base_url, account.id)
                                if account.kind == "postmark" else telephony_urls.inbound(account.id))
    execute_job = ExecuteJob(automation, installations, saleor.order_gateway,
                             {**HANDLERS, **employees.handlers, **telephony.handlers, "email": email.action,
                              **(extra_handlers or {})},
                             clock,
                             MoveOrder(automation, saleor.order_gateway, clock))
    recover_leases = RecoverLeases(automation, clock)
    runner: InProcessRunner | RunnerSupervisor | CeleryDispatcher
    runner_in_child = serving and settings.runner_has_own_process
    if settings.job_runner == "celery":
        runner = celery_dispatcher(settings, engine, order_events, recover_leases, clock)
    elif runner_in_child:
        runner = RunnerSupervisor([sys.executable, "-m", "saleor_app.cli", "run-jobs"],
                                  settings.model_dump_json(exclude_unset=True),
                                  shutdown_grace_seconds=settings.runner_shutdown_grace_seconds)
    else:
        runner = InProcessRunner(
            automation, lambda may_claim: order_events.run_once(may_claim=may_claim),
            counted(execute_job.run_batch), recover_leases, clock, ready=order_events.take_ready,
            followups=order_events.take_followups, concurrency=settings.runner_concurrency, lease=lease,
            shutdown_grace_seconds=settings.runner_shutdown_grace_seconds,
        )
    dry_run = DryRun(automation, saleor.order_gateway, {**PREVIEWS, **EMPLOYEE_PREVIEWS, **TELEPHONY_PREVIEWS,
                                                               "email": preview_email}, clock)
    employees.close_task.on_stored = runner.wake
    telephony.wakers.append(runner.wake)
    email.events.on_stored = email.reconcile.wake = runner.wake
    ingest = IngestWebhook(inbox, lifecycle, clock, on_stored=runner.wake)
    register = RegisterInstallation(
        installations, http, saleor.connect, clock, allowed_urls=settings.allowed_saleor_url_pattern
    )
    credentials = ShellEnvironment(environment_variable) if operator_shell else StoredCredentials()
    provider_sections = ProviderConfigSections(providers, credentials)
    register_limit = RateLimiter(settings.register_attempts_per_minute, timedelta(minutes=1), clock) \
        if settings.register_attempts_per_minute else None
    container = Container(
        settings=settings,
        engine=engine,
        http=http,
        outbound=outbound,
        clock=clock,
        installations=installations,
        inbox=inbox,
        keys=keys,
        saleor=saleor,
        lifecycle=lifecycle,
        ingest=ingest,
        register=register,
        register_limit=register_limit,
        client_address=ClientAddress(settings.trusted_proxies),
        automation=automation,
        order_events=order_events,
        execute_job=execute_job,
        recover_leases=recover_leases,
        runner=runner,
        configure=ConfigureAutomation(automation, clock, encrypt=cipher.encrypt, rule_checks=[telephony.rule_check],
                                      sections=AllSections([employees.config_sections, provider_sections]),
                                      providers=provider_sections),
        backfill=Backfill(automation, clock),
        dry_run=dry_run,
        replay=ReplayJob(automation, dry_run, clock, wake=runner.wake),
        order_desk=OrderDesk(automation, saleor.order_gateway, inbox, execute_job.run_batch, clock, wake=runner.wake,
                             lease=lease),
        alerts=FailureAlerts(SqlAlertStore(engine), installations, automation, employees.team_store, email.service,
                             saleor.app_problems, clock),
        employees=employees,
        providers=providers,
        telephony=telephony,
        email=email,
        inbound=ReceiveInbound(automation, installations, saleor.order_gateway, inbox, cipher.decrypt, clock,
                               on_stored=runner.wake),
        catch_up=CatchUp(
            SqlCatchUpStore(engine), installations, saleor.order_gateway, inbox, clock,
            overlap=timedelta(seconds=settings.catch_up_overlap_seconds),
            recheck_every=timedelta(seconds=settings.catch_up_recheck_seconds)
            if settings.catch_up_recheck_seconds > 0 else None,
            on_stored=runner.wake,
        ),
    )
    register.on_installed = container.seed_installation
    once = [container.sync_all_webhooks] if settings.sync_webhooks_on_startup else []
    if runner_in_child:  # the runner process has them: the web process only answers requests
        container.background = BackgroundLoop(once=[], periodic=[])
        return container
    container.background = BackgroundLoop(once=once, periodic=[
        Periodic(container.catch_up.run_once, settings.catch_up_interval_seconds),  # 0: off
        Periodic(container.purge_personal_data, settings.maintenance_interval_seconds),
        Periodic(retention_task(settings, engine, clock), settings.maintenance_interval_seconds),
        Periodic(container.telephony.reconcile.run_once, settings.twilio_reconcile_interval_seconds),  # 0: off
        Periodic(container.email.reconcile.run_once, settings.email_reconcile_interval_seconds),  # 0: off
        Periodic(container.alerts.run_once, settings.alerts_interval_seconds),  # 0: off
        Periodic(container.providers.retry_registrations, settings.provider_retry_interval_seconds),  # 0: off
    ])
    return container
