"""The `providers:` and `suppressions:` sections of the automation-as-code document (pure).

A file is shared and versioned, so it never holds a secret: a credential is written as a `${ENV_VAR}` reference.
What a reference means depends on where the file came from, and a `CredentialSource` says it (the composition root
picks one per process): a file sent to the app (the JSON API, the page) never sets a credential and never makes the
server read its environment (`StoredCredentials`); `config import` run by the operator on the server reads the
references from the operator's own shell (`ShellEnvironment`). Export writes each credential as
`${<KEY>_<NAME>}` (upper case, `-` as `_`: provider `postmark-main`'s server_token →
`${POSTMARK_MAIN_SERVER_TOKEN}`), never its value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

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
    def _stripped(cls, value: dict[str, str]) -> dict[str, str]:
        return {name: reference.strip() for name, reference in value.items()}


def reference_name(key: str, credential: str) -> str:
    return re.sub(r"[^A-Z0-9_]", "_", f"{key}_{credential}".upper())


def exported(account: ProviderAccount, credential_names: Sequence[str]) -> ProviderDoc:
    return ProviderDoc(key=account.key, kind=account.kind, name=account.name if account.name != account.key else "",
                       credentials={name: f"${{{reference_name(account.key, name)}}}" for name in credential_names},
                       settings=dict(account.settings))


Problems = list[tuple[Path, str]]

THROUGH_THE_APP = ("set credentials in the Providers view or with `providers connect` on the server: a configuration "
                   "sent to the app never sets them (a ${…} reference keeps an existing provider's stored one)")


class CredentialSource(Protocol):
    """What a document's provider credentials become: the values it gives now (a provider that exists keeps its
    stored ones for the rest) and (path, problem) for each credential the document may not give."""

    def credentials(self, doc: ProviderDoc, path: Path, stored: Mapping[str, str] | None) -> tuple[dict[str, str],
                                                                                                 Problems]: ...


class StoredCredentials:
    """A file sent to the app by a web request: it may name providers and change their names and settings, never a
    credential. A `${…}` reference keeps what an existing provider has stored; any other value, and any credential
    of a new provider, is refused. No variable is ever looked up, so the answer cannot tell which ones are set."""

    def credentials(self, doc: ProviderDoc, path: Path, stored: Mapping[str, str] | None) -> tuple[dict[str, str],
                                                                                                 Problems]:
        problems: Problems = [((*path, "credentials", name), THROUGH_THE_APP) for name, value in doc.credentials.items()
                              if stored is None or not SECRET_REFERENCE.match(value)]
        return {}, problems


class ShellEnvironment:
    """`config import` run on the server: each `${VAR}` is read through `lookup` (the operator's own shell). A
    literal value is refused (the file is shared and versioned); for a provider that exists, an unset variable
    keeps the stored credential, so an exported file imports as is."""

    def __init__(self, lookup: Callable[[str], str | None]) -> None:
        self._lookup = lookup

    def credentials(self, doc: ProviderDoc, path: Path, stored: Mapping[str, str] | None) -> tuple[dict[str, str],
                                                                                                 Problems]:
        values: dict[str, str] = {}
        problems: Problems = []
        for name, reference in doc.credentials.items():
            where = (*path, "credentials", name)
            match = SECRET_REFERENCE.match(reference)
            if match is None:
                problems.append((where, f"write secrets as a ${{ENV_VAR}} reference (e.g. "
                                        f"${{{reference_name(doc.key, name)}}}), never the secret itself: the file "
                                        "is shared and versioned"))
                continue
            value = self._lookup(match.group(1))
            if value:
                values[name] = value
            elif stored is None:
                problems.append((where, f"the environment variable {match.group(1)} is not set where the file is "
                                        "imported"))
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
