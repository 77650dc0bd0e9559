"""Schema-less GraphQL for the fake Saleor: validation against Saleor's real schema when it is on disk, and an
executor that projects selection sets over plain dicts, so running a document never needs the schema.

Resolvers are dict values; a callable value takes the field's arguments (a dict) and may be async. An object's
type is its `"__typename"` key; `... on X` applies when X is that type or an abstract type listed below.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphql.execution.values import get_variable_values
from graphql.utilities import value_from_ast_untyped

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    Undefined,
    build_schema,
    parse,
    validate,
)
from tests.fakes.saleor_model import EVENT_TYPENAMES

REPO = Path(__file__).resolve().parents[2]
DEFAULT_SCHEMA_PATH = REPO.parent / "shared" / "saleor" / "schema.graphql"

_METADATA_OWNERS = frozenset({
    "Order", "OrderLine", "App", "User", "Fulfillment", "TransactionItem", "Warehouse", "ProductVariant",
})
# The few abstract types the app's documents use; a schema-less executor cannot know the others.
ABSTRACT_TYPES: dict[str, frozenset[str]] = {
    "Event": frozenset(EVENT_TYPENAMES.values()),
    "IssuingPrincipal": frozenset({"App", "User"}),
    "ObjectWithMetadata": _METADATA_OWNERS,
    "Node": _METADATA_OWNERS | {"Channel", "Webhook", "OrderEvent", "FulfillmentLine", "TransactionEvent"},
}


class FieldError(Exception):
    """A field resolved to an error: reported in `errors` with this exception code, the field set to null.

    `propagate` marks a non-null field, whose error nulls the parent object instead (GraphQL null bubbling).
    """

    code = "GraphQLError"

    def __init__(self, message: str, *, code: str | None = None, propagate: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.propagate = propagate
        if code is not None:
            self.code = code


class NotModelled(FieldError):
    """The document asks for something the fake does not model: a gap in the fake, never Saleor behaviour."""

    code = "FakeSaleorNotModelled"


def permission_denied(*permissions: str, propagate: bool = False) -> FieldError:
    return FieldError(
        f"To access this path, you need one of the following permissions: {', '.join(permissions)}",
        code="PermissionDenied",
        propagate=propagate,
    )


@dataclass
class Execution:
    data: dict[str, Any] | None
    errors: list[dict[str, Any]] = field(default_factory=list)


def schema_path() -> Path:
    return Path(os.environ.get("SALEOR_SCHEMA_PATH", DEFAULT_SCHEMA_PATH))


@functools.cache
def _schema_at(path: Path) -> GraphQLSchema | None:
    if not path.is_file():
        return None
    return build_schema(path.read_text(), assume_valid_sdl=True)


def saleor_schema() -> GraphQLSchema | None:
    """Saleor 3.23's schema, built once per process (the file is 1 MB), or None when it is not on disk."""
    return _schema_at(schema_path().resolve())


def format_error(error: GraphQLError, code: str = "GraphQLError") -> dict[str, Any]:
    """Saleor's error shape: graphql-core's, plus `extensions.exception.code` (the exception class name)."""
    formatted = dict(error.formatted)
    formatted["extensions"] = {"exception": {"code": code}}
    return formatted


def validation_errors(
    schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, variables: dict[str, Any]
) -> list[dict[str, Any]]:
    errors = validate(schema, document)
    if not errors:
        coerced = get_variable_values(schema, operation.variable_definitions or (), variables)
        if isinstance(coerced, list):
            errors = coerced
    return [format_error(error) for error in errors]


def subscription_problem(query: str, schema: GraphQLSchema | None) -> str | None:
    """Why Saleor would refuse this webhook query ("Subscription query is not valid: …"), or None."""
    try:
        document = parse(query)
    except GraphQLError as exc:
        return exc.message
    if not any(isinstance(d, OperationDefinitionNode) and d.operation is OperationType.SUBSCRIPTION
               for d in document.definitions):
        return "the document holds no subscription"
    if schema is not None:
        errors = validate(schema, document)
        if errors:
            return errors[0].message
    return None


def select_operation(document: DocumentNode, operation_name: str | None) -> OperationDefinitionNode:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        named = [op for op in operations if op.name is not None and op.name.value == operation_name]
        if not named:
            raise FieldError(f"Unknown operation named '{operation_name}'.")
        return named[0]
    if len(operations) != 1:
        raise FieldError(
            "Must provide operation name if query contains multiple operations."
            if operations else "Must provide an operation."
        )
    return operations[0]


