"""The condition operators, each defined once: how Python evaluates it (the gate, step `when`, JsonLogic
extras, the dry run), how a record filter compiles it to SQL (or why it cannot), its words on the
pages, its arity and the values it accepts.

Invariant: for every operator with both, Python evaluation and the SQL filter give the same answer
on a row, for the column types and values validation accepts (tests/conditions/
test_operator_agreement.py checks it against Postgres). The meanings picked where they differed:

- NULL (or a missing value, for the unary operators) compares false: `>`, `contains`, `before`,
  `older_than_days`... on None are false, in Python as in SQL; `!=` and `not_in` are true on None
  unless the value (list) holds null. SQL is two-valued: a clause never yields NULL, so `not`
  negates it as Python does (`col = v AND col IS NOT NULL`, `col IS DISTINCT FROM v`). A field
  absent from the data (not a column, which always exists) stays an error for a binary operator.
- Empty is None, "", [] and {} (a JSON column's `[]`, `{}`, `""` and `null` too; a text "[]" is text).
- Text order is code-point order (SQL compares text under `COLLATE "C"`, whatever the database's
  collation); `contains` on text is a case-sensitive substring (LIKE wildcards escaped).
- Dates compare as instants; a date or a timestamp without time zone is read as UTC.
- `matches` means RE2 (Python): a record filter runs it on Postgres only when the pattern's meaning
  is the same there, by translating the pattern (`.` and `\\d \\w \\s` spelled out as RE2 means them) and
  refusing what has no identical Postgres form (flags such as `(?i)`, `\\b`, `\\pL`, `\\x{...}`, POSIX
  classes, counts over 255, a literal `{` or `}` left unescaped) with a message naming the construct.
- `changed` needs two states of a record: not usable in record filters.

In a record filter the column's registry type decides which values are accepted (`column_problem`):
numbers on number columns, text on text columns, dates only through before/after/older/newer, JSON
columns only for is_empty/is_not_empty."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, get_args

import pendulum
from sqlalchemy import ColumnElement, DateTime, Interval, Text, and_, case, cast, func, literal, literal_column, or_
from sqlalchemy.dialects.postgresql import JSONB

from automation.definitions.regex import REGEX_BUDGET, RegexError, compile_regex, regex_search
from automation.errors import ConditionError
from automation.paths import MISSING

OperatorName = Literal[
    "==", "!=", ">", "<", ">=", "<=", "contains", "in", "not_in", "is_empty", "is_not_empty",
    "changed", "matches", "older_than_days", "newer_than_days", "before", "after",
]  # fmt: skip

#: Registry column types (records/registry.py `ColumnType`), grouped by what filters accept on them.
NUMBER_TYPES = frozenset({"integer", "number"})
DATE_TYPES = frozenset({"date", "datetime"})
#: Postgres's largest count in a bounded repetition ({n,m}); RE2 allows up to 1000.
PG_MAX_REPEAT = 255

_TEXT_SQL_TYPES = "('text'::regtype, 'character varying'::regtype, 'character'::regtype, 'name'::regtype)"
_LOCAL_SQL_TYPES = "('date'::regtype, 'timestamp without time zone'::regtype)"
_JSON_SQL_TYPES = "('jsonb'::regtype, 'json'::regtype)"


# --- Python -----------------------------------------------------------------------------------


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_empty(value: Any) -> bool:
    return value is MISSING or value is None or value == "" or (isinstance(value, list | dict) and not value)


def to_datetime(value: Any, where: str) -> pendulum.DateTime:
    """An aware instant: an ISO text ("now" is now, no offset is UTC) or a date/datetime."""
    if isinstance(value, str) and value.strip().lower() == "now":
        return pendulum.now("UTC")
    try:
        parsed = pendulum.parse(value) if isinstance(value, str) else pendulum.instance(value)
    except Exception as exc:
        raise ConditionError(f"{where}: expected a date, got {value!r}") from exc
    if not isinstance(parsed, pendulum.DateTime):  # a bare date parses to a Date, a time to a Time
        if isinstance(parsed, pendulum.Date):
            return pendulum.datetime(parsed.year, parsed.month, parsed.day, tz="UTC")
        raise ConditionError(f"{where}: expected a date, got {value!r}")
    return parsed


def _number_or_same(actual: Any, expected: Any, where: str) -> tuple[Any, Any]:
    if is_number(expected):
        try:
            return float(actual), float(expected)
        except (TypeError, ValueError) as exc:
            raise ConditionError(f"{where}: expected a number, got {actual!r}") from exc
    if type(actual) is not type(expected) and not (isinstance(actual, str) and isinstance(expected, str)):
        raise ConditionError(f"{where}: cannot compare {actual!r} with {expected!r}")
    return actual, expected


def _equals(actual: Any, expected: Any, where: str) -> bool:
    if actual is None or expected is None:
        return actual is expected
    if actual == expected:
        return True
    return is_number(expected) and _number_or_same(actual, expected, where)[0] == float(expected)


def _order(test: Callable[[Any, Any], bool]) -> Callable[[Any, Any, str], bool]:
    def run(actual: Any, expected: Any, where: str) -> bool:
        if actual is None:
            return False
        a, b = _number_or_same(actual, expected, where)
        return test(a, b)

    return run


def _contains(actual: Any, expected: Any, where: str) -> bool:
    if actual is None:
        return False
    if isinstance(actual, str):
        if not isinstance(expected, str):
            raise ConditionError(f"{where}: 'contains' on text needs a text value, got {expected!r}")
        return expected in actual
    if isinstance(actual, list | dict):
        return expected in actual
    raise ConditionError(f"{where}: 'contains' needs text or a list, got {actual!r}")


def _in_list(actual: Any, expected: Any, where: str) -> bool:
    if not isinstance(expected, list):
        raise ConditionError(f"{where}: 'in' needs a list as value, got {expected!r}")
    return actual in expected


def _not_in_list(actual: Any, expected: Any, where: str) -> bool:
    if not isinstance(expected, list):
        raise ConditionError(f"{where}: 'not_in' needs a list as value, got {expected!r}")
    return actual not in expected


def _matches(actual: Any, expected: Any, where: str) -> bool:
    try:
        return regex_search(str(expected), "" if actual is None else str(actual), REGEX_BUDGET.get())
    except RegexError as exc:
        raise ConditionError(f"{where}: {exc}") from None


def _days(expected: Any, where: str) -> float:
    try:
        return float(expected)
    except (TypeError, ValueError):
        raise ConditionError(f"{where}: expected a number of days, got {expected!r}") from None


def _older(actual: Any, expected: Any, where: str) -> bool:
    if actual is None:
        return False
    return (pendulum.now("UTC") - to_datetime(actual, where)).total_seconds() > _days(expected, where) * 86400


def _newer(actual: Any, expected: Any, where: str) -> bool:
    if actual is None:
        return False
    return (pendulum.now("UTC") - to_datetime(actual, where)).total_seconds() < _days(expected, where) * 86400


def _before(actual: Any, expected: Any, where: str) -> bool:
    return actual is not None and to_datetime(actual, where) < to_datetime(expected, where)


def _after(actual: Any, expected: Any, where: str) -> bool:
    return actual is not None and to_datetime(actual, where) > to_datetime(expected, where)


def _changed(actual: Any, before: Any, where: str) -> bool:
    return (None if before is MISSING else before) != (None if actual is MISSING else actual)


# --- SQL --------------------------------------------------------------------------------------

Column = ColumnElement[Any]
_TIMESTAMPTZ = DateTime(timezone=True)


def _typed(col: Column, types: str) -> ColumnElement[bool]:
    """Whether the column's SQL type is one of `types` (a parenthesised regtype list)."""
    return func.pg_typeof(col).op("IN")(literal_column(types))


