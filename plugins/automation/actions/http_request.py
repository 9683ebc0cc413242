"""http_request (webhook out): allow-listed hosts only, checked on every redirect and connected to
the address that was checked; credentials only from an Airflow connection (`conn_id`), never sent
to another origin after a redirect; optional HMAC signature; retries only network errors, 5xx and
429 (honouring Retry-After); the captured response body is capped (its full size reported)."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl, urljoin, urlsplit

import httpx
from pydantic import Field, ValidationInfo, model_validator

from automation.actions.base import Action, ActionConfig, ActionContext, Capabilities, Delivered, is_template
from automation.actions.registry import register
from automation.airflow_adapter.connections import get_connection
from automation.definitions.base import PathError
from automation.errors import (
    ActionError,
    ActionTimeout,
    AutomationError,
    NetworkError,
    PermanentActionError,
    RateLimitedError,
    ServerError,
)
from automation.net.credentials import is_secret_header, literal_secret_names, template_secret_names
from automation.net.egress import AllowList, Origin
from automation.net.http_connection import HttpConnection, http_connection
from automation.net.pinned import PinnedTransport, Pins

#: The most characters of a response body kept in the step's output (text, or JSON once serialized).
MAX_BODY_CHARS = 65_536
#: The most bytes held in memory to parse a JSON response; a larger body is kept as truncated text.
MAX_CAPTURE_BYTES = 1_048_576
#: Reading stops after this many bytes (the rest is not downloaded; `body_size` is then a lower bound
#: unless the server sent Content-Length).
MAX_READ_BYTES = 32 * 1_048_576
MAX_REDIRECTS = 5
MAX_RETRY_AFTER = 60.0
#: Never sent to an origin other than the request's own once a redirect leaves it.
ALWAYS_SECRET = frozenset({"authorization", "proxy-authorization", "cookie"})
_USERINFO = re.compile(r"^[a-z][a-z0-9+.-]*://[^/?#]*@", re.IGNORECASE)
CONNECTIONS_HINT = (
    "credentials do not belong in a definition (every viewer can read it); put them in an Airflow "
    "connection and set `conn_id` (login+password: basic auth; password alone or extra auth_type "
    '\'bearer\': a bearer token; extra {"X-Api-Key": "..."}: a header)'
)


class Signature(ActionConfig):
    conn_id: str = Field(description="Airflow connection whose password is the HMAC secret")
    header: str = "X-Automation-Signature"


class HttpRequestConfig(ActionConfig):
    url: str = Field(default="", description="absolute URL; with conn_id, a path appended to the connection's base")
    conn_id: str | None = Field(
        default=None, description="Airflow HTTP connection: base URL (host, schema, port) and auth (login/password, "
        "bearer token as password, headers in extra)"
    )  # fmt: skip
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    headers: dict[str, str] = Field(default_factory=dict)
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    json_body: Any = Field(default=None, alias="json")
    timeout: float = Field(default=30, gt=0, le=300)
    expected_status: list[int] | None = Field(default=None, description="default: any 2xx")
    attempts: int = Field(default=3, ge=1, le=10, description="tries inside one task attempt on 5xx/429/network")
    backoff: float = Field(default=1.0, ge=0, le=60, description="seconds before the 2nd try, doubling after")
    signature: Signature | None = None

    @model_validator(mode="after")
    def _no_written_out_credentials(self, info: ValidationInfo) -> HttpRequestConfig:
        if not self.url and not self.conn_id:
            raise PathError("url", "give a url, or a conn_id whose host is the base URL")
        if not (info.context and info.context.get("allow_templates")):
            return self  # a rendered config: its values came from the run's data, not the definition
        if is_template(self.conn_id):
            raise PathError("conn_id", "name the connection itself, not a template: run data must not choose "
                                       "whose credentials a request carries")  # fmt: skip
        for field, headers in (("headers", True), ("params", False)):
            value = getattr(self, field)
            names = (
                template_secret_names(value, headers=headers)
                if isinstance(value, str)
                else literal_secret_names(value, headers=headers)
            )
            if names:
                raise PathError(f"{field}.{names[0]}" if not isinstance(value, str) else field, CONNECTIONS_HINT)
        if _USERINFO.match(self.url):
            raise PathError("url", f"the URL holds a user name or password; {CONNECTIONS_HINT}")
        query: dict[str, object] = {}
        with contextlib.suppress(ValueError):  # a URL urlsplit cannot read fails when called
            query = dict(parse_qsl(urlsplit(self.url).query))
        if names := literal_secret_names(query, headers=False):
            raise PathError("url", f"the query parameter {names[0]!r} holds a credential; {CONNECTIONS_HINT}")
        return self


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


@dataclass
class Reply:
    """A final (non-redirect) response, its body read up to the caps."""

    response: httpx.Response
    text: str  #: the first MAX_CAPTURE_BYTES of the body, decoded
    kept: int  #: how many bytes `text` was decoded from
    size: int  #: bytes in the whole body
    complete: bool  #: the whole body was read

    def body(self) -> dict[str, Any]:
        """`body` (parsed JSON, or text) at most MAX_BODY_CHARS long, `body_size` of the whole body in
        bytes, `body_truncated` when `body` is not all of it."""
        parsed: Any = None
        if self.complete and self.size <= MAX_CAPTURE_BYTES:
            try:
                parsed = json.loads(self.text)
            except ValueError:
                parsed = None
            else:
                if len(json.dumps(parsed, ensure_ascii=False)) <= MAX_BODY_CHARS:
                    return {"body": parsed, "body_size": self.size, "body_truncated": False}
        truncated = not self.complete or self.size > self.kept or len(self.text) > MAX_BODY_CHARS
        return {"body": self.text[:MAX_BODY_CHARS], "body_size": self.size, "body_truncated": truncated}


def _read(response: httpx.Response) -> Reply:
    kept, size, complete = bytearray(), 0, True
    for chunk in response.iter_bytes():
        size += len(chunk)
        if len(kept) < MAX_CAPTURE_BYTES:
            kept += chunk[: MAX_CAPTURE_BYTES - len(kept)]
        if size > MAX_READ_BYTES:
            complete = False
            break
    if not complete:
        with contextlib.suppress(ValueError):
            size = max(size, int(response.headers.get("Content-Length") or 0))
    text = bytes(kept).decode(response.encoding or "utf-8", errors="replace")
    return Reply(response, text, len(kept), size, complete)


def _target_url(config: HttpRequestConfig, conn: HttpConnection | None) -> str:
    """The URL to call: `url`, or with a connection its base URL + `url`; then `params` merged into
    the query string the URL already has."""
    url = config.url
    try:
        httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise PermanentActionError(f"url {url!r} is not a valid URL: {exc}") from None
    if conn is not None:
        if httpx.URL(url).is_absolute_url:
            if Origin.of(url) != Origin.of(conn.base_url):
                raise PermanentActionError(
                    f"url {url!r} is not on connection {conn.conn_id!r}'s host {conn.base_url!r}; with conn_id "
                    "give a path (its credentials are only sent to the connection's own host)"
                )
        else:
            url = conn.url_for(url)
    return str(httpx.URL(url).copy_merge_params(config.params)) if config.params else url


@register
class HttpRequest(Action[HttpRequestConfig]):
    name = "http_request"
    config_model = HttpRequestConfig
    summary = "Call an HTTP endpoint (webhook out)"
    capabilities = Capabilities(external=True)

    def describe(self, config: HttpRequestConfig) -> str:
        where = f" on connection {config.conn_id!r}" if config.conn_id else ""
        return f"{config.method} {config.url or '/'}{where}"

    def refusal(self, config: HttpRequestConfig, ctx: ActionContext) -> str | None:
        """Why the egress allow-list (or the connection) refuses the request, as the real step would."""
        try:
            AllowList.from_env().check(_target_url(config, http_connection(config.conn_id) if config.conn_id else None))
        except AutomationError as exc:
            return str(exc)
        return None

    def send_following_redirects(
        self, client: httpx.Client, pins: Pins, start: str, method: str, body: bytes,
        headers: httpx.Headers, secret: frozenset[str],
    ) -> Reply:  # fmt: skip
        """Each hop is checked and pinned; the secret headers go only to the first URL's origin."""
        allow = AllowList.from_env()
        url, content, home = start, body, Origin.of(start)
        headers = httpx.Headers(headers)
        for _ in range(MAX_REDIRECTS + 1):
            origin = Origin.of(url)
            pins.pin(origin, allow.check(url))
            if origin != home:
                for name in list(headers.keys()):
                    if name.lower() in secret:
                        del headers[name]
            request = client.build_request(method, url, content=content or None, headers=headers)
            response = client.send(request, stream=True)
            try:
                if not response.is_redirect:
                    return _read(response)
            finally:
                response.close()
            url = urljoin(url, response.headers["Location"])
            if response.status_code in (301, 302, 303) and method != "GET":
                method, content = "GET", b""
                headers.pop("Content-Type", None)
        raise PermanentActionError(f"more than {MAX_REDIRECTS} redirects from {start}")

    def execute(self, config: HttpRequestConfig, ctx: ActionContext) -> Delivered:
        conn = http_connection(config.conn_id) if config.conn_id else None
        url = _target_url(config, conn)
        body = b"" if config.json_body is None else json.dumps(config.json_body).encode()
        headers = httpx.Headers({"User-Agent": "airflow-automations"})
        headers.update(config.headers)
        if conn is not None:
            headers.update(conn.headers)
        if config.json_body is not None and "Content-Type" not in headers:
            headers["Content-Type"] = "application/json"
        secret = get_connection(config.signature.conn_id).password if config.signature else None
        if config.signature and not secret:
            raise PermanentActionError(f"connection {config.signature.conn_id!r} has no password to sign with")
        if broken := [name for name, value in headers.items() if "\r" in value or "\n" in value]:
            raise PermanentActionError(f"header {broken[0]!r}: line breaks are not allowed in a header value")
        headers["X-Automation-Delivery"] = f"{ctx.run.dag_id}/{ctx.run.run_id}/{ctx.run.task_id}/{ctx.run.map_index}"
        secret_names = frozenset(
            {*ALWAYS_SECRET, *(n.lower() for n in headers if is_secret_header(n))}
            | {n.lower() for n in (conn.headers if conn else {})}
            | ({config.signature.header.lower()} if config.signature else set())
        )
        last_error: ActionError | None = None
        pins = Pins()
        with httpx.Client(transport=PinnedTransport(pins), timeout=config.timeout, follow_redirects=False,
                          trust_env=False) as client:  # fmt: skip
            for attempt in range(1, config.attempts + 1):
                if config.signature:
                    headers[config.signature.header] = sign(secret or "", body, int(time.time()))
                try:
                    reply = self.send_following_redirects(client, pins, url, config.method, body, headers, secret_names)
                except httpx.HTTPError as exc:
                    kind = ActionTimeout if isinstance(exc, httpx.TimeoutException) else NetworkError
                    last_error, wait = kind(f"{config.method} {url}: {type(exc).__name__}: {exc}"), None
                else:
                    response = reply.response
                    expected = config.expected_status
                    ok = response.status_code in expected if expected else response.is_success
                    if ok:
                        return Delivered({"status": response.status_code, "url": str(response.url),
                                          "attempts": attempt,
                                          "headers": {"content-type": response.headers.get("content-type")},
                                          **reply.body()})  # fmt: skip
                    message = f"{config.method} {url} returned {response.status_code}: {reply.text[:300]}"
                    if response.status_code != 429 and response.status_code < 500:
                        raise PermanentActionError(message)
                    wait = _retry_after(response)
                    status_error = RateLimitedError if response.status_code == 429 else ServerError
                    last_error = status_error(message, retry_after=wait)
                if attempt < config.attempts:
                    time.sleep(wait if wait is not None else config.backoff * 2 ** (attempt - 1))
        assert last_error is not None
        raise last_error
