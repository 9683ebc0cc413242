"""Python evaluation and SQL record filters agree, operator by operator (issue 14).

Each example puts a few generated values (NULL, empty texts, empty JSON arrays/objects, unicode,
numbers and dates written as text, instants in several offsets...) in a column of a real Postgres
table, then asks both meanings of one clause, and of its negation, about every row: the filter
compiled by `where_clause` in one query, and `evaluate` on the row as events carry it
(`to_jsonable` of what Postgres returns). The session runs in a zone that is not UTC, so a date or a
timestamp read as local time would show. Only values validation accepts for the column's type are
generated (`column_problem` is None), since the rest never reach Postgres."""

from __future__ import annotations

import json
import string
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pendulum
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter
from sqlalchemy import Connection, column, select, table, text

from automation.conditions import ConditionData, evaluate
from automation.definitions import Clause, Condition
from automation.definitions.operators import OPERATORS, SQL_OPERATORS, sql_pattern, to_datetime
from automation.definitions.regex import RegexError
from automation.errors import ConditionError, RegistryError
from automation.jsonable import to_jsonable
from automation.records.filters import clause_problem, where_clause
from automation.store.db import engine

parse = TypeAdapter(Condition).validate_python

#: Registry column type -> SQL type of the probe column.
COLUMNS = {
    "t": ("string", "text"),
    "n": ("number", "numeric(14, 2)"),
    "i": ("integer", "integer"),
    "b": ("boolean", "boolean"),
    "ts": ("datetime", "timestamptz"),
    "tl": ("datetime", "timestamp"),
    "d": ("date", "date"),
    "j": ("json", "jsonb"),
}
TYPES = {name: registry for name, (registry, _) in COLUMNS.items()}
PROBE = table("operator_probe", column("id"), *(column(name) for name in COLUMNS))

# --- values ---------------------------------------------------------------------------------------

UNICODE = [
    "é",
    "É",
    "e\u0301",
    "ß",
    "İ",
    "\u0131",
    "日本",
    "٣",
    "\u00a0",
    "\u2003",
    "\n",
    "\t",
    "Ω",
    "😀",
    "_",
    "%",
    "\\",
]
texts = st.one_of(
    st.just(""),
    st.sampled_from(["[]", "{}", "null", "0", "5", "05", "5.0", "-1", "1e3", " 5", "abc", "ABC", "a_c", "a%c"]),
    st.sampled_from(["2024-01-01", "2024-01-01T10:00:00+02:00", "now"]),
    st.lists(st.sampled_from([*string.ascii_letters[:6], *string.digits[:4], *UNICODE, " ", "-"]), max_size=6).map(
        "".join
    ),
)
numbers = st.decimals(min_value=Decimal("-1000"), max_value=Decimal("1000"), places=2, allow_nan=False)
integers = st.integers(min_value=-1000, max_value=1000)
offsets = st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-7, minutes=-30))])
aware = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2060, 1, 1), timezones=offsets)
naive = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2060, 1, 1))
dates = st.dates(min_value=date(1990, 1, 1), max_value=date(2060, 1, 1))
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.sampled_from(["", "a", "é", "[]"])),
    lambda inner: st.one_of(
        st.lists(inner, max_size=2), st.dictionaries(st.sampled_from(["a", "b"]), inner, max_size=2)
    ),
    max_leaves=4,
)
CELLS = {"t": texts, "n": numbers, "i": integers, "b": st.booleans(), "ts": aware, "tl": naive, "d": dates,
         "j": json_values}  # fmt: skip


def cells(name: str, op: str) -> st.SearchStrategy[list[Any]]:
    cell = match_texts if op == "matches" else CELLS[name]
    return st.lists(st.one_of(st.none(), cell), min_size=1, max_size=6)


def as_json(value: Any) -> Any:
    """A generated cell as a condition's value would be written (JSON)."""
    return to_jsonable(value)


SCALAR_OPERANDS = {"t": texts, "n": st.one_of(numbers.map(as_json), integers), "i": st.one_of(integers, numbers.map(as_json)),
                   "b": st.booleans()}  # fmt: skip
