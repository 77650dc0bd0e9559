"""The Postmark and SMTP adapters against their local fakes: what each failure means (refused, retry, unknown),
TLS and login, and the SSRF rule for SMTP hosts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from saleor_app.domain.email import OutgoingEmail
from saleor_app.domain.errors import OutcomeUnknown, PermanentError, RetryableError
from saleor_app.providers.postmark import PostmarkProvider
from saleor_app.providers.smtp import SmtpProvider
from tests.fakes.loopback import free_port
from tests.fakes.postmark import FakePostmark
from tests.fakes.smtp import FakeSmtp
from tests.timing import scaled

EMAIL = OutgoingEmail(from_address="shop@example.com", from_name="Shop", to="ashley@example.com",
                      subject="Hello", html="<p>Hi</p>", text="Hi", headers={"X-Order-Automation-Job": "7"})


@pytest.fixture
async def secure_smtp(tmp_path: Path) -> AsyncIterator[FakeSmtp]:
    async with FakeSmtp(tls_dir=tmp_path, users={"shop": "s3cret"}) as server:
        yield server


def smtp_provider(server: FakeSmtp, *, trust: bool = True, timeout: float = scaled(10)) -> SmtpProvider:
    return SmtpProvider(timeout=timeout, allow_hosts=["localhost"],
                        cert_bundle=str(server.ca_file) if trust else None)


def smtp_settings(provider: SmtpProvider, server: FakeSmtp) -> dict[str, object]:
    return provider.validate({"username": "shop", "password": "s3cret"}, {
        "host": "localhost", "port": server.port, "security": "starttls", "from_address": "shop@example.com"})


async def test_smtp_starttls_and_login_send_the_message(secure_smtp: FakeSmtp) -> None:
    provider = smtp_provider(secure_smtp)
    settings = smtp_settings(provider, secure_smtp)
    credentials = {"username": "shop", "password": "s3cret"}
    assert await provider.check(credentials, settings) == f"SMTP server localhost:{secure_smtp.port} (starttls)"
    message_id = await provider.send(credentials, settings, EMAIL)
    [received] = secure_smtp.messages
    assert received["Message-ID"] == message_id and received["X-Order-Automation-Job"] == "7"
    with pytest.raises(PermanentError, match="the SMTP server refused the login: 535"):
        await provider.check({"username": "shop", "password": "wrong"}, settings)


async def test_smtp_with_an_untrusted_certificate_does_not_connect(secure_smtp: FakeSmtp) -> None:
    provider = smtp_provider(secure_smtp, trust=False)
    with pytest.raises(RetryableError, match="could not be reached or set up"):
        await provider.check({"username": "shop", "password": "s3cret"}, smtp_settings(provider, secure_smtp))


async def test_a_slow_answer_after_smtp_data_is_unknown(secure_smtp: FakeSmtp) -> None:
    provider = smtp_provider(secure_smtp, timeout=scaled(2))
    secure_smtp.hold_next()
    with pytest.raises(OutcomeUnknown, match="may have been accepted"):
        await provider.send({"username": "shop", "password": "s3cret"}, smtp_settings(provider, secure_smtp), EMAIL)
    assert len(secure_smtp.messages) == 1


async def test_smtp_hosts_must_be_public_and_settings_are_checked() -> None:
    provider = SmtpProvider(timeout=1.0)
    settings = provider.validate({}, {"host": "127.0.0.1", "port": 25, "security": "none",
                                      "from_address": "shop@example.com"})
    with pytest.raises(PermanentError, match="SMTP host 127.0.0.1 is a loopback address") as typed:  # named
        await provider.check({}, settings)
    assert "(ALLOW_LOOPBACK_TARGETS=true allows loopback" in str(typed.value)  # the operator's setting, named
    named = provider.validate({}, {"host": "localhost", "port": 25, "security": "none",
                                   "from_address": "shop@example.com"})
    with pytest.raises(PermanentError, match="SMTP host localhost could not be resolved to a public") as caught:
        await provider.check({}, named)
    assert "127.0.0.1" not in str(caught.value)  # what DNS said stays here; localhost is this machine by name
    assert "ALLOW_LOOPBACK_TARGETS=true" in str(caught.value)
    private = provider.validate({}, {"host": "10.1.2.3", "port": 25, "security": "none",
                                     "from_address": "shop@example.com"})
    with pytest.raises(PermanentError, match="private") as elsewhere:
        await provider.check({}, private)
    assert "ALLOW_LOOPBACK_TARGETS" not in str(elsewhere.value)  # no setting allows a private address
    with pytest.raises(ValueError, match="would send the password unencrypted"):
        provider.validate({"username": "a", "password": "b"}, {"host": "smtp.example.com", "security": "none",
                                                               "from_address": "shop@example.com"})
    with pytest.raises(ValueError, match="host is required"):
        provider.validate({}, {"host": "smtp://x", "from_address": "shop@example.com"})


@pytest.fixture
async def postmark() -> AsyncIterator[FakePostmark]:
    async with FakePostmark() as fake:
        yield fake


async def test_postmark_failures_mean_refused_retry_or_unknown(postmark: FakePostmark) -> None:
    provider = PostmarkProvider(base_url=postmark.base_url, timeout=scaled(2), threads=2)
    server = postmark.add_server("Shop", signatures=["shop@example.com"])
    credentials = {"server_token": server.token}
    settings = provider.validate(credentials, {})
    try:
        assert await provider.send(credentials, settings, EMAIL) == postmark.emails[0]["MessageID"]
        postmark.fail_next(500, 0, "Internal server error")
        with pytest.raises(RetryableError, match="HTTP 500"):
            await provider.send(credentials, settings, EMAIL)
        server.inactive.add("ashley@example.com")
        with pytest.raises(PermanentError, match=r"\[406\] You tried to send to recipient\(s\) that have been marked"):
            await provider.send(credentials, settings, EMAIL)
        server.inactive.clear()
        postmark.answers.hold()
        with pytest.raises(OutcomeUnknown, match="may have been sent"):
            await provider.send(credentials, settings, EMAIL)
        assert len(postmark.emails) == 2  # the one whose answer never came arrived
        postmark.answers.release()
        with pytest.raises(PermanentError, match=r"\[10\] The Server Token"):
            await provider.check({"server_token": "wrong"}, settings)
    finally:
        provider.close()
    nowhere = PostmarkProvider(base_url=f"http://127.0.0.1:{free_port()}/", timeout=scaled(2), threads=1)
    try:
        with pytest.raises(RetryableError, match="could not be reached"):
            await nowhere.send(credentials, settings, EMAIL)
    finally:
        nowhere.close()
