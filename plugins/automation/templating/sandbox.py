"""Render user templates in a sandboxed Jinja environment, recursively through dicts and lists.

A string that is one `{{ expression }}` keeps the expression's native type (a number stays a
number, a dict a dict); anything else renders to a string. Undefined names are errors. Every
render is bounded (`automation.templating.limits`): sizes of values and numbers, loop iterations
and calls, output length; a limit hit is a `TemplateError` naming the config path and the limit.
The sandbox refuses private attributes and changes to lists and dicts.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

import pendulum
from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined, UndefinedError, nodes
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEnvironment, SandboxedFormatter, SecurityError
from jinja2.visitor import NodeTransformer
from markupsafe import Markup

from automation.errors import TemplateError
from automation.templating import limits

MAX_OUTPUT_CHARS = 100_000
_SINGLE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\}\}|\{\{).)*)\}\}\s*$", re.DOTALL)
_RELATIVE = re.compile(r"^\s*([+-])\s*(\d+)\s*(minute|hour|day|week|month)s?\s*$")


def _as_datetime(value: Any) -> pendulum.DateTime:
    if isinstance(value, str):
        return pendulum.parse(value)  # type: ignore[return-value]
    if isinstance(value, datetime):
        return pendulum.instance(value)
    if isinstance(value, date):
        return pendulum.datetime(value.year, value.month, value.day)
    raise TemplateError(f"expected a date or datetime, got {type(value).__name__}")


def add_days(value: Any, days: int) -> pendulum.DateTime:
    return _as_datetime(value).add(days=int(days))


def add_hours(value: Any, hours: int) -> pendulum.DateTime:
    return _as_datetime(value).add(hours=int(hours))


def relative_datetime(spec: str, base: Any | None = None) -> pendulum.DateTime | None:
    """`"+7 days"` relative to `base` (default now, UTC); None if `spec` is not of that form."""
    match = _RELATIVE.match(spec)
    if not match:
        return None
    sign, amount, unit = match.groups()
    delta = {f"{unit}s": int(amount) * (1 if sign == "+" else -1)}
    return (_as_datetime(base) if base is not None else pendulum.now("UTC")).add(**delta)


def _isoformat(value: Any) -> str:
    return _as_datetime(value).isoformat()


class _BoundedFormatter(SandboxedFormatter):
    """`str.format` in the sandbox, each field's width, precision and value checked first."""

    def format_field(self, value: Any, format_spec: str) -> Any:
        limits.check_format_field(value, format_spec)
        return super().format_field(value, format_spec)


_LIMITS = "automation.templating.limits"


