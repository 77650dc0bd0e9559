"""The suite-wide secret check (tests/secret_watch.py) finds what it must and nothing else."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from starlette.responses import PlainTextResponse

from tests import secret_watch

SECRET = "s3cr3t-" + "k" * 20


def test_a_remembered_secret_is_found_in_captured_output_and_observed_text() -> None:
    secret_watch.remember(SECRET, "a test secret")
    secret_watch.remember("short", "a short value")  # ordinary words are not watched for: no false positives
    secret_watch.observe("a CLI run", f"token {SECRET[:-1]}… and the word short")
    assert secret_watch.leaks([("Captured stderr call", "nothing here")]) == []
    secret_watch.observe("a CLI run", f"oops {SECRET}")
    assert secret_watch.leaks([("Captured log call", SECRET)]) == ["a test secret in Captured log call",
                                                                     "a test secret in a CLI run"]
    secret_watch.forget_test_secrets()
    assert secret_watch.leaks([("Captured log call", SECRET)]) == []


async def test_only_the_apps_answers_are_observed() -> None:
    secret_watch.remember(SECRET, "a test secret")
    app = FastAPI()
    app.state.container = object()  # what marks create_app's app

    @app.get("/leak")
    async def leak() -> PlainTextResponse:
        return PlainTextResponse(SECRET)

    fake = FastAPI()
    fake.get("/token")(leak)  # a fake (Postmark's /server) may answer with a token: that is not the app's output
    for served in (secret_watch.watched(fake), secret_watch.watched(app)):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=served), base_url="http://t") as client:
            await client.get("/token" if served is fake else "/leak")
    assert secret_watch.leaks([]) == ["a test secret in the app's answer to GET /leak"]
    secret_watch.forget_test_secrets()
