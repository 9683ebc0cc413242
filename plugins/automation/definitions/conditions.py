"""Condition models: nested all/any/not groups of clauses, or raw JSONLogic.

Invariant: a valid condition costs bounded work to validate, store and evaluate. Groups nest at most
`MAX_GROUP_DEPTH` levels; a JsonLogic expression nests at most `MAX_JSONLOGIC_DEPTH` objects/lists
and holds at most `MAX_JSONLOGIC_NODES` values; every regular expression written in a condition
compiles under RE2 (regex.py: linear-time matching, bounded size and matching work). A clause's
operator is one of the table in operators.py, which says what each one means. A lookup (a clause
`{"field": "lookup:users.team", "via": "new.owner_id"}` or JsonLogic `{"lookup": ["users", {"var":
"new.owner_id"}, "team"]}`) names its collection and column as plain identifiers and its record id
as a data path, never as an expression: whether they exist is the registry's to say (validation.py,
conditions/lookup.py), how many run per evaluation the evaluator's.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Union

from pydantic import BeforeValidator, Discriminator, Field, Tag, ValidationInfo, field_validator, model_validator

from automation.definitions.base import PathError, StrictModel
from automation.definitions.operators import OPERATORS, UNARY_OPERATORS
from automation.definitions.operators import OperatorName as Operator
from automation.definitions.regex import (
    MAX_REGEX_LENGTH,
    MAX_REGEX_PROGRAM,
    RegexBudget,
    RegexError,
    compile_regex,
    regex_search,
)

__all__ = [
    "MAX_REGEX_LENGTH",
    "MAX_REGEX_PROGRAM",
    "UNARY_OPERATORS",
    "AllGroup",
    "AnyGroup",
    "Clause",
    "Condition",
    "JsonLogicCondition",
    "NotGroup",
    "Operator",
    "RegexBudget",
    "RegexError",
    "check_jsonlogic",
    "compile_regex",
    "group_depth",
    "lookup_target",
    "regex_search",
]

#: all/any/not groups inside one another, at most (a clause or JsonLogic leaf is not a level).
#: Both depth limits leave room inside the 64 levels a whole definition may nest (validation.py),
#: so a condition too deep is reported at its own path.
MAX_GROUP_DEPTH = 16
#: Objects and lists inside one another in a JsonLogic expression, at most ({"!": [x]} is two).
MAX_JSONLOGIC_DEPTH = 32
#: Values (objects, lists, strings, numbers...) in one JsonLogic expression, at most.
MAX_JSONLOGIC_NODES = 10_000

#: A clause's `field` that reads a related record: `lookup:<collection>.<column>` (with `via`).
LOOKUP_PREFIX = "lookup:"
_IDENT = r"[a-z_][a-z0-9_]{0,62}"
_LOOKUP_FIELD = re.compile(rf"^{re.escape(LOOKUP_PREFIX)}({_IDENT})\.({_IDENT})$")
#: A record id's data path (`new.owner_id`, `steps.find.output.id`, `trigger.new.items.0.id`).
DATA_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+){0,15}$")
MAX_DATA_PATH = 200
_LOOKUP_FORM = ('a lookup is ["<collection>", {"var": "<path of the record id>"}, "<column>"], e.g. '
                '["users", {"var": "new.owner_id"}, "team"]')  # fmt: skip


def lookup_target(field: str) -> tuple[str, str] | None:
    """`(collection, column)` of a lookup clause's `field` (`lookup:users.team`), None for a data path."""
    match = _LOOKUP_FIELD.match(field)
    return (match.group(1), match.group(2)) if match else None


def _path_problem(path: Any) -> str | None:
    if not isinstance(path, str) or len(path) > MAX_DATA_PATH or not DATA_PATH.match(path):
        return (f"expected the dotted path of the record id in the data (e.g. new.owner_id; letters, digits and _ "
                f"separated by dots, at most {MAX_DATA_PATH} characters), got {path!r}")  # fmt: skip
    return None


