"""Tasks: the create-task rule (assignee, due date, priority, an order note, an optional e-mail to the assignee)
and closing a task (done or cancelled) from the app's page.

A job creates at most one task (the store keys it by the job), so a retry or replay finds its task instead of
making a second. Completing a task stores an inbox item `task:<rule key>` for its order: the engine then
re-reads the order and fires `task_completed` triggers and event rules like any event.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import orjson

from saleor_app.domain import templates
from saleor_app.domain.automation import Activity
from saleor_app.domain.config_document import parse_duration
from saleor_app.domain.employee_kinds import CreateTaskConfig
from saleor_app.domain.employee_ports import TaskStore, TeamMessenger, TeamStore
from saleor_app.domain.errors import AutomationError, PermanentError, Refused, RunTakenOver
from saleor_app.domain.ports import AutomationStore, Clock, WebhookInbox
from saleor_app.domain.tasks import NewTask, Task, TaskState, task_inbox_event
from saleor_app.domain.webhooks import triage
from saleor_app.engine.actions import PreviewContext
from saleor_app.engine.assignees import choose, describe
from saleor_app.engine.execute import ActionContext


def _texts(config: CreateTaskConfig, ctx: ActionContext | PreviewContext) -> tuple[str, str]:
    key = ctx.rule.stage_key or ctx.order.stage_key
    context = templates.build_context(ctx.order.snapshot, shop_name="", stage=(key, key) if key else None)
    title = " ".join(templates.render(config.title, context).split())
    if not title:
        raise PermanentError("the task title rendered empty for this order")
    return title[:500], templates.render(config.description, context) if config.description else ""


class CreateTaskAction:
    def __init__(self, team: TeamStore, tasks: TaskStore, messenger: TeamMessenger | None, clock: Clock) -> None:
        self._team = team
        self._tasks = tasks
        self._messenger = messenger
        self._clock = clock

    async def __call__(self, ctx: ActionContext) -> str:
        assert isinstance(ctx.config, CreateTaskConfig)
        config, now = ctx.config, self._clock.now()
        chosen = await choose(self._team, ctx.installation.id, config.assignee, ctx.order.snapshot, ctx.job.id, now)
        title, description = _texts(config, ctx)
        due = now + timedelta(seconds=parse_duration(config.due_in)) if config.due_in else None
        task, created = await self._tasks.create_task(NewTask(
            installation_id=ctx.installation.id, order_row_id=ctx.order.id, job_id=ctx.job.id,
            rule_key=ctx.rule.key, title=title, description=description, assignee_key=chosen.member.key,
            assignee_label=chosen.member.label, priority=config.priority, due_at=due), now)
        done = [f"task #{task.id} {'created' if created else 'exists already'} for {chosen.how}: {title}"]
        if created and config.note:
            when = f", due {due.isoformat(timespec='minutes')}" if due else ""
            await ctx.gateway.add_note(ctx.order.order_id, f"Task #{task.id} for {chosen.member.label} "
                                                           f"({config.priority}{when}): {title}")
            done.append("noted on the order")
        if created and config.email_assignee:
            done.append(await self._email(ctx, config, task, chosen.member.email))
        return "; ".join(done)

    async def _email(self, ctx: ActionContext, config: CreateTaskConfig, task: Task, to: str | None) -> str:
        """The task exists whatever happens here: a failed e-mail is reported, not retried (that would not
        re-send it: the task is found, not created)."""
        if to is None:
            return f"no e-mail: {task.assignee_key} has no e-mail address"
        if self._messenger is None:
            return "no e-mail: e-mail is not set up in this app"
        try:
            return await self._messenger.email(
                ctx.installation.id, mailbox=config.mailbox, to=to, subject=f"New task: {task.title}",
                text=f"{task.title}\n\nOrder {ctx.order.number or ctx.order.order_id}, priority {task.priority}"
                     + (f", due {task.due_at.isoformat(timespec='minutes')}" if task.due_at else "")
                     + (f"\n\n{task.description}" if task.description else ""),
                job=ctx.job.run, order_row_id=ctx.order.id)
        except RunTakenOver:
            raise  # not this run's job any more: nothing to say on it
        except AutomationError as exc:
            return f"e-mail to {to} not sent: {exc}"


def preview_task(ctx: PreviewContext) -> str:
    assert isinstance(ctx.config, CreateTaskConfig)
    title, _ = _texts(ctx.config, ctx)
    due = f", due in {ctx.config.due_in}" if ctx.config.due_in else ""
    return f"would create the task {title!r} for {describe(ctx.config.assignee)} ({ctx.config.priority}{due})"


class CloseTask:
    """Complete or cancel a task; completing one raises `task_completed` for its order."""

    def __init__(self, tasks: TaskStore, store: AutomationStore, inbox: WebhookInbox, clock: Clock,
                 on_stored: Callable[[], None] | None = None) -> None:
        self._tasks = tasks
        self._store = store
        self._inbox = inbox
        self._clock = clock
        self.on_stored = on_stored  # wiring sets it to wake the runner

    async def __call__(self, installation_id: int, task_id: int, state: TaskState, by: str) -> Task:
        if state is TaskState.OPEN:
            raise Refused(422, "a task can be completed (done) or cancelled, not reopened", "invalid_state")
        now = self._clock.now()
        task = await self._tasks.close_task(installation_id, task_id, state, by, now)
        if task is None:
            found = await self._tasks.task(installation_id, task_id)
            if found is None:
                raise Refused(404, f"there is no task {task_id}", "unknown_task")
            raise Refused(409, f"task {task_id} is {found.state.value} already", "task_closed")
        verb = "completed" if state is TaskState.DONE else "cancelled"
        async with self._store.transaction() as tx:
            await tx.log(Activity(installation_id, "task", f"task #{task.id} {verb} by {by}: {task.title}",
                                  order_row_id=task.order_row_id, rule_key=task.rule_key), now)
        if state is TaskState.DONE:
            body = orjson.dumps({"order": {"id": task.order_id}, "task": {"id": task.id, "rule": task.rule_key}})
            stored = await self._inbox.store(triage(installation_id, task_inbox_event(task.rule_key), body, now))
            if stored and self.on_stored is not None:
                self.on_stored()
        return task
