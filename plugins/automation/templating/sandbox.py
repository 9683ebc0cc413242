"""Render user templates in a sandboxed Jinja environment, recursively through dicts and lists.

A string that is one `{{ expression }}` keeps the expression's native type (a number stays a
number, a dict a dict); anything else renders to a string. Undefined names are errors.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

import pendulum
from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined, UndefinedError
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from automation.errors import TemplateError

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


class _Sandbox(SandboxedEnvironment):
    """Also refuses dunder attribute access by item (`x['__class__']`), not only by dot."""

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        return not attr.startswith("_") and super().is_safe_attribute(obj, attr, value)


@cache
def environment() -> SandboxedEnvironment:
    env = _Sandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
    env.filters.update(add_days=add_days, add_hours=add_hours, isoformat=_isoformat)
    env.globals.update(timedelta=timedelta)
    return env


def _render_string(text: str, context: dict[str, Any], path: str) -> Any:
    if "{{" not in text and "{%" not in text:
        return text
    env = environment()
    try:
        single = _SINGLE_EXPRESSION.match(text)
        if single:
            result = env.compile_expression(single.group("expr"), undefined_to_none=False)(**context)
            if isinstance(result, Undefined):
                str(result)  # StrictUndefined raises with the missing name
        else:
            result = env.from_string(text).render(**context)
    except SecurityError as exc:
        raise TemplateError(f"{path}: the template tries to reach something the sandbox forbids ({exc})") from exc
    except UndefinedError as exc:
        raise TemplateError(f"{path}: {exc.message}; available names: {sorted(context)}") from exc
    except TemplateSyntaxError as exc:
        raise TemplateError(f"{path}: template syntax error: {exc.message}") from exc
    except TemplateError:
        raise
    except Exception as exc:
        raise TemplateError(f"{path}: template failed: {type(exc).__name__}: {exc}") from exc
    if isinstance(result, str) and len(result) > MAX_OUTPUT_CHARS:
        raise TemplateError(f"{path}: rendered text is {len(result)} characters; the limit is {MAX_OUTPUT_CHARS}")
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
