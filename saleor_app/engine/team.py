"""The team directory's use cases: record the staff member who opened the app, sync Saleor's staff (with
MANAGE_STAFF), and edit members and groups by hand — refusing a group that names no such member, and a member
that a group or rule still names."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from saleor_app.domain.employee_ports import StaffDirectory, TeamStore
from saleor_app.domain.errors import AppAccessLost, Refused
from saleor_app.domain.installations import Installation
from saleor_app.domain.ports import Clock
from saleor_app.domain.team import GroupSpec, MemberSource, MemberSpec, TeamGroup, TeamMember, unknown_keys
from saleor_app.engine.configure import ConfigurationError

MANAGE_STAFF = "MANAGE_STAFF"


@dataclass(frozen=True, slots=True)
class SyncReport:
    added: list[str]
    updated: list[str]


class ManageTeam:
    def __init__(self, team: TeamStore, staff: StaffDirectory, clock: Clock) -> None:
        self._team = team
        self._staff = staff
        self._clock = clock

    async def record_me(self, installation: Installation, user_id: str | None, email: str | None,
                        dashboard_token: str) -> TeamMember:
        """The staff member behind a Dashboard token; the name comes from Saleor (`me`, asked with the token)."""
        if not user_id or not email:
            raise Refused(422, "the Dashboard token carries no user id or e-mail; open the app as a staff user",
                          "no_user")
        me = await self._staff.me(installation.saleor_api_url, dashboard_token)
        name = me.name if me is not None and me.user_id == user_id else ""
        return await self._team.record_staff(installation.id, user_id, email, name, self._clock.now(),
                                             source=MemberSource.DASHBOARD)

    async def sync(self, installation: Installation, granted: frozenset[str]) -> SyncReport:
        """`granted`: the app's permissions now (the Dashboard token carries them; a permission granted later
        through AppBridge is not in what the app stored at install)."""
        if MANAGE_STAFF not in granted:
            raise Refused(409, "syncing the staff list needs the MANAGE_STAFF permission: grant it to the app in "
                               "the Dashboard (the app asks through AppBridge), then sync again", "no_permission")
        try:
            users = await self._staff.staff(installation)
        except AppAccessLost as exc:
            raise Refused(409, f"Saleor refused the staff list: {exc}", "no_permission") from exc
        known = {member.saleor_user_id for member in await self._team.members(installation.id)}
        report = SyncReport([], [])
        for user in users:
            member = await self._team.record_staff(installation.id, user.user_id, user.email, user.name,
                                                   self._clock.now(), source=MemberSource.SALEOR)
            (report.updated if user.user_id in known else report.added).append(member.key)
        return report

    async def save_member(self, installation_id: int, spec: MemberSpec) -> TeamMember:
        return await self._team.save_member(installation_id, spec, self._clock.now())

    async def set_away(self, installation_id: int, key: str, away: bool) -> TeamMember:
        member = await self._team.set_away(installation_id, key, away, self._clock.now())
        if member is None:
            raise Refused(404, f"there is no member {key!r}", "unknown_member")
        return member

    async def delete_member(self, installation_id: int, key: str) -> None:
        """Refused while a group names the member (edit the group first); rules naming it skip it afterwards."""
        users = [group.key for group in await self._team.groups(installation_id) if key in group.member_keys]
        if users:
            raise Refused(409, f"member {key} is in group {', '.join(users)}; take it out of the group first",
                          "member_in_use")
        if not await self._team.delete_member(installation_id, key):
            raise Refused(404, f"there is no member {key!r}", "unknown_member")

    async def save_group(self, installation_id: int, spec: GroupSpec) -> TeamGroup:
        members = {member.key for member in await self._team.members(installation_id)}
        problems = unknown_keys(spec.members, members, "member")
        if problems:
            raise ConfigurationError("members", "; ".join(problems))
        return await self._team.save_group(installation_id, spec, self._clock.now())

    async def delete_group(self, installation_id: int, key: str) -> None:
        if not await self._team.delete_group(installation_id, key):
            raise Refused(404, f"there is no group {key!r}", "unknown_group")

    async def members(self, installation_id: int) -> Sequence[TeamMember]:
        return await self._team.members(installation_id)

    async def groups(self, installation_id: int) -> Sequence[TeamGroup]:
        return await self._team.groups(installation_id)
