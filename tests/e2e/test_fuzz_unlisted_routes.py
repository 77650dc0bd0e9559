"""Hypothesis over the routes the OpenAPI document leaves out or that answer outside callers, on SQLite and
PostgreSQL: register, Saleor's webhooks, Twilio's callbacks, Postmark's events and inbound triggers.

Each route is fuzzed twice: by a stranger (no or a wrong signature, password or secret: always a 4xx) and by the
rightful caller with a malformed request (signed by the fake Saleor's key or the Twilio account's token, with the
Postmark webhook's password or the trigger's secret: a 2xx or a 4xx). No answer is a 5xx, none takes longer than
10 s (scaled), and every error is in the app's format. `derandomize` makes the cases the same on every run.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from saleor_app.domain.webhooks import ORDER_EVENTS
from saleor_app.engine.providers import CALLBACK_USER
from saleor_app.web.ids import MAX_ROW_ID
from tests.e2e.fuzz_stack import FuzzStack, fuzz_stack  # noqa: F401 - the module's fixture
from tests.fakes.twilio import twilio_signature
from tests.timing import scaled

REQUEST_CEILING = scaled(10)
FUZZ = settings(max_examples=100, derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
def dumps(value: Any) -> bytes:
    """JSON as any sender may write it: integers past 64 bits and lone surrogates (as escapes) included."""
    return json.dumps(value).encode()


# What goes into a header: printable ASCII, no whitespace around it (HTTP clients refuse the rest).
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=120).map(str.strip)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=60),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12)
bodies = st.one_of(st.binary(max_size=600), json_values.map(dumps))
row_ids = st.one_of(st.integers(min_value=-5, max_value=2**40), st.sampled_from([0, 1, MAX_ROW_ID, MAX_ROW_ID + 1]))
form_fields = st.dictionaries(st.sampled_from(["MessageSid", "SmsSid", "CallSid", "MessageStatus", "SmsStatus",
                                               "CallStatus", "ErrorCode", "From", "To", "Body", "AccountSid",
                                               "CallDuration", "OptOutType"]) | st.text(max_size=10),
                              st.text(max_size=40), max_size=8)


@pytest.fixture(scope="module")
def http(fuzz_stack: FuzzStack) -> Iterator[httpx.Client]:  # noqa: F811
    with httpx.Client(base_url=fuzz_stack.app_url, timeout=REQUEST_CEILING) as client:
        yield client


def send(http: httpx.Client, method: str, url: str, *, headers: dict[str, str], content: bytes | None = None,
         allowed: range = range(200, 500), refused: frozenset[int] = frozenset()) -> httpx.Response:
    """One request; its answer is in `allowed` (never a 5xx) and not in `refused` (a rightful caller is never
    turned away as a stranger), within the ceiling, and an error is the app's."""
    try:
        response = http.request(method, url, headers=headers, content=content)
    except httpx.TimeoutException as exc:
        raise AssertionError(f"no answer within {REQUEST_CEILING:g} s:\n"
                             f"{describe(method, url, headers, content)}") from exc
    shown = f"{response.status_code} {response.text[:500]}\n{describe(method, url, headers, content)}"
    assert response.status_code in allowed and response.status_code not in refused, shown
    if response.status_code >= 400:
        body = _json_or_none(response)
        error = body.get("error") if isinstance(body, dict) else None
        assert isinstance(body, dict) and body.get("success") is False and isinstance(error, dict) \
            and isinstance(error.get("code"), str) and isinstance(error.get("message"), str), \
            f"not the app's error: {shown}"
    return response


def describe(method: str, url: str, headers: dict[str, str], body: bytes | None) -> str:
    """The request that failed, as a reader can send it again (Hypothesis prints the drawn values too)."""
    return f"{method} {url}\nheaders: {headers}\nbody: {(body or b'')[:2000]!r}"


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


STRANGER = range(400, 500)
NOT_A_STRANGER = frozenset({401, 403})


# -- POST /api/register --------------------------------------------------------------------------------------------

@FUZZ
@given(api_url=st.one_of(st.none(), header_text, st.just("saleor")), body=bodies)
def test_register_refuses_what_is_not_an_install(http: httpx.Client, fuzz_stack: FuzzStack,  # noqa: F811
                                                 api_url: str | None, body: bytes) -> None:
    """The fake Saleor's own URL is among the choices, with a body that is no token it issued."""
    headers = {"content-type": "application/json"}
    if api_url is not None:
        headers["saleor-api-url"] = fuzz_stack.saleor_api_url if api_url == "saleor" else api_url
    send(http, "POST", "/api/register", headers=headers, content=body, allowed=STRANGER)


