"""What one template render may cost: value sizes, number sizes, loop iterations and calls, total work.

Invariant: inside `budget()`, no operation a template can reach (operators, `~`, `%` and `format`
formatting, string methods, filters, output) builds a value bigger than `MAX_VALUE_SIZE` (characters and
items, counted through every reference, so `[s, s]` weighs twice `s`) or an integer longer than
`MAX_INT_DIGITS` digits; the render makes at most `template_max_iterations()` loop iterations plus calls,
and its size checks add up to at most `MAX_WORK`. Each check runs before the value is built and raises
`TemplateLimitError` naming the limit. Outside a budget (Jinja folding constants at compile time) the size
checks still hold; nothing is counted.
"""

from __future__ import annotations

import math
import re
import types
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import wraps
from itertools import chain
from typing import Any

from jinja2.utils import _PassArg

from automation.config import template_max_iterations
from automation.errors import TemplateError

MAX_VALUE_SIZE = 1_000_000
MAX_INT_DIGITS = 1_000
MAX_WORK = 20_000_000
_MAX_INT_BITS = int(MAX_INT_DIGITS * 3.33)
_TEXT = (str, bytes, bytearray)
_SEQUENCE = (str, bytes, bytearray, list, tuple)
_PERCENT = re.compile(r"%(?:\([^)]*\))?[#0 +\-]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")


class TemplateLimitError(TemplateError):
    """A template would exceed one of the render limits."""


@dataclass
class Budget:
    max_steps: int
    steps: int = 0
    work: int = 0


_BUDGET: ContextVar[Budget | None] = ContextVar("automation_template_budget", default=None)


@contextmanager
def budget(max_steps: int | None = None) -> Iterator[Budget]:
    """One render's allowance; nested renders share the outer one."""
    current = _BUDGET.get()
    if current is not None:
        yield current
        return
    fresh = Budget(max_steps if max_steps is not None else template_max_iterations())
    token = _BUDGET.set(fresh)
    try:
        yield fresh
    finally:
        _BUDGET.reset(token)


def step() -> None:
    """One loop iteration or call."""
    current = _BUDGET.get()
    if current is None:
        return
    current.steps += 1
    if current.steps > current.max_steps:
        raise TemplateLimitError(
            f"the template makes more than {current.max_steps:,} loop iterations and calls, the limit per "
            "template ([automation] template_max_iterations)"
        )


def size_of(value: Any, limit: int = MAX_VALUE_SIZE) -> int:
    """Characters of text plus items of containers, through every reference; stops soon after `limit`."""
    total, stack = 0, [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _TEXT):
            total += len(item)
        elif isinstance(item, dict):
            total += 1 + 2 * len(item)
            if total <= limit:
                stack += item.keys()
                stack += item.values()
        elif isinstance(item, list | tuple | set | frozenset):
            total += 1 + len(item)
            if total <= limit:
                stack += item
        if total > limit:
            return total
    return total


def check_size(size: int, what: str) -> None:
    """`what` would build `size` characters and items: refused above the limit, counted as work."""
    if size > MAX_VALUE_SIZE:
        raise TemplateLimitError(f"{what} would make more than {MAX_VALUE_SIZE:,} characters or items (the limit)")
    current = _BUDGET.get()
    if current is not None:
        current.work += size
        if current.work > MAX_WORK:
            raise TemplateLimitError(
                f"the template builds more than {MAX_WORK:,} characters and items in all (the limit per template)"
            )


def _check_bits(bits: int, what: str) -> None:
    if bits > _MAX_INT_BITS:
        raise TemplateLimitError(f"{what} would have more than {MAX_INT_DIGITS:,} digits (the limit)")


def _is_int(value: Any) -> bool:
    return isinstance(value, int)


