"""Typed error hierarchy: every message says what is wrong and what to fix."""

from __future__ import annotations

from dataclasses import dataclass


class AutomationError(Exception):
    """Base of every error this package raises on purpose."""


@dataclass(frozen=True)
class Issue:
    """One problem found in a definition: where (dotted path) and what was expected."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path or '<root>'}: {self.message}"

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


class DefinitionError(AutomationError):
    """A workflow definition does not validate; `issues` lists every problem."""

    def __init__(self, issues: list[Issue], source: str | None = None) -> None:
        self.issues = issues
        self.source = source
        prefix = f"{source}: " if source else ""
        super().__init__(prefix + "; ".join(str(i) for i in issues))


class StoreError(AutomationError):
    """The definitions database could not be reached or refused an operation."""


class NotFoundError(AutomationError):
    """A workflow, version or record that was asked for does not exist."""


class ConflictError(AutomationError):
    """A workflow key (or another unique value) already exists."""


class RegistryError(AutomationError):
    """A collection or column is not in the registry of what actions may touch."""


class TemplateError(AutomationError):
    """A template failed to render, or tried to reach something the sandbox forbids."""


class ConditionError(AutomationError):
    """A condition could not be evaluated (missing field, type mismatch); names the clause."""


class ActionError(AutomationError):
    """An action failed. `retryable` says whether another attempt may succeed; `retry_after`
    (seconds) asks for a delay before it, e.g. from an HTTP Retry-After header."""

    retryable: bool = True

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentActionError(ActionError):
    """An action failed in a way a retry cannot fix (bad config, permission, validation)."""

    retryable = False