def jsonlogic_lookup_problem(args: Any) -> tuple[tuple[str | int, ...], str] | None:
    """`(path inside the operator's arguments, message)` for a JsonLogic `lookup` not of the form
    `["users", {"var": "new.owner_id"}, "team"]` with plain identifiers, or None."""
    if not isinstance(args, list) or len(args) != 3:
        return (), f"expected three arguments; {_LOOKUP_FORM}"
    for index in (0, 2):
        if not isinstance(args[index], str) or not re.fullmatch(_IDENT, args[index]):
            what = "collection" if index == 0 else "column"
            return (index,), f"expected the {what} as a plain lowercase name, got {args[index]!r}; {_LOOKUP_FORM}"
    var = args[1]
    if not isinstance(var, dict) or list(var) != ["var"]:
        return (1,), f'the record id must be a {{"var": ...}} of the data, got {var!r}; {_LOOKUP_FORM}'
    path = var["var"][0] if isinstance(var["var"], list) and len(var["var"]) == 1 else var["var"]
    if problem := _path_problem(path):
        return (1, "var"), problem
    return None


def _is_template(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def _by_values() -> str:
    groups: dict[str, list[str]] = {}
    for name, spec in OPERATORS.items():
        if not spec.unary:
            groups.setdefault(spec.values, []).append(name)
    return "; ".join(f"{' '.join(names)}: {values}" for values, names in groups.items())


_OP_HELP = f"no value with {', '.join(sorted(UNARY_OPERATORS))}; a record filter cannot use changed"
_VALUE_HELP = _by_values()


class Clause(StrictModel):
    """`{"field": "deal.amount", "op": ">", "value": 50000}` on a dotted path, or on one column of a
    related record: `{"field": "lookup:users.team", "via": "new.owner_id", "op": "==", "value": "sales"}`."""

    field: str = Field(
        min_length=1,
        description="dotted path, e.g. deal.amount or old.stage; or lookup:<collection>.<column> (with `via`) "
        "for one column of a related record, read by its primary key",
    )
    op: Operator = Field(description=_OP_HELP)
    value: Any = Field(default=None, description=_VALUE_HELP)
    via: str | None = Field(
        default=None,
        description="with a lookup field: the dotted path of the related record's id in the data, e.g. "
        "new.owner_id (a null id or a missing record reads null)",
    )

    @model_validator(mode="after")
    def _lookup_form(self) -> Clause:
        """A lookup names a registered-looking collection and column, reads its id from a data path,
        and compares the record's current state (no `changed`)."""
        if not self.field.startswith(LOOKUP_PREFIX):
            if self.via is not None:
                raise PathError("via", f"`via` belongs to a lookup clause (field {LOOKUP_PREFIX}<collection>."
                                       "<column>); remove it or make the field a lookup")  # fmt: skip
            return self
        if lookup_target(self.field) is None:
            raise PathError("field", f"expected {LOOKUP_PREFIX}<collection>.<column> with plain lowercase names, e.g. "
                                     f"lookup:users.team, got {self.field!r}")  # fmt: skip
        if self.via is None:
            raise PathError("via", "a lookup clause needs `via`: the dotted path of the related record's id, e.g. "
                                   "new.owner_id")  # fmt: skip
        if problem := _path_problem(self.via):
            raise PathError("via", problem)
        if self.op == "changed":
            raise PathError("op", "a lookup reads the related record's current state only; 'changed' cannot be "
                                  "used on it (compare the id instead: field "
                                  f"{self.via!r} with op changed)")  # fmt: skip
        return self

    @model_validator(mode="after")
    def _value_fits_the_operator(self, info: ValidationInfo) -> Clause:
        """The value the operator accepts (operators.py): a list for in/not_in, a number of days,
        a date, a pattern RE2 runs. A step config's template is checked once rendered, at run time."""
        check = OPERATORS[self.op].check_value
        if check is None or (info.context and info.context.get("allow_templates") and _is_template(self.value)):
            return self
        if problem := check(self.value):
            raise PathError("value", problem)
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
            if key == "lookup" and (problem := jsonlogic_lookup_problem(value)):
                raise PathError(_jsonlogic_path((*path, key, *problem[0])), problem[1])
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
