"""Email reads the SMTP connection the way the SMTP provider does (disable_ssl, disable_tls, retry_limit,
from_email), against a real SMTP server (aiosmtpd) and a loopback socket that drops connections."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from automation.errors import ActionError, PermanentActionError
from automation.local.embedded_db import free_port
from automation.mail import plain_message, send
from tests.servers import Mailbox, smtp_server

pytestmark = pytest.mark.usefixtures("db")
MAIL = {"id": "mail", "type": "send_email", "config": {"to": "a@b.test", "subject": "Hi", "body": "hello"}}


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    with smtp_server() as served:
        yield served


def connection(monkeypatch: pytest.MonkeyPatch, port: int, **extra: Any) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps({"conn_type": "smtp", "host": "127.0.0.1",
                                                                 "port": port, "extra": extra}))  # fmt: skip


def test_plain_smtp_with_the_providers_disable_ssl_and_disable_tls(
    run_step: Callable, mailbox: tuple[Mailbox, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    box, port = mailbox
    connection(monkeypatch, port, disable_ssl=True, disable_tls=True, from_email="ops@crm.test")
    assert run_step(MAIL).status == "success"
    (message,) = box.messages
    assert message["From"] == "ops@crm.test" and box.envelopes == [["a@b.test"]]


def test_a_uri_connection_as_airflow_documents_it(
    mailbox: tuple[Mailbox, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    box, port = mailbox
    monkeypatch.setenv(
        "AIRFLOW_CONN_REPORTS_SMTP",
        f"smtp://127.0.0.1:{port}?disable_ssl=true&disable_tls=true&from_email=reports%40crm.test",
    )
    send(plain_message("Daily", "text", ["boss@crm.test"], html="<b>html</b>"), ["boss@crm.test"], "reports_smtp")
    (message,) = box.messages
    assert message["From"] == "reports@crm.test" and message.is_multipart()
    assert [part.get_content_type() for part in message.walk()][1:] == ["text/plain", "text/html"]


def test_ssl_is_on_by_default_as_in_the_provider_and_the_error_says_which_field_to_set(
    run_step: Callable, mailbox: tuple[Mailbox, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    box, port = mailbox
    connection(monkeypatch, port)  # no extras: SSL, as SmtpHook does; this server speaks plain SMTP
    with pytest.raises(PermanentActionError, match="disable_ssl: true"):
        run_step(MAIL)
    connection(monkeypatch, port, disable_ssl=True)  # STARTTLS still on: this server does not offer it
    with pytest.raises(PermanentActionError, match="disable_tls: true"):
        run_step(MAIL, run_id="run-2")
    assert box.messages == []


def test_the_old_ssl_and_starttls_extras_are_refused_with_the_new_names(
    run_step: Callable, mailbox: tuple[Mailbox, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    box, port = mailbox
    connection(monkeypatch, port, starttls=False)
    with pytest.raises(PermanentActionError, match="starttls is no longer read; use the SMTP provider's extras"):
        run_step(MAIL)
    assert box.messages == []


@pytest.fixture
def dropping_server() -> Iterator[tuple[list[int], int]]:
    """Accepts connections and closes them at once (a server that drops every connect); counts them."""
    accepted: list[int] = []
    port = free_port()
    listener = socket.create_server(("127.0.0.1", port))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            accepted.append(1)
            client.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield accepted, port
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def test_retry_limit_of_the_connection_bounds_the_connect_attempts_and_the_step_is_retryable(
    run_step: Callable, dropping_server: tuple[list[int], int], monkeypatch: pytest.MonkeyPatch
) -> None:
    accepted, port = dropping_server
    connection(monkeypatch, port, disable_ssl=True, disable_tls=True, retry_limit=2, timeout=5)
    with pytest.raises(ActionError) as caught:
        run_step(MAIL)
    assert not isinstance(caught.value, PermanentActionError)
    assert len(accepted) == 3  # the first connect and retry_limit more


def test_a_text_false_that_the_provider_would_read_as_true_is_refused(
    run_step: Callable, mailbox: tuple[Mailbox, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    box, port = mailbox
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", f"smtp://127.0.0.1:{port}?disable_ssl=true&disable_tls=false")
    with pytest.raises(PermanentActionError, match="disable_tls='false' is a non-empty text"):
        run_step(MAIL)
    assert box.messages == []
