"""Retry by error class (Airflow 3.3 `RetryPolicy`): what a retry cannot fix fails at once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import RetryDecision, RetryPolicy

from automation.errors import (
    ActionError,
    ConditionError,
    DefinitionError,
    NotFoundError,
    RegistryError,
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


class ErrorClassRetryPolicy(RetryPolicy):
    """Permanent errors fail now; network errors, 5xx and 429 use the step's backoff (or the
    server's Retry-After); the step's `retries` caps the attempts either way."""

    def evaluate(self, exception: BaseException, try_number: int, max_tries: int, context: Any = None) -> RetryDecision:
        if isinstance(exception, PERMANENT_ERRORS):
            return RetryDecision.fail(f"{type(exception).__name__}: a retry cannot fix this")
        if isinstance(exception, ActionError):
            if not exception.retryable:
                return RetryDecision.fail(f"{type(exception).__name__}: a retry cannot fix this")
            if exception.retry_after is not None:
                return RetryDecision.retry(delay=timedelta(seconds=exception.retry_after), reason="Retry-After")
        return RetryDecision.default()

    def serialize(self) -> dict[str, Any]:
        return {}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> ErrorClassRetryPolicy:
        return cls()


RETRY_POLICY = ErrorClassRetryPolicy()
