"""The SMTP provider's hook, with the plugin's connection lookup, and the SMTP client it logged in.

Relies on: `airflow.providers.smtp.hooks.smtp.SmtpHook` (public) and its private `_smtp_client`
attribute: provider 3.2 has no public accessor for the logged-in client, and its own
`send_email_smtp` re-sends after any error (a message could go out twice within one step attempt), so
the plugin sends through the client the hook's context manager opened (connect, retry_limit, STARTTLS,
login: the provider's conventions)."""

from __future__ import annotations

from typing import Any

from automation.airflow_adapter.connections import get_connection


def smtp_hook(conn_id: str) -> Any:
    """An SmtpHook resolving its connection as the rest of the plugin does (a missing one is a permanent
    error naming the connection and how to create it). Imported here: importing this module costs no
    Airflow."""
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    class Hook(SmtpHook):
        @classmethod
        def get_connection(cls, conn_id: str) -> Any:
            return get_connection(conn_id)

    return Hook(smtp_conn_id=conn_id)


def smtp_client(hook: Any) -> Any:
    """The hook's logged-in `smtplib` client inside `with hook:`; None when it opened none."""
    return hook._smtp_client
