"""Workflows: named, reusable ordered action lists a run-workflow rule starts for an order. Pure.

A step has the same kinds, timing, chain and condition options as a rule. The jobs a run starts belong to the
stage entry the order is in (leaving the stage cancels them) unless the workflow outlives the stage. A workflow
that starts itself, directly or through others, is refused on save.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from saleor_app.domain.conditions import Condition
from saleor_app.domain.kinds import UnknownKind, validate_config

WORKFLOW_KEY = r"^[a-z][a-z0-9_-]{0,29}$"
STEP_KEY = r"^[a-z][a-z0-9_-]{0,23}$"  # "wf:<workflow>:<step>" fits a rule key (63)


def step_rule_key(workflow: str, step: str) -> str:
    """The rule key a step's jobs carry (activity log, filters): unlike a rule's key, it has a colon."""
    return f"wf:{workflow}:{step}"


class StepSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(pattern=STEP_KEY)
    name: str = Field(default="", max_length=200)
    kind: str
    config: dict[str, Any] = Field(default_factory=dict)
    delay_seconds: int = Field(default=0, ge=0, le=366 * 86400)
    at: time | None = None
    after_previous: bool = False
    condition: Condition | None = None
    max_age_seconds: int | None = Field(default=None, ge=60)

    @model_validator(mode="after")
    def _config_fits_kind(self) -> StepSpec:
        try:
            validate_config(self.kind, self.config)
        except UnknownKind as exc:
            raise ValueError(str(exc)) from exc
        except ValidationError as exc:
            details = "; ".join(f"config.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
            raise ValueError(details) from exc
        if self.kind == "change_stage":
            raise ValueError("a workflow cannot change the stage (its own jobs would be cancelled by the move); "
                             "use a change_stage rule after the run_workflow rule")
        return self


class WorkflowSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(pattern=WORKFLOW_KEY)
    name: str = Field(default="", max_length=200)
    outlive_stage: bool = False
    enabled: bool = True
    steps: tuple[StepSpec, ...] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _unique_steps(self) -> WorkflowSpec:
        keys = [step.key for step in self.steps]
        repeated = sorted({key for key in keys if keys.count(key) > 1})
        if repeated:
            raise ValueError(f"step key used twice: {', '.join(repeated)}")
        return self

    def started(self) -> set[str]:
        """Workflows its steps start."""
        return {str(step.config.get("workflow")) for step in self.steps if step.kind == "run_workflow"}


@dataclass(frozen=True, slots=True)
class Workflow:
    id: int
    installation_id: int
    key: str
    name: str
    outlive_stage: bool
    enabled: bool
    spec: WorkflowSpec


def find_cycle(graph: Mapping[str, set[str]]) -> list[str] | None:
    """A path that comes back to its start (["a", "b", "a"]) in `workflow → workflows it starts`, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt] if nxt in path else [*path, nxt]
            if nxt not in state:
                found = visit(nxt, [*path, nxt])
                if found:
                    return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start, [start])
            if found:
                return found
    return None


def cycle_problem(saving: Sequence[WorkflowSpec], stored: Sequence[WorkflowSpec]) -> str | None:
    """Why saving these workflows (over the stored ones) would let a workflow start itself; None when it cannot."""
    graph = {spec.key: spec.started() for spec in stored}
    graph.update({spec.key: spec.started() for spec in saving})
    cycle = find_cycle(graph)
    if cycle is None:
        return None
    return f"workflow {cycle[0]} would start itself ({' → '.join(cycle)}); remove one of these run_workflow steps"
