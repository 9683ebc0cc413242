"""Static check of the names a template reads, before it ever runs.

A template is parsed with the run's own sandboxed environment (`sandbox.environment()`) and its
syntax tree walked for the names it reads that it does not bind itself (`{% set %}`, `{% for %}`
targets and `loop`, macro and call-block arguments, `{% with %}`). Each such name, with the literal
members that follow it (`steps.create_deal.output`, `params['name']`), is looked up in the names the
place really sees (a `Names` tree); filters and tests are looked up in the environment.

Invariant: what is reported would fail the render (StrictUndefined, unknown filter or test) or is
a syntax error; nothing the template binds, no sandbox global and nothing read under `default` /
`is defined` (the last member may be missing there) is reported. Only literal member chains are
checked: `steps[name]` with a computed `name` passes, and members of an open name (None) too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeAlias

from jinja2 import TemplateSyntaxError, meta, nodes
from jinja2.exceptions import TemplateAssertionError

from automation.templating.sandbox import environment

#: A name's known members (member -> its members), or None: any member (a record's columns...).
Names: TypeAlias = Mapping[str, "Names | None"]

#: Methods of a dict the sandbox lets a template call (`params.items()`): never an unknown member.
DICT_METHODS = frozenset({"get", "items", "keys", "values"})
#: Filters and tests under which the last member of a name may be missing.
_LENIENT_FILTERS = frozenset({"default", "d"})
_LENIENT_TESTS = frozenset({"defined", "undefined"})
#: Names whose members are listed one by one in "available here" (`steps.create_deal`).
_SPELLED_OUT = frozenset({"steps", "params"})


@dataclass(frozen=True)
class Reference:
    """A free name with the literal members that follow it; `lenient`: its last part may be missing."""

    parts: tuple[str, ...]
    lineno: int
    lenient: bool = False

    @property
    def dotted(self) -> str:
        return ".".join(self.parts)


@dataclass
class _Found:
    references: list[Reference]
    filters: list[tuple[str, int]]
    tests: list[tuple[str, int]]
    #: the parsed template, to ask Jinja which names it leaves undeclared (None: no bindings possible)
    tree: nodes.Template | None = None


def _chain(node: nodes.Expr) -> tuple[nodes.Expr, list[str], list[nodes.Node]]:
    """The base of a member chain, the literal members after it (in order) and the expressions
    inside it that are not part of the chain (computed keys, which are walked on their own)."""
    members: list[str] = []
    others: list[nodes.Node] = []
    while isinstance(node, nodes.Getattr | nodes.Getitem):
        if isinstance(node, nodes.Getattr):
            members.append(node.attr)
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            members.append(node.arg.value)
        else:  # a computed key or an index: what follows it is not known
            members.clear()
            others.append(node.arg)
        node = node.node
    return node, members[::-1], others


class _Walker:
    """Free names of a template, in the order they are read, with Jinja's scoping rules."""

    def __init__(self) -> None:
        self.found = _Found([], [], [])

    # -- expressions --

    def expr(self, node: nodes.Node | None, bound: frozenset[str], lenient: bool = False) -> None:
        if node is None:
            return
        if isinstance(node, nodes.Name | nodes.Getattr | nodes.Getitem):
            base, members, others = _chain(node)
            if isinstance(base, nodes.Name):
                if base.ctx == "load" and base.name not in bound:
                    self.found.references.append(
                        Reference((base.name, *members), node.lineno, lenient=lenient and not others)
                    )
            else:
                self.expr(base, bound)
            for other in others:
                self.expr(other, bound)
            return
        if isinstance(node, nodes.Filter):
            if node.name:
                self.found.filters.append((node.name, node.lineno))
            self.expr(node.node, bound, lenient=node.name in _LENIENT_FILTERS)
            self._children(node, bound, skip=node.node)
            return
        if isinstance(node, nodes.Test):
            self.found.tests.append((node.name, node.lineno))
            self.expr(node.node, bound, lenient=node.name in _LENIENT_TESTS)
            self._children(node, bound, skip=node.node)
            return
        self._children(node, bound)

    def _children(self, node: nodes.Node, bound: frozenset[str], skip: nodes.Node | None = None) -> None:
        for child in node.iter_child_nodes():
            if child is skip:
                continue
            if isinstance(child, nodes.Stmt):
                self.body([child], bound)
            else:
                self.expr(child, bound)

    # -- statements --

    def body(self, statements: Iterable[nodes.Node], bound: frozenset[str]) -> frozenset[str]:
        """Walks `statements` in order; returns `bound` plus what they bind for the statements after."""
        for node in statements:
            bound = bound | self.stmt(node, bound)
        return bound

    def stmt(self, node: nodes.Node, bound: frozenset[str]) -> frozenset[str]:
        """Walks one statement; returns the names it binds for the statements after it."""
        if isinstance(node, nodes.For):
            self.expr(node.iter, bound)
            inner = bound | _targets(node.target) | {"loop"}
            self.expr(node.test, inner)
            self.body(node.body, inner)
            self.body(node.else_, bound)
            return frozenset()
        if isinstance(node, nodes.If):
            self.expr(node.test, bound)
            leaked = self.body(node.body, bound)
            for branch in node.elif_:
                leaked |= self.stmt(branch, bound)
            leaked |= self.body(node.else_, bound)
            return leaked - bound  # lenient: a name set in any branch counts as set after the `if`
        if isinstance(node, nodes.Assign):
            self.expr(node.node, bound)
            self._namespace_refs(node.target, bound)
            return _targets(node.target)
        if isinstance(node, nodes.AssignBlock):
            self.body(node.body, bound)
            self.expr(node.filter, bound)
            self._namespace_refs(node.target, bound)
            return _targets(node.target)
        if isinstance(node, nodes.Macro | nodes.CallBlock):
            for default in node.defaults:
                self.expr(default, bound)
            if isinstance(node, nodes.CallBlock):
                self.expr(node.call, bound)
            arguments = frozenset(a.name for a in node.args) | {"varargs", "kwargs", "caller"}
            self.body(node.body, bound | arguments)
            return frozenset({node.name}) if isinstance(node, nodes.Macro) else frozenset()
        if isinstance(node, nodes.With):
            for value in node.values:
                self.expr(value, bound)
            self.body(node.body, bound | frozenset(t for target in node.targets for t in _targets(target)))
            return frozenset()
        if isinstance(node, nodes.FilterBlock):
            self.expr(node.filter, bound)
            self.body(node.body, bound)
            return frozenset()
        if isinstance(node, nodes.Import):
            self.expr(node.template, bound)
            return frozenset({node.target})
        if isinstance(node, nodes.FromImport):
            self.expr(node.template, bound)
            return frozenset(n if isinstance(n, str) else n[1] for n in node.names)
        if isinstance(node, nodes.Stmt | nodes.Template | nodes.Helper):
            self._children(node, bound)
            return frozenset()
        self.expr(node, bound)
        return frozenset()

    def _namespace_refs(self, target: nodes.Node, bound: frozenset[str]) -> None:
        """`{% set ns.total = ... %}` reads the namespace `ns`."""
        for ref in target.find_all(nodes.NSRef):
            if ref.name not in bound:
                self.found.references.append(Reference((ref.name,), ref.lineno))


