"""Workflows: saving them (a workflow that would start itself is refused) and the run-workflow rule, which plans
the workflow's steps as jobs for the order.

The jobs of a run belong to the stage entry the order is in when the run starts — leaving the stage cancels them
like the stage's own jobs — unless the workflow outlives the stage. They are keyed by the run's job, so a retried
or replayed run plans nothing twice.
"""

from __future__ import annotations

from saleor_app.domain.automation import Activity, NewJob
from saleor_app.domain.employee_config import Known, rule_references
from saleor_app.domain.employee_kinds import RunWorkflowConfig
from saleor_app.domain.employee_ports import TeamStore, WorkflowStore
from saleor_app.domain.errors import SkipJob
from saleor_app.domain.jobs import PENDING, JobState
from saleor_app.domain.planning import idempotency_key, plan_entry
from saleor_app.domain.ports import AutomationStore, AutomationTransaction, Clock
from saleor_app.domain.workflows import Workflow, WorkflowSpec, cycle_problem
from saleor_app.engine.actions import PreviewContext
from saleor_app.engine.configure import ConfigurationError
from saleor_app.engine.execute import ActionContext, settle_successors


class RunWorkflowAction:
    def __init__(self, store: AutomationStore, workflows: WorkflowStore, clock: Clock) -> None:
        self._store = store
        self._workflows = workflows
        self._clock = clock

    async def __call__(self, ctx: ActionContext) -> str:
        assert isinstance(ctx.config, RunWorkflowConfig)
        workflow = await self._workflows.workflow(ctx.installation.id, ctx.config.workflow)
        if workflow is None:
            raise SkipJob(f"workflow {ctx.config.workflow} was removed since the rule was saved")
        if not workflow.enabled:
            raise SkipJob(f"workflow {workflow.key} is disabled")
        steps = await self._workflows.steps(workflow)
        now = self._clock.now()
        order = ctx.order
        async with self._store.transaction() as tx:
            entry = None if workflow.outlive_stage else await tx.open_entry(order.id)
            settings = await tx.settings(order.installation_id)
            plan = plan_entry(steps, entered_at=now, zone=settings.zone)
            ids: list[int | None] = []
            activities = []
            for planned in plan:
                step = planned.rule
                job_id = await tx.add_job(NewJob(
                    installation_id=order.installation_id, order_row_id=order.id,
                    entry_id=entry.id if entry is not None else None, rule_id=step.id, rule_key=step.key,
                    kind=step.kind,
                    idempotency_key=idempotency_key(order.installation_id, order.order_id,
                                                    f"workflow-run:{ctx.job.id}", step.key),
                    state=planned.state, due_at=planned.due_at,
                    predecessor_id=ids[planned.predecessor] if planned.predecessor is not None else None,
                ), now)
                ids.append(job_id)
                if job_id is not None:
                    activities.append(Activity(order.installation_id, "job", f"planned {step.key} ({step.kind}) "
                                               f"by workflow {workflow.key}", order_row_id=order.id, job_id=job_id,
                                               state=planned.state.value, rule_key=step.key))
            await tx.log_many(activities, now)
        planned_count = sum(1 for job_id in ids if job_id is not None)
        scope = "outlives the stage" if workflow.outlive_stage else \
            f"belongs to the stage entry in {entry.stage_key}" if entry is not None else "no open stage entry"
        return (f"workflow {workflow.key} started: {planned_count} step job(s) planned ({scope})" if planned_count
                else f"workflow {workflow.key} was started by this job before; nothing planned again")


def preview_workflow(ctx: PreviewContext) -> str:
    assert isinstance(ctx.config, RunWorkflowConfig)
    return f"would start workflow {ctx.config.workflow} for the order"


def _starting(spec: WorkflowSpec, targets: set[str]) -> str:
    """The field to blame: the first run_workflow step that starts one of `targets` (the editor shows the
    message beside it), or the steps as a whole."""
    for index, step in enumerate(spec.steps):
        if step.kind == "run_workflow" and str(step.config.get("workflow")) in targets:
            return f"steps[{index}].config.workflow"
    return "steps"


