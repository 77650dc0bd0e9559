"""Saleor's signing keys per installation: JWS webhook signatures and Dashboard tokens.

Saleor publishes one RSA key at `<origin>/.well-known/jwks.json`; rotating it swaps the key with no overlap.
So a signature that fails with the cached key triggers one refetch — at most once per interval per
installation, so forged requests cannot turn the app into a JWKS fetch amplifier. When that refetch is held
back or fails, the caller answers 503 (Saleor retries) rather than 401 (Saleor drops the event for good).
"""

from __future__ import annotations

import asyncio
import binascii
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import orjson
from jwt.algorithms import RSAAlgorithm
from jwt.utils import base64url_decode

from saleor_app.domain.installations import Installation, jwks_url_for
from saleor_app.domain.ports import InstallationRepository
from saleor_app.providers.addresses import OutboundRefused, OutboundUnavailable

log = logging.getLogger(__name__)


class SignatureInvalid(Exception):
    """The signature or token is wrong even with Saleor's current keys: 401."""


class KeysUnavailable(Exception):
    """Saleor's keys could not be (re)fetched now: 503, so Saleor retries."""


async def fetch_jwks(http: httpx.AsyncClient, saleor_api_url: str) -> dict[str, Any]:
    url = jwks_url_for(saleor_api_url)
    try:
        response = await http.get(url, follow_redirects=False)
    except (httpx.HTTPError, OutboundUnavailable, OutboundRefused) as exc:
        raise KeysUnavailable(f"could not fetch Saleor's keys from {url}: {exc.__class__.__name__} {exc}") from exc
    if response.status_code != 200:
        raise KeysUnavailable(f"Saleor's keys at {url} answered HTTP {response.status_code}")
    try:
        jwks = response.json()
        parse_keys(jwks)
    except (ValueError, KeyError, TypeError, jwt.PyJWTError) as exc:
        raise KeysUnavailable(f"Saleor's keys at {url} are not a valid JWKS: {exc}") from exc
    return dict(jwks)


def parse_keys(jwks: dict[str, Any]) -> dict[str, Any]:
    """kid → RSA public key object, ready for PyJWT (parsing a JWK costs more than verifying with it)."""
    keys: dict[str, Any] = {}
    for jwk in jwks.get("keys", []):
        if jwk.get("kty") == "RSA" and jwk.get("kid"):
            keys[jwk["kid"]] = RSAAlgorithm.from_jwk(jwk)
    if not keys and jwks.get("keys"):
        raise ValueError("the JWKS holds no RSA key with a kid")
    return keys


