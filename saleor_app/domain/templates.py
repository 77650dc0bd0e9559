"""Merchant templates (untrusted Liquid): strict checks on save, lenient rendering within limits, preview."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from functools import lru_cache, wraps
from typing import Any, NamedTuple

from liquid import BoundTemplate, Environment, RenderContext, Undefined, is_undefined
from liquid.exceptions import (
    BlockNestingError,
    ContextDepthError,
    FilterArgumentError,
    LiquidError,
    LocalNamespaceLimitError,
    LoopIterationLimitError,
    OutputStreamLimitError,
    ResourceLimitError,
)
from liquid.static_analysis import TemplateAnalysis
from liquid.token import Token
from liquid.undefined import UNDEFINED

from saleor_app.domain.errors import PermanentError
from saleor_app.domain.template_fields import (
    FIELDS,
    TemplateField,
    build_context,
    format_money,
    sample_order,
    suggest,
    unknown_variable,
)
from saleor_app.domain.time_zones import UnknownTimeZone, iana_zone

__all__ = [
    "FIELDS", "MAX_ASSIGNED_SIZE", "MAX_LIST_ITEMS", "MAX_LOOP_ITERATIONS", "MAX_NESTING", "MAX_OUTPUT_BYTES",
    "MAX_SOURCE_CHARS", "CacheStats", "Preview", "TemplateField", "TemplateLimitExceeded", "TemplateProblem",
    "TemplateRenderError", "build_context", "cache_info", "preview", "render", "sample_order", "validate",
]

MAX_SOURCE_CHARS = 100_000
MAX_LOOP_ITERATIONS = 1_000  # all loops of one render together; nested loops multiply
MAX_OUTPUT_BYTES = 100_000  # UTF-8 bytes of the rendered text, and of any single filter result
MAX_ASSIGNED_SIZE = 100_000  # characters (plus one per list item) held by assign/capture variables
MAX_LIST_ITEMS = MAX_LOOP_ITERATIONS  # a range or a list a filter makes (`split`, `concat`, `(1..n) | join`)
MAX_NESTING = 20  # blocks inside blocks
_CACHE_SIZE = 512


class _ListLimitError(ResourceLimitError):
    """A filter made a list longer than MAX_LIST_ITEMS."""


_LIMITS: dict[type[ResourceLimitError], str] = {
    LoopIterationLimitError: f"The template loops more than {MAX_LOOP_ITERATIONS:,} times in total (nested loops "
    "multiply); loop over fewer items, e.g. `{% for line in order.lines limit: 50 %}`.",
    OutputStreamLimitError: f"The rendered text would exceed {MAX_OUTPUT_BYTES:,} bytes; shorten the template or "
    "output fewer items.",
    LocalNamespaceLimitError: f"Variables made with assign/capture hold more than {MAX_ASSIGNED_SIZE:,} characters; "
    "assign smaller values.",
    _ListLimitError: f"A filter would make a list of more than {MAX_LIST_ITEMS:,} items (a range, split, concat); "
    "work with fewer items.",
    BlockNestingError: f"Tags are nested more than {MAX_NESTING} deep; flatten the template.",
    ContextDepthError: "The template nests too deeply; flatten it.",
}
_SOURCE_LIMIT = f"The template is longer than {MAX_SOURCE_CHARS:,} characters; shorten it."


class TemplateRenderError(PermanentError):
    """The template cannot be rendered (syntax, a filter refusing its input); the message says where."""


class TemplateLimitExceeded(TemplateRenderError):
    """Rendering would exceed a limit; the message names the limit and what to change."""


@dataclass(frozen=True, slots=True)
class TemplateProblem:
    message: str
    line: int  # 1-based
    column: int  # 1-based


@dataclass(frozen=True, slots=True)
class Preview:
    text: str
    problems: tuple[TemplateProblem, ...]
    length: int  # characters, as an SMS counter shows them


class CacheStats(NamedTuple):
    hits: int
    misses: int  # each miss is one parse
    size: int


def _money(value: object, currency: object = None) -> str:
    """`{{ order.total | money }}` → "131.00 USD"; `{{ 12.5 | money: "EUR" }}` → "12.50 EUR"."""
    if is_undefined(value) or value is None:
        return ""
    code = None if is_undefined(currency) else currency
    if isinstance(value, Mapping):
        return format_money(value.get("amount"), code or value.get("currency"))
    return format_money(value, code)


def _zone(name: str) -> tzinfo:
    try:
        return iana_zone(name)  # zoneinfo reads files: only IANA names reach it
    except UnknownTimeZone:
        raise FilterArgumentError(f"date: unknown time zone {name!r}; use an IANA name like Europe/Berlin",
                                  token=None) from None


def _to_datetime(value: object) -> datetime | None:
    moment: datetime | None = None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, int | float) and not isinstance(value, bool) or isinstance(value, str) and value.isdigit():
        try:
            moment = datetime.fromtimestamp(float(value), tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())  # Saleor: "2026-11-24T01:20:42.244915+00:00"
        except ValueError:
            return None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # Saleor's times are UTC
    return moment


def _date(value: object, fmt: object = None, zone: object = None) -> str:
    """`{{ order.created | date: "%d.%m.%Y %H:%M", "Europe/Berlin" }}`: strftime, in UTC unless a zone is given.
    Replaces Liquid's `date`; "now"/"today" are not supported (the domain has no clock) and render unchanged."""
    if is_undefined(value) or value is None or value == "":
        return ""
    moment = _to_datetime(value)
    if moment is None:
        return str(value)  # like Liquid's own `date`: input it cannot read is returned unchanged
    if zone is not None and not is_undefined(zone) and str(zone):
        moment = moment.astimezone(_zone(str(zone)))
    if fmt is None or is_undefined(fmt):
        return moment.isoformat()
    try:
        return moment.strftime(str(fmt))
    except ValueError as err:
        raise FilterArgumentError(f"date: {err}", token=None) from err


