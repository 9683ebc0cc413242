"""A compact JsonLogic evaluator (jsonlogic.com semantics) with the project's extra operators.

Invariant: one `apply` does bounded work whatever the data: every operation and every list or
text an operator receives or returns is charged against `MAX_WORK`, so an expression that would
grow quadratically with the data (`reduce` + `merge` over a long list) stops with a
`ConditionError` instead of running for minutes."""

from __future__ import annotations

from collections.abc import Callable
from functools import reduce as _reduce
from typing import Any

from automation.errors import ConditionError
from automation.paths import MISSING, resolve

#: Work units one evaluation may spend: an operation costs `STEP`, each item of a list or
#: character of a text passed to or returned by an operator costs 1 (about a second at most).
MAX_WORK = 20_000_000
STEP = 20


def _size(value: Any) -> int:
    return len(value) if isinstance(value, list | str | dict) else 0


def _truthy(value: Any) -> bool:
    if isinstance(value, list):
        return len(value) > 0
    return bool(value) and value is not MISSING


def _loose_eq(a: Any, b: Any) -> bool:
    if (isinstance(a, int | float) and isinstance(b, str)) or (isinstance(b, int | float) and isinstance(a, str)):
        try:
            return float(a) == float(b)
        except ValueError:
            return False
    return a == b


def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise ConditionError(f"expected a number, got {value!r}") from exc


def _compare(op: Callable[[Any, Any], bool]) -> Callable[..., bool]:
    def run(*args: Any) -> bool:
        values = [a if isinstance(a, str) and all(isinstance(x, str) for x in args) else _num(a) for a in args]
        return all(op(values[i], values[i + 1]) for i in range(len(values) - 1))

    return run


def _substr(text: str, start: int, length: int | None = None) -> str:
    text = str(text)
    end = None if length is None else (start + length if length >= 0 else len(text) + length)
    return text[start:end]


_SIMPLE: dict[str, Callable[..., Any]] = {
    "==": _loose_eq,
    "===": lambda a, b: a == b and type(a) is type(b),
    "!=": lambda a, b: not _loose_eq(a, b),
    "!==": lambda a, b: not (a == b and type(a) is type(b)),
    "!": lambda a: not _truthy(a),
    "!!": _truthy,
    ">": _compare(lambda a, b: a > b),
    ">=": _compare(lambda a, b: a >= b),
    "<": _compare(lambda a, b: a < b),
    "<=": _compare(lambda a, b: a <= b),
    "max": lambda *a: max(_num(x) for x in a) if a else None,
    "min": lambda *a: min(_num(x) for x in a) if a else None,
    "+": lambda *a: sum(_num(x) for x in a),
    "*": lambda *a: _reduce(lambda x, y: x * y, (_num(x) for x in a), 1.0),
    "-": lambda a, b=None: -_num(a) if b is None else _num(a) - _num(b),
    "/": lambda a, b: _num(a) / _num(b),
    "%": lambda a, b: _num(a) % _num(b),
    "in": lambda a, b: a in (b or []),
    "cat": lambda *a: "".join("" if x is None else str(x) for x in a),
    "substr": _substr,
    "merge": lambda *a: [y for x in a for y in (x if isinstance(x, list) else [x])],
    "log": lambda a: a,
}


