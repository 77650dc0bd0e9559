"""Layers point one way: domain ← engine ← adapters ← wiring/app/cli (STYLE.md, DESIGN.md §2)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "saleor_app"
ADAPTERS = {"store", "saleor", "providers", "queues", "web"}
TOP = {"wiring", "app", "cli"}
DOMAIN_ALLOWED_THIRD_PARTY = {"pydantic", "orjson", "liquid", "phonenumbers", "yaml"}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def layer_of(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def test_imports_point_one_way() -> None:
    problems = []
    for path in PACKAGE.rglob("*.py"):
        layer = layer_of(path)
        for name in imports_of(path):
            parts = name.split(".")
            if parts[0] != "saleor_app":
                if layer == "domain" and parts[0] not in sys.stdlib_module_names | DOMAIN_ALLOWED_THIRD_PARTY:
                    problems.append(f"{path.name}: domain imports {name}")
                continue
            target = parts[1] if len(parts) > 1 else ""
            if layer == "domain" and target not in {"domain", ""}:
                problems.append(f"{path.name}: domain imports {name}")
            if layer == "engine" and target not in {"domain", "engine", ""}:
                problems.append(f"{path.name}: engine imports {name}")
            if layer in ADAPTERS and target in TOP:
                problems.append(f"{path.name}: adapter imports {name}")
    assert problems == []


def test_the_check_sees_a_wrong_arrow(tmp_path: Path) -> None:
    sample = tmp_path / "x.py"
    sample.write_text("from saleor_app.store.tables import metadata\nimport sqlalchemy\n")
    assert imports_of(sample) == {"saleor_app.store.tables", "sqlalchemy"}