date_texts = st.one_of(
    aware.map(lambda v: v.isoformat()), naive.map(lambda v: v.isoformat()), dates.map(lambda v: v.isoformat())
)

# Patterns from the constructs a filter accepts, over an alphabet that tells RE2 and Postgres apart
# (non-ASCII digits, letters and spaces, a newline) when a translation is wrong.
_atoms = st.one_of(
    st.sampled_from(["a", "b", "é", "5", "٣", " ", "\\n", "\\.", "\\-", "\\\\", "\\{", "\\[", "_"]),
    st.sampled_from([".", "\\d", "\\D", "\\w", "\\W", "\\s", "\\S", "[a-c]", "[^a]", "[\\d_]", "[\\w-]", "[\\s.]",
                     "[é-ü]", "[^\\n]", "[\\]a]"]),
)  # fmt: skip
_quantifiers = st.sampled_from(["", "", "*", "+", "?", "{2}", "{0,2}", "{1,}", "*?", "+?"])
_pieces = st.tuples(_atoms, _quantifiers).map("".join)
_branches = st.lists(_pieces, min_size=0, max_size=4).map("".join)
_bodies = st.one_of(_branches, st.tuples(_branches, _branches).map("|".join), _branches.map("(?:{})".format),
                    st.tuples(_branches, _branches).map(lambda p: f"({p[0]}|{p[1]})+"))  # fmt: skip
patterns = st.tuples(st.sampled_from(["", "^", "\\A"]), _bodies, st.sampled_from(["", "$", "\\z"])).map("".join)
match_texts = st.one_of(
    texts, st.text(alphabet=st.sampled_from(["a", "b", "c", "é", "ü", "5", "٣", " ", "\u00a0", "\n", ".", "-", "_"]),
                   max_size=6)
)  # fmt: skip


def operands(op: str, name: str) -> st.SearchStrategy[Any]:
    if op in {"==", "!="}:
        return st.one_of(st.none(), SCALAR_OPERANDS[name])
    if op in {">", "<", ">=", "<="}:
        return SCALAR_OPERANDS[name]
    if op in {"in", "not_in"}:
        return st.lists(st.one_of(st.none(), SCALAR_OPERANDS[name]), max_size=4)
    if op == "contains":
        return texts
    if op == "matches":
        return patterns
    if op in {"older_than_days", "newer_than_days"}:
        return st.one_of(st.integers(-20000, 20000), st.floats(-20000, 20000, allow_nan=False), st.just("30"))
    if op in {"before", "after"}:
        return date_texts
    return st.none()


def column_names(op: str) -> list[str]:
    return [name for name, kind in TYPES.items() if kind in OPERATORS[op].column_types]


# --- both meanings --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def conn(pg: object) -> Iterator[Connection]:
    with engine().connect() as connection:
        connection.execute(text("SET TIME ZONE 'America/Sao_Paulo'"))  # neither UTC nor the offsets generated
        columns = ", ".join(f"{name} {sql_type}" for name, (_, sql_type) in COLUMNS.items())
        connection.execute(text(f"CREATE TEMP TABLE operator_probe (id serial PRIMARY KEY, {columns})"))
        connection.commit()
        yield connection


