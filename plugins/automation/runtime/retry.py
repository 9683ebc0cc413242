"""Retry by error class (Airflow 3.3 `RetryPolicy`): what a retry cannot fix fails at once, and each
error class (network, timeout, rate_limited, server_error, database) retries as the workflow's
`settings.retry_policy` says.

Invariant: the policy never retries a permanent error (client errors, bad config, a missing record), and
never lets an error class use more tries than its rule (Airflow's `retries` of the task, the most any class
may use, caps them all). The class of an error is its type's (`ActionError.error_class`), or a known
library error's (`error_class`)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from airflow.sdk import RetryDecision, RetryPolicy

from automation.errors import (
    ActionError,
    ConditionError,
    DefinitionError,
    NotFoundError,
    RegistryError,
    StoreError,
    TemplateError,
)

#: Validation, template, condition, registry and missing-record errors: the same input fails again.
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (
    DefinitionError,
    TemplateError,
    ConditionError,
    RegistryError,
    NotFoundError,
)


def error_class(exception: BaseException) -> str | None:
    """The retry policy's class of an error: the type's own (`ActionError.error_class`), else what a
    known library error is (httpx timeouts and transport errors, OS connection errors, Airflow's task
    timeout, SQLAlchemy operational errors, the definitions store); None: unclassified."""
    if isinstance(exception, ActionError):
        return exception.error_class
    if isinstance(exception, StoreError):
        return "database"
    name = type(exception).__name__
    module = type(exception).__module__
    if name == "AirflowTaskTimeout" or isinstance(exception, TimeoutError):
        return "timeout"
    if module.startswith("httpx"):
        import httpx

        if isinstance(exception, httpx.TimeoutException):
            return "timeout"
        if isinstance(exception, httpx.TransportError):
            return "network"
    if isinstance(exception, ConnectionError):
        return "network"
    if module.startswith("sqlalchemy"):
        from sqlalchemy.exc import InterfaceError, OperationalError

        if isinstance(exception, OperationalError | InterfaceError):
            return "database"
    return None


class ErrorClassRetryPolicy(RetryPolicy):
    """Permanent errors fail now; an error of a class with a rule retries `retries` times with
    `delay * backoff ** (try - 1)` (at most `max_delay`, or the server's Retry-After when longer); other
    retryable errors use the step's own retries and backoff. `rules` is a plan's `retry_policy`:
    `{"default": retries, "classes": {name: {retries, delay, backoff, max_delay}}}`."""

    def __init__(self, rules: dict[str, Any] | None = None) -> None:
        self.rules: dict[str, Any] = rules or {}

    def evaluate(self, exception: BaseException, try_number: int, max_tries: int, context: Any = None) -> RetryDecision:
        if isinstance(exception, PERMANENT_ERRORS):
            return RetryDecision.fail(f"{type(exception).__name__}: a retry cannot fix this")
        if isinstance(exception, ActionError) and not exception.retryable:
            return RetryDecision.fail(f"{type(exception).__name__}: a retry cannot fix this")
        retry_after = exception.retry_after if isinstance(exception, ActionError) else None
        kind = error_class(exception)
        rule = self.rules.get("classes", {}).get(kind) if kind is not None else None
        if rule is None:
            default = self.rules.get("default")
            if default is not None and try_number > default:
                return RetryDecision.fail(f"{kind or 'error'}: {default} retries used")
            if retry_after is not None:
                return RetryDecision.retry(delay=timedelta(seconds=retry_after), reason="Retry-After")
            return RetryDecision.default()
        if try_number > rule["retries"]:
            return RetryDecision.fail(f"{kind}: the retry policy's {rule['retries']} retries used")
        delay = min(rule["delay"] * rule["backoff"] ** (try_number - 1), rule["max_delay"])
        if retry_after is not None and retry_after > delay:
            delay = retry_after
        return RetryDecision.retry(
            delay=timedelta(seconds=delay), reason=f"{kind}: retry {try_number} of {rule['retries']}"
        )

    def serialize(self) -> dict[str, Any]:
        return {"rules": self.rules}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> ErrorClassRetryPolicy:
        return cls(data.get("rules"))


RETRY_POLICY = ErrorClassRetryPolicy()
_policies: dict[str, ErrorClassRetryPolicy] = {}


def policy_for(rules: dict[str, Any] | None) -> ErrorClassRetryPolicy:
    """The policy of a plan's `retry_policy` rules (one object per distinct rules: a parse builds many tasks)."""
    if not rules:
        return RETRY_POLICY
    key = json.dumps(rules, sort_keys=True)
    policy = _policies.get(key)
    if policy is None:
        policy = _policies[key] = ErrorClassRetryPolicy(rules)
    return policy
