"""A real SMTP server (aiosmtpd) on loopback, in the test's own event loop, that can misbehave on purpose.

Modes for the next messages: accept (default), reject with a 5xx, ask to try later (4xx), never answer, or drop
the connection after the message's data arrived (it was received; the client never hears so). Optional STARTTLS
(with a self-signed certificate the test trusts through SMTP_CA_BUNDLE) and AUTH PLAIN/LOGIN.

    async with FakeSmtp() as smtp:
        ... send to smtp.port ...
        smtp.messages[0]["Subject"]
"""

from __future__ import annotations

import asyncio
import datetime
import email
import email.policy
import ipaddress
import ssl
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


class FakeSmtp:
    def __init__(self, *, tls_dir: Path | None = None, users: dict[str, str] | None = None) -> None:
        """`tls_dir`: offer STARTTLS with a fresh self-signed certificate for "localhost" written there
        (`ca_file` is what the client must trust); `users`: require AUTH with these logins."""
        self.messages: list[EmailMessage] = []
        self.envelopes: list[Envelope] = []
        self.logins: list[tuple[str, str]] = []  # every AUTH tried, right or wrong: what a client sent this server
        self.port = 0
        self._modes: list[tuple[str, Any]] = []
        self._tls_dir = tls_dir
        self._users = users
        self._server: asyncio.Server | None = None
        self._stopping = asyncio.Event()
        self.ca_file: Path | None = None

    def reject_next(self, reply: str = "550 5.1.1 <x>: Recipient address rejected: User unknown") -> None:
        self._modes.append(("reply", reply))

    def defer_next(self, reply: str = "451 4.3.0 Temporary local problem, try again later") -> None:
        self._modes.append(("reply", reply))

    def hold_next(self) -> None:
        """Receive the next message, and answer only when the server stops: the client's timeout fires first."""
        self._modes.append(("hold", None))

    def drop_after_data_next(self) -> None:
        self._modes.append(("drop", None))

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        mode, value = self._modes.pop(0) if self._modes else ("accept", None)
        if mode == "reply":
            return str(value)
        message = email.message_from_bytes(envelope.content or b"", policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.envelopes.append(envelope)
        if mode == "hold":
            await self._stopping.wait()
        if mode == "drop":
            assert server.transport is not None
            server.transport.abort()  # received, and the client never hears so
        return "250 2.0.0 Ok: queued"

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                      data: Any) -> AuthResult:
        if isinstance(data, LoginPassword):
            self.logins.append((data.login.decode(), data.password.decode()))
        if isinstance(data, LoginPassword) and self._users is not None \
                and self._users.get(data.login.decode()) == data.password.decode():
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    async def __aenter__(self) -> FakeSmtp:
        kwargs: dict[str, Any] = {}
        if self._tls_dir is not None:
            kwargs["tls_context"] = self._tls_context(self._tls_dir)
            kwargs["require_starttls"] = True
        if self._users is not None:
            kwargs.update(authenticator=self._authenticate, auth_required=True, auth_require_tls=True)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: SMTP(self, hostname="localhost", **kwargs), "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def _tls_context(self, directory: Path) -> ssl.SSLContext:
        cert_file, key_file = directory / "smtp-cert.pem", directory / "smtp-key.pem"
        if not cert_file.exists():  # a second server in the same directory serves the same certificate
            self._write_certificate(cert_file, key_file)
        self.ca_file = cert_file
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert_file, key_file)
        return context

    @staticmethod
    def _write_certificate(cert_file: Path, key_file: Path) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
