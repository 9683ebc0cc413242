"""Actions registered by name; every module of this package is discovered and imported once."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from automation.actions.base import Action
from automation.errors import AutomationError

_ACTIONS: dict[str, Action] = {}
_INFRASTRUCTURE = frozenset({"base", "registry"})


def register(cls: type[Action]) -> type[Action]:
    if cls.name in _ACTIONS and type(_ACTIONS[cls.name]) is not cls:
        raise AutomationError(f"action {cls.name!r} is registered twice")
    _ACTIONS[cls.name] = cls()
    return cls


@cache
def _discover() -> None:
    package = importlib.import_module("automation.actions")
    for module in pkgutil.iter_modules(package.__path__):
        if module.name not in _INFRASTRUCTURE and not module.name.startswith("_"):
            importlib.import_module(f"automation.actions.{module.name}")


def get_action(name: str) -> Action | None:
    _discover()
    return _ACTIONS.get(name)


def action_names() -> list[str]:
    _discover()
    return sorted(_ACTIONS)
