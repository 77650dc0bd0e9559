"""An installation: one Saleor instance the app is installed in (the tenant)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class InstallationStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"  # deactivated in the Dashboard: automation paused, data kept
    UNINSTALLED = "uninstalled"  # APP_DELETED received: token wiped, personal data purged later


@dataclass(frozen=True, slots=True)
class Installation:
    id: int
    saleor_api_url: str
    app_id: str
    status: InstallationStatus
    jwks: dict[str, Any]
    permissions: tuple[str, ...]
    saleor_version: str | None
    installed_at: datetime
    uninstalled_at: datetime | None = None

    @property
    def is_active(self) -> bool:
        return self.status is InstallationStatus.ACTIVE

    @property
    def jwks_url(self) -> str:
        return jwks_url_for(self.saleor_api_url)


def jwks_url_for(saleor_api_url: str) -> str:
    """Saleor serves its keys at the origin of the API URL, whatever path the API has."""
    scheme, _, rest = saleor_api_url.partition("://")
    host = rest.split("/", 1)[0]
    return f"{scheme}://{host}/.well-known/jwks.json"
