"""appProblemCreate and appProblemDismiss of the fake Saleor, as Saleor 3.23 does them
(saleor/graphql/app/mutations/app_problem_create.py, app_problem_dismiss.py):

- create needs an app token (AUTHENTICATED_APP only; a staff token is PermissionDenied). The newest undismissed
  problem of the app with the key is updated (count + 1, message replaced, updatedAt now) when it was updated
  within `aggregationPeriod` minutes (default 60; 0 always opens a new one); otherwise a new problem opens with
  count 1. At most 100 problems an app: the least recently updated are dropped. `criticalThreshold` makes the
  problem critical once its count reaches it.
- dismiss: an app uses `byApp` (ids or keys, not both, at most 100) on its own problems; staff use
  `byStaffWithIds` / `byStaffWithKeys`. Exactly one input; the wrong one for the caller is INVALID.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tests.fakes.saleor_model import App, Caller, decode_gid, gid, iso
from tests.fakes.saleor_outcomes import Outcome, Refusal, require, simple_error
from tests.fakes.saleor_state import SaleorState

MAX_PROBLEMS_PER_APP = 100
MAX_ITEMS = 100


@dataclass
class FakeProblem:
    pk: int
    app_pk: int
    key: str
    message: str
    count: int
    is_critical: bool
    created_at: datetime
    updated_at: datetime
    dismissed: bool = False
    dismissed_by_email: str | None = None


def problems_of(state: SaleorState, app: App, *, include_dismissed: bool = True) -> list[FakeProblem]:
    """An app's problems, newest first (Saleor's ordering: -created_at)."""
    found = [p for p in state.app_problems if p.app_pk == app.pk and (include_dismissed or not p.dismissed)]
    return sorted(found, key=lambda p: (p.created_at, p.pk), reverse=True)


def problem_view(problem: FakeProblem) -> dict[str, Any]:
    dismissed = None
    if problem.dismissed:
        dismissed = {"__typename": "AppProblemDismissed", "by": "USER" if problem.dismissed_by_email else "APP",
                     "user": None, "userEmail": problem.dismissed_by_email}
    return {"__typename": "AppProblem", "id": gid("AppProblem", problem.pk), "key": problem.key,
            "message": problem.message, "count": problem.count, "isCritical": problem.is_critical,
            "createdAt": iso(problem.created_at), "updatedAt": iso(problem.updated_at), "dismissed": dismissed}


def _create_error(field: str | None, message: str, code: str = "INVALID") -> Refusal:
    return Refusal(simple_error("AppProblemCreateError", field, message, code))


def _dismiss_error(field: str | None, message: str, code: str = "INVALID") -> Refusal:
    return Refusal(simple_error("AppProblemDismissError", field, message, code))


def app_problem_create(state: SaleorState, caller: Caller, data: dict[str, Any]) -> Outcome:
    require(caller, "AUTHENTICATED_APP")
    assert caller.app is not None
    message, key = str(data.get("message") or ""), str(data.get("key") or "")
    if len(message) < 3:
        raise _create_error("message", "String should have at least 3 characters")
    if not 3 <= len(key) <= 128:
        raise _create_error("key", "String should have at least 3 characters" if len(key) < 3
                            else "String should have at most 128 characters")
    if len(message) > 2048:
        message = message[:2045] + "..."
    threshold = data.get("criticalThreshold")
    period = data.get("aggregationPeriod")
    period = 60 if period is None else int(period)
    now = state.clock()
    open_ones = [p for p in state.app_problems if p.app_pk == caller.app.pk and p.key == key and not p.dismissed]
    existing = max(open_ones, key=lambda p: (p.updated_at, p.pk), default=None)
    if existing is not None and period > 0 and existing.updated_at >= now - timedelta(minutes=period):
        existing.count += 1
        existing.is_critical = bool(threshold and existing.count >= threshold)
        existing.message = message
        existing.updated_at = now
        problem = existing
    else:
        mine = sorted((p for p in state.app_problems if p.app_pk == caller.app.pk), key=lambda p: p.updated_at)
        for evicted in mine[:max(0, len(mine) - MAX_PROBLEMS_PER_APP + 1)]:
            state.app_problems.remove(evicted)
        problem = FakeProblem(state.next_pk("app_problem"), caller.app.pk, key, message, 1,
                              bool(threshold and threshold <= 1), now, now)
        state.app_problems.append(problem)
    return Outcome({"__typename": "AppProblemCreate", "appProblem": problem_view(problem), "errors": []})


def app_problem_dismiss(state: SaleorState, caller: Caller, data: dict[str, Any]) -> Outcome:
    require(caller, "MANAGE_APPS", "AUTHENTICATED_APP")
    given = {name: data.get(name) for name in ("byApp", "byStaffWithIds", "byStaffWithKeys")}
    chosen = [name for name, value in given.items() if value]
    if len(chosen) > 1:
        rest = ", ".join(f"'{name}'" for name in chosen[1:])
        raise _dismiss_error(None, f"Argument '{chosen[0]}' cannot be combined with {rest}", "GRAPHQL_ERROR")
    if not chosen:
        raise _dismiss_error(None, "At least one of arguments is required: 'byApp', 'byStaffWithIds', "
                                   "'byStaffWithKeys'.", "GRAPHQL_ERROR")
    name, value = chosen[0], given[chosen[0]]
    assert isinstance(value, dict)
    if caller.kind == "app" and name == "byApp":
        assert caller.app is not None
        ids, keys = value.get("ids"), value.get("keys")
        if ids and keys:
            raise _dismiss_error("byApp", "Cannot specify both 'ids' and 'keys'.")
        if not ids and not keys:
            raise _dismiss_error("byApp", "Must provide either 'ids' or 'keys'.", "REQUIRED")
        if len(ids or keys) > MAX_ITEMS:
            raise _dismiss_error("ids" if ids else "keys", f"Cannot specify more than {MAX_ITEMS} items.")
        pks = _pks(ids or [])
        if ids and any(p.pk in pks and p.app_pk != caller.app.pk for p in state.app_problems):
            raise _dismiss_error("ids", "Cannot dismiss problems belonging to other apps.")
        for problem in state.app_problems:
            if problem.app_pk == caller.app.pk and not problem.dismissed and \
                    (problem.pk in pks if ids else problem.key in keys):
                problem.dismissed = True
    elif caller.kind != "app" and name != "byApp":
        email = (state.staff_users.get(caller.user_id or "") or state.staff_view())["email"]
        if name == "byStaffWithIds":
            pks, app_pk = _pks(value.get("ids") or []), None
        else:
            decoded = decode_gid(value.get("app"))
            app_pk = int(decoded[1]) if decoded and decoded[0] == "App" and decoded[1].isdigit() else -1
            pks = set()
        for problem in state.app_problems:
            hit = problem.pk in pks if name == "byStaffWithIds" else \
                problem.app_pk == app_pk and problem.key in (value.get("keys") or [])
            if hit and not problem.dismissed:
                problem.dismissed, problem.dismissed_by_email = True, email
    elif name == "byApp":
        raise _dismiss_error("byApp", "Only app callers can use 'byApp'.")
    else:
        raise _dismiss_error(name, "App callers cannot use this input. Use 'byApp' instead.")
    return Outcome({"__typename": "AppProblemDismiss", "errors": []})


def _pks(ids: list[Any]) -> set[int]:
    found = set()
    for value in ids:
        decoded = decode_gid(value)
        if decoded is None or decoded[0] != "AppProblem" or not decoded[1].isdigit():
            raise _dismiss_error("ids", f"Invalid ID: {value}.")
        found.add(int(decoded[1]))
    return found