def _text(value: object) -> str:
    return "" if value is None or is_undefined(value) else str(value)


def _too_big() -> OutputStreamLimitError:
    return OutputStreamLimitError("output stream limit reached", token=None)


def _bounded_replace(original: Callable[..., Any]) -> Callable[..., Any]:
    # str.replace multiplies: a 50 kB string with a 50 kB replacement would allocate 2.5 GB before any
    # output limit could see it, so the size is worked out first.
    @wraps(original)
    def replace(value: object, old: object = "", new: object = "", *args: Any, **kwargs: Any) -> Any:
        text, before, after = _text(value), _text(old), _text(new)
        if len(text) + text.count(before) * (len(after) - len(before)) > MAX_OUTPUT_BYTES:
            raise _too_big()
        return original(value, old, new, *args, **kwargs)

    return replace


def _bounded_join(original: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(original)
    def join(value: object, separator: object = " ", *args: Any, **kwargs: Any) -> Any:
        if isinstance(value, list | tuple):
            size = sum(len(_text(item)) for item in value) + max(len(value) - 1, 0) * len(_text(separator))
            if size > MAX_OUTPUT_BYTES:
                raise _too_big()
        return original(value, separator, *args, **kwargs)

    return join


def _sized(original: Callable[..., Any]) -> Callable[..., Any]:
    # Work a filter does is not a loop: `(1..1000000000) | join` or 1,000 × `big | split: "" | sort` would
    # take seconds to minutes without one iteration counted. Ranges and lists are held to the loop limit.
    @wraps(original)
    def sized(value: object, *args: Any, **kwargs: Any) -> Any:
        for argument in (value, *args):
            if isinstance(argument, range) and argument.stop - argument.start > MAX_LIST_ITEMS:
                raise _ListLimitError("list size limit reached", token=None)
        result = original(value, *args, **kwargs)
        if isinstance(result, list) and len(result) > MAX_LIST_ITEMS:
            raise _ListLimitError("list size limit reached", token=None)
        if isinstance(result, str) and len(result) > MAX_OUTPUT_BYTES:
            raise _too_big()
        return result

    return sized


def _weight(value: object) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, Mapping):
        return 1 + sum(_weight(key) + _weight(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return 1 + sum(_weight(item) for item in value)
    if isinstance(value, int):  # `times` in a loop squares a number past any size
        return 1 + value.bit_length() // 8
    return 8


class _LimitedContext(RenderContext):
    """Counts what assigned variables really hold: python-liquid's own limit uses sys.getsizeof, which sees a
    list of 10,000 references to one 50 kB string as 80 kB although rendering it writes 500 MB."""

    __slots__ = ()

    def assign(self, key: str, val: Any) -> None:
        weights: dict[str, int] = self.tag_namespace.setdefault("assigned_weights", {})
        weights[key] = _weight(val)
        if sum(weights.values()) > MAX_ASSIGNED_SIZE:
            raise LocalNamespaceLimitError("local namespace limit reached", token=None)
        self.locals[key] = val


class _LimitedTemplate(BoundTemplate):
    context_class = _LimitedContext


class _Sandbox(Environment):
    """python-liquid for untrusted text: limits on, no partial templates (nothing is loaded), our filters.
    Values are looked up by item only (`obj[key]`), never as attributes: Python internals are unreachable."""

    loop_iteration_limit = MAX_LOOP_ITERATIONS
    output_stream_limit = MAX_OUTPUT_BYTES
    block_nesting_limit = MAX_NESTING
    context_depth_limit = 10
    template_class = _LimitedTemplate

    def setup_tags_and_filters(self, *, extra: bool = False) -> None:  # noqa: ARG002 - never the extras
        super().setup_tags_and_filters(extra=False)
        del self.tags["include"], self.tags["render"]
        # Every value comes from order data a customer typed: it is never trusted HTML.
        del self.filters["safe"]
        self.filters.update(money=_money, date=_date, replace=_bounded_replace(self.filters["replace"]),
                            join=_bounded_join(self.filters["join"]))
        self.filters.update({name: _sized(func) for name, func in self.filters.items()})

    def error(self, exc: type[LiquidError] | LiquidError, msg: str | None = None, token: Token | None = None) -> None:
        # Errors at the end of an expression carry a position-less token; the statement's token is better.
        if isinstance(exc, LiquidError) and token is not None and token.start_index >= 0 and (
                exc.token is None or exc.token.start_index < 0):
            exc.token = token
        super().error(exc, msg, token)


_SEEN: ContextVar[list[Undefined] | None] = ContextVar("template_undefined_seen", default=None)


class _RecordingUndefined(Undefined):
    """Lenient like `Undefined` (the check renders on), but each one is noted for the problem list."""

    __slots__ = ()

    def __init__(self, name: str, *, token: Token | None = None, obj: object = UNDEFINED,
                 hint: str | None = None) -> None:
        super().__init__(name, token=token, obj=obj, hint=hint)
        seen = _SEEN.get()
        if seen is not None:
            seen.append(self)


# Unknown filters render as nothing at send time (a saved template was checked); the check lists them.
_TEXT = _Sandbox(strict_filters=False)
_HTML = _Sandbox(strict_filters=False, autoescape=True)
_CHECK = _Sandbox(strict_filters=False, undefined=_RecordingUndefined)


@lru_cache(maxsize=_CACHE_SIZE)
def _compile(source: str, html: bool) -> BoundTemplate:
    return (_HTML if html else _TEXT).from_string(source)


def cache_info() -> CacheStats:
    """Compiled-template cache counters (keyed by source and escaping); a miss is a parse."""
    info = _compile.cache_info()
    return CacheStats(info.hits, info.misses, info.currsize)


def render(source: str, context: Mapping[str, Any], *, autoescape: bool = False) -> str:
    """Render leniently (unknown variables are empty). `autoescape=True` for HTML bodies: values are escaped,
    the template's own HTML is kept. Raises TemplateLimitExceeded or TemplateRenderError (both permanent)."""
    if len(source) > MAX_SOURCE_CHARS:
        raise TemplateLimitExceeded(_SOURCE_LIMIT)
    try:
        return _compile(source, autoescape).render(context)
    except LiquidError as err:
        problem = _problem(err, source)
        if isinstance(err, ResourceLimitError):
            raise TemplateLimitExceeded(problem.message) from err
        raise TemplateRenderError(f"Template error at line {problem.line}, column {problem.column}: "
                                  f"{problem.message}") from err
    except (ArithmeticError, ValueError, TypeError, RecursionError) as err:  # a built-in filter fed odd data
        raise TemplateRenderError(f"The template could not be rendered: {err}") from err


def _position(source: str, index: int | None) -> tuple[int, int]:
    index = len(source) if index is None or index < 0 else min(index, len(source))  # unknown: the end
    return source.count("\n", 0, index) + 1, index - source.rfind("\n", 0, index)


def _problem(err: LiquidError, source: str) -> TemplateProblem:
    message = next((text for kind, text in _LIMITS.items() if isinstance(err, kind)), None) or str(err.message)
    token = err.token
    return TemplateProblem(message, *_position(source, token.start_index if token is not None else None))


def _static_problems(analysis: TemplateAnalysis, context: Mapping[str, Any], source: str) -> list[TemplateProblem]:
    problems = [
        TemplateProblem(f"Unknown filter '{name}'{suggest(name, _CHECK.filters)}", *_position(source, span.index))
        for name, spans in analysis.filters.items() if name not in _CHECK.filters for span in spans
    ]
    for variables in analysis.globals.values():
        for variable in variables:
            if reason := unknown_variable(variable.segments, context):
                problems.append(TemplateProblem(reason, *_position(source, variable.span.index)))
    return problems


def _undefined_problem(undefined: Undefined, source: str) -> TemplateProblem:
    hint = undefined.hint or ""
    path = hint.removesuffix(" is undefined").strip("'") if hint.endswith(" is undefined") else undefined.name
    detail = "" if hint.endswith(" is undefined") or not hint else f" ({hint})"
    index = undefined.token.start_index if undefined.token is not None else None
    return TemplateProblem(f"Unknown variable '{path}'{detail}", *_position(source, index))


class _AnyKey(dict[str, Any]):
    """Metadata keys are the merchant's own: while checking, any key is known (and empty)."""

    def __missing__(self, key: str) -> str:
        if key in ("size", "first", "last"):  # let Liquid's own meaning apply
            raise KeyError(key)
        return ""


def _check(source: str, context: Mapping[str, Any]) -> list[TemplateProblem]:
    if len(source) > MAX_SOURCE_CHARS:
        return [TemplateProblem(_SOURCE_LIMIT, 1, 1)]
    try:
        template = _CHECK.from_string(source)
    except LiquidError as err:
        return [_problem(err, source)]
    analysis = template.analyze(include_partials=False)
    problems = _static_problems(analysis, context, source)
    order = context.get("order")
    if isinstance(order, Mapping) and isinstance(order.get("metadata"), Mapping):
        context = {**context, "order": {**order, "metadata": _AnyKey(order["metadata"])}}
    seen: list[Undefined] = []
    reset = _SEEN.set(seen)
    try:
        template.render(context)
    except LiquidError as err:
        problems.append(_problem(err, source))
    except (ArithmeticError, ValueError, TypeError, RecursionError) as err:
        problems.append(TemplateProblem(f"The template could not be rendered: {err}", 1, 1))
    finally:
        _SEEN.reset(reset)
    # Globals were checked against the catalogue above, on every branch; this adds loop variables and assigns.
    # Token-less ones are Liquid's own (every loop makes an undefined `parentloop`), not the template's.
    problems += [_undefined_problem(undefined, source) for undefined in seen
                 if undefined.token is not None and undefined.name not in analysis.globals]
    return sorted(set(problems), key=lambda problem: (problem.line, problem.column, problem.message))


def validate(source: str, *, sample: Mapping[str, Any] | None = None) -> list[TemplateProblem]:
    """Problems to refuse a template on save (empty: valid): syntax, unknown variables and filters, filter
    errors and limits when rendered with `sample` (an AutomationOrder snapshot; default `sample_order()`)."""
    context = build_context(sample if sample is not None else sample_order(), shop_name="Sample shop",
                            stage=("ready-to-ship", "Ready to ship"))
    return _check(source, context)


def preview(source: str, order: Mapping[str, Any], *, shop_name: str, stage: tuple[str, str] | None,
            extra: Mapping[str, Any] | None = None, autoescape: bool = False) -> Preview:
    """What the editor shows: the lenient rendering of `order` and the strict problems (never raises)."""
    context = build_context(order, shop_name=shop_name, stage=stage, extra=extra)
    problems = _check(source, context)
    try:
        text = render(source, context, autoescape=autoescape)
    except TemplateRenderError as err:
        text = ""
        problems = problems or [TemplateProblem(str(err), 1, 1)]
    return Preview(text, tuple(problems), len(text))
