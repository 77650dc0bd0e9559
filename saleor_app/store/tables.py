"""SQLModel tables. Every tenant-owned row carries `installation_id`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel


def _utc(**kwargs: Any) -> Any:
    return Field(sa_column=Column(DateTime(timezone=True), **kwargs))


class InstallationRow(SQLModel, table=True):
    __tablename__ = "installations"

    id: int | None = Field(default=None, primary_key=True)
    saleor_api_url: str = Field(max_length=2048, unique=True)
    app_id: str = Field(max_length=255)
    token_encrypted: str | None = Field(default=None, max_length=4096)
    jwks: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    permissions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    saleor_version: str | None = Field(default=None, max_length=64)
    status: str = Field(max_length=16)
    installed_at: datetime = _utc(nullable=False)
    updated_at: datetime = _utc(nullable=False)
    uninstalled_at: datetime | None = _utc(nullable=True)
    personal_data_purged_at: datetime | None = _utc(nullable=True)


class WebhookInboxRow(SQLModel, table=True):
    """A verified delivery, stored before it is acknowledged; the engine works from here."""

    __tablename__ = "webhook_inbox"
    __table_args__ = (
        UniqueConstraint("installation_id", "event", "body_sha256", name="uq_webhook_inbox_dedupe"),
        Index("ix_webhook_inbox_pending", "state", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    installation_id: int = Field(foreign_key="installations.id", ondelete="CASCADE")
    event: str = Field(max_length=64)
    body_sha256: str = Field(max_length=64)
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    order_id: str | None = Field(default=None, max_length=255)
    issued_at: str | None = Field(default=None, max_length=64)
    self_caused: bool = False
    parse_error: str | None = Field(default=None, max_length=1024)
    state: str = Field(default="pending", max_length=16)
    received_at: datetime = _utc(nullable=False)
    processed_at: datetime | None = _utc(nullable=True)


metadata = SQLModel.metadata
