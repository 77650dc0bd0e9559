"""X-Twilio-Signature: Twilio signs each callback with the account's auth token (HMAC-SHA1 over the URL it
posted to and the sorted form parameters). The URL is rebuilt from APP_URL, never from the request's Host."""

from __future__ import annotations

from collections.abc import Mapping

from twilio.request_validator import RequestValidator


def valid_signature(auth_token: str, url: str, params: Mapping[str, str], signature: str | None) -> bool:
    if not signature or not auth_token:
        return False
    return bool(RequestValidator(auth_token).validate(url, dict(params), signature))
