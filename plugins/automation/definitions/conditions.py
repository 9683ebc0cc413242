"""Condition models: nested all/any/not groups of clauses, or raw JSONLogic.

Invariant: a valid condition costs bounded work to validate, store and evaluate. Groups nest at most
`MAX_GROUP_DEPTH` levels; a JsonLogic expression nests at most `MAX_JSONLOGIC_DEPTH` objects/lists
and holds at most `MAX_JSONLOGIC_NODES` values; every regular expression written in a condition
compiles under RE2 (linear-time matching: no backreferences, no lookaround) and has at most
`MAX_REGEX_PROGRAM` instructions; patterns computed at run time go through the same
`compile_regex`, and the matches of one evaluation cost at most `regex_max_work()` together
(instructions x text bytes, `RegexBudget`).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any, Literal, Union

import re2
from pydantic import BeforeValidator, Discriminator, Field, Tag, ValidationInfo, field_validator, model_validator

from automation.config import regex_max_work
from automation.definitions.base import PathError, StrictModel

Operator = Literal[
    "==", "!=", ">", "<", ">=", "<=", "contains", "in", "not_in", "is_empty", "is_not_empty",
    "changed", "matches", "older_than_days", "newer_than_days", "before", "after",
]  # fmt: skip

#: Operators that take no `value`.
UNARY_OPERATORS = frozenset({"is_empty", "is_not_empty", "changed"})

#: all/any/not groups inside one another, at most (a clause or JsonLogic leaf is not a level).
#: Both depth limits leave room inside the 64 levels a whole definition may nest (validation.py),
#: so a condition too deep is reported at its own path.
MAX_GROUP_DEPTH = 16
#: Objects and lists inside one another in a JsonLogic expression, at most ({"!": [x]} is two).
MAX_JSONLOGIC_DEPTH = 32
#: Values (objects, lists, strings, numbers...) in one JsonLogic expression, at most.
MAX_JSONLOGIC_NODES = 10_000
#: Characters in one regular expression, at most.
MAX_REGEX_LENGTH = 2_000
#: Size of one pattern, at most, counted in RE2 instructions of its Latin-1 form (a position per
#: character class or literal, whatever the class: `a[ab]{1000}c` is 1,006, `\pL+` 12; the UTF-8
#: form that matches spells each class out in bytes, `\pL+` is 1,201 there).
MAX_REGEX_PROGRAM = 5_000

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # errors are returned to the caller, not printed to stderr
_RE2_OPTIONS.never_capture = True  # only "is there a match" is asked: groups would force the slow engine
_SIZE_OPTIONS = re2.Options()  # the same pattern over Latin-1 bytes: only its size is used
_SIZE_OPTIONS.log_errors = False
_SIZE_OPTIONS.never_capture = True
_SIZE_OPTIONS.encoding = re2.Options.Encoding.LATIN1
_RE2_SYNTAX = "https://github.com/google/re2/wiki/Syntax"


class RegexError(ValueError):
    """A pattern RE2 cannot run; the message says why and what to write instead."""


def _why(reason: str, pattern: str) -> str:
    if reason.startswith("invalid perl operator: (?=") or reason.startswith("invalid perl operator: (?!"):
        return "RE2 does not support lookahead ((?=...), (?!...))"
    if reason.startswith("invalid perl operator: (?<"):
        return "RE2 does not support lookbehind ((?<=...), (?<!...))"
    if reason.startswith("invalid perl operator: (?P") and "(?P=" in pattern:
        return "RE2 does not support backreferences ((?P=name))"
    if reason.startswith("invalid perl operator: (?>"):
        return "RE2 does not support atomic groups ((?>...))"
    if reason.startswith("invalid escape sequence: \\") and reason[-1:].isdigit():
        return f"RE2 does not support backreferences ({reason.rsplit(' ', 1)[-1]})"
    if reason == "invalid escape sequence: \\Z":
        return "RE2 does not support \\Z; write \\z for the end of the text"
    if reason == "invalid escape sequence: \\u":
        return "RE2 does not support \\uXXXX; write \\x{XXXX}"
    if reason.startswith("invalid repetition size") or reason.startswith("bad repetition operator"):
        return f"RE2 does not support this repetition ({reason}; counts go up to 1000, no possessive ++ or *+)"
    if reason.startswith("pattern too large"):
        return "the pattern is too large for RE2's memory budget; use fewer or smaller counted repetitions"
    return f"RE2 cannot compile it: {reason}"


@lru_cache(maxsize=64)  # each holds up to RE2's default 8 MiB of DFA cache, filled only by large texts
def _compile(pattern: str) -> tuple[Any, int]:
    """The matching program and the pattern's size (its Latin-1 program's instruction count)."""
    regex = re2.compile(pattern, _RE2_OPTIONS)
    try:
        size = re2.compile(pattern.encode("utf-8"), _SIZE_OPTIONS).programsize
    except re2.error:  # e.g. a code point above U+00FF in a class: count the UTF-8 program
        size = regex.programsize
    return regex, size


def _compile_checked(pattern: str) -> tuple[Any, int]:
    if len(pattern) > MAX_REGEX_LENGTH:
        raise RegexError(f"regular expression of {len(pattern)} characters; at most {MAX_REGEX_LENGTH}")
    try:
        regex, size = _compile(pattern)
    except UnicodeEncodeError:
        raise RegexError(f"regular expression {pattern[:80]!r} is not valid Unicode text") from None
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise RegexError(
            f"regular expression {pattern[:80]!r} cannot be used: {_why(reason, pattern)} (patterns run on RE2, "
            f"which matches in linear time; see {_RE2_SYNTAX})"
        ) from None
    if size > MAX_REGEX_PROGRAM:
        raise RegexError(
            f"regular expression {pattern[:80]!r} has {size} RE2 instructions; at most {MAX_REGEX_PROGRAM}: "
            "use smaller counted repetitions such as {1,50} (patterns run on RE2, which matches in linear time "
            "with a cost that grows with the pattern's size)"
        )
    return regex, size


def compile_regex(pattern: str) -> Any:
    """The compiled RE2 pattern (cached), or `RegexError` saying why it cannot be used."""
    return _compile_checked(pattern)[0]


class RegexBudget:
    """Matching work (pattern size x text bytes) left to one evaluation of a condition."""

    def __init__(self) -> None:
        self.total = self.left = regex_max_work()


def regex_search(pattern: str, text: str, budget: RegexBudget | None = None) -> bool:
    """Whether `pattern` (RE2) occurs anywhere in `text`, in time linear in the text's length.

    RE2's DFA usually runs at about 1 ms per MB whatever the pattern, but when its state cache
    overflows (large counted repetitions such as `a[ab]{1000}c`) it falls back to a simulation
    costing up to about 9 ns per instruction (of the pattern's size) and byte (measured). So the
    size x bytes of each match is charged to `budget` (a fresh `regex_max_work()` when None) and a
    match that does not fit is refused with `RegexError` rather than run: neither a long text nor a
    pattern chosen by the data (JsonLogic `regex` on a `var`) makes an evaluation take more than
    about a second."""
    (regex, size), data = _compile_checked(pattern), text.encode("utf-8", "surrogatepass")
    budget = budget or RegexBudget()
    cost = size * len(data)
    if cost > budget.left:
        raise RegexError(
            f"regular expression {pattern[:80]!r} ({size} RE2 instructions) on a text of {len(data)} bytes is "
            f"more matching work than allowed ({budget.total:,} instructions x bytes per condition, "
            "[automation] regex_max_work); use a shorter pattern (smaller counted repetitions) or match a shorter value"
        )
    budget.left -= cost
    return regex.search(data) is not None


def _is_template(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


class Clause(StrictModel):
    """`{"field": "deal.amount", "op": ">", "value": 50000}` on a dotted path."""

    field: str = Field(min_length=1, description="dotted path, e.g. deal.amount or old.stage")
    op: Operator
    value: Any = None

    @model_validator(mode="after")
    def _regex_runs_on_re2(self, info: ValidationInfo) -> Clause:
        if self.op != "matches":
            return self
        if info.context and info.context.get("allow_templates") and _is_template(self.value):
            return self  # a step config's template: checked once rendered, at run time
        try:
            compile_regex(str(self.value))
        except RegexError as exc:
            raise PathError("value", str(exc)) from None
        return self


class AllGroup(StrictModel):
    all: list[Condition] = Field(min_length=1)


class AnyGroup(StrictModel):
    any: list[Condition] = Field(min_length=1)


class NotGroup(StrictModel):
    not_: Condition = Field(alias="not")


def _jsonlogic_path(parts: tuple[str | int, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else p) for i, p in enumerate(parts))


def check_jsonlogic(logic: Any) -> None:
    """Raise `ValueError` when `logic` nests deeper than `MAX_JSONLOGIC_DEPTH` or holds more than
        `MAX_JSONLOGIC_NODES` values, `PathError` (path relative to the expression) for a literal `regex`
        pattern RE2 cannot run. Iterative and stopping at the first excess: an expression nested
    100,000 deep costs `MAX_JSONLOGIC_DEPTH` steps."""
    stack: list[tuple[Any, int, tuple[str | int, ...]]] = [(logic, 1, ())]
    nodes = 0
    while stack:
        node, depth, path = stack.pop()
        nodes += 1
        if nodes > MAX_JSONLOGIC_NODES:
            raise ValueError(f"JsonLogic expression holds more than {MAX_JSONLOGIC_NODES} values; split it")
        if not isinstance(node, dict | list):
            continue
        if depth > MAX_JSONLOGIC_DEPTH:
            raise ValueError(f"JsonLogic expression nests more than {MAX_JSONLOGIC_DEPTH} levels "
                             "(objects and lists inside one another); flatten it")  # fmt: skip
        if isinstance(node, list):
            stack.extend((item, depth + 1, (*path, i)) for i, item in reversed(list(enumerate(node))))
            continue
        for key, value in reversed(list(node.items())):
            if key == "regex" and isinstance(value, list) and len(value) > 1 and isinstance(value[1], str):
                try:
                    compile_regex(value[1])
                except RegexError as exc:
                    raise PathError(_jsonlogic_path((*path, key, 1)), str(exc)) from None
            stack.append((value, depth + 1, (*path, str(key))))


class JsonLogicCondition(StrictModel):
    jsonlogic: dict[str, Any] | bool

    @field_validator("jsonlogic", mode="before")
    @classmethod
    def _bounded(cls, value: Any) -> Any:
        if isinstance(value, dict):
            check_jsonlogic(value)
        return value


def group_depth(value: Any, limit: int = MAX_GROUP_DEPTH) -> int:
    """How many all/any/not groups nest in a raw condition (counting stops past `limit`)."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, dict):
            continue
        children = node.get("all") or node.get("any") or ([node["not"]] if "not" in node else None)
        if not isinstance(children, list):
            continue
        depth += 1
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        stack.extend((child, depth) for child in children)
    return deepest


def _bounded_groups(value: Any) -> Any:
    if isinstance(value, dict) and group_depth(value) > MAX_GROUP_DEPTH:
        raise ValueError(f"all/any/not groups nest more than {MAX_GROUP_DEPTH} levels deep; flatten them")
    return value


def _condition_tag(value: Any) -> str:
    if isinstance(value, dict):
        for tag in ("all", "any", "not", "jsonlogic"):
            if tag in value:
                return tag
        return "clause"
    for tag, model in _TAGGED:
        if isinstance(value, model):
            return tag
    return "clause"


Condition = Annotated[
    Union[  # noqa: UP007 - a tagged union needs Union[...] with Annotated members
        Annotated[AllGroup, Tag("all")],
        Annotated[AnyGroup, Tag("any")],
        Annotated[NotGroup, Tag("not")],
        Annotated[JsonLogicCondition, Tag("jsonlogic")],
        Annotated[Clause, Tag("clause")],
    ],
    Discriminator(_condition_tag),
    BeforeValidator(_bounded_groups),
]

_TAGGED = (("all", AllGroup), ("any", AnyGroup), ("not", NotGroup), ("jsonlogic", JsonLogicCondition))

for _model in (AllGroup, AnyGroup, NotGroup):
    _model.model_rebuild()
