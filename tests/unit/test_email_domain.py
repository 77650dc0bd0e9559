"""The pure parts of client email: recipients, mailboxes, the rule's config, Postmark payloads, message states."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from saleor_app.domain.email import EmailConfig, Mailbox, RecipientType, pick_mailbox, pick_recipient
from saleor_app.domain.errors import SkipJob
from saleor_app.domain.provider_config import THROUGH_THE_APP, ProviderDoc, ShellEnvironment, StoredCredentials
from saleor_app.domain.providers import (
    MessageState,
    ProviderAccount,
    ProviderStatus,
    Sender,
    SenderKind,
    advanced_state,
    normalise_email,
)
from saleor_app.providers.postmark_events import PayloadError, read_event

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def test_auto_recipient_is_the_order_email_then_the_account_email() -> None:
    order = {"userEmail": "Order@Example.com", "user": {"email": "account@example.com"}}
    assert pick_recipient(order, RecipientType.AUTO) == "order@example.com"
    assert pick_recipient({"userEmail": "", "user": {"email": "account@example.com"}},
                          RecipientType.AUTO) == "account@example.com"
    assert pick_recipient(order, RecipientType.CUSTOMER_EMAIL) == "account@example.com"
    with pytest.raises(SkipJob, match="no email of type customer account email"):
        pick_recipient({"userEmail": "a@example.com", "user": None}, RecipientType.CUSTOMER_EMAIL)


def test_metadata_recipients_and_invalid_addresses_skip_with_reasons() -> None:
    order = {"metadata": [{"key": "gift_to", "value": "friend@example.com"}],
             "privateMetadata": [{"key": "buyer", "value": "evil@example.com\r\nBcc: all@example.com"}]}
    assert pick_recipient(order, RecipientType.METADATA, "gift_to") == "friend@example.com"
    with pytest.raises(SkipJob, match=r"invalid email address .* \(metadata buyer\)"):
        pick_recipient(order, RecipientType.METADATA, "buyer")


@pytest.mark.parametrize("address", ["a@b", "x y@example.com", "a@example.com\nBcc: b@example.com",
                                     "Name <a@example.com>", "a..b@example.com"])
def test_only_plain_addresses_are_accepted(address: str) -> None:
    assert normalise_email(address) is None


def mailbox(sender_id: int, address: str, *, last: datetime | None = None, status: ProviderStatus =
            ProviderStatus.CONNECTED, enabled: bool = True, key: str = "pm") -> Mailbox:
    account = ProviderAccount(sender_id, 1, "postmark", key, key, {}, status, "bad token" if status is
                              ProviderStatus.FAILED else "", None, None, NOW)
    return Mailbox(Sender(sender_id, sender_id, 1, SenderKind.EMAIL, address, "", None, enabled, last), account)


def test_auto_mailbox_is_the_last_used_else_the_first_connected() -> None:
    boxes = [mailbox(1, "a@x.com", status=ProviderStatus.FAILED), mailbox(2, "b@x.com"), mailbox(3, "c@x.com")]
    assert pick_mailbox(boxes, "auto").sender.address == "b@x.com"
    boxes[2] = mailbox(3, "c@x.com", last=NOW)
    boxes[1] = mailbox(2, "b@x.com", last=NOW - timedelta(days=1))
    assert pick_mailbox(boxes, "auto").sender.address == "c@x.com"
    with pytest.raises(SkipJob, match="no connected mailbox"):
        pick_mailbox([mailbox(1, "a@x.com", enabled=False)], "auto")


def test_a_named_mailbox_says_why_it_cannot_send() -> None:
    boxes = [mailbox(1, "a@x.com", status=ProviderStatus.FAILED, key="old")]
    with pytest.raises(SkipJob, match=r"provider old of mailbox a@x.com is not connected \(failed: bad token\)"):
        pick_mailbox(boxes, "a@x.com")
    with pytest.raises(SkipJob, match="mailbox z@x.com does not exist"):
        pick_mailbox(boxes, "z@x.com")


def test_the_email_config_refuses_unsafe_or_incomplete_rules() -> None:
    with pytest.raises(ValidationError, match="Unknown variable"):
        EmailConfig(subject="{{ order.__class__ }}", text="x")
    with pytest.raises(ValidationError, match="give the email a body"):
        EmailConfig(subject="Hi")
    with pytest.raises(ValidationError, match="needs metadata_key"):
        EmailConfig(subject="Hi", text="x", recipient=RecipientType.METADATA)
    with pytest.raises(ValidationError, match="loops more than"):
        EmailConfig(subject="Hi", text="{% for i in (1..100) %}{% for j in (1..100) %}x{% endfor %}{% endfor %}")
    assert EmailConfig(subject="Hi", text="x", mailbox="Shop@Example.com").mailbox == "shop@example.com"


def test_postmark_payloads_become_events() -> None:
    bounce = read_event({"RecordType": "Bounce", "MessageID": "m", "Type": "HardBounce", "Description": "gone",
                         "BouncedAt": "2026-11-24T10:00:00.1234567Z"}, NOW)
    assert bounce is not None and bounce.suppress == "hard bounce: gone" and bounce.trigger_event == "email_bounced"
    assert bounce.at == datetime(2026, 11, 24, 10, 0, 0, 123456, tzinfo=UTC)
    soft = read_event({"RecordType": "Bounce", "MessageID": "m", "Type": "SoftBounce", "Inactive": False}, NOW)
    assert soft is not None and soft.suppress is None and soft.state is MessageState.BOUNCED
    transient = read_event({"RecordType": "Bounce", "MessageID": "m", "Type": "Transient"}, NOW)
    assert transient is not None and transient.trigger_event is None and transient.state is MessageState.SENT
    spam = read_event({"RecordType": "SpamComplaint", "MessageID": "m"}, NOW)
    assert spam is not None and spam.source == "spam_complaint" and spam.state is MessageState.COMPLAINED
    assert read_event({"RecordType": "SubscriptionChange", "MessageID": "m"}, NOW) is None
    with pytest.raises(PayloadError):
        read_event({"MessageID": "m"}, NOW)


def test_message_states_only_move_forward() -> None:
    assert advanced_state(MessageState.CLICKED, MessageState.DELIVERED) is MessageState.CLICKED
    assert advanced_state(MessageState.SENT, MessageState.OPENED) is MessageState.OPENED
    assert advanced_state(MessageState.OPENED, MessageState.COMPLAINED) is MessageState.COMPLAINED


def test_a_file_sent_to_the_app_sets_no_credential_and_reads_no_variable() -> None:
    looked_up: list[str] = []

    def lookup(name: str) -> str | None:
        looked_up.append(name)
        return {"PM": "pm-token"}.get(name)

    shell = ShellEnvironment(lookup)
    app = StoredCredentials()
    doc = ProviderDoc(key="pm", kind="postmark", credentials={"server_token": " ${PM} "})
    assert doc.credentials == {"server_token": "${PM}"}
    at = ("providers", 0, "credentials", "server_token")
    refused = [(at, THROUGH_THE_APP)]
    assert app.credentials(doc, ("providers", 0), None) == ({}, refused)  # a new provider: set it elsewhere
    assert app.credentials(doc, ("providers", 0), {"server_token": "stored"}) == ({}, [])  # the stored one stays
    literal = doc.model_copy(update={"credentials": {"server_token": "abc-123"}})
    assert app.credentials(literal, ("providers", 0), {"server_token": "stored"}) == ({}, refused)
    assert looked_up == []  # never: not even to say whether a variable is set

    assert shell.credentials(doc, ("providers", 0), None) == ({"server_token": "pm-token"}, [])
    unset = doc.model_copy(update={"credentials": {"server_token": "${NOPE}"}})
    assert shell.credentials(unset, ("providers", 0), {"server_token": "stored"}) == ({}, [])  # the stored one stays
    [(where, problem)] = shell.credentials(unset, ("providers", 0), None)[1]
    assert where == at and "NOPE is not set" in problem
    [(where, problem)] = shell.credentials(literal, ("providers", 0), None)[1]
    assert where == at and "never the secret itself" in problem