def check_binop(operator: str, left: Any, right: Any) -> None:
    """Before `left <operator> right` runs (the sandbox intercepts `*`, `**`, `+` and `%`)."""
    if operator == "*":
        if _is_int(left) and isinstance(right, _SEQUENCE):
            left, right = right, left
        if isinstance(left, _SEQUENCE) and _is_int(right):
            check_size(size_of(left) * max(right, 0), "repeating a value with *")
        elif _is_int(left) and _is_int(right):
            _check_bits(abs(left).bit_length() + abs(right).bit_length(), "a product")
    elif operator == "**":
        if _is_int(left) and _is_int(right) and right > 0 and abs(left) > 1:
            _check_bits(int(right * math.log2(abs(left))) + 1, "a power")
    elif operator == "+":
        if isinstance(left, _SEQUENCE) and isinstance(right, _SEQUENCE):
            check_size(size_of(left) + size_of(right), "joining values with +")
    elif operator == "%" and isinstance(left, _TEXT):
        check_percent_format(left, right)


def check_percent_format(template: str | bytes | bytearray, args: Any) -> None:
    """Before `template % args`: the widths and precisions it asks for, and what it repeats."""
    text = template if isinstance(template, str) else bytes(template).decode("latin-1")
    padding, fields, star = 0, 0, False
    for match in _PERCENT.finditer(text):
        fields += 1
        for number in match.groups():
            if number == "*":
                star = True
            elif number:
                padding += int(number)
    if star:
        values = args if isinstance(args, tuple) else (args,)
        padding += sum(abs(v) for v in values if _is_int(v))
    check_size(len(text) + padding + fields * size_of(args), "formatting with %")


def check_format_field(value: Any, spec: str) -> None:
    """Before one `{...}` field of `str.format`: its width or precision, and the value's size."""
    padding = sum(int(n) for n in re.findall(r"\d+", spec))
    check_size(padding + size_of(value), "str.format")


def concat(*values: Any) -> str:
    """Jinja's `~` (every operand as text), with the result's size checked first."""
    check_size(sum(len(v) if isinstance(v, str) else size_of(v) for v in values), "joining text with ~")
    return "".join(v if isinstance(v, str) else str(v) for v in values)


def counted(iterable: Iterable[Any]) -> Iterable[Any]:
    """A `{% for %}` loop's iterable, each iteration counted against the render's budget."""
    if _BUDGET.get() is None:
        return iterable

    def iterate() -> Iterator[Any]:
        for item in iterable:
            step()
            yield item

    return iterate()


def check_output(value: Any) -> Any:
    """Every `{{ ... }}` printed by a template (Jinja's `finalize`)."""
    if not isinstance(value, str):
        check_size(size_of(value), "printing a value")
    return value


# -- calls of methods ------------------------------------------------------------------------------


def _arg(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str, default: Any = None) -> Any:
    return args[index] if len(args) > index else kwargs.get(name, default)


def _replaced_size(text: Any, old: Any, new: Any, count: Any) -> int | None:
    if not (isinstance(old, type(text)) and isinstance(new, type(text))):
        return None
    times = text.count(old) if old else len(text) + 1
    if _is_int(count) and count >= 0:
        times = min(times, count)
    return len(text) + times * max(len(new) - len(old), 0)