class _BoundLoops(NodeTransformer):
    """Every `{% for %}` iterable (and a recursive loop's `loop(...)` argument) counted; `~` checked."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = _guarded("counted", [node.iter], node.lineno)
        if node.recursive:
            for call in node.find_all(nodes.Call):
                if isinstance(call.node, nodes.Name) and call.node.name == "loop" and call.args:
                    call.args[0] = _guarded("counted", [call.args[0]], call.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _guarded("concat", list(node.nodes), node.lineno)


def _guarded(function: str, args: list[nodes.Node], lineno: int) -> nodes.Call:
    return nodes.Call(nodes.ImportedName(f"{_LIMITS}.{function}"), args, [], None, None, lineno=lineno)


class _Sandbox(ImmutableSandboxedEnvironment):
    """Also refuses dunder attribute access by item (`x['__class__']`), not only by dot, and
    changes to lists and dicts; checks operators, calls, `str.format`, filters and output (`limits`)."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(finalize=limits.check_output, **options)
        self.globals.pop("lipsum", None)  # lipsum(n) builds n paragraphs
        self.filters = {name: limits.bounded_filter(name, f) for name, f in self.filters.items()}

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        return not attr.startswith("_") and super().is_safe_attribute(obj, attr, value)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        limits.check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        args = limits.check_call(__obj, args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Any:
        wrapped = super().wrap_str_format(value)
        if wrapped is None or isinstance(value.__self__, Markup):
            return wrapped
        text, formatter = value.__self__, _BoundedFormatter(self)
        is_map = value.__name__ == "format_map"

        def bounded(*args: Any, **kwargs: Any) -> str:
            if is_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                kwargs = args[0]
                args = ()
            return str(formatter.vformat(text, args, kwargs))

        return bounded

    def _generate(self, source: nodes.Template, name: str | None, filename: str | None, defer_init: bool = False):  # type: ignore[no-untyped-def]
        return super()._generate(_BoundLoops().visit(source), name, filename, defer_init=defer_init)


def bounded_environment(**options: Any) -> SandboxedEnvironment:
    """A sandbox with the render limits; `options` as for a Jinja environment (delimiters...)."""
    return _Sandbox(**options)


@cache
def environment() -> SandboxedEnvironment:
    env = bounded_environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
    extra: dict[str, Callable[..., Any]] = {"add_days": add_days, "add_hours": add_hours, "isoformat": _isoformat}
    env.filters.update({name: limits.bounded_filter(name, f) for name, f in extra.items()})
    env.globals.update(timedelta=timedelta)
    return env


def render_bounded(env: SandboxedEnvironment, text: str, context: dict[str, Any], single: re.Pattern[str]) -> Any:
    """`text` rendered under one render budget: its native value if `single` matches (one expression),
    else text, streamed so that output beyond `MAX_OUTPUT_CHARS` stops the render."""
    with limits.budget():
        match = single.match(text)
        if match:
            result = env.compile_expression(match.group("expr"), undefined_to_none=False)(**context)
            if isinstance(result, Undefined):
                str(result)  # StrictUndefined raises with the missing name
            if not isinstance(result, str):
                limits.check_size(limits.size_of(result), "the value")
            return result
        parts, length = [], 0
        for part in env.from_string(text).generate(**context):
            length += len(part)
            if length > MAX_OUTPUT_CHARS:
                raise limits.TemplateLimitError(
                    f"rendered text is longer than {MAX_OUTPUT_CHARS:,} characters (the limit)"
                )
            parts.append(part)
        return "".join(parts)


def _render_string(text: str, context: dict[str, Any], path: str) -> Any:
    if "{{" not in text and "{%" not in text:
        return text
    try:
        result = render_bounded(environment(), text, context, _SINGLE_EXPRESSION)
    except SecurityError as exc:
        raise TemplateError(f"{path}: the template tries to reach something the sandbox forbids ({exc})") from exc
    except UndefinedError as exc:
        raise TemplateError(f"{path}: {exc.message}; available names: {sorted(context)}") from exc
    except TemplateSyntaxError as exc:
        raise TemplateError(f"{path}: template syntax error: {exc.message}") from exc
    except TemplateError as exc:
        raise type(exc)(f"{path}: {exc}") if isinstance(exc, limits.TemplateLimitError) else exc from None
    except MemoryError:
        raise TemplateError(f"{path}: the template needs more memory than this process may use") from None
    except RecursionError:
        raise TemplateError(f"{path}: the template nests too deep (macros calling themselves?)") from None
    except Exception as exc:
        raise TemplateError(f"{path}: template failed: {type(exc).__name__}: {exc}") from exc
    if isinstance(result, str) and len(result) > MAX_OUTPUT_CHARS:
        raise TemplateError(f"{path}: rendered text is {len(result):,} characters; the limit is {MAX_OUTPUT_CHARS:,}")
    if isinstance(result, pendulum.DateTime | datetime):
        return result.isoformat()
    return result


def render_value(value: Any, context: dict[str, Any], path: str = "config") -> Any:
    """Render every string inside `value`; `path` names the place in errors (`config.values.name`)."""
    if isinstance(value, str):
        return _render_string(value, context, path)
    if isinstance(value, dict):
        return {k: render_value(v, context, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, context, f"{path}[{i}]") for i, v in enumerate(value)]
    return value
