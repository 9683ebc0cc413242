"""The package's import graph, read from its source with `ast` (nothing is imported): no cycle, and
dependencies one way (definitions <- store <- runtime/factory/events <- services <- api/pages/cli).

A module's imports are every `import` / `from ... import` in it, at module level (what runs when it
is imported) and, for the layering rules, inside functions too (a deferred import is still a
dependency). `from pkg import name` is an import of `pkg.name` when that is a module, else of `pkg`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "plugins" / "automation"
#: the entry layers: nothing below them may import them
ENTRY = ("automation.api", "automation.pages", "automation.cli")
#: who may import an entry layer: Airflow's plugin (mounts the API app), `python -m automation`
#: (the CLI), and the API app (mounts the pages router: api -> pages, never the other way)
MAY_IMPORT_ENTRY = {
    "automation.api": ("automation.api", "automation.plugin"),
    "automation.pages": ("automation.pages", "automation.api.app"),
    "automation.cli": ("automation.cli", "automation.__main__"),
}


def _name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _statements(body: list[ast.stmt], deferred: bool) -> Iterator[ast.stmt]:
    """Import statements run at import time (inside if/try/with, not under TYPE_CHECKING), and
    with `deferred` those in functions and classes too."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If):
            test = node.test
            type_only = isinstance(test, ast.Name | ast.Attribute) and "TYPE_CHECKING" in ast.unparse(test)
            if not type_only:
                yield from _statements(node.body, deferred)
            yield from _statements(node.orelse, deferred)
        elif isinstance(node, ast.Try):
            for block in (node.body, *(h.body for h in node.handlers), node.orelse, node.finalbody):
                yield from _statements(block, deferred)
        elif isinstance(node, ast.With):
            yield from _statements(node.body, deferred)
        elif deferred and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield from (n for n in ast.walk(node) if isinstance(n, ast.Import | ast.ImportFrom))


def _resolve(name: str) -> str | None:
    """The package module `name` is (or is in); None outside the package."""
    known = modules()
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


@cache
def imports(module: str, deferred: bool) -> frozenset[str]:
    """The package modules `module` imports (itself excluded)."""
    path = modules()[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str | None] = set()
    for node in _statements(ast.parse(path.read_text(encoding="utf-8")).body, deferred):
        if isinstance(node, ast.Import):
            found.update(_resolve(alias.name) for alias in node.names)
            continue
        if node.level:
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            source = ".".join([*base, node.module] if node.module else base)
        else:
            source = node.module or ""
        for alias in node.names:
            submodule = f"{source}.{alias.name}"
            found.add(submodule if submodule in modules() else _resolve(source))
    return frozenset(m for m in found if m and m != module)


def cycles(deferred: bool) -> list[list[str]]:
    """The graph's strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(imports(node, deferred)):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in modules():
        if module not in index:
            visit(module)
    return found


def test_the_graph_is_read_from_the_source() -> None:
    """The reader finds what the modules say (so an empty graph cannot pass the tests below)."""
    assert "automation.services.workflows" in modules()
    assert "automation.store.repository" in imports("automation.services.workflows", deferred=False)
    assert "automation.airflow_adapter.dags" in imports("automation.services.workflows", deferred=True)
    assert "automation.airflow_adapter.dags" not in imports("automation.services.workflows", deferred=False)
    assert {"automation.api.workflows", "automation.api.errors"} <= imports("automation.api.app", deferred=False)


def test_importing_any_module_runs_into_no_cycle() -> None:
    assert cycles(deferred=False) == []


@pytest.mark.parametrize("entry", ENTRY)
def test_only_their_callers_import_the_api_the_pages_and_the_cli(entry: str) -> None:
    """services, runtime, store, definitions... never import an entry layer (deferred imports
    included); the pages never import the API (the cycle issue 14 removed), nor the CLI."""
    allowed = MAY_IMPORT_ENTRY[entry]
    offenders = sorted(
        f"{module} -> {target}"
        for module in modules()
        if not any(_within(module, a) for a in allowed)
        for target in imports(module, deferred=True)
        if _within(target, entry)
    )
    assert offenders == []


def test_services_depend_on_nothing_above_them() -> None:
    services = [m for m in modules() if _within(m, "automation.services")]
    assert len(services) >= 5
    for module in services:
        assert not [t for t in imports(module, deferred=True) if any(_within(t, e) for e in ENTRY)], module


def test_the_dag_pause_sync_and_bundle_imports_are_orchestrated_only_by_the_services() -> None:
    """api, pages and cli save through the services, which pause or unpause the DAG after the save:
    none of them pauses DAGs or imports bundles by itself."""
    orchestration = {"automation.airflow_adapter.dags", "automation.catalogue.bundles"}
    offenders = sorted(
        f"{module} -> {target}"
        for module in modules()
        if any(_within(module, e) for e in ENTRY)
        for target in imports(module, deferred=True) & orchestration
    )
    assert offenders == []