def _targets(target: nodes.Node) -> frozenset[str]:
    """Names an assignment target binds (`x`, `a, b`); a namespace member binds nothing."""
    if isinstance(target, nodes.Name):
        return frozenset({target.name})
    if isinstance(target, nodes.Tuple | nodes.List):
        return frozenset(name for item in target.items for name in _targets(item))
    return frozenset()


#: How every problem `check` reports starts.
PROBLEM_PREFIXES = ("unknown name ", "unknown filter ", "unknown test ", "template syntax error")


def is_name_problem(message: str) -> bool:
    """Whether an issue's message is one of `check`'s (the catalogue blames a parameter for it only
    when the parameter's value can have caused it)."""
    return message.startswith(PROBLEM_PREFIXES)


def is_template(text: str) -> bool:
    return "{{" in text or "{%" in text


#: `{{ name.member... }}`, the common case: read without parsing (no statement, filter or call).
_SIMPLE = re.compile(r"\{\{\s*([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*\}\}")
#: Words Jinja reads as constants or operators, never as a name (those texts are parsed).
_KEYWORDS = frozenset({"true", "false", "none", "True", "False", "None", "and", "or", "not", "in", "is", "if", "else"})


def _simple(text: str) -> _Found | None:
    """The references of a text whose every `{{ }}` is a plain dotted name, else None."""
    if "{%" in text or "{#" in text:
        return None
    matches = list(_SIMPLE.finditer(text))
    outside = _SIMPLE.sub("", text)
    if "{" in outside or "}" in outside:  # another expression, or braces next to one (`{{{ a }}`)
        return None
    references = []
    for match in matches:
        parts = tuple(match.group(1).split("."))
        if not _KEYWORDS.isdisjoint(parts):
            return None
        references.append(Reference(parts, text.count("\n", 0, match.start()) + 1))
    return _Found(references, [], [])


