"""Regular expressions in conditions: RE2 only, bounded in size and in matching work.

Invariant: every pattern a condition runs compiles under RE2 (linear-time matching: no
backreferences, no lookaround) and has at most `MAX_REGEX_PROGRAM` instructions; the matches of
one evaluation cost at most `regex_max_work()` together (instructions x text bytes, `RegexBudget`).
Patterns computed at run time go through the same `compile_regex`."""

from __future__ import annotations

from contextvars import ContextVar
from functools import lru_cache
from typing import Any

import re2

from automation.config import regex_max_work

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


#: The regular-expression budget of the condition evaluation under way (set by the outermost
#: `automation.conditions.evaluate`; None outside one, where each match gets a fresh budget).
REGEX_BUDGET: ContextVar[RegexBudget | None] = ContextVar("regex_budget", default=None)
