"""The protected JSON API for providers (any kind), their senders, messages, suppressions, and email tests.

Every route needs the Dashboard token with MANAGE_ORDERS, like the rest of /api/v1. Credentials go in and are
never sent back: an account shows which credential names it holds, not their values.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field, ValidationError

from saleor_app.domain.errors import Refused
from saleor_app.domain.providers import (
    Message,
    ProviderSpec,
    Sender,
    Suppression,
    SuppressionChannel,
    SuppressionSpec,
    normalise_email,
)
from saleor_app.domain.team import e164
from saleor_app.engine.providers import ProviderView
from saleor_app.saleor.dashboard_auth import OrderManagerDep
from saleor_app.saleor.responses import ApiError
from saleor_app.web.ids import RowId

router = APIRouter(prefix="/api/v1", tags=["providers"])


def provider_json(view: ProviderView) -> dict[str, Any]:
    account = view.account
    return {
        "key": account.key, "kind": account.kind, "name": account.name, "settings": account.settings,
        "status": account.status.value, "statusMessage": account.status_message,
        "checkedAt": account.checked_at.isoformat() if account.checked_at else None,
        "lastEventAt": account.last_event_at.isoformat() if account.last_event_at else None,
        "senders": [sender_json(sender) for sender in view.senders],
    }


def sender_json(sender: Sender) -> dict[str, Any]:
    return {"kind": sender.kind.value, "address": sender.address, "name": sender.display_name,
            "enabled": sender.enabled, "lastSentAt": sender.last_sent_at.isoformat() if sender.last_sent_at else None}


def _refused(exc: Refused) -> ApiError:
    return ApiError(exc.status, exc.code, str(exc))


@router.get("/providers")
async def list_providers(user: OrderManagerDep, request: Request) -> list[dict[str, Any]]:
    """Every provider account with its status, last event received, and senders (mailboxes, numbers)."""
    views = await request.app.state.container.providers.list(user.installation.id)
    return [provider_json(view) for view in views]


@router.put("/providers/{key}")
async def connect_provider(key: str, body: dict[str, Any], user: OrderManagerDep, request: Request
                           ) -> dict[str, Any]:
    """Save and check: `{"kind": "postmark", "name": …, "credentials": {…}, "settings": {…}}`. Omit
    credentials to keep the stored ones. The answer's status says whether the real check call worked."""
    try:
        spec = ProviderSpec.model_validate({**body, "key": key})
    except ValidationError as exc:
        raise ApiError(422, "invalid_provider", "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']}" for error in exc.errors()
        )) from exc
    try:
        view = await request.app.state.container.providers.connect(user.installation.id, spec)
    except Refused as exc:
        raise _refused(exc) from exc
    return provider_json(view)


@router.post("/providers/{key}/check")
async def check_provider(key: str, user: OrderManagerDep, request: Request) -> dict[str, Any]:
    """Check again (and re-read senders, re-register callbacks)."""
    try:
        return provider_json(await request.app.state.container.providers.check_key(user.installation.id, key))
    except Refused as exc:
        raise _refused(exc) from exc


@router.delete("/providers/{key}", status_code=204)
async def delete_provider(key: str, user: OrderManagerDep, request: Request) -> None:
    try:
        await request.app.state.container.providers.delete(user.installation.id, key)
    except Refused as exc:
        raise _refused(exc) from exc


class SenderSwitch(BaseModel):
    enabled: bool


@router.put("/providers/{key}/senders/{address}")
async def switch_sender(key: str, address: str, body: SenderSwitch, user: OrderManagerDep, request: Request
                        ) -> dict[str, Any]:
    """Enable or disable one sender (a disabled mailbox is never picked, not even by auto)."""
    try:
        await request.app.state.container.providers.set_sender_enabled(user.installation.id, key, address,
                                                                       body.enabled)
        view = await request.app.state.container.providers.view(user.installation.id, key)
    except Refused as exc:
        raise _refused(exc) from exc
    return provider_json(view)


