"""Providers and suppressions as code: the `providers:` and `suppressions:` sections of the configuration file.

Checked with everything else before anything is written (kinds, settings, `${ENV_VAR}` references set; for a
provider that exists already an unset reference keeps the stored value, so an exported file imports as is). Applied
after the rules' transaction: a provider whose kind, name, settings or credentials changed is saved and checked
again with a real call (its status is reported, a failed check does not undo the rest of the file); listed
suppressions are added. The file adds and updates: a provider or a suppression missing from it is kept (removing
one unregisters webhooks or lets mail through again, so it is done on purpose, through the API or the CLI).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from saleor_app.domain.config_document import ConfigDocument, ConfigProblem
from saleor_app.domain.config_yaml import Path
from saleor_app.domain.errors import Refused
from saleor_app.domain.provider_config import duplicate_keys, exported, resolve_credentials
from saleor_app.domain.providers import ProviderAccount, ProviderSpec, SuppressionSpec
from saleor_app.domain.rules import RuleSpec
from saleor_app.engine.configure import ConfigSections
from saleor_app.engine.providers import ManageProviders


class ProviderConfigSections:
    def __init__(self, providers: ManageProviders, environment: Callable[[str], str | None]) -> None:
        self._providers = providers
        self._environment = environment

    async def rule_problems(self, installation_id: int, spec: RuleSpec) -> list[tuple[str, str]]:  # noqa: ARG002
        return []  # a missing mailbox skips the job with its reason; providers may be connected later

    async def problems(self, installation_id: int, document: ConfigDocument,
                       rules: Sequence[tuple[Path, RuleSpec]]) -> list[ConfigProblem]:  # noqa: ARG002
        found = [ConfigProblem(path, message) for path, message in duplicate_keys(document.providers or ())]
        stored = {view.account.key: view.account for view in await self._providers.list(installation_id)}
        for index, doc in enumerate(document.providers or ()):
            path: Path = ("providers", index)
            credentials, unset = resolve_credentials(doc, path, self._environment)
            if doc.key in stored:  # an unset reference keeps the stored value: an exported file imports as is
                credentials = {**await self._providers.credentials(stored[doc.key].id), **credentials}
                unset = []
            found += [ConfigProblem(where, message) for where, message in unset]
            try:
                self._providers.validate(stored.get(doc.key), ProviderSpec(
                    key=doc.key, kind=doc.kind, name=doc.name, credentials=credentials or {}, settings=doc.settings))
            except Refused as exc:
                if not unset:
                    found.append(ConfigProblem(path, str(exc)))
        return found

    async def apply(self, installation_id: int, document: ConfigDocument, *, dry_run: bool) -> list[str]:
        lines: list[str] = []
        stored = {view.account.key: view.account for view in await self._providers.list(installation_id)}
        for doc in document.providers or ():
            credentials, _ = resolve_credentials(doc, (), self._environment)
            account = stored.get(doc.key)
            if account is not None:
                credentials = {**await self._providers.credentials(account.id), **credentials}
            spec = ProviderSpec(key=doc.key, kind=doc.kind, name=doc.name, credentials=credentials,
                                settings=doc.settings)
            if account is not None and not await self._changed(account, spec):
                continue
            if dry_run:
                lines.append(f"provider {doc.key}: would be {'added' if account is None else 'changed'} and checked")
                continue
            view = await self._providers.connect(installation_id, spec)
            lines.append(f"provider {doc.key}: {'added' if account is None else 'changed'}, "
                         f"{view.account.status.value}: {view.account.status_message}")
        if document.suppressions:
            known = {(item.channel, item.address) for item in await self._providers.suppressions(installation_id)}
            new = [item for item in document.suppressions if (item.channel, item.normalised()) not in known]
            for item in new if not dry_run else []:
                await self._providers.suppress(installation_id, item)
            if new:
                lines.append(f"suppressions {'would be ' if dry_run else ''}added: "
                             f"{', '.join(item.normalised() for item in new)}")
        return lines

    async def _changed(self, account: ProviderAccount, spec: ProviderSpec) -> bool:
        stored = await self._providers.credentials(account.id)
        credentials = spec.credentials or stored
        settings = self._providers.validate(account, spec.model_copy(update={"credentials": credentials}))
        return settings != account.settings or (spec.name or spec.key) != account.name or credentials != stored

    async def export(self, installation_id: int, document: ConfigDocument) -> ConfigDocument:
        views = await self._providers.list(installation_id)
        providers = tuple([exported(view.account, sorted(await self._providers.credentials(view.account.id)))
                           for view in views])
        suppressions = await self._providers.suppressions(installation_id)
        listed = tuple(SuppressionSpec(channel=item.channel, address=item.address, reason=item.reason,
                                       source=item.source) for item in suppressions)
        return document.model_copy(update={"providers": providers or None, "suppressions": listed or None})


class AllSections:
    """Several features' configuration sections as one (ConfigureAutomation takes one)."""

    def __init__(self, sections: Sequence[ConfigSections]) -> None:
        self._sections = tuple(sections)

    async def rule_problems(self, installation_id: int, spec: RuleSpec) -> list[tuple[str, str]]:
        return [problem for section in self._sections for problem in await section.rule_problems(installation_id,
                                                                                                    spec)]

    async def problems(self, installation_id: int, document: ConfigDocument,
                       rules: Sequence[tuple[Path, RuleSpec]]) -> list[ConfigProblem]:
        return [problem for section in self._sections
                for problem in await section.problems(installation_id, document, rules)]

    async def apply(self, installation_id: int, document: ConfigDocument, *, dry_run: bool) -> list[str]:
        return [line for section in self._sections for line in await section.apply(installation_id, document,
                                                                                    dry_run=dry_run)]

    async def export(self, installation_id: int, document: ConfigDocument) -> ConfigDocument:
        for section in self._sections:
            document = await section.export(installation_id, document)
        return document
