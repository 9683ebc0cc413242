"""The one mapping from the package's domain errors to what each caller shows.

Invariant: every caller (the API's exception handlers, the pages' forms, the CLI's `main`) asks
`outcome(exc)` what an `AutomationError` means: its HTTP status and JSON body, the issues (with field
paths) a form shows next to its fields, and the CLI's one-line message and exit code. No caller
decides that by itself. Whether an *action* may be retried stays on the exception type
(`ActionError.retryable`); here only the request-level retry (503 + Retry-After) is decided.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from automation.errors import AutomationError, ConflictError, DefinitionError, Issue, NotFoundError, StoreError

#: Seconds a client is asked to wait before retrying when the database is unavailable or busy.
RETRY_AFTER_SECONDS = 5
#: CLI exit codes: the input had errors (validate, import) / the command could not do its work.
EXIT_INVALID_INPUT = 1
EXIT_FAILED = 2


class RequestError(AutomationError):
    """A request's own fields are wrong (not a workflow definition): a dry run's `at` that is not a
    time, a mock for a step the workflow does not have, a mock file that is not JSON or YAML."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        self.issues = list(issues)
        super().__init__("; ".join(str(i) for i in self.issues))


@dataclass(frozen=True)
class Outcome:
    """What one error means to every caller."""

    status: int  # HTTP status
    detail: str  # the JSON body's `detail`
    issues: list[Issue] = field(default_factory=list)  # the body's `errors` (and a form's field errors)
    retry_after: int | None = None  # seconds; the response's Retry-After header
    exit_code: int = EXIT_FAILED  # the CLI's
    message: str = ""  # the CLI's line, after "error: "

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"detail": self.detail}
        if self.issues:
            body["errors"] = [i.as_dict() for i in self.issues]
        return body

    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after)} if self.retry_after is not None else None


def outcome(exc: AutomationError) -> Outcome:
    """The mapping (most specific type first)."""
    message = str(exc)
    if isinstance(exc, DefinitionError):
        return Outcome(422, "invalid definition", list(exc.issues), message=message)
    if isinstance(exc, RequestError):
        return Outcome(422, "invalid request", list(exc.issues), message=message)
    if isinstance(exc, NotFoundError | ConflictError):  # with the request field it is about, when it has one
        path = getattr(exc, "path", None)
        issues = [Issue(path, message)] if isinstance(path, str) else []
        return Outcome(404 if isinstance(exc, NotFoundError) else 409, message, issues, message=message)
    if isinstance(exc, StoreError):
        return Outcome(503, f"{message}; retry in {RETRY_AFTER_SECONDS} s", retry_after=RETRY_AFTER_SECONDS,
                       message=message)  # fmt: skip
    # any other deliberate error (a template, condition or registry problem) is the request's
    return Outcome(422, message, message=message)


def form_issues(exc: AutomationError) -> list[Issue] | None:
    """The issues a form shows next to its fields; None when the error is not the form's (a missing
    workflow, the database down): the page's own handlers answer those."""
    if isinstance(exc, ConflictError):  # a key (or another unique value) is taken: the key field's problem
        return [Issue(getattr(exc, "path", "key"), str(exc))]
    if isinstance(exc, DefinitionError | RequestError):
        return outcome(exc).issues
    return None


def cli_line(exc: AutomationError) -> tuple[str, int]:
    """The CLI's one line (no traceback) and exit code."""
    result = outcome(exc)
    return f"error: {result.message}", result.exit_code
