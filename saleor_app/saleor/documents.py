"""GraphQL documents from `graphql/`, loaded by operation name with the fragments they spread."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

GRAPHQL_DIR = Path(__file__).resolve().parents[2] / "graphql"
_SPREAD = re.compile(r"\.\.\.\s*([_A-Za-z][_0-9A-Za-z]*)")
_FRAGMENT_DEF = re.compile(r"^\s*fragment\s+([_A-Za-z][_0-9A-Za-z]*)\s+on\b", re.MULTILINE)


class DocumentNotFound(LookupError):
    pass


@cache
def _fragments(root: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for path in sorted((root / "fragments").glob("*.graphql")):
        text = path.read_text()
        for name in _FRAGMENT_DEF.findall(text):
            found[name] = text
    return found


def operation_paths(root: Path = GRAPHQL_DIR) -> list[Path]:
    return sorted(p for kind in ("queries", "mutations", "subscriptions") for p in (root / kind).glob("*.graphql"))


@cache
def load(name: str, root: Path = GRAPHQL_DIR) -> str:
    """The operation `name` (its file stem) followed by every fragment it needs, each once."""
    matches = [path for path in operation_paths(root) if path.stem == name]
    if not matches:
        raise DocumentNotFound(f"no GraphQL document named {name!r} under {root}")
    return with_fragments(_without_comment_lines(matches[0].read_text()), root)


def with_fragments(source: str, root: Path = GRAPHQL_DIR) -> str:
    fragments = _fragments(root)
    needed: list[str] = []
    pending = _SPREAD.findall(_strip_comments(source))
    while pending:
        name = pending.pop(0)
        if name in needed or name not in fragments:
            continue  # `... on Type` inline fragments match the pattern too ("on" is no fragment)
        needed.append(name)
        pending.extend(_SPREAD.findall(_strip_comments(fragments[name])))
    texts: list[str] = []
    for name in needed:
        text = _without_comment_lines(fragments[name])
        if text not in texts:
            texts.append(text)
    return "\n".join([source.strip(), *[text.strip() for text in texts]]) + "\n"


def _strip_comments(text: str) -> str:
    return re.sub(r"#[^\n]*", "", text)


def _without_comment_lines(text: str) -> str:
    """Comments are for readers of graphql/; Saleor stores subscription documents as sent."""
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
