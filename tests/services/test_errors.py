"""The one error mapping: each domain error's HTTP status and body, form issues and CLI line."""

from __future__ import annotations

from automation.errors import (
    ConditionError,
    ConflictError,
    DefinitionError,
    Issue,
    NotFoundError,
    PermanentActionError,
    StoreError,
    TemplateError,
)
from automation.services.errors import RETRY_AFTER_SECONDS, RequestError, cli_line, form_issues, outcome


def test_definition_and_request_errors_are_422_with_every_issue_at_its_path() -> None:
    bad = DefinitionError([Issue("steps[0].config.to", "expected an email"), Issue("key", "required")], source="f")
    result = outcome(bad)
    assert (result.status, result.detail) == (422, "invalid definition")
    assert result.body()["errors"] == [
        {"path": "steps[0].config.to", "message": "expected an email"},
        {"path": "key", "message": "required"},
    ]
    assert cli_line(bad) == ("error: f: steps[0].config.to: expected an email; key: required", 2)
    assert form_issues(bad) == bad.issues

    mock = RequestError([Issue("mocks.nope", "the workflow has no step 'nope'")])
    assert outcome(mock).body() == {
        "detail": "invalid request",
        "errors": [{"path": "mocks.nope", "message": "the workflow has no step 'nope'"}],
    }
    assert cli_line(mock) == ("error: mocks.nope: the workflow has no step 'nope'", 2)


def test_missing_taken_and_unavailable() -> None:
    missing = outcome(NotFoundError("workflow 'nope' does not exist"))
    assert (missing.status, missing.body(), missing.headers()) == (
        404,
        {"detail": "workflow 'nope' does not exist"},
        None,
    )
    taken = ConflictError("workflow 'a' already exists")
    assert (outcome(taken).status, outcome(taken).body()) == (409, {"detail": "workflow 'a' already exists"})
    assert form_issues(taken) == [Issue("key", "workflow 'a' already exists")]  # shown at the form's key field

    down = outcome(StoreError("cannot reach the automation database"))
    assert down.status == 503 and down.headers() == {"Retry-After": str(RETRY_AFTER_SECONDS)}
    assert down.detail == f"cannot reach the automation database; retry in {RETRY_AFTER_SECONDS} s"
    assert cli_line(StoreError("cannot reach the automation database")) == (
        "error: cannot reach the automation database",
        2,
    )
    assert form_issues(StoreError("down")) is None and form_issues(NotFoundError("gone")) is None


def test_other_deliberate_errors_are_the_requests_and_retry_stays_on_the_action_error_type() -> None:
    for error in (TemplateError("'x' is undefined"), ConditionError("deal.amount: not a number")):
        assert (outcome(error).status, outcome(error).body()) == (422, {"detail": str(error)})
    permanent = PermanentActionError("refused")
    assert permanent.retryable is False and outcome(permanent).status == 422