def _sql_equals(col: Column, value: Any) -> ColumnElement[bool]:
    return col.is_(None) if value is None else and_(col.is_not(None), col == value)


def _sql_not_equals(col: Column, value: Any) -> ColumnElement[bool]:
    return col.is_not(None) if value is None else col.is_distinct_from(value)


def _sql_order(op: str) -> Callable[[Column, Any], ColumnElement[bool]]:
    def run(col: Column, value: Any) -> ColumnElement[bool]:
        plain = col.op(op, is_comparison=True)(value)
        if not isinstance(value, str):
            return and_(col.is_not(None), plain)
        as_c = cast(col, Text).collate("C").op(op, is_comparison=True)(literal(value, Text))
        return and_(col.is_not(None), case((_typed(col, _TEXT_SQL_TYPES), as_c), else_=plain))

    return run


def _sql_in(col: Column, value: Any) -> ColumnElement[bool]:
    values = list(value or [])
    present = [v for v in values if v is not None]
    inside = and_(col.is_not(None), col.in_(present))
    return or_(col.is_(None), inside) if len(present) < len(values) else inside


def _sql_not_in(col: Column, value: Any) -> ColumnElement[bool]:
    values = list(value or [])
    present = [v for v in values if v is not None]
    outside = and_(col.is_not(None), col.not_in(present))
    return outside if len(present) < len(values) else or_(col.is_(None), outside)


