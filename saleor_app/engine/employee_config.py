"""Employee automation as code: the team, sequences and workflows sections of the configuration file, and the
references of rules and workflow steps to members, groups and workflows — refused on save when unknown.

Written in the import's one transaction with the rules, and only once every check has passed: a refused file,
or a write that fails anywhere in the import, changes nothing here either.
"""

from __future__ import annotations

from collections.abc import Sequence

from saleor_app.domain.config_document import ConfigDocument, ConfigProblem
from saleor_app.domain.config_yaml import Path
from saleor_app.domain.employee_config import (
    Known,
    TeamSection,
    rule_references,
    section_problems,
    task_rule_key_problem,
)
from saleor_app.domain.employee_ports import SequenceStore, TeamStore, WorkflowStore
from saleor_app.domain.ports import AutomationTransaction, Clock
from saleor_app.domain.rules import RuleSpec
from saleor_app.domain.sequences import SequenceSpec
from saleor_app.domain.team import GroupSpec, MemberSpec
from saleor_app.domain.workflows import WorkflowSpec
from saleor_app.engine.workflows import SaveWorkflows


class EmployeeConfigSections:
    def __init__(self, team: TeamStore, sequences: SequenceStore, workflows: WorkflowStore,
                 save_workflows: SaveWorkflows, clock: Clock) -> None:
        self._team = team
        self._sequences = sequences
        self._workflows = workflows
        self._save_workflows = save_workflows
        self._clock = clock

    async def _known(self, installation_id: int, document: ConfigDocument | None = None) -> Known:
        members = {member.key for member in await self._team.members(installation_id)}
        groups = {group.key for group in await self._team.groups(installation_id)}
        workflows = {workflow.key for workflow in await self._workflows.workflows(installation_id)}
        if document is not None and document.team is not None:
            members |= {member.key for member in document.team.members}
            groups |= {group.key for group in document.team.groups}
        if document is not None and document.workflows is not None:
            workflows = {workflow.key for workflow in document.workflows}
        return Known(frozenset(members), frozenset(groups), frozenset(workflows))

    async def rule_problems(self, installation_id: int, spec: RuleSpec) -> list[tuple[str, str]]:
        found = [(f"config.{field}", message)
                 for field, message in rule_references(spec.kind, spec.config, await self._known(installation_id))]
        long_key = task_rule_key_problem(spec.kind, spec.key)
        return found + ([("key", long_key)] if long_key else [])

    async def problems(self, installation_id: int, document: ConfigDocument,
                       rules: Sequence[tuple[Path, RuleSpec]]) -> list[ConfigProblem]:
        known = await self._known(installation_id, document)
        stored_members = [member.key for member in await self._team.members(installation_id)]
        found = [ConfigProblem(path, message) for path, message in
                 section_problems(document.team, document.workflows, stored_members)]
        for path, spec in rules:
            found += [ConfigProblem((*path, field), message)
                      for field, message in rule_references(spec.kind, spec.config, known)]
            long_key = task_rule_key_problem(spec.kind, spec.key)
            if long_key:
                found.append(ConfigProblem((*path, "key"), long_key))
        for index, workflow in enumerate(document.workflows or ()):
            for step_index, step in enumerate(workflow.steps):
                found += [ConfigProblem(("workflows", index, "steps", step_index, "config", field), message)
                          for field, message in rule_references(step.kind, step.config, known)]
        return found

    async def apply(self, tx: AutomationTransaction, installation_id: int, document: ConfigDocument, *,
                    dry_run: bool) -> list[str]:
        lines: list[str] = []
        if document.team is not None:
            lines += await self._apply_team(self._team.within(tx), installation_id, document.team, dry_run)
        if document.sequences is not None:
            lines += await self._apply_sequences(self._sequences.within(tx), installation_id, document.sequences,
                                                 dry_run)
        if document.workflows is not None:
            lines += await self._apply_workflows(tx, installation_id, document.workflows, dry_run)
        return lines

    async def _apply_team(self, store: TeamStore, installation_id: int, team: TeamSection, dry_run: bool
                          ) -> list[str]:
        now = self._clock.now()
        members = {member.key: member for member in await store.members(installation_id)}
        groups = {group.key: group for group in await store.groups(installation_id)}
        added: list[str] = []
        changed: list[str] = []
        for spec in team.members:
            stored = members.get(spec.key)
            if stored is not None and (stored.name, stored.email, stored.phone, stored.away) == (
                    spec.name, spec.email, spec.phone, spec.away):
                continue
            (added if stored is None else changed).append(spec.key)
            if not dry_run:
                await store.save_member(installation_id, spec, now)
        for group in team.groups:
            old = groups.get(group.key)
            if old is not None and (old.name, old.member_keys) == (group.name, group.members):
                continue
            (added if old is None else changed).append(f"group {group.key}")
            if not dry_run:
                await store.save_group(installation_id, group, now)
        return ([f"team added: {', '.join(added)}"] if added else []) + (
            [f"team changed: {', '.join(changed)}"] if changed else [])

    async def _apply_sequences(self, store: SequenceStore, installation_id: int, specs: Sequence[SequenceSpec],
                               dry_run: bool) -> list[str]:
        stored = {sequence.key: sequence for sequence in await store.sequences(installation_id)}
        touched = []
        for spec in specs:
            old = stored.get(spec.key)
            if old is not None and (old.prefix, old.padding) == (spec.prefix, spec.padding) and \
                    spec.start <= old.next_value:
                continue
            touched.append(spec.key)
            if not dry_run:
                await store.save_sequence(installation_id, spec, self._clock.now())
        return [f"sequences added or changed: {', '.join(touched)}"] if touched else []

    async def _apply_workflows(self, tx: AutomationTransaction, installation_id: int, specs: Sequence[WorkflowSpec],
                               dry_run: bool) -> list[str]:
        stored = {workflow.key: workflow for workflow in await self._workflows.within(tx).workflows(installation_id)}
        wanted = {spec.key for spec in specs}
        changed = [spec for spec in specs if spec.key not in stored or stored[spec.key].spec != spec]
        removed = [key for key in stored if key not in wanted]
        if not dry_run:  # checked with the whole file already (references, cycles)
            for key in removed:
                await self._save_workflows.remove(tx, installation_id, key)
            for spec in changed:
                await self._save_workflows.write(tx, installation_id, spec)
        return ([f"workflows added or changed: {', '.join(spec.key for spec in changed)}"] if changed else []) + (
            [f"workflows removed: {', '.join(removed)}"] if removed else [])

    async def export(self, installation_id: int, document: ConfigDocument) -> ConfigDocument:
        members = await self._team.members(installation_id)
        groups = await self._team.groups(installation_id)
        team = TeamSection(
            members=tuple(MemberSpec(key=m.key, name=m.name, email=m.email, phone=m.phone, away=m.away)
                          for m in members if m.email or m.phone),
            groups=tuple(GroupSpec(key=g.key, name=g.name, members=g.member_keys) for g in groups),
        ) if members or groups else None
        sequences = tuple(SequenceSpec(key=s.key, prefix=s.prefix, padding=s.padding, start=s.next_value)
                          for s in await self._sequences.sequences(installation_id))
        workflows = tuple(w.spec for w in await self._workflows.workflows(installation_id))
        return document.model_copy(update={"team": team, "sequences": sequences or None,
                                           "workflows": workflows or None})

