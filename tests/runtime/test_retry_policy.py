"""The retry policy per error class: which errors retry, how often and after how long."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from airflow.sdk import RetryAction

from automation.errors import (
    ActionError,
    DatabaseError,
    NetworkError,
    NotFoundError,
    PermanentActionError,
    RateLimitedError,
    ServerError,
    StoreError,
)
from automation.runtime.retry import ErrorClassRetryPolicy, error_class

RULES = {
    "default": 1,
    "classes": {
        "server_error": {"retries": 3, "delay": 10, "backoff": 2.0, "max_delay": 25},
        "rate_limited": {"retries": 2, "delay": 5, "backoff": 1.0, "max_delay": 60},
    },
}


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (ServerError("503"), "server_error"),
        (RateLimitedError("429"), "rate_limited"),
        (NetworkError("refused"), "network"),
        (DatabaseError("gone"), "database"),
        (StoreError("down"), "database"),
        (httpx.ConnectTimeout("slow"), "timeout"),
        (httpx.ConnectError("refused"), "network"),
        (ConnectionResetError(), "network"),
        (TimeoutError(), "timeout"),
        (ActionError("other"), None),
        (ValueError("bug"), None),
    ],
)
def test_each_error_has_its_class(error: BaseException, kind: str | None) -> None:
    assert error_class(error) == kind


def test_a_server_error_retries_as_its_rule_says_with_backoff_capped() -> None:
    policy = ErrorClassRetryPolicy(RULES)
    decisions = [policy.evaluate(ServerError("503"), try_number, 4) for try_number in (1, 2, 3, 4)]
    assert [d.action for d in decisions] == [RetryAction.RETRY] * 3 + [RetryAction.FAIL]
    assert [d.retry_delay for d in decisions[:3]] == [timedelta(seconds=s) for s in (10, 20, 25)]


def test_a_longer_retry_after_wins_over_the_rules_delay() -> None:
    decision = ErrorClassRetryPolicy(RULES).evaluate(RateLimitedError("429", retry_after=40), 1, 4)
    assert decision.action == RetryAction.RETRY and decision.retry_delay == timedelta(seconds=40)


def test_an_error_without_a_rule_uses_the_steps_retries() -> None:
    policy = ErrorClassRetryPolicy(RULES)
    assert policy.evaluate(NetworkError("refused"), 1, 4).action == RetryAction.DEFAULT
    assert policy.evaluate(NetworkError("refused"), 2, 4).action == RetryAction.FAIL


@pytest.mark.parametrize("error", [PermanentActionError("400"), NotFoundError("no deal 7")])
def test_client_errors_never_retry_whatever_the_policy(error: BaseException) -> None:
    assert ErrorClassRetryPolicy(RULES).evaluate(error, 1, 4).action == RetryAction.FAIL


def test_the_policy_survives_dag_serialization() -> None:
    policy = ErrorClassRetryPolicy.deserialize(ErrorClassRetryPolicy(RULES).serialize())
    assert policy.rules == RULES
