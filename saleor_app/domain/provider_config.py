"""The `providers:` and `suppressions:` sections of the automation-as-code document (pure).

A file is shared and versioned, so it never holds a secret: every credential is a `${ENV_VAR}` reference, read
from the importing process's environment. Export writes each credential as `${<KEY>_<NAME>}` (upper case, `-` as
`_`: provider `postmark-main`'s server_token → `${POSTMARK_MAIN_SERVER_TOKEN}`), never its value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from saleor_app.domain.config_yaml import Path
from saleor_app.domain.providers import KEY_PATTERN, ProviderAccount

SECRET_REFERENCE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]{0,127})\}$")


class ProviderDoc(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(pattern=KEY_PATTERN)
    kind: str = Field(min_length=1, max_length=16)
    name: str = Field(default="", max_length=200)
    credentials: dict[str, str] = Field(default_factory=dict)
    settings: dict[str, Any] = Field(default_factory=dict)

    @field_validator("credentials")
    @classmethod
    def _references_only(cls, value: dict[str, str]) -> dict[str, str]:
        for name, reference in value.items():
            if not SECRET_REFERENCE.match(reference.strip()):
                raise ValueError(f"{name}: write secrets as a ${{ENV_VAR}} reference (e.g. "
                                 f"${{{reference_name('provider', name)}}}), never the secret itself: the file is "
                                 "shared and versioned")
        return {name: reference.strip() for name, reference in value.items()}


def reference_name(key: str, credential: str) -> str:
    return re.sub(r"[^A-Z0-9_]", "_", f"{key}_{credential}".upper())


def exported(account: ProviderAccount, credential_names: Sequence[str]) -> ProviderDoc:
    return ProviderDoc(key=account.key, kind=account.kind, name=account.name if account.name != account.key else "",
                       credentials={name: f"${{{reference_name(account.key, name)}}}" for name in credential_names},
                       settings=dict(account.settings))


def resolve_credentials(doc: ProviderDoc, path: Path, lookup: Callable[[str], str | None]
                        ) -> tuple[dict[str, str], list[tuple[Path, str]]]:
    """The credentials with their references read through `lookup`, and (path, problem) for each one unset."""
    values: dict[str, str] = {}
    problems: list[tuple[Path, str]] = []
    for name, reference in doc.credentials.items():
        match = SECRET_REFERENCE.match(reference)
        assert match is not None  # the model checked it
        value = lookup(match.group(1))
        if not value:
            problems.append(((*path, "credentials", name), f"the environment variable {match.group(1)} is not set "
                                                           "where the file is imported"))
        else:
            values[name] = value
    return values, problems


def duplicate_keys(providers: Sequence[ProviderDoc]) -> list[tuple[Path, str]]:
    seen: dict[str, int] = {}
    problems: list[tuple[Path, str]] = []
    for index, doc in enumerate(providers):
        if doc.key in seen:
            problems.append((("providers", index, "key"), f"provider {doc.key!r} is listed twice (first at item "
                                                           f"{seen[doc.key] + 1})"))
        seen.setdefault(doc.key, index)
    return problems