def _sql_is_empty(col: Column, value: Any = None) -> ColumnElement[bool]:
    """NULL, a text '', or a JSON [], {}, "" or null (jsonb's canonical text); never NULL itself."""
    json_text = cast(cast(cast(col, Text), JSONB), Text)
    return or_(
        col.is_(None),
        case((_typed(col, _JSON_SQL_TYPES), json_text.in_(["[]", "{}", '""', "null"])), else_=cast(col, Text) == ""),
    )


def _sql_is_not_empty(col: Column, value: Any = None) -> ColumnElement[bool]:
    return ~_sql_is_empty(col)


def _sql_contains(col: Column, value: Any) -> ColumnElement[bool]:
    return and_(col.is_not(None), col.contains(str(value), autoescape=True))


def _sql_matches(col: Column, value: Any) -> ColumnElement[bool]:
    return func.coalesce(col, "").op("~", is_comparison=True)(literal(sql_pattern(str(value)), Text))


def _compare_instant(col: Column, op: str, instant: ColumnElement[Any]) -> ColumnElement[bool]:
    """`col <op> instant` (timestamptz), a date or timestamp column read as UTC whatever the session's zone."""
    local = col.op(op, is_comparison=True)(func.timezone(literal("UTC", Text), instant))
    return and_(
        col.is_not(None), case((_typed(col, _LOCAL_SQL_TYPES), local), else_=col.op(op, is_comparison=True)(instant))
    )


def _sql_instant(value: Any) -> ColumnElement[Any]:
    if isinstance(value, str) and value.strip().lower() == "now":
        return func.now()
    moment = to_datetime(value, "value")
    return literal(datetime.fromisoformat(moment.isoformat()), _TIMESTAMPTZ)


def _sql_date_compare(op: str) -> Callable[[Column, Any], ColumnElement[bool]]:
    def run(col: Column, value: Any) -> ColumnElement[bool]:
        return _compare_instant(col, op, _sql_instant(value))

    return run


def _sql_age(op: str) -> Callable[[Column, Any], ColumnElement[bool]]:
    def run(col: Column, value: Any) -> ColumnElement[bool]:
        return _compare_instant(col, op, func.now() - literal(timedelta(days=_days(value, "value")), Interval()))

    return run


# --- regular expressions in SQL ---------------------------------------------------------------

