"""http_request (webhook out): allow-listed hosts only, checked on every redirect; optional HMAC
signature; retries only network errors, 5xx and 429 (honouring Retry-After)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any, Literal
from urllib.parse import urljoin

import httpx
from pydantic import Field

from automation.actions.base import Action, ActionConfig, ActionContext
from automation.actions.registry import register
from automation.connections import get_connection
from automation.errors import ActionError, PermanentActionError
from automation.net.egress import AllowList

MAX_BODY_CHARS = 65_536
MAX_REDIRECTS = 5
MAX_RETRY_AFTER = 60.0


class Signature(ActionConfig):
    conn_id: str = Field(description="Airflow connection whose password is the HMAC secret")
    header: str = "X-Automation-Signature"


class HttpRequestConfig(ActionConfig):
    url: str = Field(min_length=1)
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    headers: dict[str, str] = Field(default_factory=dict)
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    json_body: Any = Field(default=None, alias="json")
    timeout: float = Field(default=30, gt=0, le=300)
    expected_status: list[int] | None = Field(default=None, description="default: any 2xx")
    attempts: int = Field(default=3, ge=1, le=10, description="tries inside one task attempt on 5xx/429/network")
    backoff: float = Field(default=1.0, ge=0, le=60, description="seconds before the 2nd try, doubling after")
    signature: Signature | None = None


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """`t=<unix time>,v1=<hex HMAC-SHA256 of "<t>." + body>`: receivers recompute it and check t."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return min(MAX_RETRY_AFTER, max(0.0, float(value)))
    except ValueError:
        return None


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:MAX_BODY_CHARS]


@register
class HttpRequest(Action):
    name = "http_request"
    config_model = HttpRequestConfig
    external = True
    summary = "Call an HTTP endpoint (webhook out)"

    def describe(self, config: HttpRequestConfig) -> str:
        return f"would {config.method} {config.url}"

    def _send_following_redirects(
        self, client: httpx.Client, config: HttpRequestConfig, body: bytes, headers: dict[str, str]
    ) -> httpx.Response:
        allow = AllowList.from_env()
        url, method, content = config.url, config.method, body
        for _ in range(MAX_REDIRECTS + 1):
            allow.check(url)
            response = client.request(method, url, params=config.params if url == config.url else None,
                                      content=content or None, headers=headers)  # fmt: skip
            if not response.is_redirect:
                return response
            url = urljoin(url, response.headers["Location"])
            if response.status_code in (301, 302, 303) and method != "GET":
                method, content = "GET", b""
        raise PermanentActionError(f"more than {MAX_REDIRECTS} redirects from {config.url}")

    def run(self, config: HttpRequestConfig, ctx: ActionContext) -> dict[str, Any]:
        body = b"" if config.json_body is None else json.dumps(config.json_body).encode()
        headers = {"User-Agent": "airflow-automations", **config.headers}
        if config.json_body is not None:
            headers.setdefault("Content-Type", "application/json")
        secret = get_connection(config.signature.conn_id).password if config.signature else None
        if config.signature and not secret:
            raise PermanentActionError(f"connection {config.signature.conn_id!r} has no password to sign with")
        headers["X-Automation-Delivery"] = f"{ctx.run.dag_id}/{ctx.run.run_id}/{ctx.run.task_id}/{ctx.run.map_index}"
        last_error: ActionError | None = None
        with httpx.Client(timeout=config.timeout, follow_redirects=False, trust_env=False) as client:
            for attempt in range(1, config.attempts + 1):
                if config.signature:
                    headers[config.signature.header] = sign(secret or "", body, int(time.time()))
                try:
                    response = self._send_following_redirects(client, config, body, headers)
                except httpx.HTTPError as exc:
                    last_error, wait = ActionError(f"{config.method} {config.url}: {type(exc).__name__}: {exc}"), None
                else:
                    expected = config.expected_status
                    ok = response.status_code in expected if expected else response.is_success
                    if ok:
                        return {"status": response.status_code, "url": str(response.url), "attempts": attempt,
                                "headers": {"content-type": response.headers.get("content-type")},
                                "body": _body(response)}  # fmt: skip
                    message = f"{config.method} {config.url} returned {response.status_code}: {response.text[:300]}"
                    if response.status_code != 429 and response.status_code < 500:
                        raise PermanentActionError(message)
                    wait = _retry_after(response)
                    last_error = ActionError(message, retry_after=wait)
                if attempt < config.attempts:
                    time.sleep(wait if wait is not None else config.backoff * 2 ** (attempt - 1))
        assert last_error is not None
        raise last_error