# -- POST /api/webhooks/{orders,app} -------------------------------------------------------------------------------

WEBHOOK_PATHS = st.sampled_from(["/api/webhooks/orders", "/api/webhooks/app"])
order_events = st.sampled_from(sorted(ORDER_EVENTS)).map(str.upper)


@FUZZ
@given(path=WEBHOOK_PATHS, event=st.one_of(order_events, header_text), own_url=st.booleans(),
       signature=st.one_of(st.none(), header_text, st.just("fake..sig")), body=bodies)
def test_an_unsigned_webhook_is_refused(http: httpx.Client, fuzz_stack: FuzzStack, path: str,  # noqa: F811
                                        event: str, own_url: bool, signature: str | None, body: bytes) -> None:
    headers = {"saleor-event": event, "saleor-api-url": fuzz_stack.saleor_api_url if own_url else "http://x/graphql/"}
    if signature is not None:
        headers["saleor-signature"] = signature
    send(http, "POST", path, headers=headers, content=body, allowed=STRANGER)


saleor_like = st.fixed_dictionaries({}, optional={
    "order": st.one_of(json_values, st.fixed_dictionaries({}, optional={
        "id": st.one_of(st.text(max_size=300), json_values), "number": json_values, "status": json_values,
        "updatedAt": json_values, "metadata": json_values})),
    "issuedAt": st.one_of(st.text(max_size=80), json_values),
    "issuingPrincipal": json_values, "recipient": json_values, "version": json_values})


@FUZZ
@given(event=st.one_of(order_events, header_text.filter(lambda e: e.lower() not in ("app_deleted",
                                                                                        "app_status_changed"))),
       body=st.one_of(bodies, saleor_like.map(dumps)))
def test_a_signed_malformed_order_webhook_never_fails(http: httpx.Client, fuzz_stack: FuzzStack,  # noqa: F811
                                                      event: str, body: bytes) -> None:
    """Signed by the installation's Saleor; the app's own lifecycle events are the module's last test."""
    headers = {"saleor-event": event, "saleor-api-url": fuzz_stack.saleor_api_url,
               "saleor-signature": fuzz_stack.sign_webhook(body)}
    send(http, "POST", "/api/webhooks/orders", headers=headers, content=body, refused=NOT_A_STRANGER)


# -- POST /api/twilio/{account id}/{sms-status,call-status,inbound} -----------------------------------------------

TWILIO_ROUTES = st.sampled_from(["sms-status", "call-status", "inbound"])


@FUZZ
@given(account=row_ids, route=TWILIO_ROUTES, fields=form_fields, signature=st.one_of(st.none(), header_text),
       raw=st.one_of(st.none(), bodies))
def test_an_unsigned_twilio_callback_is_refused(http: httpx.Client, account: int, route: str,
                                                fields: dict[str, str], signature: str | None,
                                                raw: bytes | None) -> None:
    headers = {"content-type": "application/x-www-form-urlencoded"}
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    content = raw if raw is not None else urlencode(fields).encode()
    send(http, "POST", f"/api/twilio/{account}/{route}", headers=headers, content=content, allowed=STRANGER)


