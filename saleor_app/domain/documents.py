"""Limits on documents read from untrusted input (JSON bodies, YAML configurations): nesting, size and NUL. Pure.

Python parsers and validators recurse once per level of nesting: `[`×20,000 raised RecursionError deep inside a
parser (a 500) and a few hundred levels passed the parser but not orjson's encoder (255 levels) when stored.
No configuration or API body the app takes is deeper than about a dozen levels, so MAX_DEPTH refuses early and
keeps every later step far from Python's recursion limit. PostgreSQL's text cannot hold a NUL character (the
driver raises, which was a 500 too), and no merchant text needs one: NUL is refused at the edge on every database.
"""

from __future__ import annotations

from typing import Any

import orjson

MAX_DEPTH = 64
MAX_NODES = 20_000  # values (mappings, lists, texts, numbers) in one configuration; a large shop's has a few thousand
MAX_INT_DIGITS = 18  # fits a 64-bit integer; Python refuses to read more than 4,300 digits at all


class DocumentRefused(ValueError):
    """The document is valid JSON/YAML but beyond what the app reads; the message says which limit."""


def too_deep() -> DocumentRefused:
    return DocumentRefused(f"the document is nested more than {MAX_DEPTH} levels deep")


def nul_in_text() -> DocumentRefused:
    return DocumentRefused("a text contains a NUL character (\\u0000), which the app does not store")


def load_json(raw: bytes | str) -> Any:
    """The JSON value of `raw`; orjson.JSONDecodeError (a ValueError) when it is not JSON, DocumentRefused when it
    is nested too deep or holds a NUL character."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc) or "recursion" in str(exc):  # orjson's own ceiling (1,024 levels)
            raise too_deep() from None
        raise
    check_shape(data)
    return data


def check_shape(data: Any) -> None:
    """DocumentRefused when `data` (parsed JSON) is nested deeper than MAX_DEPTH or holds a NUL in a text or key.
    Walks with its own stack: the check itself never recurses."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                raise nul_in_text()
            continue
        if isinstance(value, dict):
            items: Any = value.values()
            for key in value:
                if isinstance(key, str) and "\x00" in key:
                    raise nul_in_text()
        elif isinstance(value, list):
            items = value
        else:
            continue
        if depth >= MAX_DEPTH:
            raise too_deep()
        stack.extend((item, depth + 1) for item in items)
