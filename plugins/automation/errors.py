"""Typed error hierarchy: every message says what is wrong and what to fix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


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
    #: the retry policy's error class (settings.retry_policy): network, timeout, rate_limited,
    #: server_error or database; None: the step's own retries
    error_class: ClassVar[str | None] = None

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentActionError(ActionError):
    """An action failed in a way a retry cannot fix (bad config, permission, validation)."""

    retryable = False


class NetworkError(ActionError):
    """A connection could not be made or broke (refused, reset, DNS)."""

    error_class = "network"


class ActionTimeout(ActionError):
    """A call or statement took longer than it may."""

    error_class = "timeout"


class RateLimitedError(ActionError):
    """The other side said too many requests (HTTP 429)."""

    error_class = "rate_limited"


class ServerError(ActionError):
    """The other side failed (HTTP 5xx)."""

    error_class = "server_error"


class DatabaseError(ActionError):
    """A database could not serve the step (unreachable, a serialization failure, a lock wait)."""

    error_class = "database"
