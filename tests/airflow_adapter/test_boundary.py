"""Every Airflow internal the package uses is in `automation.airflow_adapter`: no other module imports an
Airflow module beyond the public API (an AST scan of every import, lazy ones included, and of module
names given to importlib as text)."""

from __future__ import annotations

import ast
import importlib.util
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "plugins" / "automation"
ADAPTER = PACKAGE / "airflow_adapter"

#: What a module outside the adapter may import from Airflow, and why it is public:
PUBLIC_PREFIXES = (
    # the Task SDK's public interface: the names `airflow.sdk` exports, and its exceptions module (its
    # `definitions`, `execution_time`, `bases` and `_shared` modules are its internals)
    "airflow.sdk",
    "airflow.sdk.exceptions",
    # provider operators, triggers and hooks: the providers' documented, versioned API
    "airflow.providers.standard.operators.",
    "airflow.providers.standard.triggers.",
    "airflow.providers.smtp.hooks.",
    # the compat provider's re-exports of Task SDK names (`DagRunTriggerException` comes from
    # airflow.sdk.exceptions), published so provider code works across Airflow versions
    "airflow.providers.common.compat.sdk",
)
PUBLIC_NAMES = {
    ("airflow.plugins_manager", "AirflowPlugin"),  # the documented base class of a plugin
}


def _is_airflow(module: str) -> bool:
    return module == "airflow" or module.startswith("airflow.")


@cache
def _airflow_top_level() -> frozenset[str]:
    """Names of the installed Airflow's subpackages and modules (`models`, `sdk`, `_shared`...)."""
    spec = importlib.util.find_spec("airflow")
    assert spec and spec.submodule_search_locations
    return frozenset(path.stem for location in spec.submodule_search_locations for path in Path(location).iterdir())


def _module_text(text: str) -> bool:
    """A string that names an Airflow module (`"airflow.models.dag"`), not a file (`"airflow.cfg"`)."""
    parts = text.split(".")
    return (
        len(parts) > 1 and parts[0] == "airflow" and all(p.isidentifier() for p in parts)
        and parts[1] in _airflow_top_level()
    )  # fmt: skip


@cache
def _sdk_exports() -> frozenset[str]:
    """The names `airflow.sdk` exports (its `__all__`)."""
    import airflow.sdk

    return frozenset(airflow.sdk.__all__)


def _public(module: str, name: str | None) -> bool:
    if (module, name) in PUBLIC_NAMES:
        return True
    if module.startswith("airflow.sdk.") and name in _sdk_exports():
        # a public SDK name imported from the module that defines it (where the SDK's own stub lacks it):
        # the same object as `airflow.sdk.<name>`
        import airflow.sdk

        return getattr(airflow.sdk, name) is getattr(importlib.import_module(module), name)
    return any(module == prefix or (prefix.endswith(".") and module.startswith(prefix)) for prefix in PUBLIC_PREFIXES)


def airflow_imports(path: Path) -> list[tuple[int, str, str | None]]:
    """(line, module, imported name) of each Airflow import in `path`, wherever it is in the file."""
    found: list[tuple[int, str, str | None]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, None) for alias in node.names if _is_airflow(alias.name)]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and _is_airflow(node.module):
            found += [(node.lineno, node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _module_text(node.value):
            found.append((node.lineno, node.value, None))  # importlib.import_module(text), sys.modules[text]
    return found


def test_no_module_outside_the_adapter_imports_an_airflow_internal() -> None:
    offending = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {module}" + (f" ({name})" if name else "")
        for path in sorted(PACKAGE.rglob("*.py"))
        if ADAPTER not in path.parents
        for line, module, name in airflow_imports(path)
        if not _public(module, name)
    ]
    assert not offending, "Airflow internals outside automation.airflow_adapter:\n" + "\n".join(offending)


def test_the_scan_sees_lazy_imports_and_module_names_in_text(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from airflow.sdk import BaseHook\n"
        "from airflow.sdk.exceptions import AirflowSkipException\n"
        "from airflow.sdk.definitions.deadline import DeadlineAlert, FixedDatetimeDeadline\n"
        "from airflow.plugins_manager import AirflowPlugin\n"
        "def f():\n"
        "    from airflow.models.dag import DagModel\n"
        "    import airflow.settings\n"
        "STATS = ('airflow._shared.observability.metrics.stats',)\n"
        "CONFIG = 'airflow.cfg'\n"
    )
    internal = [(line, module) for line, module, name in airflow_imports(sample) if not _public(module, name)]
    assert internal == [
        (3, "airflow.sdk.definitions.deadline"),  # FixedDatetimeDeadline: not an SDK export
        (6, "airflow.models.dag"),
        (7, "airflow.settings"),
        (8, "airflow._shared.observability.metrics.stats"),
    ]


def test_every_adapter_module_says_what_it_relies_on() -> None:
    for path in sorted(ADAPTER.glob("*.py")):
        if path.name == "__init__.py":
            continue
        docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
        assert "Relies on" in docstring, f"{path.name}: its docstring names no Airflow internal it relies on"
