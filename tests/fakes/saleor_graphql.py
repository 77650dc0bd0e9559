"""POST /graphql/ of the fake Saleor: authentication, Saleor's request limits, validation against the real
schema (when on disk), and schema-less execution of queries and mutations over the fake's state.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from graphql import FieldNode, GraphQLError, GraphQLSchema, OperationType, parse
from tests.fakes.graphql_exec import (
    FieldError,
    execute,
    format_error,
    mutation_field_count,
    permission_denied,
    select_operation,
    validation_errors,
)
from tests.fakes.saleor_actions import SaleorActions
from tests.fakes.saleor_delivery import WebhookDeliverer
from tests.fakes.saleor_model import ANONYMOUS, STAFF, VERSION, Caller
from tests.fakes.saleor_orders import resolve_orders
from tests.fakes.saleor_outcomes import Outcome, Refusal
from tests.fakes.saleor_problems import app_problem_create, app_problem_dismiss
from tests.fakes.saleor_state import SaleorState

MUTATION_LIMIT = 4  # GRAPHQL_MUTATION_COUNT_LIMIT


class MutationCall(NamedTuple):
    name: str
    variables: dict[str, Any]
    caller: str  # "staff" | "app" | "anonymous"
    app: int | None = None  # which app (its pk) when the caller is an app: two installations share one Saleor


# Root mutation field → (payload typename, fields set to null on a refusal, action).
_Action = Callable[[SaleorActions, Caller, dict[str, Any]], Outcome]
_MUTATIONS: dict[str, tuple[str, tuple[str, ...], _Action]] = {
    "draftOrderComplete": ("DraftOrderComplete", ("order",), lambda a, c, x: a.draft_order_complete(c, x.get("id"))),
    "orderConfirm": ("OrderConfirm", ("order",), lambda a, c, x: a.order_confirm(c, x.get("id"))),
    "orderMarkAsPaid": ("OrderMarkAsPaid", ("order",),
                        lambda a, c, x: a.order_mark_as_paid(c, x.get("id"), x.get("transactionReference"))),
    "orderFulfill": ("OrderFulfill", ("fulfillments", "order"),
                     lambda a, c, x: a.order_fulfill(c, x.get("input") or {}, x.get("order"))),
    "orderFulfillmentUpdateTracking": (
        "FulfillmentUpdateTracking", ("fulfillment", "order"),
        lambda a, c, x: a.order_fulfillment_update_tracking(c, x.get("id"), x.get("input") or {})),
    "orderCancel": ("OrderCancel", ("order",), lambda a, c, x: a.order_cancel(c, x.get("id"))),
    "orderNoteAdd": ("OrderNoteAdd", ("order", "event"),
                     lambda a, c, x: a.order_note_add(c, x.get("order"), x.get("input") or {})),
    "orderUpdate": ("OrderUpdate", ("order",), lambda a, c, x: a.order_update(c, x.get("id"), x.get("input") or {})),
    "updateMetadata": ("UpdateMetadata", ("item",),
                       lambda a, c, x: a.update_metadata(c, x.get("id"), x.get("input") or [], private=False)),
    "updatePrivateMetadata": ("UpdatePrivateMetadata", ("item",),
                              lambda a, c, x: a.update_metadata(c, x.get("id"), x.get("input") or [], private=True)),
    "deleteMetadata": ("DeleteMetadata", ("item",),
                       lambda a, c, x: a.delete_metadata(c, x.get("id"), x.get("keys") or [], private=False)),
    "deletePrivateMetadata": ("DeletePrivateMetadata", ("item",),
                              lambda a, c, x: a.delete_metadata(c, x.get("id"), x.get("keys") or [], private=True)),
    "webhookCreate": ("WebhookCreate", ("webhook",), lambda a, c, x: a.webhook_create(c, x.get("input") or {})),
    "webhookUpdate": ("WebhookUpdate", ("webhook",),
                      lambda a, c, x: a.webhook_update(c, x.get("id"), x.get("input") or {})),
    "appProblemCreate": ("AppProblemCreate", ("appProblem",),
                         lambda a, c, x: app_problem_create(a.state, c, x.get("input") or {})),
    "appProblemDismiss": ("AppProblemDismiss", (), lambda a, c, x: app_problem_dismiss(a.state, c, x.get("input") or {})),
}


class GraphQLApi:
    def __init__(self, state: SaleorState, actions: SaleorActions, deliverer: WebhookDeliverer, *,
                 schema: GraphQLSchema | None, base_url: Callable[[], str], internal_errors: list[str]) -> None:
        self.state = state
        self.actions = actions
        self.schema = schema
        self.staff_tokens: set[str] = set()
        # Dashboard (AppBridge) tokens act as their staff user, as in Saleor: FakeSaleor sets the check.
        self.dashboard_user: Callable[[str], str | None] | None = None
        self.mutations: list[MutationCall] = []
        self._deliverer = deliverer
        self._base_url = base_url
        self._internal_errors = internal_errors

    async def handle(self, request: Request) -> Response:
        caller = self.authenticate(request)
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _json({"errors": [_plain_error("Unable to parse query.")]}, 400)
        if isinstance(body, list):
            if len(body) > 1:  # GRAPHQL_BATCH_MAX_COUNT=1
                return _json({"errors": [_plain_error("Batch queries are limited to 1 operation.")]}, 400)
            results = [await self.operation(entry, caller) for entry in body]
            return _json([r for r, _ in results], max((s for _, s in results), default=200))
        result, status = await self.operation(body, caller)
        return _json(result, status)

    def authenticate(self, request: Request) -> Caller:
        token = request.headers.get("authorization-bearer", "")
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() in ("bearer", "jwt"):
            token = value.strip()
        if not token:
            return ANONYMOUS
        if token in self.staff_tokens:
            return STAFF
        user_id = self.dashboard_user(token) if self.dashboard_user is not None else None
        if user_id is not None:
            return Caller("staff", user_id=user_id)
        app = self.state.app_by_token(token)  # deleted, deactivated and unknown tokens are all anonymous
        return Caller("app", app) if app is not None else ANONYMOUS

    async def operation(self, entry: Any, caller: Caller) -> tuple[dict[str, Any], int]:
        if not isinstance(entry, dict) or not isinstance(entry.get("query"), str) or not entry["query"]:
            return {"errors": [_plain_error("Must provide a query string.")]}, 400
        variables = entry.get("variables") or {}
        try:
            document = parse(entry["query"])
        except GraphQLError as exc:
            return {"errors": [format_error(exc)]}, 400
        if mutation_field_count(document) > MUTATION_LIMIT:
            return {"errors": [_plain_error(f"Number of mutations exceed the limit of {MUTATION_LIMIT}")]}, 400
        try:
            operation = select_operation(document, entry.get("operationName"))
        except FieldError as exc:
            return {"errors": [_plain_error(exc.message)]}, 400
        if self.schema is not None:
            errors = validation_errors(self.schema, document, operation, variables)
            if errors:
                return {"errors": errors}, 400
        if operation.operation is OperationType.SUBSCRIPTION:
            return {"errors": [_plain_error("Subscriptions are not served over HTTP.")]}, 400
        root = self.mutation_root(caller, variables) if operation.operation is OperationType.MUTATION \
            else self.query_root(caller)
        typename = "Mutation" if operation.operation is OperationType.MUTATION else "Query"
        unknown = [s.name.value for s in operation.selection_set.selections
                   if isinstance(s, FieldNode) and s.name.value != "__typename" and s.name.value not in root]
        if unknown and self.schema is not None:  # a real Saleor field the fake does not serve: a gap in the fake
            self._internal_errors.append(f"the fake Saleor does not model {typename}.{unknown[0]}")
            return {"errors": [_plain_error(f"the fake Saleor does not model {typename}.{unknown[0]}")]}, 400
        if unknown:  # without the schema, answer what schema validation would for a field Saleor lacks
            return {"errors": [_plain_error(f"Cannot query field '{unknown[0]}' on type '{typename}'.")]}, 400
        try:
            result = await execute(document, operation, root, variables)
        except FieldError as exc:
            return {"errors": [_plain_error(exc.message)]}, 400
        self._internal_errors.extend(e["message"] for e in result.errors
                                    if e["extensions"]["exception"]["code"] == "FakeSaleorNotModelled")
        response: dict[str, Any] = {"errors": result.errors} if result.errors else {}
        response["data"] = result.data
        response["extensions"] = {"cost": {"requestedQueryCost": 0, "maximumAvailable": 50000}}
        return response, 200

    def query_root(self, caller: Caller) -> dict[str, Any]:
        state = self.state

        def app(args: dict[str, Any]) -> Any:
            if caller.kind == "app" and caller.app is not None and args.get("id") in (None, caller.app.id):
                return state.app_view(caller.app)
            if caller.kind == "staff":
                return next((state.app_view(a) for a in state.live_apps() if a.id == args.get("id")), None)
            if caller.kind == "app":
                raise permission_denied("MANAGE_APPS")
            raise permission_denied("AUTHENTICATED_STAFF_USER", "AUTHENTICATED_APP")

        def version(_args: dict[str, Any]) -> str:
            if caller.kind in ("staff", "app"):
                return VERSION
            raise permission_denied("AUTHENTICATED_STAFF_USER", "AUTHENTICATED_APP", propagate=True)

        def order(args: dict[str, Any]) -> Any:
            if "MANAGE_ORDERS" not in caller.permissions:
                raise permission_denied("MANAGE_ORDERS")
            if "externalReference" in args:
                found = next((o for o in state.orders.values()
                              if o.external_reference == args["externalReference"]), None)
            else:
                found = state.order(args.get("id"))
            if found is not None and found.uuid in state.unreadable:
                raise FieldError('Expected a value of type "OrderOriginEnum" but received: ')
            return state.order_view(found) if found else None

        def orders(args: dict[str, Any]) -> Any:
            if "MANAGE_ORDERS" not in caller.permissions:
                raise permission_denied("MANAGE_ORDERS")
            return resolve_orders(state, args)

        shop = {"__typename": "Shop", "name": "Saleor e-commerce", "version": version,
                "fulfillmentAutoApprove": state.shop.fulfillment_auto_approve,
                "fulfillmentAllowUnpaid": state.shop.fulfillment_allow_unpaid,
                "domain": {"__typename": "Domain", "host": urlsplit(self._base_url()).netloc, "sslEnabled": False,
                           "url": self._base_url()}}
        def staff_users(_args: dict[str, Any]) -> Any:
            if "MANAGE_STAFF" not in caller.permissions:
                raise permission_denied("MANAGE_STAFF")
            users = [user for user in state.staff_users.values() if user["isActive"]]  # one page: a small shop
            return {"__typename": "UserCountableConnection", "totalCount": len(users),
                    "edges": [{"__typename": "UserCountableEdge", "cursor": user["id"], "node": user}
                              for user in users],
                    "pageInfo": {"__typename": "PageInfo", "hasNextPage": False, "hasPreviousPage": False,
                                 "startCursor": None, "endCursor": None}}

        me = None
        if caller.kind == "staff":
            me = state.staff_users.get(caller.user_id) if caller.user_id else state.staff_view()
        return {"app": app, "shop": shop, "order": order, "orders": orders, "me": me, "staffUsers": staff_users}

    def mutation_root(self, caller: Caller, variables: dict[str, Any]) -> dict[str, Any]:
        def resolver(name: str) -> Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]:
            typename, nullable, action = _MUTATIONS[name]

            async def run(args: dict[str, Any]) -> dict[str, Any]:
                self.mutations.append(MutationCall(name, dict(variables), caller.kind,
                                                   caller.app.pk if caller.app is not None else None))
                try:
                    outcome = action(self.actions, caller, args)
                except Refusal as refusal:
                    return {"__typename": typename, **dict.fromkeys(nullable), "errors": refusal.errors}
                await self._deliverer.dispatch(outcome.events)  # inline: the response waits for the webhooks
                return outcome.payload

            return run

        return {name: resolver(name) for name in _MUTATIONS}


def _plain_error(message: str) -> dict[str, Any]:
    return {"message": message, "extensions": {"exception": {"code": "GraphQLError"}}}


def _json(payload: Any, status: int) -> Response:
    # Saleor's API responses are compact JSON (webhook bodies are not).
    return Response(json.dumps(payload, separators=(",", ":")), status_code=status, media_type="application/json")
