"""The app's own lifecycle in one installation: uninstall, deactivation, reactivation, personal-data purge."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from saleor_app.domain.installations import Installation, InstallationStatus
from saleor_app.domain.ports import Clock, InstallationRepository
from saleor_app.domain.webhooks import lifecycle_app

log = logging.getLogger(__name__)


class AppLifecycle:
    def __init__(self, installations: InstallationRepository, clock: Clock) -> None:
        self._installations = installations
        self._clock = clock

    async def handle(self, installation: Installation, event: str, payload: dict[str, Any] | None) -> str:
        """Apply APP_DELETED / APP_STATUS_CHANGED; returns what was done, for the log and the response."""
        app = lifecycle_app(payload)
        if app is None:
            return "ignored: the payload names no app"
        app_id = app.id
        if app_id != installation.app_id:
            # A late retry from a previous install of this Saleor must not touch the fresh one.
            log.info(
                "lifecycle event for another app id ignored",
                extra={"installation_id": installation.id, "event": event, "app_id": app_id},
            )
            return "ignored: the event is about a previous install of the app"
        if event == "app_deleted":
            status = InstallationStatus.UNINSTALLED
        elif event == "app_status_changed":
            if installation.status is InstallationStatus.UNINSTALLED:
                return "ignored: the app is uninstalled"
            status = InstallationStatus.ACTIVE if app.is_active else InstallationStatus.INACTIVE
        else:
            return f"ignored: {event} is not a lifecycle event"
        changed = await self._installations.set_status(installation.id, status, self._clock.now(), app_id=app_id)
        log.info(
            "installation status changed",
            extra={"installation_id": installation.id, "event": event, "status": status.value},
        )
        return f"installation {status.value}" if changed else "ignored: the installation changed meanwhile"

    async def purge_personal_data(self, retention: timedelta) -> int:
        """Delete stored order data of installations uninstalled longer than `retention` ago."""
        now = self._clock.now()
        purged = await self._installations.purge_uninstalled(now - retention, now)
        if purged:
            log.info("purged personal data of uninstalled installations", extra={"rows": purged})
        return purged