@FUZZ
@given(route=TWILIO_ROUTES, fields=form_fields, message=st.one_of(st.none(), st.text(max_size=30)))
def test_a_signed_malformed_twilio_callback_never_fails(http: httpx.Client, fuzz_stack: FuzzStack,  # noqa: F811
                                                        route: str, fields: dict[str, str],
                                                        message: str | None) -> None:
    seeded = fuzz_stack.seeded
    path = f"/api/twilio/{seeded.twilio_account_id}/{route}"
    if message is not None:
        path += "?" + urlencode({"message": message})
    # Twilio signs the URL it was given and the form fields; the app reads the last of a repeated field.
    signature = twilio_signature(seeded.twilio_auth_token, fuzz_stack.app_url + path, fields)
    send(http, "POST", path, content=urlencode(fields).encode(),
         headers={"content-type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature},
         refused=NOT_A_STRANGER)


# -- POST /api/providers/postmark/{account id}/events --------------------------------------------------------------

def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@FUZZ
@given(account=row_ids, authorization=st.one_of(st.none(), header_text, st.builds(basic, header_text, header_text)),
       body=bodies)
def test_a_postmark_event_without_the_password_is_refused(http: httpx.Client, account: int,
                                                          authorization: str | None, body: bytes) -> None:
    headers = {"content-type": "application/json"}
    if authorization is not None:
        headers["authorization"] = authorization
    send(http, "POST", f"/api/providers/postmark/{account}/events", headers=headers, content=body, allowed=STRANGER)


postmark_like = st.fixed_dictionaries({}, optional={
    "RecordType": st.one_of(st.sampled_from(["Delivery", "Bounce", "SpamComplaint", "Open", "Click",
                                             "SubscriptionChange"]), json_values),
    "MessageID": st.one_of(st.text(max_size=60), json_values), "Recipient": json_values, "Email": json_values,
    "DeliveredAt": st.one_of(st.text(max_size=40), json_values), "BouncedAt": json_values,
    "ReceivedAt": json_values, "Type": json_values, "TypeCode": json_values, "Inactive": json_values,
    "Metadata": json_values, "MessageStream": json_values, "Description": json_values})


@FUZZ
@given(body=st.one_of(bodies, postmark_like.map(dumps)))
def test_a_malformed_postmark_event_with_the_password_never_fails(http: httpx.Client,
                                                                  fuzz_stack: FuzzStack,  # noqa: F811
                                                                  body: bytes) -> None:
    seeded = fuzz_stack.seeded
    send(http, "POST", f"/api/providers/postmark/{seeded.postmark_account_id}/events", content=body,
         headers={"content-type": "application/json",
                  "authorization": basic(CALLBACK_USER, seeded.postmark_password)}, refused=NOT_A_STRANGER)


# -- POST /api/inbound/{trigger id}/{secret} -----------------------------------------------------------------------

content_types = st.sampled_from(["application/json", "application/x-www-form-urlencoded", "text/plain", ""])


@FUZZ
@given(trigger=row_ids, secret=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E,
                                                     exclude_characters="/?#%"), min_size=1, max_size=60),
       content_type=content_types, body=bodies)
def test_an_inbound_call_without_the_secret_is_refused(http: httpx.Client, trigger: int, secret: str,
                                                       content_type: str, body: bytes) -> None:
    send(http, "POST", f"/api/inbound/{trigger}/{secret}", headers={"content-type": content_type}, content=body,
         allowed=STRANGER)


inbound_like = st.fixed_dictionaries({}, optional={"order": st.one_of(st.just("seeded"), st.text(max_size=40),
                                                                      json_values),
                                                   "id": st.one_of(st.text(max_size=40), json_values)})


@FUZZ
@given(content_type=content_types, body=st.one_of(bodies, inbound_like),
       query=st.dictionaries(st.sampled_from(["order", "id"]), st.text(max_size=20), max_size=2))
def test_a_malformed_inbound_call_with_the_secret_never_fails(http: httpx.Client, fuzz_stack: FuzzStack,  # noqa: F811
                                                              content_type: str, body: bytes | dict[str, Any],
                                                              query: dict[str, str]) -> None:
    seeded = fuzz_stack.seeded
    if isinstance(body, dict):  # a well-formed body whose order may be the seeded one
        if body.get("order") == "seeded":
            body["order"] = seeded.order_id
        body = urlencode(body).encode() if content_type == "application/x-www-form-urlencoded" else dumps(body)
    path = f"/api/inbound/{seeded.inbound_trigger_id}/{seeded.inbound_secret}"
    if query:
        path += "?" + urlencode(query)
    send(http, "POST", path, headers={"content-type": content_type}, content=body, refused=NOT_A_STRANGER)


# -- Last: the app's lifecycle events (they may uninstall or deactivate the app for the rest of the module) --------

@FUZZ
@given(event=st.sampled_from(["APP_DELETED", "APP_STATUS_CHANGED"]),
       body=st.one_of(bodies, st.fixed_dictionaries({}, optional={
           "app": st.one_of(json_values, st.fixed_dictionaries({}, optional={"id": json_values,
                                                                            "isActive": json_values}))
       }).map(dumps)))
def test_a_signed_malformed_app_event_never_fails(http: httpx.Client, fuzz_stack: FuzzStack,  # noqa: F811
                                                  event: str, body: bytes) -> None:
    headers = {"saleor-event": event, "saleor-api-url": fuzz_stack.saleor_api_url,
               "saleor-signature": fuzz_stack.sign_webhook(body)}
    send(http, "POST", "/api/webhooks/app", headers=headers, content=body)