class SaleorKeys:
    def __init__(
        self,
        installations: InstallationRepository,
        http: httpx.AsyncClient,
        *,
        refetch_interval: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._installations = installations
        self._http = http
        self._refetch_interval = refetch_interval
        self._monotonic = monotonic
        self._parsed: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}
        self._last_fetch: dict[int, float] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    def _keys(self, installation: Installation) -> dict[str, Any]:
        cached = self._parsed.get(installation.id)
        if cached is not None and cached[0] == installation.jwks:
            return cached[1]
        try:
            keys = parse_keys(installation.jwks)
        except (ValueError, KeyError, TypeError, jwt.PyJWTError):
            log.warning("stored JWKS is unusable; will refetch", extra={"installation_id": installation.id})
            keys = {}
        self._parsed[installation.id] = (installation.jwks, keys)
        return keys

    async def verify_webhook(self, installation: Installation, signature: str, body: bytes) -> None:
        """Check Saleor's detached, unencoded-payload RS256 JWS (RFC 7797) over the raw body bytes."""
        jws = DetachedJws.parse(signature)
        if jws.verify(self._keys(installation), body):
            return
        if not jws.verify(await self._refetch(installation), body):
            raise SignatureInvalid("the Saleor-Signature does not match the body with Saleor's current key")

    async def verify_token(self, installation: Installation, token: str) -> dict[str, Any]:
        """Verify a Dashboard JWT's signature and expiry; the caller checks the claims."""
        kid = _kid(token)

        def decode(keys: dict[str, Any]) -> dict[str, Any] | None:
            key = keys.get(kid)
            if key is None:
                return None
            return dict(jwt.decode(token, key=key, algorithms=["RS256"], options={"require": ["exp"]}))

        try:
            claims = decode(self._keys(installation))
            if claims is None:
                claims = decode(await self._refetch(installation))
        except jwt.ExpiredSignatureError as exc:
            raise SignatureInvalid("the Dashboard token has expired; reload the page") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise SignatureInvalid("the Dashboard token has no expiry (exp); it is refused") from exc
        except jwt.PyJWTError as exc:
            raise SignatureInvalid(f"the Dashboard token is not valid for this Saleor: {exc}") from exc
        if claims is None:
            raise SignatureInvalid("the Dashboard token was signed with a key this Saleor does not publish")
        return claims

    async def _refetch(self, installation: Installation) -> dict[str, Any]:
        lock = self._locks.setdefault(installation.id, asyncio.Lock())
        asked_at = self._monotonic()
        async with lock:
            last = self._last_fetch.get(installation.id)
            if last is not None and last >= asked_at:
                # Another request refetched while this one waited: use what it got.
                return self._parsed.get(installation.id, ({}, {}))[1]
            if last is not None and asked_at - last < self._refetch_interval:
                raise KeysUnavailable("Saleor's keys were refetched moments ago; retry later")
            self._last_fetch[installation.id] = self._monotonic()
            jwks = await fetch_jwks(self._http, installation.saleor_api_url)
            keys = parse_keys(jwks)
            self._parsed[installation.id] = (jwks, keys)
            if jwks != installation.jwks:
                await self._installations.set_jwks(installation.id, jwks)
                log.info("Saleor's signing keys changed", extra={"installation_id": installation.id})
            return keys


_RS256 = RSAAlgorithm(RSAAlgorithm.SHA256)


class DetachedJws:
    """`BASE64URL(header)..BASE64URL(signature)` with `{"alg": "RS256", "b64": false, "crit": ["b64"], "kid"}`.

    The signing input is `BASE64URL(header) + "." + raw body` — the body is not encoded (b64: false). This
    is what PyJWT's `decode_complete(..., detached_payload=body)` checks; doing the few steps here, with
    PyJWT's RS256 primitive, halves the cost on the webhook hot path (measured: bench/ingest.py).
    """

    __slots__ = ("header_segment", "kid", "signature")

    def __init__(self, header_segment: bytes, kid: str, signature: bytes) -> None:
        self.header_segment = header_segment
        self.kid = kid
        self.signature = signature

    @classmethod
    def parse(cls, value: str) -> DetachedJws:
        header_segment, separator, signature_segment = value.partition("..")
        if not separator or not header_segment or not signature_segment or "." in signature_segment:
            raise SignatureInvalid("the Saleor-Signature is not a detached JWS (header..signature)")
        try:
            header = orjson.loads(base64url_decode(header_segment))
            signature = base64url_decode(signature_segment)
        except (ValueError, orjson.JSONDecodeError, binascii.Error) as exc:
            raise SignatureInvalid(f"the Saleor-Signature cannot be decoded: {exc}") from exc
        if not isinstance(header, dict) or header.get("alg") != "RS256" or not isinstance(header.get("kid"), str):
            raise SignatureInvalid("the signature must be RS256 with a key id (kid)")
        if header.get("b64") is not False or header.get("crit") != ["b64"]:
            raise SignatureInvalid("the signature must be over the unencoded body (b64: false, crit: [b64])")
        return cls(header_segment.encode(), header["kid"], signature)

    def verify(self, keys: dict[str, Any], body: bytes) -> bool:
        key = keys.get(self.kid)
        return key is not None and bool(_RS256.verify(self.header_segment + b"." + body, key, self.signature))


def _kid(signature: str) -> str:
    try:
        header = jwt.get_unverified_header(signature)
    except jwt.PyJWTError as exc:
        raise SignatureInvalid(f"the signature is not a JWS: {exc}") from exc
    kid = header.get("kid")
    if header.get("alg") != "RS256" or not isinstance(kid, str):
        raise SignatureInvalid("the signature must be RS256 with a key id (kid)")
    return kid
