"""Actions registered by name: every module of this package, then the actions other packages publish in
the entry-point group `airflow_automations.actions`, each loaded once per process.

Invariant: a broken plugin (its import fails, it is not an `Action` subclass, its name is taken) is
logged with the entry point's name and left out; it never stops the built-ins or other plugins loading.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import pkgutil
from functools import cache
from importlib.metadata import entry_points
from typing import Any

from automation.actions.base import Action
from automation.errors import AutomationError

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "airflow_automations.actions"
_ACTIONS: dict[str, Action[Any]] = {}
_INFRASTRUCTURE = frozenset({"base", "registry"})
#: entry point name -> why it was not loaded (shown by `automation schema`'s log and the tests)
PLUGIN_ERRORS: dict[str, str] = {}


def register(cls: type[Action[Any]]) -> type[Action[Any]]:
    if cls.name in _ACTIONS and type(_ACTIONS[cls.name]) is not cls:
        raise AutomationError(f"action {cls.name!r} is registered twice")
    _ACTIONS[cls.name] = cls()
    return cls


def _load_plugin(point: Any) -> None:
    try:
        loaded = point.load()
        if not (isinstance(loaded, type) and issubclass(loaded, Action)):
            raise AutomationError(f"{point.value} is not an Action subclass")
        if not isinstance(getattr(loaded, "name", None), str) or not hasattr(loaded, "config_model"):
            raise AutomationError(f"{point.value} sets no `name` or no `config_model`")
        if loaded.name != point.name:
            raise AutomationError(f"{point.value} is named {loaded.name!r}, not {point.name!r} as its entry point says")
        if point.name in _ACTIONS and type(_ACTIONS[point.name]) is not loaded:
            raise AutomationError(f"the action name {point.name!r} is taken by {type(_ACTIONS[point.name]).__module__}")
        register(loaded)
    except Exception as exc:
        PLUGIN_ERRORS[point.name] = f"{type(exc).__name__}: {exc}"
        log.error(
            "Action plugin %r (%s, entry point group %s) was not loaded: %s; workflows using it fail validation",
            point.name, point.value, ENTRY_POINT_GROUP, PLUGIN_ERRORS[point.name],
        )  # fmt: skip


@cache
def _discover_builtins() -> None:
    package = importlib.import_module("automation.actions")
    for module in pkgutil.iter_modules(package.__path__):
        if module.name not in _INFRASTRUCTURE and not module.name.startswith("_"):
            importlib.import_module(f"automation.actions.{module.name}")


@cache
def _discover() -> None:
    """Built-ins, then plugins (reading the installed packages' metadata only when a name is not built in)."""
    _discover_builtins()
    for point in entry_points(group=ENTRY_POINT_GROUP):
        _load_plugin(point)


def _import_builtin(name: str) -> None:
    """Only the built-in module named after the action (each built-in lives in `actions/<name>.py`), so a task
    or a parse imports the dependencies of the actions it uses, not of every action."""
    if not name.isidentifier() or name in _INFRASTRUCTURE or name.startswith("_"):
        return
    if importlib.util.find_spec(f"automation.actions.{name}") is not None:
        importlib.import_module(f"automation.actions.{name}")


def get_action(name: str) -> Action[Any] | None:
    action = _ACTIONS.get(name)
    if action is None:
        _import_builtin(name)
        action = _ACTIONS.get(name)
    if action is None:  # a built-in in a module of another name, or a plugin
        _discover()
        action = _ACTIONS.get(name)
    return action


def action_names() -> list[str]:
    _discover()
    return sorted(_ACTIONS)