@router.get("/messages")
async def messages(user: OrderManagerDep, request: Request, job: RowId | None = None,
                   limit: int = Query(100, ge=1, le=1000)) -> list[dict[str, Any]]:
    """Messages sent (newest first), optionally of one job: recipient, state, provider id, last event."""
    found = await request.app.state.container.providers.messages(user.installation.id, job_id=job, limit=limit)
    return [message_json(message) for message in found]


def message_json(message: Message) -> dict[str, Any]:
    return {"id": message.id, "job": message.job_id, "channel": message.channel.value, "from": message.sender,
            "to": message.recipient, "state": message.state.value, "reason": message.reason,
            "providerMessageId": message.provider_message_id, "lastEvent": message.last_event,
            "lastEventAt": message.last_event_at.isoformat() if message.last_event_at else None,
            "test": message.is_test, "excerpt": message.excerpt, "at": message.created_at.isoformat()}


def suppression_json(item: Suppression) -> dict[str, Any]:
    return {"channel": item.channel.value, "address": item.address, "reason": item.reason, "source": item.source,
            "at": item.created_at.isoformat()}


@router.get("/suppressions")
async def suppressions(user: OrderManagerDep, request: Request) -> list[dict[str, Any]]:
    """Addresses nothing is sent to (hard bounces, spam complaints, opt-outs, added by hand)."""
    found = await request.app.state.container.providers.suppressions(user.installation.id)
    return [suppression_json(item) for item in found]


def _checked_address(body: SuppressionSpec) -> SuppressionSpec:
    """A hand-typed address in the form lookups use: phone numbers in E.164 (a number typed as `0151 …` or
    `(030) …` would otherwise never match a send), e-mails as plain addresses; 422 naming `address` if not."""
    if body.channel is SuppressionChannel.PHONE:
        try:
            return body.model_copy(update={"address": e164(body.address) or body.address})
        except ValueError as exc:
            raise ApiError(422, "INVALID", str(exc)) from exc
    if normalise_email(body.address) is None:
        raise ApiError(422, "INVALID", f"{body.address!r} is not an e-mail address")
    return body


@router.post("/suppressions", status_code=201)
async def add_suppression(body: SuppressionSpec, user: OrderManagerDep, request: Request) -> dict[str, Any]:
    """Stop sending to an address; `added` is false when it was on the list already (nothing changes)."""
    body = _checked_address(body)
    added = await request.app.state.container.providers.suppress(user.installation.id, body)
    return {"added": added, "address": body.normalised(), "channel": body.channel.value}


@router.delete("/suppressions/{channel}/{address}", status_code=204)
async def remove_suppression(channel: SuppressionChannel, address: str, user: OrderManagerDep, request: Request
                             ) -> None:
    if not await request.app.state.container.providers.unsuppress(user.installation.id, channel, address):
        raise ApiError(404, "not_suppressed", f"{address} is not on the {channel.value} suppression list")


class TestEmailRequest(BaseModel):
    order: str = Field(min_length=1, max_length=255, description="the order (id or number) to render it on")


@router.post("/rules/{key}/test-email")
async def test_email(key: str, body: TestEmailRequest, user: OrderManagerDep, request: Request) -> dict[str, Any]:
    """Send the email rule `key`, rendered on an order, to your own address (from your Dashboard token): marked as
    a test, never counted as the rule's job."""
    container = request.app.state.container
    async with container.automation.reading() as tx:
        rule = await tx.rule_by_key(user.installation.id, key)
    if rule is None:
        raise ApiError(404, "unknown_rule", f"there is no rule {key!r}")
    try:
        order = await container.dry_run.find_order(user.installation.id, body.order)
        sent = await container.email.action.send_test(user.installation.id, rule, order, user.email)
    except Refused as exc:
        raise _refused(exc) from exc
    return {"sent": True, "to": user.email, "from": sent.mailbox.sender.address,
            "providerMessageId": sent.provider_message_id, "message": sent.message_id}