@lru_cache(maxsize=4096)
def _walk(text: str) -> _Found:
    """Free names, filters and tests of `text` (cached: treat as read-only); `TemplateSyntaxError`
    when it does not parse."""
    simple = _simple(text)
    if simple is not None:
        return simple
    tree = environment().parse(text)
    walker = _Walker()
    walker.body(tree.body, frozenset())
    walker.found.tree = tree
    return walker.found


def _undeclared(found: _Found, references: list[Reference]) -> list[Reference]:
    """`references` less those Jinja itself counts as bound in the template (a safety net for bindings
    the walker does not know; asked only when there is something to report: it compiles the template)."""
    if found.tree is None or not references:
        return references
    try:
        undeclared = meta.find_undeclared_variables(found.tree)
    except TemplateAssertionError:  # an unknown filter or test: reported by `check`
        return references
    return [r for r in references if r.parts[0] in undeclared]


def available(names: Names) -> list[str]:
    """The names of a scope as a person reads them: `steps.create_deal` for each earlier step."""
    shown = []
    for name, members in names.items():
        if name in _SPELLED_OUT and members is not None:
            shown += [f"{name}.{member}" for member in members]
        else:
            shown.append(name)
    return shown


def _problem(reference: Reference, names: Names, hints: Mapping[str, str]) -> str | None:
    """Why `reference` is not in `names`, or None when it is (or cannot be known)."""
    parts = reference.parts[:-1] if reference.lenient else reference.parts
    scope: Names | None = names
    for depth, part in enumerate(parts):
        if scope is None:
            return None
        if part not in scope:
            if depth and part in DICT_METHODS:
                return None
            dotted, parent = ".".join(reference.parts[: depth + 1]), ".".join(parts[:depth])
            listed = available(scope) if depth == 0 else [f"{parent}.{member}" for member in scope]
            hint = hints.get(dotted) or hints.get(f"{parent}.*")
            where = f"available here: {', '.join(listed)}" if listed else f"{parent!r} has nothing here"
            return f"unknown name {dotted!r}{f' ({hint})' if hint else ''}; {where}"
        scope = scope[part]
    return None


def check(text: str, names: Names, hints: Mapping[str, str] | None = None) -> list[str]:
    """What is wrong with the names `text` reads, given the `names` its place sees: one message per
    problem (unknown name or member, filter, test; syntax error), each once. `hints` adds an
    explanation to an unknown dotted name (`steps.notify`: "runs later"; `params.*`: any member of
    `params`)."""
    if not is_template(text):
        return []
    try:
        found = _walk(text)
    except TemplateSyntaxError as exc:
        return [f"template syntax error (line {exc.lineno}): {exc.message}"]
    env = environment()
    problems = [
        f"unknown filter {name!r}; available: {', '.join(sorted(env.filters))}"
        for name, _ in found.filters
        if name not in env.filters
    ]
    problems += [
        f"unknown test {name!r}; available: {', '.join(sorted(env.tests))}"
        for name, _ in found.tests
        if name not in env.tests
    ]
    scope = _Visible({**dict.fromkeys(env.globals), **names}, names)
    unknown = [ref for ref in found.references if _problem(ref, scope, hints or {})]
    problems += [p for ref in _undeclared(found, unknown) if (p := _problem(ref, scope, hints or {}))]
    return list(dict.fromkeys(problems))


class _Visible(Mapping[str, "Names | None"]):
    """The scope a template looks names up in (context names and the sandbox's globals), shown
    without the globals: "available here" lists what the place gives, not `range` or `dict`."""

    def __init__(self, lookup: Names, shown: Names) -> None:
        self.lookup, self.shown = lookup, shown

    def __getitem__(self, key: str) -> Names | None:
        return self.lookup[key]

    def __contains__(self, key: object) -> bool:
        return key in self.lookup

    def __iter__(self) -> Iterator[str]:
        return iter(self.shown)

    def __len__(self) -> int:
        return len(self.shown)


def check_path(path: str, names: Names, hints: Mapping[str, str] | None = None) -> str | None:
    """What is wrong with a dotted data path (a condition's `field`, `deal.amount`), or None."""
    parts = tuple(path.split("."))
    return _problem(Reference(parts, 1), names, hints or {}) if path else None


def referenced(text: str) -> list[Reference]:
    """The free names `text` reads (with their literal members), in order; [] when it does not parse."""
    if not is_template(text):
        return []
    try:
        found = _walk(text)
    except TemplateSyntaxError:
        return []
    return _undeclared(found, list(found.references))
