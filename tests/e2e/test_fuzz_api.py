"""Schemathesis over every /api/v1 operation of the OpenAPI document, with a valid Dashboard token, on SQLite and
PostgreSQL: no answer is a 5xx, none takes longer than 10 s (scaled), and every error is in the app's format.

The cases are derived from one seed (schemathesis derives each operation's from it and the operation's name), so a
run repeats the last one's requests; a failure shows the request as a curl command. EXAMPLES bounds the run time:
with 30, this module and test_fuzz_unlisted_routes.py take 40 s of CPU per database on a 2-core machine (75 s and
90 s of wall time at a load average of 7.5, 2026-12-07).
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import requests
import schemathesis

from saleor_app.app import create_app
from saleor_app.wiring import build_container
from tests.conftest import app_settings
from tests.e2e.fuzz_stack import FuzzStack, fuzz_stack  # noqa: F401 - the module's fixture
from tests.timing import scaled

SEED = 20261207
EXAMPLES = 30  # fuzzed cases per operation (the coverage phase adds its boundary cases); time: see above
REQUEST_CEILING = scaled(10)

# An operation left out of the fuzzing, with the reason. None is: every /api/v1 operation only changes this
# installation's own data, which the stack is made for, and each of them must hold against any input.
EXCLUDED: dict[tuple[str, str], str] = {}


def _openapi_document() -> dict[str, Any]:
    """The app's OpenAPI document, from an app that is built but never started (no database is opened)."""
    with tempfile.TemporaryDirectory() as directory:
        settings = app_settings(f"sqlite:///{Path(directory) / 'unused.db'}", Path(directory))
        container = build_container(settings)
        try:
            return create_app(settings, container).openapi()
        finally:
            asyncio.run(container.aclose())


_CONFIG = schemathesis.Config.from_dict({
    "seed": SEED,
    # No example database: a run replays nothing an earlier run saved, so the seed alone decides the cases.
    "generation": {"max-examples": EXAMPLES, "database": "none"},
    "phases": {"stateful": {"enabled": False}},  # sequences of calls: beyond what the suite can afford per run
})
schema = schemathesis.openapi.from_dict(_openapi_document(), config=_CONFIG).include(path_regex=r"^/api/v1/")
for _method, _path in EXCLUDED:
    schema = schema.exclude(method=_method, path=_path)


def _error_format_problem(response: schemathesis.Response) -> str | None:
    """None when a 4xx body is the app's error: `{"success": false, "error": {"code": …, "message": …}}`."""
    try:
        body = response.json()
    except ValueError:
        return "the body is not JSON"
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and body.get("success") is False and isinstance(error.get("code"), str) \
            and isinstance(error.get("message"), str):
        return None
    return "the body is not the app's error"


@schema.parametrize()
def test_no_operation_fails_or_hangs(case: schemathesis.Case, fuzz_stack: FuzzStack) -> None:  # noqa: F811
    headers = fuzz_stack.dashboard_headers()
    try:
        response = case.call(base_url=fuzz_stack.app_url, headers=headers, timeout=REQUEST_CEILING)
    except requests.Timeout as exc:
        raise AssertionError(f"no answer within {REQUEST_CEILING:g} s:\n{case.as_curl_command(headers)}") from exc
    shown = f"{response.status_code} {response.text[:500]}\n{case.as_curl_command(headers)}"
    assert response.status_code < 500, shown
    assert response.status_code != 401, f"the Dashboard token was refused: {shown}"
    if response.status_code >= 400:
        problem = _error_format_problem(response)
        assert problem is None, f"{problem}: {shown}"