_OUTSIDE = {"d": "[0-9]", "D": "[^0-9]", "w": "[0-9A-Za-z_]", "W": "[^0-9A-Za-z_]",
            "s": "[\\t\\n\\f\\r ]", "S": "[^\\t\\n\\f\\r ]"}  # fmt: skip
_INSIDE = {"d": "0-9", "w": "0-9A-Za-z_", "s": "\\t\\n\\f\\r "}
_ENTRY = {"t", "n", "r", "f"}
_COUNT = re.compile(r"\{(\d+)(,(\d*))?\}")
_ESCAPE_MEANINGS = {
    "b": "\\b is a word boundary in RE2 but a backspace in Postgres",
    "B": "\\B is a non-boundary in RE2 but a backslash in Postgres",
    "p": "Unicode classes (\\pL, \\p{Greek}) have no identical Postgres form",
    "x": "\\x escapes; write the character itself",
}
_NOT_IN_SQL = "this pattern cannot be used in a record filter, where it runs on Postgres"


def _refuse(pattern: str, what: str) -> RegexError:
    return RegexError(
        f"regular expression {pattern[:80]!r}: {_NOT_IN_SQL}: {what} (a filter accepts the patterns that mean the "
        "same in RE2 and Postgres: literals, . [] [^] groups (?:) | ^ $, * + ? {n,m} up to 255, "
        "\\d \\w \\s and their negations, \\t \\n \\r \\f, \\A \\z, and escaped punctuation)"
    )


def _sql_class(pattern: str, i: int) -> tuple[str, int]:
    """The bracket expression starting at `pattern[i]` ("["), translated, and the index after it."""
    out, j = ["["], i + 1
    if pattern[j : j + 1] == "^":
        out.append("^")
        j += 1
    if pattern[j : j + 1] == "]":
        raise _refuse(pattern, "a ']' first in a class; write \\]")
    while j < len(pattern) and pattern[j] != "]":
        c = pattern[j]
        if c == "\\":
            n = pattern[j + 1]
            if n in _INSIDE:
                out.append(_INSIDE[n])
            elif n in _ENTRY or (n.isascii() and not n.isalnum()):
                out.append("\\" + n)
            else:
                raise _refuse(pattern, f"the escape \\{n} inside a class")
            j += 2
            continue
        if c == "[":
            raise _refuse(pattern, "'[' inside a class (POSIX classes such as [:alpha:] differ); write \\[")
        if c == "\x00":
            raise _refuse(pattern, "a NUL character")
        out.append(c)
        j += 1
    out.append("]")
    return "".join(out), j + 1


def sql_pattern(pattern: str) -> str:
    """The Postgres ARE pattern that matches exactly what the RE2 `pattern` matches, or `RegexError`
    naming the construct that has no identical Postgres form (see the module docstring)."""
    compile_regex(pattern)  # RE2 accepts it first: the same subset as conditions
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            n = pattern[i + 1]
            if n in _OUTSIDE:
                out.append(_OUTSIDE[n])
            elif n in _ENTRY:
                out.append("\\" + n)
            elif n == "A":
                out.append("^")
            elif n == "z":
                out.append("$")
            elif n.isascii() and not n.isalnum():
                out.append("\\" + n)
            else:
                raise _refuse(pattern, _ESCAPE_MEANINGS.get(n, f"the escape \\{n}"))
            i += 2
        elif c == ".":
            out.append("[^\\n]")  # RE2's dot stops at a newline; Postgres's does not
            i += 1
        elif c == "[":
            text, i = _sql_class(pattern, i)
            out.append(text)
        elif c == "(":
            if pattern.startswith("(?:", i):
                out.append("(?:")
                i += 3
            elif pattern.startswith("(?", i):
                raise _refuse(pattern, "flags and named groups ((?i), (?P<name>...))")
            else:
                out.append("(")
                i += 1
        elif c == "{":
            count = _COUNT.match(pattern, i)
            if count is None:
                raise _refuse(pattern, "a literal '{'; write \\{")
            if max(int(count.group(1)), int(count.group(3) or 0)) > PG_MAX_REPEAT:
                raise _refuse(pattern, f"a count over {PG_MAX_REPEAT} in {count.group(0)}")
            out.append(count.group(0))
            i = count.end()
        elif c == "}":
            raise _refuse(pattern, "a literal '}'; write \\}")
        elif c == "\x00":
            raise _refuse(pattern, "a NUL character")
        else:
            out.append(c)
            i += 1
    return "".join(out)


