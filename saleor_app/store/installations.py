"""SqlInstallationRepository: installations with encrypted tokens and a short read-through cache."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlmodel import col

from saleor_app.domain.errors import AppAccessLost
from saleor_app.domain.installations import Installation, InstallationStatus
from saleor_app.domain.ports import NewInstallation
from saleor_app.store.database import aware
from saleor_app.store.secrets import SecretCipher
from saleor_app.store.tables import InstallationRow, WebhookInboxRow


def _to_domain(row: InstallationRow) -> Installation:
    assert row.id is not None
    return Installation(
        id=row.id,
        saleor_api_url=row.saleor_api_url,
        app_id=row.app_id,
        status=InstallationStatus(row.status),
        jwks=dict(row.jwks or {}),
        permissions=tuple(row.permissions or ()),
        saleor_version=row.saleor_version,
        installed_at=aware(row.installed_at) or row.installed_at,
        uninstalled_at=aware(row.uninstalled_at),
    )


class SqlInstallationRepository:
    """Every webhook and Dashboard call looks its installation up, so lookups by URL are cached briefly.

    The cache lives per process; a change made by another process is seen after `cache_seconds` at most.
    Changes made here invalidate it at once.
    """

    def __init__(self, engine: AsyncEngine, cipher: SecretCipher, *, cache_seconds: float = 5.0) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._cipher = cipher
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Installation | None]] = {}
        self._by_id: dict[int, tuple[float, Installation | None]] = {}
        self._tokens: dict[int, tuple[float, str]] = {}  # decrypted, in memory only, briefly

    def _session(self) -> AsyncSession:
        return self._sessions()

    def forget(self, saleor_api_url: str | None = None) -> None:
        self._by_id.clear()
        self._tokens.clear()
        if saleor_api_url is None:
            self._cache.clear()
        else:
            self._cache.pop(saleor_api_url, None)

    async def get_by_url(self, saleor_api_url: str) -> Installation | None:
        cached = self._cache.get(saleor_api_url)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        async with self._session() as session:
            query = select(InstallationRow).where(col(InstallationRow.saleor_api_url) == saleor_api_url)
            row = (await session.execute(query)).scalar_one_or_none()
        found = _to_domain(row) if row is not None else None
        self._cache[saleor_api_url] = (time.monotonic() + self._cache_seconds, found)
        return found

    async def get(self, installation_id: int) -> Installation | None:
        cached = self._by_id.get(installation_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        async with self._session() as session:
            row = await session.get(InstallationRow, installation_id)
        found = _to_domain(row) if row is not None else None
        self._by_id[installation_id] = (time.monotonic() + self._cache_seconds, found)
        return found

    async def list_active(self) -> Sequence[Installation]:
        async with self._session() as session:
            rows = (
                await session.execute(
                    select(InstallationRow)
                    .where(col(InstallationRow.status) == InstallationStatus.ACTIVE.value)
                    .order_by(col(InstallationRow.id))
                )
            ).scalars()
            return [_to_domain(row) for row in rows]

    async def upsert(self, new: NewInstallation, now: datetime) -> Installation:
        token = self._cipher.encrypt(new.token)
        async with self._session() as session, session.begin():
            row = (
                await session.execute(
                    select(InstallationRow).where(col(InstallationRow.saleor_api_url) == new.saleor_api_url)
                )
            ).scalar_one_or_none()
            if row is None:
                row = InstallationRow(saleor_api_url=new.saleor_api_url, installed_at=now, app_id=new.app_id,
                                      status=InstallationStatus.ACTIVE.value, updated_at=now)
                session.add(row)
            row.app_id = new.app_id
            row.token_encrypted = token
            row.jwks = new.jwks
            row.permissions = list(new.permissions)
            row.saleor_version = new.saleor_version
            row.status = InstallationStatus.ACTIVE.value
            row.installed_at = now
            row.updated_at = now
            row.uninstalled_at = None
            row.personal_data_purged_at = None
            await session.flush()
            installation = _to_domain(row)
        self.forget(new.saleor_api_url)
        return installation

    async def token_for(self, installation_id: int) -> str:
        cached = self._tokens.get(installation_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        async with self._session() as session:
            row = await session.get(InstallationRow, installation_id)
        if row is None or row.token_encrypted is None:
            raise AppAccessLost("the app has no token for this Saleor: it was uninstalled; install it again")
        token = self._cipher.decrypt(row.token_encrypted)
        self._tokens[installation_id] = (time.monotonic() + self._cache_seconds, token)
        return token

    async def set_jwks(self, installation_id: int, jwks: dict[str, Any]) -> None:
        async with self._session() as session, session.begin():
            await session.execute(
                update(InstallationRow).where(col(InstallationRow.id) == installation_id).values(jwks=jwks)
            )
        self.forget()

    async def set_status(
        self, installation_id: int, status: InstallationStatus, now: datetime, *, app_id: str
    ) -> bool:
        values: dict[str, Any] = {"status": status.value, "updated_at": now}
        if status is InstallationStatus.UNINSTALLED:
            values.update(uninstalled_at=now, token_encrypted=None)
        async with self._session() as session, session.begin():
            result = await session.execute(
                update(InstallationRow)
                .where(col(InstallationRow.id) == installation_id, col(InstallationRow.app_id) == app_id)
                .values(**values)
            )
        self.forget()
        return bool(getattr(result, "rowcount", 0))

    async def purge_uninstalled(self, older_than: datetime, now: datetime) -> int:
        async with self._session() as session, session.begin():
            due = select(col(InstallationRow.id)).where(
                col(InstallationRow.status) == InstallationStatus.UNINSTALLED.value,
                col(InstallationRow.uninstalled_at) < older_than,
                col(InstallationRow.personal_data_purged_at).is_(None),
            )
            ids = list((await session.execute(due)).scalars())
            if not ids:
                return 0
            result = await session.execute(
                delete(WebhookInboxRow).where(col(WebhookInboxRow.installation_id).in_(ids))
            )
            await session.execute(
                update(InstallationRow).where(col(InstallationRow.id).in_(ids)).values(personal_data_purged_at=now)
            )
        return int(getattr(result, "rowcount", 0))
