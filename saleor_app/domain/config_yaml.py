"""YAML for automation as code: a strict loader that remembers where every value is, and a stable dumper. Pure.

PyYAML speaks YAML 1.1, where `21:00` is the integer 1260 (base 60), `on`/`no` are booleans and `2026-01-02` is a
date. Merchants write times of day and free text, so the loader resolves scalars the YAML 1.2 way: only
true/false are booleans, only plain decimals are numbers, and nothing else is converted. Anchors and aliases are
refused (they add nothing to a configuration, and expanding them is a way to make a small file huge).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from saleor_app.domain.documents import MAX_DEPTH, MAX_INT_DIGITS, MAX_NODES, nul_in_text, too_deep

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Where:
    line: int  # 1-based
    column: int  # 1-based


class YamlProblem(ValueError):
    """The text is not YAML we accept; `where` points at the problem."""

    def __init__(self, message: str, where: Where | None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where


class _Loader(yaml.SafeLoader):
    """The composer bounded (documents.py): it recurses once per level, so depth is checked before each descent
    and the node count as it goes; a scalar with a NUL or a number too long to be one is refused where it is."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise YamlProblem(f"the file has more than {MAX_NODES} values", _where(event.start_mark))
        nests = isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent)
        if nests:
            if self._depth >= MAX_DEPTH:
                raise YamlProblem(str(too_deep()), _where(event.start_mark))
            self._depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            if nests:
                self._depth -= 1
        if isinstance(node, yaml.ScalarNode):
            if "\x00" in node.value:
                raise YamlProblem(str(nul_in_text()), _where(node.start_mark))
            if node.tag == "tag:yaml.org,2002:int" and len(node.value.lstrip("+-")) > MAX_INT_DIGITS:
                raise YamlProblem(f"a number has more than {MAX_INT_DIGITS} digits", _where(node.start_mark))
        return node


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers
            if tag not in {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
                           "tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:merge"}]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                              list("tTfF"))
# No leading zeros ("09" stays text, where YAML 1.1 would read an octal number and fail on the 9).
_Loader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"),
                              list("-+0123456789"))
_Loader.add_implicit_resolver("tag:yaml.org,2002:float",
                              re.compile(r"^[-+]?(?:0|[1-9][0-9]*)(?:\.[0-9]+)(?:[eE][-+]?[0-9]+)?$"),
                              list("-+0123456789"))


class Locator:
    """Where each value of a parsed document is, by its path (`("stages", 2, "rules", 0, "delay")`)."""

    def __init__(self, values: Mapping[Path, Where], keys: Mapping[Path, Where]) -> None:
        self._values = values
        self._keys = keys

    def __call__(self, path: Path, *, key: bool = False) -> Where:
        """The value at `path` (its key with `key=True`); for a path the text lacks (a missing field), the
        nearest enclosing value that is there."""
        if key and path in self._keys:
            return self._keys[path]
        for end in range(len(path), -1, -1):
            if path[:end] in self._values:
                return self._values[path[:end]]
        return Where(1, 1)


def _where(mark: Any) -> Where:
    return Where(mark.line + 1, mark.column + 1)


def _index(node: yaml.Node, path: Path, values: dict[Path, Where], keys: dict[Path, Where]) -> None:
    values[path] = _where(node.start_mark)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlProblem("a key must be a plain name", _where(key_node.start_mark))
            child = (*path, key_node.value)
            if child in keys:
                line = keys[child].line
                raise YamlProblem(f"{key_node.value!r} appears twice in the same mapping (first on line {line})",
                                  _where(key_node.start_mark))
            keys[child] = _where(key_node.start_mark)
            _index(value_node, child, values, keys)
    elif isinstance(node, yaml.SequenceNode):
        for position, item in enumerate(node.value):
            _index(item, (*path, position), values, keys)


def _seen_twice(node: yaml.Node, seen: set[int]) -> yaml.Node | None:
    """The first node reached twice (an alias); checked before indexing so that a cycle cannot recurse forever."""
    if id(node) in seen:
        return node
    seen.add(id(node))
    children: Sequence[Any] = ()
    if isinstance(node, yaml.MappingNode):
        children = [part for pair in node.value for part in pair]
    elif isinstance(node, yaml.SequenceNode):
        children = node.value
    for child in children:
        found = _seen_twice(child, seen)
        if found is not None:
            return found
    return None


def parse_yaml(text: str) -> tuple[Any, Locator]:
    """The data of one YAML document and where each of its values is; YamlProblem with line and column."""
    if text.lstrip().startswith("{"):
        # JSON is YAML, except that YAML refuses tabs as indentation; in valid JSON a raw tab can only be
        # whitespace between tokens, so a space is the same (and keeps every line and column).
        text = text.replace("\t", " ")
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise YamlProblem("the file is empty", Where(1, 1))
        repeated = _seen_twice(node, set())
        if repeated is not None:
            raise YamlProblem("anchors and aliases (&, *) are not supported here", _where(repeated.start_mark))
        values: dict[Path, Where] = {}
        keys: dict[Path, Where] = {}
        _index(node, (), values, keys)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = ": ".join(part for part in (exc.context, exc.problem) if part) or "invalid YAML"
        raise YamlProblem(f"invalid YAML: {problem}", _where(mark) if mark is not None else None) from None
    except yaml.YAMLError as exc:
        raise YamlProblem(f"invalid YAML: {exc}", None) from None
    finally:
        loader.dispose()
    return data, Locator(values, keys)


class Flow(list[Any]):
    """A short list written on one line: `[UNFULFILLED, PARTIALLY_FULFILLED]`."""


class Quoted(str):
    """A text always written in quotes (times of day: `"09:00"` reads the same in every YAML reader)."""

    __slots__ = ()


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:  # noqa: ARG002
        # Lists indented under their key (`stages:\n  - key: new`), as people write them.
        super().increase_indent(flow, False)


_CLOCK_LIKE = re.compile(r"^\d{1,2}:\d{2}$")


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:  # templates: a literal block keeps line breaks readable
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    # Texts another reader could take for something else (`yes`, `21:00`, `1.0`) in double quotes, like times.
    implicit = dumper.resolve(yaml.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
    if _CLOCK_LIKE.match(value) or implicit != "tag:yaml.org,2002:str":
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')
    return dumper.represent_str(value)


_represent: dict[type, Callable[[yaml.SafeDumper, Any], yaml.Node]] = {
    str: _text,
    Quoted: lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:str", str(value), style='"'),  # always
    Flow: lambda dumper, value: dumper.represent_sequence("tag:yaml.org,2002:seq", list(value), flow_style=True),
}
for _type, _function in _represent.items():
    _Dumper.add_representer(_type, _function)


def dump_yaml(data: Any, *, header: str = "") -> str:
    """Block-style YAML in the data's own key order; `header` lines become comments at the top."""
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False,
                     width=100)
    comments = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    return comments + body