class JsonLogic:
    """Evaluator; `extra` adds operators that receive already-evaluated arguments."""

    def __init__(self, extra: dict[str, Callable[..., Any]] | None = None, max_work: int = MAX_WORK) -> None:
        self.ops = {**_SIMPLE, **(extra or {})}
        self.max_work = max_work
        self._left = max_work

    def apply(self, logic: Any, data: Any) -> Any:
        """Evaluate `logic` against `data`, with a fresh work budget."""
        self._left = self.max_work
        return self._eval(logic, data)

    def _charge(self, units: int) -> None:
        self._left -= units
        if self._left < 0:
            raise ConditionError(
                f"evaluating this JsonLogic needs more than {self.max_work:,} work units (operations, and "
                "the items of the lists and texts they handle): too much data for this expression"
            )

    def _eval(self, logic: Any, data: Any) -> Any:
        self._charge(STEP)
        if isinstance(logic, list):
            return [self._eval(item, data) for item in logic]
        if not isinstance(logic, dict) or len(logic) != 1:
            return logic
        op, raw = next(iter(logic.items()))
        args = raw if isinstance(raw, list) else [raw]
        special = getattr(self, f"_op_{_SPECIAL.get(op, '')}", None) if op in _SPECIAL else None
        if special:
            return special(args, data)
        if op not in self.ops:
            raise ConditionError(f"unknown JsonLogic operator {op!r}")
        values = [self._eval(a, data) for a in args]
        self._charge(sum(map(_size, values)))
        try:
            result = self.ops[op](*values)
        except ConditionError as exc:
            raise ConditionError(f"{op!r}: {exc}") from exc
        except TypeError as exc:
            shown = repr(values)
            shown = shown if len(shown) <= 200 else shown[:197] + "..."
            raise ConditionError(f"{op!r} cannot be applied to {shown}: {exc}") from exc
        self._charge(_size(result))
        return result

    def _op_var(self, args: list[Any], data: Any) -> Any:
        path = self._eval(args[0], data) if args else ""
        default = self._eval(args[1], data) if len(args) > 1 else None
        if path is None or path == "":
            return data
        value = resolve(data, str(path))
        return default if value is MISSING else value

    def _op_missing(self, args: list[Any], data: Any) -> list[Any]:
        keys = self._eval(args[0], data) if len(args) == 1 and isinstance(args[0], dict) else args
        keys = keys if isinstance(keys, list) else [keys]
        self._charge(len(keys))
        return [k for k in keys if resolve(data, str(k)) in (MISSING, None, "")]

    def _op_missing_some(self, args: list[Any], data: Any) -> list[Any]:
        need, keys = self._eval(args[0], data), self._eval(args[1], data)
        self._charge(_size(keys))
        missing = [k for k in keys if resolve(data, str(k)) in (MISSING, None, "")]
        return [] if len(keys) - len(missing) >= need else missing

    def _op_if(self, args: list[Any], data: Any) -> Any:
        for i in range(0, len(args) - 1, 2):
            if _truthy(self._eval(args[i], data)):
                return self._eval(args[i + 1], data)
        return self._eval(args[-1], data) if len(args) % 2 else None

    def _op_and(self, args: list[Any], data: Any) -> Any:
        value: Any = True
        for arg in args:
            value = self._eval(arg, data)
            if not _truthy(value):
                return value
        return value

    def _op_or(self, args: list[Any], data: Any) -> Any:
        value: Any = False
        for arg in args:
            value = self._eval(arg, data)
            if _truthy(value):
                return value
        return value

    def _items(self, args: list[Any], data: Any) -> list[Any]:
        items = self._eval(args[0], data)
        return items if isinstance(items, list) else []

    def _op_map(self, args: list[Any], data: Any) -> list[Any]:
        return [self._eval(args[1], item) for item in self._items(args, data)]

    def _op_filter(self, args: list[Any], data: Any) -> list[Any]:
        return [item for item in self._items(args, data) if _truthy(self._eval(args[1], item))]

    def _op_reduce(self, args: list[Any], data: Any) -> Any:
        acc = self._eval(args[2], data) if len(args) > 2 else None
        for item in self._items(args, data):
            acc = self._eval(args[1], {"current": item, "accumulator": acc})
        return acc

    def _op_all(self, args: list[Any], data: Any) -> bool:
        items = self._items(args, data)
        return bool(items) and all(_truthy(self._eval(args[1], i)) for i in items)

    def _op_some(self, args: list[Any], data: Any) -> bool:
        return any(_truthy(self._eval(args[1], i)) for i in self._items(args, data))

    def _op_none(self, args: list[Any], data: Any) -> bool:
        return not self._op_some(args, data)


_SPECIAL = {
    "var": "var",
    "missing": "missing",
    "missing_some": "missing_some",
    "if": "if",
    "?:": "if",
    "and": "and",
    "or": "or",
    "map": "map",
    "filter": "filter",
    "reduce": "reduce",
    "all": "all",
    "some": "some",
    "none": "none",
}