# --- the table --------------------------------------------------------------------------------

ValueCheck = Callable[[Any], str | None]


def _list_value(value: Any) -> str | None:
    return None if isinstance(value, list) else f"expected a list of values, got {value!r}"


def _days_value(value: Any) -> str | None:
    try:
        float(value)
    except (TypeError, ValueError):
        return f"expected a number of days, got {value!r}"
    return None


def _date_value(value: Any) -> str | None:
    try:
        to_datetime(value, "value")
    except ConditionError:
        return f"expected a date (ISO 8601, e.g. 2024-05-01T09:00:00Z) or 'now', got {value!r}"
    return None


def _scalar_for(column_type: str, value: Any) -> str | None:
    """What is wrong with `value` compared with a column of `column_type`, or None."""
    if value is None:
        return None
    if column_type in NUMBER_TYPES:
        return None if is_number(value) else f"the column holds numbers; expected a number, got {value!r}"
    if column_type == "string":
        return None if isinstance(value, str) else f"the column holds text; expected a text, got {value!r}"
    if column_type == "boolean":
        return (
            None if isinstance(value, bool) else f"the column holds true/false; expected true or false, got {value!r}"
        )
    return f"a {column_type} column cannot be compared this way"


@dataclass(frozen=True)
class OperatorSpec:
    """One operator. `evaluate(actual, value, where)` is the Python meaning (`actual` is never MISSING
    for a binary operator; for `changed`, `value` is the previous state); `sql(column, value)` the
    record filter's, None with `not_in_filters` saying why; `column_types` the registry column types a
    filter may apply it to; `check_value` what is wrong with a clause's value (None when fine)."""

    name: str
    words: str
    unary: bool
    values: str  # the accepted values, in words
    evaluate: Callable[[Any, Any, str], bool]
    sql: Callable[[Column, Any], ColumnElement[bool]] | None = None
    not_in_filters: str | None = None
    column_types: frozenset[str] = frozenset()
    check_value: ValueCheck | None = None
    per_item: bool = False  # the value is a list whose items are checked against the column's type

    def column_problem(self, column_type: str, value: Any, *, template: bool = False) -> tuple[str, str] | None:
        """`("op" | "value", message)` for what is wrong with this operator on a column of
        `column_type` with `value` in a record filter, or None (a `template` value is checked at run time)."""
        if self.sql is None:
            return "op", self.not_in_filters or f"operator {self.name!r} cannot be used in a record filter"
        if column_type not in self.column_types:
            allowed = ", ".join(sorted(self.column_types))
            hint = "; compare dates with before, after, older_than_days or newer_than_days" if (
                column_type in DATE_TYPES) else ""  # fmt: skip
            return "op", (f"operator {self.name!r} cannot be used on a {column_type} column in a record filter "
                          f"(only on {allowed} columns){hint}")  # fmt: skip
        if template or self.unary:
            return None
        problem = self.check_value(value) if self.check_value is not None else None
        if problem is None and self.name == "matches":
            problem = _text_pattern(value)
        if problem is None and self.name in {"==", "!=", ">", "<", ">=", "<=", "contains"}:
            problem = _scalar_for(column_type, value)
        if problem is None and self.per_item:
            problem = next((p for v in value if (p := _scalar_for(column_type, v))), None)
        return ("value", problem) if problem else None


