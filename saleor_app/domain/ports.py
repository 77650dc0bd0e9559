"""Ports: the small interfaces the engine needs from the world, implemented by adapters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from saleor_app.domain.installations import Installation, InstallationStatus
from saleor_app.domain.webhooks import WebhookDelivery


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


@dataclass(frozen=True, slots=True)
class NewInstallation:
    saleor_api_url: str
    app_id: str
    token: str
    jwks: dict[str, Any]
    permissions: tuple[str, ...]
    saleor_version: str | None


class InstallationRepository(Protocol):
    async def get_by_url(self, saleor_api_url: str) -> Installation | None: ...

    async def get(self, installation_id: int) -> Installation | None: ...

    async def list_active(self) -> Sequence[Installation]: ...

    async def upsert(self, new: NewInstallation, now: datetime) -> Installation:
        """Install or reinstall: a reinstall replaces token and app id and reactivates."""
        ...

    async def token_for(self, installation_id: int) -> str:
        """The decrypted app token; raises AppAccessLost when there is none (uninstalled)."""
        ...

    async def set_jwks(self, installation_id: int, jwks: dict[str, Any]) -> None: ...

    async def set_status(
        self, installation_id: int, status: InstallationStatus, now: datetime, *, app_id: str
    ) -> bool:
        """Change the status only if the stored app id is `app_id`; False when it is not (a stale event)."""
        ...

    async def purge_uninstalled(self, older_than: datetime, now: datetime) -> int:
        """Delete personal data of installations uninstalled before `older_than`; returns rows deleted."""
        ...


class WebhookInbox(Protocol):
    async def store(self, delivery: WebhookDelivery) -> bool:
        """Durably store a delivery; True if new, False for a duplicate. Returns only after the commit."""
        ...


@dataclass(frozen=True, slots=True)
class FulfillmentLine:
    order_line_id: str
    warehouse_id: str
    quantity: int


class OrderGateway(Protocol):
    """What the engine asks of Saleor about orders, with the installation's app token."""

    async def get_order(self, order_id: str) -> dict[str, Any] | None: ...

    async def confirm(self, order_id: str) -> dict[str, Any]: ...

    async def mark_as_paid(self, order_id: str, transaction_reference: str | None = None) -> dict[str, Any]: ...

    async def fulfill(
        self,
        order_id: str,
        lines: Sequence[FulfillmentLine],
        *,
        notify_customer: bool = True,
        tracking_number: str | None = None,
    ) -> dict[str, Any]: ...

    async def cancel(self, order_id: str) -> dict[str, Any]: ...

    async def add_note(self, order_id: str, message: str) -> dict[str, Any]: ...

    async def update(self, order_id: str, fields: Mapping[str, Any]) -> dict[str, Any]: ...

    async def update_private_metadata(self, object_id: str, items: Mapping[str, str]) -> dict[str, Any]: ...

    async def update_metadata(self, object_id: str, items: Mapping[str, str]) -> dict[str, Any]: ...
