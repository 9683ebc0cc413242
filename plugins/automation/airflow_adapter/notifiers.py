"""Airflow's notifier providers as delivery channels: each call sends one message through one Airflow
connection, and raises when the service did not take it (a failed delivery must show in the delivery log).

Relies on: `airflow.providers.apprise.hooks.apprise.AppriseHook` (public `get_connection`,
`set_config_from_conn`: the connection's `config` extra, a {path, tag} or a list of them) and
`airflow.providers.slack.hooks.slack_webhook.SlackWebhookHook` (public `send`, which raises on a non-200
reply, and `client`, the cached slack_sdk `WebhookClient` whose `url` it posts to). The Apprise hook's own
`notify` drops Apprise's result (a refused message looks sent), so the message goes out through the
`apprise.Apprise` object the hook configured, whose result is checked (iterating it gives each service,
whose `url(privacy=False)` is its URL).
Providers are imported inside the functions: importing this module costs no Airflow.

Invariant: a URL whose host the connection chooses is checked against `[automation] http_allowed_hosts`
(`automation.net.egress`) before anything is sent: the Slack webhook URL, and each Apprise URL of a scheme
in `APPRISE_HTTP_SCHEMES` (Apprise's generic JSON/XML/form webhooks and the Apprise API). Apprise's named
services (`slack://`, `tgram://`, `mailto://`...) reach their own service and are not checked. The
check resolves the host; the provider resolves it again when it sends (its HTTP client is not pinned)."""

from __future__ import annotations

from typing import Any

from automation.airflow_adapter.connections import get_connection
from automation.errors import ActionError, PermanentActionError
from automation.net.egress import AllowList, EgressDenied

#: Apprise's message types for the plugin's levels.
APPRISE_TYPES = {"info": "info", "success": "success", "warning": "warning", "error": "failure"}
SLACK_ICONS = {"info": ":information_source:", "success": ":white_check_mark:", "warning": ":warning:",
               "error": ":x:"}  # fmt: skip
TIMEOUT_SECONDS = 30
#: Apprise's URL schemes that post to the host written in the URL, and the HTTP scheme each one uses
APPRISE_HTTP_SCHEMES = {"json": "http", "jsons": "https", "xml": "http", "xmls": "https", "form": "http",
                        "forms": "https", "apprise": "http", "apprises": "https"}  # fmt: skip


def _allowed(url: str, what: str, allow: AllowList) -> None:
    """`EgressDenied` naming `what` (never the URL: it may hold a token) unless `allow` lets `url` out."""
    try:
        allow.check(url)
    except EgressDenied as exc:
        raise EgressDenied(f"{what}: {str(exc).replace(url, '<its URL>')}; nothing was sent") from None


def send_apprise(conn_id: str, *, title: str, body: str, level: str) -> None:
    """Notify every service URL of Apprise connection `conn_id`; an error unless all took the message."""
    import apprise
    from airflow.providers.apprise.hooks.apprise import AppriseHook

    hook = AppriseHook(apprise_conn_id=conn_id)
    conn = get_connection(conn_id)
    targets = apprise.Apprise()
    try:
        hook.set_config_from_conn(conn=conn, apprise_obj=targets)
    except (KeyError, TypeError, ValueError) as exc:
        raise PermanentActionError(
            f"Apprise connection {conn_id!r}: its extra `config` must be {{'path': URL}} or a list of them ({exc})"
        ) from exc
    if len(targets) == 0:
        raise PermanentActionError(f"Apprise connection {conn_id!r} has no service URL Apprise understands")
    allow = AllowList.from_env()
    for target in targets:
        scheme, sep, rest = target.url(privacy=False).partition("://")
        http = APPRISE_HTTP_SCHEMES.get(scheme.lower())
        if sep and http is not None:
            _allowed(f"{http}://{rest}", f"Apprise connection {conn_id!r}", allow)
    if not targets.notify(body=body, title=title, notify_type=APPRISE_TYPES.get(level, "info")):
        raise ActionError(f"Apprise connection {conn_id!r}: a service did not take the message")


def send_slack_webhook(conn_id: str, *, title: str, body: str, level: str) -> None:
    """Post the message to the Slack incoming webhook of connection `conn_id` (conn type slackwebhook)."""
    from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

    class Hook(SlackWebhookHook):
        @classmethod
        def get_connection(cls, conn_id: str) -> Any:
            return get_connection(conn_id)

    text = f"{SLACK_ICONS.get(level, '')} *{title}*\n{body}".strip()
    hook = Hook(slack_webhook_conn_id=conn_id, timeout=TIMEOUT_SECONDS)
    try:
        url = hook.client.url  # the WebhookClient `send` posts with (cached on the hook)
    except PermanentActionError:
        raise
    except Exception as exc:  # the provider's AirflowNotFoundException: no webhook token in the connection
        raise PermanentActionError(f"Slack webhook {conn_id!r}: {exc}") from exc
    _allowed(url, f"Slack webhook {conn_id!r}", AllowList.from_env())
    try:
        hook.send(text=text)
    except PermanentActionError:
        raise
    except Exception as exc:  # the provider's AirflowException on a non-200 reply, slack_sdk's URLError...
        raise ActionError(f"Slack webhook {conn_id!r}: {exc}") from exc
