"""The HTTP client the `twilio` library is given: Twilio's hosts rewritten to TWILIO_API_BASE_URL (tests and
sandboxes use a local fake), no environment proxies, a connect and a read timeout, and nothing personal logged.

The library builds absolute URLs on its product hosts (`https://api.twilio.com/2010-04-01/…`,
`https://messaging.twilio.com/v1/…`); their paths never collide, so one base URL serves them all.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from twilio.http import HttpClient
from twilio.http.response import Response

_QUIET = logging.getLogger("saleor_app.providers.twilio_http")
_QUIET.setLevel(logging.WARNING)  # the library logs query strings (phone numbers) at INFO


class RewritingHttpClient(HttpClient):  # type: ignore[misc]  # the library is untyped
    def __init__(self, base_url: str | None, *, connect_timeout: float, read_timeout: float,
                 pool_size: int = 10) -> None:
        super().__init__(_QUIET, is_async=False, timeout=read_timeout)
        self._base = urlsplit(base_url.rstrip("/")) if base_url else None
        self._timeouts = (connect_timeout, read_timeout)
        self._session = requests.Session()
        self._session.trust_env = False  # no HTTP(S)_PROXY or .netrc: credentials go to Twilio only
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)  # never resend a send
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)

    def rewrite(self, url: str) -> str:
        if self._base is None:
            return url
        parts = urlsplit(url)
        if not (parts.hostname or "").endswith(".twilio.com"):
            raise ValueError(f"refusing to send Twilio credentials to {parts.hostname}")
        return urlunsplit((self._base.scheme, self._base.netloc, self._base.path + parts.path, parts.query, ""))

    def request(
        self,
        method: str,
        uri: str,
        params: Any = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        del timeout, allow_redirects  # ours are fixed: two timeouts, and Twilio's API never redirects
        as_json = bool(headers) and "json" in (headers or {}).get("Content-Type", "")
        answer = self._session.request(
            method.upper(), self.rewrite(uri), params=params, data=None if as_json else data,
            json=data if as_json else None, headers=headers, auth=auth, timeout=self._timeouts,
            allow_redirects=False,
        )
        return Response(int(answer.status_code), answer.text, answer.headers)

    def close(self) -> None:
        self._session.close()
