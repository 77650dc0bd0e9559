"""Who an employee rule addresses: a named member, the next in a group's rotation, or the order's responsible
person — and why nobody, when nobody (a job is skipped with that reason)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from saleor_app.domain.employee_kinds import Assignee
from saleor_app.domain.employee_ports import TeamStore
from saleor_app.domain.errors import SkipJob
from saleor_app.domain.team import TeamMember
from saleor_app.domain.template_fields import PRIVATE_METADATA_RESPONSIBLE_KEY


@dataclass(frozen=True, slots=True)
class Chosen:
    member: TeamMember
    how: str  # "jane", "jane, next in group packers (skipping bob: away)", "jane (responsible)"


def responsible_key(snapshot: Mapping[str, Any]) -> str | None:
    for item in snapshot.get("privateMetadata") or []:
        if isinstance(item, Mapping) and item.get("key") == PRIVATE_METADATA_RESPONSIBLE_KEY and item.get("value"):
            return str(item["value"])
    return None


async def named_member(team: TeamStore, installation_id: int, key: str, role: str = "member") -> TeamMember:
    members = {member.key: member for member in await team.members(installation_id)}
    member = members.get(key)
    if member is None:
        raise SkipJob(f"{role} {key} was removed from the team since the rule was saved")
    return member


async def choose(team: TeamStore, installation_id: int, assignee: Assignee, snapshot: Mapping[str, Any],
                 job_id: int, now: datetime) -> Chosen:
    if assignee.member is not None:
        member = await named_member(team, installation_id, assignee.member)
        return Chosen(member, member.key)
    if assignee.group is not None:
        result = await team.pick(installation_id, assignee.group, job_id, now)
        if result.member is None:
            raise SkipJob(result.reason)
        return Chosen(result.member, result.reason)
    key = responsible_key(snapshot)
    if key is None:
        raise SkipJob("the order has no responsible person yet (a responsible-person rule sets one)")
    member = await named_member(team, installation_id, key, "the responsible person")
    return Chosen(member, f"{member.key} (responsible)")


def describe(assignee: Assignee) -> str:
    if assignee.member is not None:
        return assignee.member
    if assignee.group is not None:
        return f"the next member of group {assignee.group}"
    return "the order's responsible person"
