"""`airflow_adapter.smtp` against the installed SMTP provider: the hook resolves its connection through
the plugin's lookup, and its private `_smtp_client` is the logged-in client a message is sent with
(a real SMTP server on loopback)."""

from __future__ import annotations

import json
from email.message import EmailMessage

import pytest

from automation.airflow_adapter.smtp import smtp_client, smtp_hook
from automation.errors import PermanentActionError
from tests.servers import smtp_server


def test_the_hooks_client_sends_one_message(monkeypatch: pytest.MonkeyPatch) -> None:
    with smtp_server() as (box, port):
        monkeypatch.setenv("AIRFLOW_CONN_ADAPTER_SMTP", json.dumps({
            "conn_type": "smtp", "host": "127.0.0.1", "port": port,
            "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "ops@crm.test"}}))  # fmt: skip
        hook = smtp_hook("adapter_smtp")
        hook.smtp_connection = hook.get_connection("adapter_smtp")
        assert smtp_client(hook) is None  # not connected yet
        with hook:
            message = EmailMessage()
            message["From"], message["Subject"] = hook.from_email, "probe"
            message.set_content("hello")
            client = smtp_client(hook)
            assert client is not None
            client.send_message(message, to_addrs=["a@b.test"])
    assert box.envelopes == [["a@b.test"]] and box.messages[0]["From"] == "ops@crm.test"


@pytest.mark.usefixtures("airflow_db")  # the lookup asks Airflow's metadata database last
def test_a_missing_connection_is_the_plugins_permanent_error() -> None:
    with pytest.raises(PermanentActionError, match="'adapter_no_smtp' is not defined"):
        smtp_hook("adapter_no_smtp").get_connection("adapter_no_smtp")
