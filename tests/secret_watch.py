"""The suite's known secrets, and a check that none of them shows in what a test saw: captured logs and output,
CLI output and subprocess output the test captured, and the app's HTTP response bodies.

Fixtures and fakes `remember()` the secrets they make (Fernet keys, app tokens, provider credentials, database
passwords); the CLI helpers and the app's servers `observe()` what they saw. tests/conftest.py fails a test whose
output shows one, unless the test is marked `shows_secret(reason)` (an owner deliberately shown a secret).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

# Shorter values (a test's "pw", "stored") are ordinary words in output; the secrets the suite makes are random
# and longer (a Fernet key has 44 characters, an app token 30, a Twilio auth token 32).
MIN_LENGTH = 16
# A response body is only scanned this far: enough for every error and page, never a cost on bulk exports.
MAX_OBSERVED = 1_000_000

_lasting: dict[str, str] = {}  # secrets of session-wide fixtures
_current: dict[str, str] = {}  # secrets of the running test
_observed: list[tuple[str, str]] = []  # (where, text) since the last scan


def remember(secret: str | None, what: str, *, lasting: bool = False) -> None:
    """A secret the suite made: it must never show in any output. `lasting`: it outlives the test (session)."""
    if secret and len(secret) >= MIN_LENGTH:
        (_lasting if lasting else _current)[secret] = what


def observe(where: str, text: str | bytes | None) -> None:
    if text:
        if isinstance(text, bytes):
            text = text[:MAX_OBSERVED].decode("utf-8", "replace")
        _observed.append((where, text[:MAX_OBSERVED]))


def leaks(sections: list[tuple[str, str]]) -> list[str]:
    """What showed where: `sections` (pytest's captured output) and everything observed since the last call."""
    texts = sections + _observed
    _observed.clear()
    secrets = {**_lasting, **_current}
    if not secrets:
        return []
    return [f"{what} in {where}" for where, text in texts if text for secret, what in secrets.items()
            if secret in text]


def forget_test_secrets() -> None:
    _current.clear()
    _observed.clear()


def watched(app: Any) -> Any:
    """The app (`create_app`'s) with its response bodies observed; any other ASGI app (a fake) unchanged."""
    state = getattr(app, "state", None)
    if getattr(state, "container", None) is None:
        return app

    async def observed_app(scope: MutableMapping[str, Any], receive: Callable[[], Awaitable[Any]],
                           send: Callable[[MutableMapping[str, Any]], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        body = bytearray()

        async def send_observed(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.body" and len(body) < MAX_OBSERVED:
                body.extend(message.get("body", b""))
                if not message.get("more_body"):
                    observe(f"the app's answer to {scope['method']} {scope['path']}", bytes(body))
            await send(message)

        await app(scope, receive, send_observed)

    observed_app.state = state  # type: ignore[attr-defined]  # tests reach the container through app.state
    return observed_app