def _leading_back(graph: dict[str, set[str]], start: str) -> set[str]:
    """The workflows `start` starts from which a chain of starts comes back to `start` (itself included)."""
    def reaches(node: str, seen: set[str]) -> bool:
        if node == start:
            return True
        seen.add(node)
        return any(reaches(nxt, seen) for nxt in graph.get(node, ()) if nxt not in seen)
    return {target for target in graph.get(start, ()) if reaches(target, set())}


class SaveWorkflows:
    """Save or delete workflows; a change that would let a workflow start itself is refused. Pending jobs of
    removed steps (or of a disabled workflow) are cancelled."""

    def __init__(self, store: AutomationStore, workflows: WorkflowStore, team: TeamStore, clock: Clock) -> None:
        self._store = store
        self._workflows = workflows
        self._team = team
        self._clock = clock

    async def save(self, installation_id: int, spec: WorkflowSpec) -> Workflow:
        stored = await self._workflows.workflows(installation_id)
        known = {workflow.key for workflow in stored} | {spec.key}
        missing = sorted(spec.started() - known)
        if missing:
            raise ConfigurationError(_starting(spec, {missing[0]}), f"there is no workflow {missing[0]!r} to start")
        team = Known(frozenset(m.key for m in await self._team.members(installation_id)),
                     frozenset(g.key for g in await self._team.groups(installation_id)), frozenset(known))
        for index, step in enumerate(spec.steps):
            for field, message in rule_references(step.kind, step.config, team):
                raise ConfigurationError(f"steps[{index}].config.{field}", message)
        graph = {workflow.key: workflow.spec.started() for workflow in stored} | {spec.key: spec.started()}
        problem = cycle_problem([spec], [workflow.spec for workflow in stored])
        if problem is not None:
            raise ConfigurationError(_starting(spec, _leading_back(graph, spec.key)), problem)
        async with self._store.transaction() as tx:
            return await self.write(tx, installation_id, spec)

    async def write(self, tx: AutomationTransaction, installation_id: int, spec: WorkflowSpec) -> Workflow:
        """Save a workflow already checked, inside `tx` (a configuration import writes its workflows with the
        rules), cancelling the pending jobs of the steps it drops."""
        workflows = self._workflows.within(tx)
        before = await workflows.workflow(installation_id, spec.key)
        old_steps = await workflows.steps(before) if before is not None else []
        saved = await workflows.save_workflow(installation_id, spec, self._clock.now())
        kept = {step.key for step in await workflows.steps(saved)} if saved.enabled else set()
        await self._cancel(tx, [step.id for step in old_steps if step.key not in kept],
                           "cancelled: the workflow step was removed or the workflow disabled")
        return saved

    async def delete(self, installation_id: int, key: str) -> None:
        workflow = await self._workflows.workflow(installation_id, key)
        if workflow is None:
            raise ConfigurationError("key", f"there is no workflow {key!r}")
        users = [other.key for other in await self._workflows.workflows(installation_id)
                 if key in other.spec.started() and other.key != key]
        if users:
            raise ConfigurationError("key", f"workflow {key} is started by workflow {', '.join(users)}")
        async with self._store.transaction() as tx:
            await self.remove(tx, installation_id, key)

    async def remove(self, tx: AutomationTransaction, installation_id: int, key: str) -> None:
        """Delete a workflow inside `tx`, whoever starts it (a configuration import removes them together),
        cancelling its steps' pending jobs."""
        workflows = self._workflows.within(tx)
        workflow = await workflows.workflow(installation_id, key)
        if workflow is None:
            return
        await self._cancel(tx, [step.id for step in await workflows.steps(workflow)],
                           "cancelled: the workflow was deleted")
        await workflows.delete_workflow(installation_id, key)

    async def _cancel(self, tx: AutomationTransaction, rule_ids: list[int], reason: str) -> None:
        now = self._clock.now()
        for rule_id in rule_ids:
            for job in await tx.pending_jobs_of_rule(rule_id):
                if job.state not in PENDING:
                    continue
                await tx.update_job(job.id, now, state=JobState.CANCELLED, reason=reason, lease_until=None)
                await tx.log(Activity(job.installation_id, "job", f"{job.rule_key}: {reason}",
                                      order_row_id=job.order_row_id, job_id=job.id,
                                      state=JobState.CANCELLED.value, rule_key=job.rule_key), now)
                await settle_successors(tx, job, JobState.CANCELLED, now)
