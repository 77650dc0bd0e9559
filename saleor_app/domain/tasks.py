"""Tasks for staff, created by rules: what they are, their states, and the event their completion raises. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from saleor_app.domain.events import OrderEvent, event_type


class TaskState(StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Task:
    id: int
    installation_id: int
    order_row_id: int
    order_id: str
    order_number: str | None
    job_id: int | None
    rule_key: str
    title: str
    description: str
    assignee_key: str | None
    assignee_label: str
    priority: str
    due_at: datetime | None
    state: TaskState
    created_at: datetime
    closed_at: datetime | None = None
    closed_by: str | None = None


@dataclass(frozen=True, slots=True)
class NewTask:
    installation_id: int
    order_row_id: int
    job_id: int
    rule_key: str
    title: str
    description: str
    assignee_key: str | None
    assignee_label: str
    priority: str
    due_at: datetime | None


TASK_COMPLETED = event_type("task_completed")  # registered in domain/events.py
TASK_EVENT_PREFIX = "task:"  # the inbox event of a completed task: "task:<rule key of the task's rule>"
MAX_TASK_RULE_KEY = 64 - len(TASK_EVENT_PREFIX)  # the inbox's event column holds 64 characters


def task_inbox_event(rule_key: str) -> str:
    return f"{TASK_EVENT_PREFIX}{rule_key[:MAX_TASK_RULE_KEY]}"


class _Delivery(Protocol):  # an inbox item (domain.ports.InboxItem; not imported: ports imports the kinds)
    @property
    def id(self) -> int: ...

    @property
    def event(self) -> str: ...


def task_events(items: Sequence[_Delivery]) -> list[OrderEvent]:
    """Completed tasks among an order's deliveries; each is an occurrence of its own (`params: {rule: KEY}`
    narrows a trigger to one task rule's tasks)."""
    return [OrderEvent(TASK_COMPLETED.name, f"task:{item.id}", {"rule": item.event[len(TASK_EVENT_PREFIX):]})
            for item in items if item.event.startswith(TASK_EVENT_PREFIX)]
