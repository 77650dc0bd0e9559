"""Providers and suppressions as code: the `providers:` and `suppressions:` sections of the configuration file.

Checked with everything else before anything is written (kinds, settings, and credentials as the process's
`CredentialSource` allows: through the app only a reference that keeps an existing provider's stored value; on the
operator's shell `${ENV_VAR}` references, an unset one keeping the stored value); the rules' provider checks count
the file's new and changed providers as connected. Then each new or changed provider is checked with a real call,
outside any transaction: any failure refuses the whole file. The import's one transaction writes them, first,
then the rules and triggers, then the listed suppressions; their callbacks are registered after the commit (a
failure there is reported and retried, never rolled back). The file adds and updates: a provider or a suppression
missing from it is kept (removing one unregisters webhooks or lets mail through again, so it is done on purpose,
through the API or the CLI).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from saleor_app.domain.config_document import ConfigDocument, ConfigProblem
from saleor_app.domain.config_yaml import Path
from saleor_app.domain.errors import AutomationError, Refused
from saleor_app.domain.ports import AutomationTransaction
from saleor_app.domain.provider_config import CredentialSource, ProviderDoc, duplicate_keys, exported
from saleor_app.domain.providers import ProviderAccount, ProviderSpec, SuppressionSpec
from saleor_app.domain.rules import RuleSpec
from saleor_app.engine.configure import ConfigSections
from saleor_app.engine.providers import ManageProviders, Probed


@dataclass(frozen=True, slots=True)
class _Change:
    """A provider of the document that is new or changed: written by the import, after a real check."""

    index: int
    spec: ProviderSpec
    account: ProviderAccount | None
    kept: list[str]


class PreparedProviders:
    """The document's new and changed providers, checked (or not, for a dry run): written in the import's
    transaction, their callbacks registered after the commit."""

    def __init__(self, providers: ManageProviders, installation_id: int, changes: list[_Change],
                 probed: dict[str, Probed], problems: list[ConfigProblem]) -> None:
        self._providers = providers
        self._installation_id = installation_id
        self._changes = changes
        self._probed = probed
        self.problems = problems
        self._saved: list[ProviderAccount] = []

    async def write(self, tx: AutomationTransaction, *, dry_run: bool) -> list[str]:
        lines = []
        for change in self._changes:
            done = "added" if change.account is None else "changed"
            probed = self._probed.get(change.spec.key)
            if dry_run:
                lines.append(f"provider {change.spec.key}: would be {done} and checked"
                             + (f" (checked: {probed.reached})" if probed is not None else ""))
                continue
            assert probed is not None, "a provider is written only after its real check"
            self._saved.append(await self._providers.save_probed(tx.providers(), self._installation_id, probed))
            lines.append(f"provider {change.spec.key}: {done}, connected: {probed.reached}")
        return lines

    async def finish(self) -> list[str]:
        """After the commit: register each written provider's callbacks (a Postmark webhook, Twilio's inbound
        URL). A failure is reported and tried again later (ManageProviders.retry_registrations); the import stays."""
        lines = []
        for account in self._saved:
            problem = await self._providers.register(account)
            if problem is not None:
                lines.append(f"provider {account.key}: {problem}")
        return lines


class ProviderConfigSections:
    def __init__(self, providers: ManageProviders, credentials: CredentialSource) -> None:
        self._providers = providers
        self._credentials = credentials

    async def rule_problems(self, installation_id: int, spec: RuleSpec) -> list[tuple[str, str]]:  # noqa: ARG002
        return []  # that an enabled client rule needs a connected provider: ConfigureAutomation (provider_needs)

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

    async def connected(self, installation_id: int, document: ConfigDocument | None) -> set[tuple[str, str]]:
        """(kind, key) of the stored connected providers and, for a document, of its new and changed ones: the
        import writes them only when their real check worked."""
        connected = await self._providers.connected(installation_id)
        if document is not None:
            connected |= {(change.spec.kind, change.spec.key) for change in await self._changes(installation_id,
                                                                                                document)}
        return connected

    async def prepare(self, installation_id: int, document: ConfigDocument, *, call: bool) -> PreparedProviders:
        """Check each new or changed provider with a real call (`call`; a dry run may skip it), outside any
        transaction; each failure is a problem at the provider's place in the file."""
        changes = await self._changes(installation_id, document)
        probed: dict[str, Probed] = {}
        problems: list[ConfigProblem] = []
        for change in changes if call else []:
            try:
                probed[change.spec.key] = await self._providers.probe(change.account, change.spec, change.kept)
            except (Refused, AutomationError) as exc:
                message = str(exc)
                prefix = f"provider {change.spec.key!r}: "
                problems.append(ConfigProblem(("providers", change.index),
                                              message if message.startswith(prefix) else prefix + message))
        return PreparedProviders(self._providers, installation_id, changes, probed, problems)

    async def _changes(self, installation_id: int, document: ConfigDocument) -> list[_Change]:
        stored = {view.account.key: view.account for view in await self._providers.list(installation_id)}
        changes = []
        for index, doc in enumerate(document.providers or ()):
            account = stored.get(doc.key)
            credentials, kept, _ = await self._resolve(doc, (), account)
            spec = ProviderSpec(key=doc.key, kind=doc.kind, name=doc.name, credentials=credentials,
                                settings=doc.settings)
            try:
                changed = account is None or await self._changed(account, spec, kept)
            except Refused:
                changed = True  # refused by `problems` with its reason; counted here so no rule says it twice
            if changed:
                changes.append(_Change(index, spec, account, kept))
        return changes

    async def apply(self, tx: AutomationTransaction, installation_id: int, document: ConfigDocument, *,
                    dry_run: bool) -> list[str]:
        """The suppressions, in the import's transaction (providers are written with the rules, see `prepare`)."""
        lines: list[str] = []
        if document.suppressions:
            store = tx.providers()
            known = {(item.channel, item.address) for item in await store.suppressions(installation_id)}
            new = {(item.channel, item.normalised()): item for item in document.suppressions
                   if (item.channel, item.normalised()) not in known}
            for item in new.values() if not dry_run else []:
                await self._providers.suppress(installation_id, item, store=store)
            if new:
                lines.append(f"suppressions {'would be ' if dry_run else ''}added: "
                             f"{', '.join(address for _, address in new)}")
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

    async def apply(self, tx: AutomationTransaction, installation_id: int, document: ConfigDocument, *,
                    dry_run: bool) -> list[str]:
        return [line for section in self._sections
                for line in await section.apply(tx, installation_id, document, dry_run=dry_run)]

    async def export(self, installation_id: int, document: ConfigDocument) -> ConfigDocument:
        for section in self._sections:
            document = await section.export(installation_id, document)
        return document
