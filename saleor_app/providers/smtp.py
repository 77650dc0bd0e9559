"""SMTP accounts: connector (a real EHLO / STARTTLS / AUTH round) and email transport, through `aiosmtplib`.

The host is typed by the merchant, so it goes through the app's one address policy (providers/addresses.py):
it is resolved here, every address must be one the policy allows (public; loopback only with
ALLOW_LOOPBACK_TARGETS), and the connection goes to the checked address while TLS still verifies the typed host
name.

What a failure means: an SMTP 5xx reply (MAIL, RCPT, or after DATA) is a refusal with the server's own text; a 4xx
reply or a connection that could not be made (refused, timed out, TLS or greeting failure) is retried, because the
message was not accepted; a timeout or a dropped connection once the message's data was being sent is
OutcomeUnknown — the server may have queued it, and SMTP has no way to ask.

The provider's message id is the Message-ID header the app gives each email.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

import aiosmtplib

from saleor_app.domain.email import OutgoingEmail
from saleor_app.domain.errors import OutcomeUnknown, PermanentError, RetryableError
from saleor_app.domain.provider_ports import CallbackTarget, Credentials
from saleor_app.domain.providers import SenderInfo, SenderKind, normalise_email
from saleor_app.providers.addresses import NOT_PUBLIC, AddressPolicy, names_loopback, parse_ip, system_resolver

SECURITY = ("starttls", "tls", "none")
_CREDENTIALS = frozenset({"username", "password"})
_SETTINGS = frozenset({"host", "port", "security", "from_address", "from_name"})
_DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}


class SmtpProvider:
    """Both the ProviderConnector and the EmailTransport of kind "smtp"; one mailbox per account."""

    kind = "smtp"
    label = "SMTP"
    secret_fields: tuple[str, ...] = ("password",)
    credential_bound: tuple[str, ...] = ("host", "port", "security")  # security: no downgrade to plain text

    def __init__(self, *, timeout: float, policy: AddressPolicy | None = None, allow_hosts: Sequence[str] = (),
                 cert_bundle: str | None = None) -> None:
        """`allow_hosts`: names whose addresses are not checked, for tests."""
        self._timeout = timeout
        policy = policy or AddressPolicy()
        self._policy = AddressPolicy.of(allow_loopback=policy.allow_loopback,
                                        trusted_hosts=[*policy.trusted_hosts, *allow_hosts])
        self._cert_bundle = cert_bundle

    # connector

    def validate(self, credentials: Credentials, settings: Mapping[str, Any]) -> dict[str, Any]:
        unknown = set(credentials) - _CREDENTIALS
        if unknown:
            raise ValueError(f"unknown credential {', '.join(sorted(unknown))}; SMTP takes username and password")
        unknown = set(settings) - _SETTINGS
        if unknown:
            raise ValueError(f"unknown setting {', '.join(sorted(unknown))}; SMTP takes host, port, security, "
                             "from_address and from_name")
        host = str(settings.get("host") or "").strip().lower()
        if not host or any(char in host for char in " /:@"):
            raise ValueError("host is required: the SMTP server's name, e.g. smtp.example.com (no scheme, no port)")
        security = str(settings.get("security") or "starttls")
        if security not in SECURITY:
            raise ValueError(f"security must be one of {', '.join(SECURITY)}")
        if security == "none" and credentials.get("password"):
            raise ValueError("security none would send the password unencrypted; use starttls or tls")
        try:
            port = int(settings.get("port") or _DEFAULT_PORTS[security])
        except (TypeError, ValueError):
            raise ValueError("port must be a number") from None
        if not 0 < port < 65536:
            raise ValueError("port must be between 1 and 65535")
        address = normalise_email(str(settings.get("from_address") or ""))
        if address is None:
            raise ValueError("from_address is required: the mailbox's address, e.g. shop@example.com")
        if bool(credentials.get("username")) != bool(credentials.get("password")):
            raise ValueError("give both username and password, or neither")
        return {"host": host, "port": port, "security": security, "from_address": address,
                "from_name": " ".join(str(settings.get("from_name") or "").split())}

    async def check(self, credentials: Credentials, settings: Mapping[str, Any]) -> str:
        client = await self._connected(credentials, settings, sending=False)
        try:
            await _quietly_quit(client)
        finally:
            client.close()
        return f"SMTP server {settings['host']}:{settings['port']} ({settings['security']})"

    async def senders(self, credentials: Credentials,  # noqa: ARG002 - the connector protocol's signature
                      settings: Mapping[str, Any]) -> list[SenderInfo]:
        return [SenderInfo(SenderKind.EMAIL, settings["from_address"], settings.get("from_name") or "")]

    async def register_callbacks(self, credentials: Credentials, settings: Mapping[str, Any],  # noqa: ARG002
                                 target: CallbackTarget, registered: Mapping[str, Any]  # noqa: ARG002
                                 ) -> dict[str, Any]:
        return {}  # SMTP reports nothing back

    async def unregister_callbacks(self, credentials: Credentials, settings: Mapping[str, Any],  # noqa: ARG002
                                   registered: Mapping[str, Any]) -> None:  # noqa: ARG002
        return None

    # transport

    async def send(self, credentials: Credentials, settings: Mapping[str, Any], email: OutgoingEmail) -> str:
        message = _message(email)
        client = await self._connected(credentials, settings, sending=True)
        try:
            try:
                await client.mail(email.from_address)
                await client.rcpt(email.to)
            except aiosmtplib.SMTPResponseException as exc:
                raise _reply(exc) from exc
            except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError) as exc:
                raise RetryableError(f"the SMTP server dropped the connection before the email was sent: {exc}") \
                    from exc
            try:
                await client.data(message.as_bytes())
            except aiosmtplib.SMTPResponseException as exc:
                raise _reply(exc) from exc
            except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError) as exc:
                raise OutcomeUnknown(f"the SMTP connection timed out or dropped after the email's data was sent, "
                                     f"so it may have been accepted: {exc}") from exc
            await _quietly_quit(client)
        finally:
            client.close()
        return str(message["Message-ID"])

    async def _connected(self, credentials: Credentials, settings: Mapping[str, Any], *, sending: bool
                         ) -> aiosmtplib.SMTP:
        host, port, security = settings["host"], int(settings["port"]), settings["security"]
        sock = await self._socket(host, port)
        client = aiosmtplib.SMTP(hostname=host, sock=sock, timeout=self._timeout, use_tls=security == "tls",
                                 start_tls=security == "starttls", cert_bundle=self._cert_bundle)
        try:
            await client.connect()
            if credentials.get("username"):
                await client.login(credentials["username"], credentials["password"])
        except aiosmtplib.SMTPAuthenticationError as exc:
            client.close()
            raise PermanentError(f"the SMTP server refused the login: {exc.code} {exc.message}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            client.close()
            raise _reply(exc) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            client.close()
            what = "could not be reached" if sending else "could not be reached or set up"
            raise RetryableError(f"the SMTP server {host}:{port} {what}: {exc}") from exc
        return client

    async def _socket(self, host: str, port: int) -> socket.socket:
        """A connected socket to a checked address of `host` (see the module docstring)."""
        typed_address = parse_ip(host) is not None
        try:
            addresses = await system_resolver(host, port)
        except socket.gaierror as exc:  # retried (DNS may be down), in the words of a refusal: see NOT_PUBLIC
            raise RetryableError(f"the SMTP host {host} {NOT_PUBLIC}") from exc
        for address in addresses:
            reason = self._policy.refusal_of(host, address)
            if reason is not None:
                why = f"is {reason}; only public internet addresses may be used" if typed_address else NOT_PUBLIC
                hint = " (ALLOW_LOOPBACK_TARGETS=true allows loopback, in development and tests only)" \
                    if names_loopback(host) else ""
                raise PermanentError(f"the SMTP host {host} {why}{hint}")
        last: Exception | None = None
        for address in addresses:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setblocking(False)
            try:
                await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, (address, port)),
                                       min(self._timeout, 10.0))
            except (OSError, TimeoutError) as exc:
                sock.close()
                last = exc
                continue
            return sock
        raise RetryableError(f"the SMTP server {host}:{port} could not be reached: {last or 'no address'}")


def _reply(exc: aiosmtplib.SMTPResponseException) -> Exception:
    text = f"{exc.code} {exc.message}".strip()
    if 400 <= exc.code < 500:
        return RetryableError(f"the SMTP server asked to try later: {text}")
    return PermanentError(f"the SMTP server refused the email: {text}")


async def _quietly_quit(client: aiosmtplib.SMTP) -> None:
    try:
        await client.quit()
    except (aiosmtplib.SMTPException, OSError):
        pass  # the email was accepted already; a rude goodbye changes nothing


def _message(email: OutgoingEmail) -> EmailMessage:
    message = EmailMessage()
    domain = email.from_address.rsplit("@", 1)[-1]
    local, _, _ = email.from_address.partition("@")
    message["From"] = Address(email.from_name, local, domain) if email.from_name else email.from_address
    message["To"] = email.to
    message["Subject"] = email.subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=domain)
    if email.reply_to:
        message["Reply-To"] = email.reply_to
    for name, value in email.headers.items():
        message[name] = value
    if email.text:
        message.set_content(email.text)
        if email.html:
            message.add_alternative(email.html, subtype="html")
    else:
        message.set_content(email.html, subtype="html")
    return message