def both(conn: Connection, name: str, values: list[Any], clause: dict[str, Any]) -> list[tuple[Any, Any, Any]]:
    """For each row: (value as Python sees it, Python's answers, SQL's answers), each answer a pair
    (the clause, its negation) or "error"."""
    conn.execute(text("TRUNCATE operator_probe RESTART IDENTITY"))
    if name == "j":  # jsonb: SQL NULL for None, else the JSON text
        params = [{"v": None if v is None else json.dumps(v)} for v in values]
        conn.execute(text("INSERT INTO operator_probe (j) VALUES (CAST(:v AS jsonb))"), params)
    else:
        conn.execute(text(f"INSERT INTO operator_probe ({name}) VALUES (:v)"), [{"v": v} for v in values])
    sql_clause = parse({**clause, "field": name})
    try:
        hit, miss = where_clause(sql_clause, PROBE.c), where_clause(parse({"not": clause | {"field": name}}), PROBE.c)
        rows = conn.execute(
            select(PROBE.c.id, PROBE.c[name], hit.label("hit"), miss.label("miss")).order_by(PROBE.c.id)
        ).all()
        sql_answers: list[Any] = [(row.hit, row.miss) for row in rows]
        seen = [to_jsonable(row[1]) for row in rows]
    except Exception as exc:  # compared with Python's answer
        conn.rollback()
        sql_answers, seen = [f"error: {exc}"] * len(values), [to_jsonable(v) for v in values]
    conn.commit()
    results = []
    for value, sql_answer in zip(seen, sql_answers, strict=True):
        data = ConditionData(values={"rec": {name: value}})
        try:
            py: Any = (evaluate(parse(clause), data), evaluate(parse({"not": clause}), data))
        except ConditionError as exc:
            py = f"error: {exc}"
        results.append((value, py, sql_answer))
    return results


def agree(results: list[tuple[Any, Any, Any]], near_now: Callable[[Any], bool] | None = None) -> None:
    for value, py, sql_answer in results:
        if near_now is not None and near_now(value):
            continue
        assert py == sql_answer, f"value {value!r}: Python says {py}, SQL says {sql_answer}"


def accepted(op: str, name: str, value: Any) -> bool:
    clause = Clause.model_validate({"field": name, "op": op, **({} if OPERATORS[op].unary else {"value": value})})
    return clause_problem(clause, TYPES) is None


EXAMPLES = settings(max_examples=100, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.filter_too_much])  # fmt: skip


def _check(conn: Connection, op: str, data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(column_names(op)), label="column")
    values = data.draw(cells(name, op), label="values")
    operand = None if OPERATORS[op].unary else data.draw(operands(op, name), label="value")
    assume(accepted(op, name, operand))
    clause = {"field": f"rec.{name}", "op": op, **({} if OPERATORS[op].unary else {"value": operand})}
    agree(both(conn, name, values, clause), near_cutoff(operand) if op in AGE_OPERATORS else None)


AGE_OPERATORS = {"older_than_days", "newer_than_days"}


def near_cutoff(days: Any) -> Callable[[Any], bool]:
    """Whether a value lies within two minutes of now minus `days`: Python's now and Postgres's
    differ by a moment, so the two may rightly disagree there."""
    cutoff = pendulum.now("UTC") - timedelta(days=float(str(days)))

    def near(value: Any) -> bool:
        return value is not None and abs((to_datetime(value, "value") - cutoff).total_seconds()) < 120

    return near


@pytest.mark.parametrize("op", sorted(SQL_OPERATORS))
def test_python_and_sql_agree(conn: Connection, op: str) -> None:
    @EXAMPLES
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        _check(conn, op, data)

    run()


def test_every_operator_but_changed_runs_in_record_filters() -> None:
    assert set(OPERATORS) - SQL_OPERATORS == {"changed"}


# --- readable examples ----------------------------------------------------------------------------


def _answers(conn: Connection, name: str, values: list[Any], op: str, value: Any = None) -> list[Any]:
    clause = {"field": f"rec.{name}", "op": op, **({} if OPERATORS[op].unary else {"value": value})}
    results = both(conn, name, values, clause)
    agree(results)
    return [py[0] for _, py, _ in results]


def test_empty_json_arrays_and_objects_are_empty_in_sql_too(conn: Connection) -> None:
    """SQL cast the column to text, so `[]` and `{}` were not empty there while Python said they were."""
    assert _answers(conn, "j", [[], {}, "", None, [1], {"a": 1}, 0], "is_empty") == [
        True, True, True, True, False, False, False]  # fmt: skip
    assert _answers(conn, "t", ["[]", "{}", "", None, " "], "is_empty") == [False, False, True, True, False]


