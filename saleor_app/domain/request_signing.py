"""How the app signs the HTTP requests it sends to outside systems (the HTTP-request rule), and how a receiver
checks them. Pure.

Header `X-Order-Automation-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` over `<t>.` followed by the raw
body, keyed with the installation's signing secret (as Stripe does: the timestamp lets a receiver refuse old
replays). `X-Order-Automation-Delivery` stays the same across retries of one job, so a receiver can drop
duplicates.
"""

from __future__ import annotations

import hashlib
import hmac


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, *, now: int, tolerance: int = 300) -> bool:
    """What a receiver does: the signature matches and is at most `tolerance` seconds old."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), f"t={timestamp},v1={parts.get('v1', '')}")
