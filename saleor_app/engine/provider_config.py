"""Providers and suppressions as code: the `providers:` and `suppressions:` sections of the configuration file.

Checked with everything else before anything is written (kinds, settings, and credentials as the process's
`CredentialSource` allows: through the app only a reference that keeps an existing provider's stored value; on the
operator's shell `${ENV_VAR}` references, an unset one keeping the stored value). Applied
after the rules' transaction: a provider whose kind, name, settings or credentials changed is saved and checked
again with a real call (its status is reported, a failed check does not undo the rest of the file); listed
suppressions are added. The file adds and updates: a provider or a suppression missing from it is kept (removing
one unregisters webhooks or lets mail through again, so it is done on purpose, through the API or the CLI).
"""

from __future__ import annotations

from collections.abc import Sequence

from saleor_app.domain.config_document import ConfigDocument, ConfigProblem
from saleor_app.domain.config_yaml import Path
from saleor_app.domain.errors import Refused
from saleor_app.domain.provider_config import CredentialSource, ProviderDoc, duplicate_keys, exported
from saleor_app.domain.providers import ProviderAccount, ProviderSpec, SuppressionSpec
from saleor_app.domain.rules import RuleSpec
from saleor_app.engine.configure import ConfigSections
from saleor_app.engine.providers import ManageProviders


class ProviderConfigSections:
    def __init__(self, providers: ManageProviders, credentials: CredentialSource) -> None:
        self._providers = providers
        self._credentials = credentials

    async def rule_problems(self, installation_id: int, spec: RuleSpec) -> list[tuple[str, str]]:  # noqa: ARG002
        return []  # a missing mailbox skips the job with its reason; providers may be connected later

    async def problems(self, installation_id: int, document: ConfigDocument,
                       rules: Sequence[tuple[Path, RuleSpec]]) -> list[ConfigProblem]:  # noqa: ARG002
        found = [ConfigProblem(path, message) for path, message in duplicate_keys(document.providers or ())]
        stored = {view.account.key: view.account for view in await self._providers.list(installation_id)}
        for index, doc in enumerate(document.providers or ()):
            path: Path = ("providers", index)
            account = stored.get(doc.key)
            credentials, kept, refused = await self._resolve(doc, path, account)
            found += [ConfigProblem(where, message) for where, message in refused]
            try:
                self._providers.validate(account, ProviderSpec(
                    key=doc.key, kind=doc.kind, name=doc.name, credentials=credentials, settings=doc.settings), kept)
            except Refused as exc:
                if not refused:
                    found.append(ConfigProblem(path, str(exc)))
        return found

    async def apply(self, installation_id: int, document: ConfigDocument, *, dry_run: bool) -> list[str]:
        lines: list[str] = []
        stored = {view.account.key: view.account for view in await self._providers.list(installation_id)}
        for doc in document.providers or ():
            account = stored.get(doc.key)
            credentials, kept, _ = await self._resolve(doc, (), account)
            spec = ProviderSpec(key=doc.key, kind=doc.kind, name=doc.name, credentials=credentials,
                                settings=doc.settings)
            if account is not None and not await self._changed(account, spec, kept):
                continue
            if dry_run:
                lines.append(f"provider {doc.key}: would be {'added' if account is None else 'changed'} and checked")
                continue
            view = await self._providers.connect(installation_id, spec, kept)
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

    async def _resolve(self, doc: ProviderDoc, path: Path, account: ProviderAccount | None,
                       ) -> tuple[dict[str, str], list[str], list[tuple[Path, str]]]:
        """The credentials to save (the document's, then the stored ones), which of them were kept from storage,
        and the document's refused credentials."""
        stored = await self._providers.credentials(account.id) if account is not None else None
        given, refused = self._credentials.credentials(doc, path, stored)
        kept = [name for name in stored or {} if name not in given]
        return {**(stored or {}), **given}, kept, refused

    async def _changed(self, account: ProviderAccount, spec: ProviderSpec, kept: list[str]) -> bool:
        stored = await self._providers.credentials(account.id)
        settings = self._providers.validate(account, spec, kept)
        return settings != account.settings or (spec.name or spec.key) != account.name or spec.credentials != stored

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