def check_call(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Before a template calls `obj`: counted, and the methods that grow text checked. Returns the
    arguments to call with (an iterable given to `join` is read once, here)."""
    step()
    owner = getattr(obj, "__self__", None)
    if not isinstance(obj, types.BuiltinMethodType) or owner is None:
        return args
    name = obj.__name__
    if isinstance(owner, _TEXT):
        if name in {"center", "ljust", "rjust", "zfill"}:
            width = _arg(args, kwargs, 0, "width")
            if _is_int(width):
                check_size(max(width, len(owner)), f"{name}()")
        elif name == "expandtabs":
            tabsize = _arg(args, kwargs, 0, "tabsize", 8)
            if _is_int(tabsize):
                tabs = owner.count("\t") if isinstance(owner, str) else owner.count(b"\t")
                check_size(len(owner) + tabs * max(tabsize, 0), "expandtabs()")
        elif name == "replace" and len(args) >= 2:
            size = _replaced_size(owner, args[0], args[1], _arg(args, kwargs, 2, "count", -1))
            if size is not None:
                check_size(size, "replace()")
        elif name == "join" and args:
            items = list(args[0])
            size = sum(len(i) if isinstance(i, _TEXT) else 0 for i in items) + len(owner) * max(len(items) - 1, 0)
            check_size(size, "join()")
            args = (items, *args[1:])
        elif name == "translate" and args and isinstance(args[0], dict):
            longest = max((len(v) for v in args[0].values() if isinstance(v, _TEXT)), default=1)
            check_size(len(owner) * max(longest, 1), "translate()")
    elif _is_int(owner) and name == "to_bytes":
        length = _arg(args, kwargs, 0, "length", 1)
        if _is_int(length):
            check_size(length, "to_bytes()")
    return args


# -- filters ---------------------------------------------------------------------------------------

#: filters that turn their input into text (its size is checked first)
_TEXT_FILTERS = {
    "capitalize", "center", "e", "escape", "forceescape", "format", "indent", "join", "lower", "pprint",
    "replace", "safe", "string", "striptags", "title", "tojson", "trim", "truncate", "upper", "urlencode",
    "urlize", "wordcount", "wordwrap", "xmlattr",
}  # fmt: skip


def _check_filter(name: str, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Checks before the filter `name` runs; returns the value to give it (an iterable read once)."""
    if name in _TEXT_FILTERS and not isinstance(value, str):
        check_size(size_of(value), f"the input of |{name}")
    if name == "center":
        width = _arg(args, kwargs, 0, "width", 80)
        if _is_int(width):
            check_size(max(width, len(str(value))), "|center")
    elif name == "indent":
        width = _arg(args, kwargs, 0, "width", 4)
        lines = str(value).count("\n") + 1
        pad = width if _is_int(width) else len(str(width))
        check_size(len(str(value)) + lines * max(pad, 0), "|indent")
    elif name == "format" and isinstance(value, str):
        check_percent_format(value, kwargs or args)
    elif name == "replace" and isinstance(value, str) and len(args) >= 2:
        size = _replaced_size(value, args[0], args[1], _arg(args, kwargs, 2, "count"))
        if size is not None:
            check_size(size, "|replace")
    elif name == "join" and not isinstance(value, str) and _arg(args, kwargs, 1, "attribute") is None:
        value = list(value)
        glue = _arg(args, kwargs, 0, "d", "")
        size = sum(len(v) if isinstance(v, str) else size_of(v) for v in value)
        check_size(size + len(str(glue)) * max(len(value) - 1, 0), "|join")
    elif name in {"batch", "slice"}:
        count = _arg(args, kwargs, 0, "linecount" if name == "batch" else "slices")
        if _is_int(count):
            check_size(count, f"|{name}")
    return value


def _sum_sequences(value: Iterable[Any], start: list[Any] | tuple[Any, ...]) -> list[Any] | tuple[Any, ...]:
    """`|sum(start=[])` of lists in linear time (the builtin copies the growing list for each item)."""
    items = list(value)
    check_size(size_of(items) + size_of(start), "|sum")
    result = list(chain(start, *items))
    return tuple(result) if isinstance(start, tuple) else result


def bounded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """`function` (the filter `name`) with `_check_filter` before it; Jinja's pass-through argument kept."""
    offset = 1 if _PassArg.from_obj(function) is not None else 0

    @wraps(function)
    def checked(*args: Any, **kwargs: Any) -> Any:
        if len(args) <= offset:
            return function(*args, **kwargs)
        value, rest = args[offset], args[offset + 1 :]
        if name == "sum":
            start = _arg(rest, kwargs, 1, "start", 0)
            if isinstance(start, list | tuple) and _arg(rest, kwargs, 0, "attribute") is None:
                return _sum_sequences(value, start)
        value = _check_filter(name, value, rest, kwargs)
        return function(*args[:offset], value, *rest, **kwargs)

    return checked
