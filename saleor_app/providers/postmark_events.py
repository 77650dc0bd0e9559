"""Read a Postmark webhook payload (Delivery, Bounce, SpamComplaint, Open, Click) into a ProviderEvent.

Hard bounces and spam complaints suppress the address (Postmark itself deactivates it too: `Inactive`). A
transient bounce is one Postmark keeps retrying, so it only shows in the log. Subscription changes and record
types the app does not know are acknowledged and ignored (None).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from saleor_app.domain.providers import MessageState
from saleor_app.engine.provider_events import ProviderEvent

# Postmark bounce types after which that address will not take mail (Postmark's bounce type list).
_HARD = frozenset({"HardBounce", "BadEmailAddress", "ManuallyDeactivated", "Blocked", "SpamNotification",
                   "Unsubscribe"})


class PayloadError(ValueError):
    """The body is not a Postmark webhook payload the app can read."""


def read_event(payload: Mapping[str, Any], received_at: datetime) -> ProviderEvent | None:
    kind = payload.get("RecordType")
    message_id = payload.get("MessageID")
    if not isinstance(kind, str):
        raise PayloadError("RecordType is missing: this is not a Postmark webhook payload")
    if kind not in ("Delivery", "Bounce", "SpamComplaint", "Open", "Click"):
        return None
    if not isinstance(message_id, str) or not message_id:
        raise PayloadError(f"a {kind} payload without MessageID")
    if kind == "Delivery":
        at = _time(payload.get("DeliveredAt"), received_at)
        return ProviderEvent(message_id, MessageState.DELIVERED, "delivered",
                             f"delivered ({_text(payload.get('Details'))})".replace(" ()", ""), at,
                             f"delivery:{message_id}", "email_delivered")
    if kind == "Open":
        at = _time(payload.get("ReceivedAt"), received_at)
        return ProviderEvent(message_id, MessageState.OPENED, "opened", "opened", at,
                             f"open:{message_id}:{at.isoformat()}", "email_opened")
    if kind == "Click":
        at = _time(payload.get("ReceivedAt"), received_at)
        link = _text(payload.get("OriginalLink"))
        return ProviderEvent(message_id, MessageState.CLICKED, "clicked", f"link clicked: {link[:200]}", at,
                             f"click:{message_id}:{at.isoformat()}:{link}", "email_link_clicked")
    at = _time(payload.get("BouncedAt"), received_at)
    bounce_type = _text(payload.get("Type")) or kind
    description = _text(payload.get("Description")) or _text(payload.get("Name"))
    if kind == "SpamComplaint" or bounce_type == "SpamComplaint":
        return ProviderEvent(message_id, MessageState.COMPLAINED, "spam complaint",
                             "marked as spam by the recipient", at, f"spam:{message_id}", "email_bounced",
                             suppress="spam complaint", source="spam_complaint")
    if bounce_type == "Transient":
        return ProviderEvent(message_id, MessageState.SENT, "delayed", f"delayed, Postmark retries: {description}",
                             at, f"transient:{message_id}:{at.isoformat()}")
    hard = bounce_type in _HARD or payload.get("Inactive") is True
    return ProviderEvent(message_id, MessageState.BOUNCED, "bounced", f"bounced ({bounce_type}): {description}",
                         at, f"bounce:{message_id}:{payload.get('ID', '')}", "email_bounced",
                         suppress=f"hard bounce: {description}"[:500] if hard else None, source="bounce")


def _text(value: object) -> str:
    return " ".join(str(value).split()) if value is not None else ""


def _time(value: object, default: datetime) -> datetime:
    if not isinstance(value, str):
        return default
    text = value.strip().replace("Z", "+00:00")
    if "." in text:  # Postmark sends 7 fractional digits; Python reads at most 6
        head, _, tail = text.partition(".")
        digits = "".join(c for c in tail if c.isdigit())
        zone = tail[len(digits):]
        text = f"{head}.{digits[:6]}{zone}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return default
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