_ORDERED = NUMBER_TYPES | {"string"}
_SCALAR = NUMBER_TYPES | {"string", "boolean"}
_ALL = NUMBER_TYPES | DATE_TYPES | {"string", "boolean", "json"}


def _re2_value(value: Any) -> str | None:
    try:
        compile_regex(str(value))
    except RegexError as exc:
        return str(exc)
    return None


def _text_pattern(value: Any) -> str | None:
    try:
        sql_pattern(str(value))
    except RegexError as exc:
        return str(exc)
    return None


def _ordered(name: str, test: Callable[[Any, Any], bool]) -> OperatorSpec:
    return OperatorSpec(name, name, False, "a number, or a text (compared in code-point order)", _order(test),
                        _sql_order(name), column_types=_ORDERED)  # fmt: skip


_SPECS = (
    OperatorSpec("==", "==", False, "any value; a number also equals the same number written as text", _equals,
                 _sql_equals, column_types=_SCALAR),
    OperatorSpec("!=", "!=", False, "any value (the opposite of ==)", lambda a, e, w: not _equals(a, e, w),
                 _sql_not_equals, column_types=_SCALAR),
    _ordered(">", lambda a, b: a > b),
    _ordered("<", lambda a, b: a < b),
    _ordered(">=", lambda a, b: a >= b),
    _ordered("<=", lambda a, b: a <= b),
    OperatorSpec("contains", "contains", False, "a text (substring of a text) or an item of a list", _contains,
                 _sql_contains, column_types=frozenset({"string"})),
    OperatorSpec("in", "is one of", False, "a list", _in_list, _sql_in, column_types=_SCALAR,
                 check_value=_list_value, per_item=True),
    OperatorSpec("not_in", "is not one of", False, "a list", _not_in_list, _sql_not_in, column_types=_SCALAR,
                 check_value=_list_value, per_item=True),
    OperatorSpec("is_empty", "is empty", True, "no value", lambda a, e, w: is_empty(a), _sql_is_empty,
                 column_types=_ALL),
    OperatorSpec("is_not_empty", "is not empty", True, "no value", lambda a, e, w: not is_empty(a),
                 _sql_is_not_empty, column_types=_ALL),
    OperatorSpec("changed", "changed", True, "no value", _changed,
                 not_in_filters="operator 'changed' cannot be used in a record filter (a filter sees one state of a "
                                "row, not two)"),
    OperatorSpec("matches", "matches", False, "an RE2 regular expression", _matches, _sql_matches,
                 column_types=frozenset({"string"}), check_value=_re2_value),
    OperatorSpec("older_than_days", "is older than (days)", False, "a number of days", _older, _sql_age("<"),
                 column_types=DATE_TYPES, check_value=_days_value),
    OperatorSpec("newer_than_days", "is newer than (days)", False, "a number of days", _newer, _sql_age(">"),
                 column_types=DATE_TYPES, check_value=_days_value),
    OperatorSpec("before", "is before", False, "a date (ISO 8601) or 'now'", _before, _sql_date_compare("<"),
                 column_types=DATE_TYPES, check_value=_date_value),
    OperatorSpec("after", "is after", False, "a date (ISO 8601) or 'now'", _after, _sql_date_compare(">"),
                 column_types=DATE_TYPES, check_value=_date_value),
)  # fmt: skip

#: Every operator by name: the one definition the gate, `when`, JsonLogic, record filters,
#: validation and the pages use.
OPERATORS: Mapping[str, OperatorSpec] = {spec.name: spec for spec in _SPECS}
#: Operators that take no `value`.
UNARY_OPERATORS = frozenset(name for name, spec in OPERATORS.items() if spec.unary)
#: Operators a record filter can run.
SQL_OPERATORS = frozenset(name for name, spec in OPERATORS.items() if spec.sql is not None)

assert set(OPERATORS) == set(get_args(OperatorName)), "every operator name has exactly one definition"
