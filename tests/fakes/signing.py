"""Saleor-exact signing: RS256 key with an RFC 7638 kid, detached unencoded-payload JWS, Dashboard JWTs."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class SaleorSigner:
    """One RSA key, published like Saleor's `/.well-known/jwks.json` (a single key, kid = thumbprint)."""

    def __init__(self) -> None:
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = json.loads(RSAAlgorithm.to_jwk(self.private_key.public_key()))
        # RFC 7638: SHA-256 over the required members in lexicographic order, no whitespace.
        thumbprint_input = json.dumps({"e": public["e"], "kty": "RSA", "n": public["n"]}, separators=(",", ":"))
        self.kid = _b64(hashlib.sha256(thumbprint_input.encode()).digest())
        self.jwk = {"kty": "RSA", "key_ops": ["verify"], "n": public["n"], "e": public["e"], "use": "sig",
                    "kid": self.kid, "alg": "RS256"}

    @property
    def jwks(self) -> dict[str, Any]:
        return {"keys": [dict(self.jwk)]}

    def sign_webhook(self, body: bytes) -> str:
        """What Saleor puts in Saleor-Signature: `<header>..<signature>` over `<header>.<raw body>`."""
        return jwt.api_jws.encode(
            body,
            self.private_key,
            algorithm="RS256",
            headers={"kid": self.kid, "b64": False, "crit": ["b64"]},
            is_payload_detached=True,
        )

    def dashboard_token(
        self,
        *,
        app_id: str,
        iss: str,
        permissions: list[str] | None = None,
        user_permissions: list[str] | None = None,
        email: str = "admin@example.com",
        user_id: str = "VXNlcjoyMQ==",
        ttl: int = 300,
        now: float | None = None,
        drop: tuple[str, ...] = (),
    ) -> str:
        """A token shaped like samples/dashboard-token.json (claims and header)."""
        issued = int(now if now is not None else time.time())
        claims: dict[str, Any] = {
            "iat": issued,
            "owner": "saleor",
            "iss": iss,
            "exp": issued + ttl,
            "token": uuid.uuid4().hex[:12],
            "email": email,
            "type": "thirdparty",
            "user_id": user_id,
            "is_staff": True,
            "app": app_id,
            "permissions": ["MANAGE_ORDERS"] if permissions is None else permissions,
            "user_permissions": ["MANAGE_ORDERS", "MANAGE_APPS"] if user_permissions is None else user_permissions,
        }
        for claim in drop:
            claims.pop(claim, None)
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"kid": self.kid})