def mutation_field_count(document: DocumentNode) -> int:
    """Counted like Saleor's MutationCountLimitRule: top-level selections of every mutation operation."""
    return sum(
        len(d.selection_set.selections)
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode) and d.operation is OperationType.MUTATION
    )


def root_typename(operation: OperationDefinitionNode) -> str:
    return {OperationType.QUERY: "Query", OperationType.MUTATION: "Mutation"}.get(operation.operation, "Subscription")


def applies(type_condition: str, typename: str | None) -> bool:
    return typename is None or type_condition == typename or typename in ABSTRACT_TYPES.get(type_condition, ())


async def execute(
    document: DocumentNode,
    operation: OperationDefinitionNode,
    root: Mapping[str, Any],
    variables: Mapping[str, Any] | None = None,
) -> Execution:
    """Run `operation` against `root` (root field name → value or resolver); fields run one after another."""
    values = dict(variables or {})
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        if name not in values and definition.default_value is not None:
            values[name] = value_from_ast_untyped(definition.default_value, values)
    run = _Run(document, values)
    data = await run.complete_object({"__typename": root_typename(operation), **root}, operation.selection_set, [])
    return Execution(data=data, errors=run.errors)


class _Run:
    def __init__(self, document: DocumentNode, variables: dict[str, Any]) -> None:
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        self.variables = variables
        self.errors: list[dict[str, Any]] = []

    def arguments(self, node: FieldNode) -> dict[str, Any]:
        args = {}
        for argument in node.arguments or ():
            value = value_from_ast_untyped(argument.value, self.variables)
            if value is not Undefined:
                args[argument.name.value] = value
        return args

    def _included(self, node: FieldNode | InlineFragmentNode | FragmentSpreadNode) -> bool:
        for directive in node.directives or ():
            name = directive.name.value
            if name in ("skip", "include"):
                condition = bool(value_from_ast_untyped((directive.arguments or ())[0].value, self.variables))
                if condition == (name == "skip"):
                    return False
        return True

    def collect(self, typename: str | None, selection_set: SelectionSetNode, into: dict[str, list[FieldNode]]) -> None:
        for selection in selection_set.selections:
            if not self._included(selection):  # type: ignore[arg-type]
                continue
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                into.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                if condition is None or applies(condition.name.value, typename):
                    self.collect(typename, selection.selection_set, into)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is None:
                    raise FieldError(f'Unknown fragment "{selection.name.value}".')
                if applies(fragment.type_condition.name.value, typename):
                    self.collect(typename, fragment.selection_set, into)

    async def complete_object(
        self, obj: Mapping[str, Any], selection_set: SelectionSetNode, path: list[str | int]
    ) -> dict[str, Any] | None:
        typename = obj.get("__typename")
        fields: dict[str, list[FieldNode]] = {}
        self.collect(typename, selection_set, fields)
        out: dict[str, Any] = {}
        for key, nodes in fields.items():
            try:
                out[key] = await self.resolve(obj, typename, nodes, [*path, key])
            except FieldError as exc:
                self.errors.append(format_error(GraphQLError(exc.message, nodes=nodes[0], path=[*path, key]), exc.code))
                if exc.propagate:
                    return None
                out[key] = None
        return out

    async def resolve(self, obj: Mapping[str, Any], typename: str | None, nodes: list[FieldNode],
                      path: list[str | int]) -> Any:
        name = nodes[0].name.value
        if name == "__typename":
            if typename is None:
                raise NotModelled(f"the fake gives no __typename for the object at {path[:-1]}")
            return typename
        if name not in obj:
            raise NotModelled(f"the fake Saleor does not model {typename or 'this object'}.{name}")
        value = obj[name]
        if callable(value):
            value = value(self.arguments(nodes[0]))
            if inspect.isawaitable(value):
                value = await value
        return await self.complete(value, nodes, path)

    async def complete(self, value: Any, nodes: Sequence[FieldNode], path: list[str | int]) -> Any:
        selections = [s for node in nodes if node.selection_set for s in node.selection_set.selections]
        if value is None or not selections:
            return value
        merged = SelectionSetNode(selections=tuple(selections))
        if isinstance(value, Mapping):
            return await self.complete_object(value, merged, path)
        if isinstance(value, list | tuple):
            return [await self.complete(item, nodes, [*path, index]) for index, item in enumerate(value)]
        raise NotModelled(f"{'.'.join(map(str, path))} is a scalar in the fake but was queried with a selection")
