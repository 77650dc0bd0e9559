"""Employee automation in the configuration file: the `team`, `sequences` and `workflows` sections, and the
references rules make to them (members, groups, workflows), checked before anything is saved. Pure.

The sections are optional: a file without `team:` leaves the team as it is; with it, the members and groups it
lists are added or updated (members who opened the app or came from Saleor are never removed by an import).
`sequences:` adds or updates (a sequence never goes back). `workflows:`, when present, is the whole set: a stored
workflow the file leaves out is deleted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from saleor_app.domain.tasks import MAX_TASK_RULE_KEY
from saleor_app.domain.team import GroupSpec, MemberSpec
from saleor_app.domain.workflows import WorkflowSpec, find_cycle

Path = tuple[str | int, ...]


class TeamSection(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    members: tuple[MemberSpec, ...] = ()
    groups: tuple[GroupSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class Known:
    """The keys rules may name: stored ones plus those a file adds."""

    members: frozenset[str]
    groups: frozenset[str]
    workflows: frozenset[str]


def rule_references(kind: str, config: Mapping[str, Any], known: Known) -> list[tuple[str, str]]:
    """(field, problem) for every member, group or workflow a rule's config names that does not exist."""
    found: list[tuple[str, str]] = []

    def need(field: str, key: object, pool: frozenset[str], what: str) -> None:
        if isinstance(key, str) and key not in pool:
            found.append((field, f"there is no {what} {key!r}; known: {', '.join(sorted(pool)) or 'none yet'}"))

    assignee = config.get("assignee") if kind == "create_task" else config if kind == "set_responsible" else None
    if isinstance(assignee, Mapping):
        need("member", assignee.get("member"), known.members, "team member")
        need("group", assignee.get("group"), known.groups, "group")
    if kind == "notify_team":
        for key in config.get("members") or ():
            need("members", key, known.members, "team member")
        for key in config.get("groups") or ():
            need("groups", key, known.groups, "group")
    if kind == "run_workflow":
        need("workflow", config.get("workflow"), known.workflows, "workflow")
    return found


def task_rule_key_problem(kind: str, key: str) -> str | None:
    if kind == "create_task" and len(key) > MAX_TASK_RULE_KEY:
        return (f"a create_task rule's key may have at most {MAX_TASK_RULE_KEY} characters (task_completed "
                "triggers name it)")
    return None


def section_problems(team: TeamSection | None, workflows: Sequence[WorkflowSpec] | None,
                     stored_members: Iterable[str]) -> list[tuple[Path, str]]:
    """Problems inside the sections: a group naming nobody known, a workflow step naming an unknown workflow or
    starting a cycle."""
    problems: list[tuple[Path, str]] = []
    if team is not None:
        members = set(stored_members) | {member.key for member in team.members}
        for index, group in enumerate(team.groups):
            for key in group.members:
                if key not in members:
                    problems.append((("team", "groups", index, "members"), f"there is no team member {key!r}"))
    if workflows is not None:
        keys = [workflow.key for workflow in workflows]
        for index, workflow in enumerate(workflows):
            if keys.index(workflow.key) != index:
                problems.append((("workflows", index, "key"), f"workflow key {workflow.key!r} is used twice"))
            for step_index, step in enumerate(workflow.steps):
                started = step.config.get("workflow") if step.kind == "run_workflow" else None
                if isinstance(started, str) and started not in keys:
                    problems.append((("workflows", index, "steps", step_index, "workflow"),
                                     f"there is no workflow {started!r} in this file"))
        cycle = find_cycle({workflow.key: workflow.started() for workflow in workflows})
        if cycle is not None:
            problems.append((("workflows",), f"workflow {cycle[0]} would start itself ({' → '.join(cycle)})"))
    return problems
