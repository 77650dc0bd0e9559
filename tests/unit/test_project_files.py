"""What a fresh clone needs to be quiet and safe: a .env (where the README suggests the key goes) is never
committed, and the package metadata builds without deprecation warnings (an SPDX licence string)."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_dot_env_is_ignored() -> None:
    ignored = {line.strip() for line in (REPO / ".gitignore").read_text().splitlines()}
    assert ".env" in ignored


def test_the_licence_is_an_spdx_string_with_a_setuptools_that_reads_it() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert project["project"]["license"] == "BSD-3-Clause"
    assert "setuptools>=77" in project["build-system"]["requires"]  # the first to read a licence string
