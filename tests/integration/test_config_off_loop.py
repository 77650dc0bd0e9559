"""A configuration import is parsed off the event loop: webhooks and /health are answered while it is parsed."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

from saleor_app.app import create_app
from saleor_app.domain.config_document import ConfigFileError
from saleor_app.engine.config_parsing import ConfigParsing, Outcome, parse_reporting
from saleor_app.wiring import Container
from tests.fakes.signing import SaleorSigner
from tests.integration.helpers import API_URL, APP_ID, asgi_client, install, order_body, webhook_headers
from tests.timing import eventually, scaled


def maximal_document() -> bytes:
    """The most values the limits let through (documents.MAX_NODES), just under the 1 MB cap."""
    from bench.hostile_import import wide_document

    return wide_document()


async def test_a_webhook_is_acknowledged_while_a_maximal_import_is_still_being_parsed(container: Container,
                                                                                     settings) -> None:
    signer = SaleorSigner()
    await install(container, signer)
    parsing, release = threading.Event(), threading.Event()

    def held_parse(text: str) -> Outcome:
        """The real parse, then held until the test lets it finish: the import is still in the parser meanwhile.
        (In a thread here: the default process cannot share the test's events.)"""
        try:
            return parse_reporting(text)
        finally:
            parsing.set()
            release.wait(scaled(60))

    container.config_parsing = ConfigParsing(lambda: ThreadPoolExecutor(max_workers=1), held_parse)
    dashboard = {"authorization-bearer": signer.dashboard_token(app_id=APP_ID, iss=API_URL),
                 "saleor-api-url": API_URL}
    async with asgi_client(create_app(settings, container)) as client:
        importing = asyncio.create_task(client.put("/api/v1/config?dry_run=true", content=maximal_document(),
                                                   headers=dashboard))
        await eventually(parsing.is_set, what="the import reached the parser")
        body = order_body()
        webhook = await client.post("/api/webhooks/orders", content=body,
                                    headers=webhook_headers(signer, body, "order_created"))
        health = await client.get("/health")
        assert (webhook.status_code, health.status_code) == (200, 200)
        assert not importing.done()  # acknowledged while the import is still being parsed
        release.set()
        answer = await importing
    assert answer.status_code == 422, answer.text  # every key of the maximal document is unknown
    assert "missing field 'version'" in answer.json()["error"]["message"]


async def test_the_parsing_process_answers_a_valid_document_and_lists_at_most_200_problems() -> None:
    from bench.hostile_import import rules_document

    parsing = ConfigParsing()
    try:
        parsed = await parsing(rules_document().decode())
        assert parsed.checked is not None and len(parsed.checked.rules) > 2000
        try:
            await parsing(maximal_document().decode())
        except ConfigFileError as exc:
            assert len(exc.problems) == 201 and exc.problems[-1].message.endswith("more problems")
        else:
            raise AssertionError("the maximal document is no configuration")
    finally:
        parsing.close()
