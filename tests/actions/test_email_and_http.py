"""send_email against a real SMTP server (aiosmtpd) and http_request against a real HTTP server."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable

import pytest

from automation.actions.http_request import sign
from automation.errors import ActionError, PermanentActionError
from automation.net.egress import EgressDenied
from tests.servers import http_server, smtp_server

pytestmark = pytest.mark.usefixtures("db")


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch):
    with smtp_server() as (mailbox, port):
        monkeypatch.setenv(
            "AIRFLOW_CONN_SMTP_DEFAULT",
            json.dumps(
                {
                    "conn_type": "smtp",
                    "host": "127.0.0.1",
                    "port": port,
                    "extra": {"from_email": "bot@crm.test", "disable_ssl": True, "disable_tls": True},
                }
            ),
        )
        yield mailbox


def test_email_with_text_html_template_cc_bcc(run_step: Callable, smtp) -> None:
    result = run_step({"id": "mail", "type": "send_email", "config": {
        "to": "{{ 'client@acme.test' }}", "cc": ["manager@crm.test"], "bcc": "audit@crm.test",
        "subject": "Welcome {{ trigger.new.name }}", "body": "Hello {{ trigger.new.name }}, amount {{ trigger.new.amount }}",
        "template": "welcome.html"}})  # fmt: skip
    assert result.status == "success" and result.output["to"] == ["client@acme.test"]
    (message,) = smtp.messages
    assert message["Subject"] == "Welcome ACME" and message["From"] == "bot@crm.test"
    assert message["To"] == "client@acme.test" and message["Cc"] == "manager@crm.test" and message["Bcc"] is None
    assert sorted(smtp.envelopes[0]) == ["audit@crm.test", "client@acme.test", "manager@crm.test"]
    text, html = (part.get_payload(decode=True).decode() for part in message.walk() if not part.is_multipart())
    assert "Hello ACME, amount 60000" in text
    assert "<h1>Welcome aboard, ACME!</h1>" in html


def test_a_delivered_email_is_not_sent_again(run_step: Callable, smtp) -> None:
    step = {"id": "mail", "type": "send_email", "config": {"to": "a@b.test", "subject": "Hi", "body": "once"}}
    run_step(step)
    assert run_step(step).status == "recorded"
    assert len(smtp.messages) == 1


def test_email_template_outside_the_folder_is_refused() -> None:
    from automation.errors import DefinitionError
    from automation.validation import validate_definition
    from tests.helpers import workflow

    with pytest.raises(DefinitionError, match="steps\\[0\\].config.template"):
        validate_definition(workflow("x", steps=[{"id": "m", "type": "send_email", "config": {
            "to": "a@b.test", "subject": "s", "template": "../../../etc/passwd"}}]))  # fmt: skip


@pytest.fixture
def allow_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__AUTOMATION__HTTP_ALLOWED_HOSTS", "127.0.0.1")
    monkeypatch.setenv("AIRFLOW_CONN_WEBHOOK_SECRET", json.dumps({"conn_type": "generic", "password": "s3cret"}))


@pytest.mark.usefixtures("allow_loopback")
def test_webhook_is_signed_and_its_response_captured(run_step: Callable) -> None:
    with http_server(lambda r, n: (201, {}, b'{"issue": 42}')) as (requests, base):
        result = run_step({"id": "hook", "type": "http_request", "config": {
            "url": f"{base}/hooks/deal", "json": {"deal": "{{ trigger.new.name }}"},
            "signature": {"conn_id": "webhook_secret"}}})  # fmt: skip
    assert result.output["status"] == 201 and result.output["body"] == {"issue": 42}
    (request,) = requests
    assert request.method == "POST" and request.path == "/hooks/deal" and request.json() == {"deal": "ACME"}
    timestamp, digest = (part.split("=", 1)[1] for part in request.headers["X-Automation-Signature"].split(","))
    expected = hmac.new(b"s3cret", f"{timestamp}.".encode() + request.body, hashlib.sha256).hexdigest()
    assert digest == expected and sign("s3cret", request.body, int(timestamp)).endswith(expected)


@pytest.mark.usefixtures("allow_loopback")
def test_503_is_retried_then_succeeds_and_400_is_not_retried(run_step: Callable) -> None:
    with http_server(lambda r, n: (503, {"Retry-After": "0"}, b"busy") if n < 3 else (200, {}, b"{}")) as (reqs, base):
        out = run_step({"id": "h", "type": "http_request", "config": {"url": base, "backoff": 0}}).output
    assert out["attempts"] == 3 and len(reqs) == 3
    with http_server(lambda r, n: (400, {}, b'{"error": "bad"}')) as (reqs, base):
        with pytest.raises(PermanentActionError, match="returned 400"):
            run_step({"id": "h", "type": "http_request", "config": {"url": base, "backoff": 0}}, run_id="r2")
    assert len(reqs) == 1


@pytest.mark.usefixtures("allow_loopback")
def test_429_exhausted_is_retryable_with_retry_after(run_step: Callable) -> None:
    with http_server(lambda r, n: (429, {"Retry-After": "0"}, b"slow down")) as (reqs, base):
        with pytest.raises(ActionError) as caught:
            run_step({"id": "h", "type": "http_request", "config": {"url": base, "attempts": 2}})
    assert caught.value.retryable and caught.value.retry_after == 0 and len(reqs) == 2


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/x", "http://169.254.169.254/latest/meta-data/",
                                 "http://localhost:9/", "file:///etc/passwd"])  # fmt: skip
def test_private_and_metadata_targets_are_refused_when_not_allow_listed(
    run_step: Callable, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("AIRFLOW__AUTOMATION__HTTP_ALLOWED_HOSTS", "*")
    with pytest.raises(EgressDenied):
        run_step({"id": "h", "type": "http_request", "config": {"url": url}})


@pytest.mark.usefixtures("allow_loopback")
def test_a_redirect_to_a_forbidden_host_is_refused(run_step: Callable) -> None:
    redirect = (302, {"Location": "http://169.254.169.254/latest/meta-data/"}, b"")
    with http_server(lambda r, n: redirect) as (reqs, base), pytest.raises(EgressDenied, match="169.254.169.254"):
        run_step({"id": "h", "type": "http_request", "config": {"url": base}})
    assert len(reqs) == 1