def test_null_is_not_equal_to_a_text_and_not_flips_it(conn: Connection) -> None:
    """`stage != "WON"` is true for a row without a stage, as in Python (SQL's NULL <> 'WON' was NULL)."""
    assert _answers(conn, "t", [None, "WON", "LOST"], "!=", "WON") == [True, False, True]
    assert _answers(conn, "t", [None, "WON"], "not_in", ["WON"]) == [True, False]
    assert _answers(conn, "t", [None, "WON"], "in", ["WON", None]) == [True, True]
    assert _answers(conn, "n", [None, Decimal("5")], ">", 1) == [False, True]


def test_text_order_is_code_point_order_whatever_the_collation(conn: Connection) -> None:
    assert _answers(conn, "t", ["a", "B", "é", "Z"], "<", "a") == [False, True, False, True]


def test_dates_compare_as_instants_and_local_columns_read_as_utc(conn: Connection) -> None:
    noon_paris = datetime(2024, 5, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    assert _answers(conn, "ts", [noon_paris], "before", "2024-05-01T10:30:00Z") == [True]
    assert _answers(conn, "tl", [datetime(2024, 5, 1, 10)], "after", "2024-05-01T09:30:00Z") == [True]
    assert _answers(conn, "d", [date(2024, 5, 1), None], "before", "2024-05-01T00:00:01+00:00") == [True, False]
    assert _answers(conn, "d", [date(2000, 1, 1), date(2100, 1, 1)], "older_than_days", 30) == [True, False]


def test_matches_means_re2_in_filters_too(conn: Connection) -> None:
    """`.` stops at a newline and `\\d` is an ASCII digit in RE2; Postgres's would match both."""
    assert _answers(conn, "t", ["a\nb", "a-b"], "matches", "^a.b$") == [False, True]
    assert _answers(conn, "t", ["٣", "3", None], "matches", r"^\d$") == [False, True, False]
    assert _answers(conn, "t", ["é", "e", None], "matches", r"^\w*$") == [False, True, True]


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        (r"\bword", "word boundary in RE2 but a backspace in Postgres"),
        ("(?i)acme", "flags"),
        (r"\pL+", "Unicode classes"),
        ("[[:alpha:]]", "POSIX classes"),
        ("a{300}", "a count over 255"),
        ("a{,3}", "a literal '{'"),
    ],
)
def test_patterns_that_mean_something_else_on_postgres_are_refused_in_filters(pattern: str, why: str) -> None:
    with pytest.raises(RegexError, match="cannot be used in a record filter") as refused:
        sql_pattern(pattern)
    assert why in str(refused.value)
    clause = Clause.model_validate({"field": "name", "op": "matches", "value": pattern})
    problem = clause_problem(clause, {"name": "string"})
    assert problem is not None and problem[0] == "value" and why in problem[1]
    with pytest.raises(RegistryError, match=r"filter\.any\[0\]: .*cannot be used in a record filter"):
        where_clause(parse({"any": [clause.model_copy(update={"field": "t"})]}), PROBE.c)
    # the same pattern in a gate or a step's `when` runs on RE2 as before
    assert isinstance(evaluate(clause, ConditionData(values={"name": "word"})), bool)


def test_a_filter_value_must_suit_the_column_type() -> None:
    assert clause_problem(Clause.model_validate({"field": "amount", "op": ">", "value": "5"}), {"amount": "number"}) == (
        "value", "the column holds numbers; expected a number, got '5'")  # fmt: skip
    assert clause_problem(Clause.model_validate({"field": "due", "op": "==", "value": "2024-01-01"}), {"due": "datetime"}) == (
        "op", "operator '==' cannot be used on a datetime column in a record filter (only on boolean, integer, "
              "number, string columns); compare dates with before, after, older_than_days or newer_than_days")  # fmt: skip
    assert clause_problem(Clause.model_validate({"field": "x", "op": "changed"}), {"x": "string"}) == (
        "op", "operator 'changed' cannot be used in a record filter (a filter sees one state of a row, not two)")  # fmt: skip
    templated = Clause.model_validate(
        {"field": "amount", "op": ">", "value": "{{ trigger.new.amount }}"}, context={"allow_templates": True}
    )
    assert clause_problem(templated, {"amount": "number"}, templates=True) is None
