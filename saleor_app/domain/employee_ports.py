"""Ports of employee automation: the team directory, sequences, tasks, workflows, the outbound HTTP client and
Saleor's staff — small interfaces the engine uses, implemented by adapters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from saleor_app.domain.installations import Installation
from saleor_app.domain.jobs import JobAttempt
from saleor_app.domain.ports import AutomationTransaction
from saleor_app.domain.rules import Rule
from saleor_app.domain.sequences import NumberSequence, SequenceSpec
from saleor_app.domain.tasks import NewTask, Task, TaskState
from saleor_app.domain.team import GroupSpec, MemberSource, MemberSpec, TeamGroup, TeamMember
from saleor_app.domain.workflows import Workflow, WorkflowSpec


@dataclass(frozen=True, slots=True)
class RotationResult:
    member: TeamMember | None  # None: nobody could take it (`reason` says why)
    reason: str
    reused: bool = False  # the job had picked this member before (a retry or replay)


class TeamStore(Protocol):
    def within(self, tx: AutomationTransaction) -> TeamStore:
        """This store inside `tx` (a configuration import writes it with the rules, all or nothing)."""
        ...

    async def members(self, installation_id: int) -> list[TeamMember]: ...

    async def save_member(self, installation_id: int, spec: MemberSpec, now: datetime, *,
                          source: MemberSource = MemberSource.MANUAL) -> TeamMember:
        """Insert or update the member with that key."""
        ...

    async def record_staff(self, installation_id: int, user_id: str, email: str, name: str, now: datetime, *,
                           source: MemberSource) -> TeamMember:
        """Insert or update the member of this Saleor user (a new one gets a key from the e-mail)."""
        ...

    async def set_away(self, installation_id: int, key: str, away: bool, now: datetime) -> TeamMember | None: ...

    async def delete_member(self, installation_id: int, key: str) -> bool: ...

    async def groups(self, installation_id: int) -> list[TeamGroup]: ...

    async def save_group(self, installation_id: int, spec: GroupSpec, now: datetime) -> TeamGroup: ...

    async def delete_group(self, installation_id: int, key: str) -> bool: ...

    async def pick(self, installation_id: int, group_key: str, job_id: int, now: datetime) -> RotationResult:
        """The next member of the group's rotation for this job, once: the same job gets the same member again."""
        ...


class SequenceStore(Protocol):
    def within(self, tx: AutomationTransaction) -> SequenceStore:
        """This store inside `tx` (a configuration import writes it with the rules, all or nothing)."""
        ...

    async def sequences(self, installation_id: int) -> list[NumberSequence]: ...

    async def save_sequence(self, installation_id: int, spec: SequenceSpec, now: datetime) -> NumberSequence: ...

    async def delete_sequence(self, installation_id: int, key: str) -> bool: ...

    async def allocate(self, installation_id: int, key: str, job_id: int, now: datetime) -> str:
        """The job's number of sequence `key` (formatted), allocated on the first call and returned again after."""
        ...

    async def peek(self, installation_id: int, key: str) -> str:
        """The number the next allocation would return, allocating nothing (previews, dry runs)."""
        ...


class TaskStore(Protocol):
    async def create_task(self, task: NewTask, now: datetime) -> tuple[Task, bool]:
        """The job's task, created on the first call (True) and returned as it is after (False)."""
        ...

    async def task(self, installation_id: int, task_id: int) -> Task | None: ...

    async def tasks(self, installation_id: int, *, state: TaskState | None = None, assignee: str | None = None,
                    order_row_id: int | None = None, before_id: int | None = None, limit: int = 100) -> list[Task]:
        ...

    async def close_task(self, installation_id: int, task_id: int, state: TaskState, by: str,
                         now: datetime) -> Task | None:
        """Close an open task; None when it was not open (closed already, or someone else closed it first)."""
        ...


class WorkflowStore(Protocol):
    def within(self, tx: AutomationTransaction) -> WorkflowStore:
        """This store inside `tx` (a configuration import writes it with the rules, all or nothing)."""
        ...

    async def workflows(self, installation_id: int) -> list[Workflow]: ...

    async def workflow(self, installation_id: int, key: str) -> Workflow | None: ...

    async def steps(self, workflow: Workflow) -> list[Rule]:
        """The workflow's steps as rules (jobs run them like rules), in order."""
        ...

    async def save_workflow(self, installation_id: int, spec: WorkflowSpec, now: datetime) -> Workflow: ...

    async def delete_workflow(self, installation_id: int, key: str) -> bool: ...


class SigningSecrets(Protocol):
    async def secret(self, installation_id: int, now: datetime) -> str:
        """The installation's signing secret (plain), created on first use."""
        ...

    async def rotate(self, installation_id: int, now: datetime) -> str: ...


@dataclass(frozen=True, slots=True)
class OutboundAnswer:
    status: int
    excerpt: str  # the start of the body, capped


class OutboundPoster(Protocol):
    async def post_json(self, url: str, body: bytes, headers: Mapping[str, str]) -> OutboundAnswer:
        """POST through the SSRF guard. Raises PermanentError for refused targets and redirects, RetryableError
        for the transient (network, timeouts); any status is answered."""
        ...


@dataclass(frozen=True, slots=True)
class StaffUser:
    user_id: str
    email: str
    name: str
    active: bool = True


class StaffDirectory(Protocol):
    async def me(self, saleor_api_url: str, dashboard_token: str) -> StaffUser | None:
        """Who this Dashboard token is, asked of Saleor with the token itself (the token carries no name)."""
        ...

    async def staff(self, installation: Installation) -> Sequence[StaffUser]:
        """Every active staff user; needs MANAGE_STAFF (AppAccessLost without it)."""
        ...


class MetadataEraser(Protocol):
    async def delete_metadata(self, object_id: str, keys: Sequence[str]) -> dict[str, Any]: ...

    async def delete_private_metadata(self, object_id: str, keys: Sequence[str]) -> dict[str, Any]: ...


class TeamMessenger(Protocol):
    """E-mail and SMS to staff, through the providers' sending services (issues 5 and 6). SkipJob when the
    channel is not connected; the provider's errors otherwise. Returns what was sent, for the log."""

    async def email(self, installation_id: int, *, mailbox: str | None, to: str, subject: str, text: str,
                    job: JobAttempt, order_row_id: int) -> str: ...

    async def sms(self, installation_id: int, *, to: str, text: str, job: JobAttempt, order_row_id: int) -> str: ...
