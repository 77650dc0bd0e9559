"""Every GraphQL document the app sends, and every manifest subscription, validates against Saleor 3.23."""

from __future__ import annotations

from functools import cache

import pytest

from graphql import GraphQLSchema, build_schema, parse, validate
from saleor_app.saleor import documents
from saleor_app.saleor.manifest import build_manifest
from tests.conftest import SCHEMA_HOW, SCHEMA_PATH, require

MUTATION_LIMIT = 4  # GRAPHQL_MUTATION_COUNT_LIMIT in Saleor 3.22/3.23 patch releases


@cache
def schema() -> GraphQLSchema:
    return build_schema(SCHEMA_PATH.read_text())


def schema_or_skip() -> GraphQLSchema:
    require(SCHEMA_PATH.exists(), f"Saleor's schema.graphql is not at {SCHEMA_PATH}: {SCHEMA_HOW}")
    return schema()


@pytest.mark.parametrize("path", documents.operation_paths(), ids=lambda p: p.stem)
def test_document_validates(path) -> None:
    document = parse(documents.load(path.stem))
    errors = validate(schema_or_skip(), document)
    assert not errors, [e.message for e in errors]
    for definition in document.definitions:
        if getattr(definition, "operation", None) and definition.operation.value == "mutation":
            assert len(definition.selection_set.selections) <= MUTATION_LIMIT


def test_manifest_subscriptions_validate() -> None:
    for hook in build_manifest("http://app", "http://api")["webhooks"]:
        errors = validate(schema_or_skip(), parse(hook["query"]))
        assert not errors, (hook["name"], [e.message for e in errors])


def test_every_document_is_loadable_by_name_with_its_fragments() -> None:
    names = [path.stem for path in documents.operation_paths()]
    assert len(names) == len(set(names)), "operation names must be unique: the app loads them by name"
    for name in names:
        text = documents.load(name)
        parse(text)  # raises on a missing fragment definition or syntax error
    with pytest.raises(documents.DocumentNotFound):
        documents.load("NoSuchOperation")
