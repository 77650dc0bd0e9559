"""JSON logs carry ids and never a secret."""

from __future__ import annotations

import json
import logging

from saleor_app.logs import JsonFormatter


def format_record(**extra: object) -> dict[str, object]:
    record = logging.LogRecord("saleor_app.test", logging.INFO, __file__, 1, "installed", (), None)
    for key, value in extra.items():
        setattr(record, key, value)
    return dict(json.loads(JsonFormatter().format(record)))


def test_ids_are_fields() -> None:
    entry = format_record(installation_id=3, order_id="T3JkZXI6MQ==")
    assert entry["message"] == "installed"
    assert entry["installation_id"] == 3 and entry["order_id"] == "T3JkZXI6MQ=="
    assert entry["level"] == "info" and str(entry["time"]).endswith("Z")


def test_secret_fields_are_redacted_even_when_nested() -> None:
    entry = format_record(auth_token="tok-123", context={"headers": {"Authorization": "Bearer tok-123"}},
                          provider={"api_key": "k", "name": "postmark"})
    text = json.dumps(entry)
    assert "tok-123" not in text and '"k"' not in text
    assert entry["provider"] == {"api_key": "[redacted]", "name": "postmark"}
