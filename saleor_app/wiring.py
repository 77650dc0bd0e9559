"""The composition root: reads settings, builds every adapter and use case. Nothing else constructs them."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from saleor_app.domain.errors import AppAccessLost, AutomationError
from saleor_app.domain.installations import Installation
from saleor_app.domain.pipeline import DEFAULT_PIPELINE
from saleor_app.domain.ports import Clock
from saleor_app.engine.actions import HANDLERS, PREVIEWS
from saleor_app.engine.backfill import Backfill
from saleor_app.engine.catchup import CatchUp
from saleor_app.engine.configure import ConfigureAutomation
from saleor_app.engine.dry_run import DryRun
from saleor_app.engine.execute import ActionHandler, ExecuteJob
from saleor_app.engine.inbound import ReceiveInbound
from saleor_app.engine.ingest import IngestWebhook
from saleor_app.engine.lifecycle import AppLifecycle
from saleor_app.engine.moves import MoveOrder
from saleor_app.engine.order_events import HandleOrderEvents
from saleor_app.engine.recovery import RecoverLeases
from saleor_app.engine.replay import ReplayJob
from saleor_app.providers.outbound_http import GuardedHttpClient
from saleor_app.queues.background import BackgroundLoop, Periodic
from saleor_app.queues.inprocess import InProcessRunner
from saleor_app.saleor.clients import SaleorClients
from saleor_app.saleor.keys import SaleorKeys
from saleor_app.saleor.manifest import webhook_definitions
from saleor_app.saleor.register import RegisterInstallation
from saleor_app.saleor.webhook_sync import sync_webhooks
from saleor_app.settings import AppEnv, Settings
from saleor_app.store.automation import SqlAutomationStore
from saleor_app.store.catchup import SqlCatchUpStore
from saleor_app.store.database import create_engine
from saleor_app.store.inbox import SqlWebhookInbox
from saleor_app.store.installations import SqlInstallationRepository
from saleor_app.store.secrets import SecretCipher, load_or_create_dev_key

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
    background: BackgroundLoop = field(init=False)  # built from the container's own tasks, below
    automation: SqlAutomationStore
    order_events: HandleOrderEvents
    execute_job: ExecuteJob
    recover_leases: RecoverLeases
    runner: InProcessRunner
    configure: ConfigureAutomation
    catch_up: CatchUp
    backfill: Backfill
    inbound: ReceiveInbound
    dry_run: DryRun
    replay: ReplayJob

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
        self.runner.start()

    async def aclose(self) -> None:
        await self.runner.stop()
        await self.background.stop()
        await self.inbox.close()
        await self.saleor.aclose()
        await self.http.aclose()
        await self.outbound.aclose()
        await self.engine.dispose()


def build_container(
    settings: Settings,
    *,
    saleor_transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock | None = None,
    extra_handlers: Mapping[str, ActionHandler] | None = None,
) -> Container:
    """Tests inject a Saleor stand-in under the JWKS/register client, a clock, and handlers of test-only kinds."""
    engine = create_engine(settings.database_url)
    cipher = SecretCipher(encryption_keys(settings))
    clock = clock or SystemClock()
    timeout = settings.saleor_timeout_seconds
    http = httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)), follow_redirects=False, transport=saleor_transport
    )
    installations = SqlInstallationRepository(engine, cipher, cache_seconds=settings.installation_cache_seconds)
    inbox = SqlWebhookInbox(settings.database_url)
    keys = SaleorKeys(installations, http, refetch_interval=settings.jwks_refetch_interval_seconds)
    saleor = SaleorClients(installations, timeout=timeout)
    lifecycle = AppLifecycle(installations, clock)
    automation = SqlAutomationStore(engine)
    lease = timedelta(seconds=settings.job_lease_seconds)
    order_events = HandleOrderEvents(automation, installations, saleor.order_gateway, clock, lease=lease)
    execute_job = ExecuteJob(automation, installations, saleor.order_gateway, {**HANDLERS, **(extra_handlers or {})},
                             clock,
                             MoveOrder(automation, saleor.order_gateway, clock))
    recover_leases = RecoverLeases(automation, clock)
    runner = InProcessRunner(
        automation, lambda may_claim: order_events.run_once(may_claim=may_claim), execute_job.run_batch,
        recover_leases, clock, ready=order_events.take_ready, followups=order_events.take_followups,
        concurrency=settings.runner_concurrency, lease=lease,
    )
    dry_run = DryRun(automation, saleor.order_gateway, PREVIEWS, clock)
    ingest = IngestWebhook(inbox, lifecycle, clock, on_stored=runner.wake)
    register = RegisterInstallation(
        installations, http, clock, allowed_urls=settings.allowed_saleor_url_pattern, timeout=timeout
    )
    container = Container(
        settings=settings,
        engine=engine,
        http=http,
        outbound=GuardedHttpClient(
            timeout=settings.outbound_timeout_seconds,
            max_response_bytes=settings.outbound_max_response_bytes,
            allow_hosts=settings.outbound_allow_hosts,
        ),
        clock=clock,
        installations=installations,
        inbox=inbox,
        keys=keys,
        saleor=saleor,
        lifecycle=lifecycle,
        ingest=ingest,
        register=register,
        automation=automation,
        order_events=order_events,
        execute_job=execute_job,
        recover_leases=recover_leases,
        runner=runner,
        configure=ConfigureAutomation(automation, clock, encrypt=cipher.encrypt),
        backfill=Backfill(automation, clock),
        dry_run=dry_run,
        replay=ReplayJob(automation, dry_run, clock, wake=runner.wake),
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
    container.background = BackgroundLoop(once=once, periodic=[
        Periodic(container.catch_up.run_once, settings.catch_up_interval_seconds),  # 0: off
        Periodic(container.purge_personal_data, settings.maintenance_interval_seconds),
    ])
    return container
