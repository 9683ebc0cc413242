"""An Airflow HTTP connection as `http_request` uses it: a base URL and secret headers.

The fields follow the HTTP provider's `HttpHook` (apache-airflow-providers-http):

- base URL: `host` (a full URL when it contains `://`), else `<schema or http>://<host>`, plus `:<port>`;
- `login` + `password`: HTTP basic auth (the provider's default `HTTPBasicAuth`);
- `password` without `login`, or `extra.auth_type: "bearer"`: `Authorization: Bearer <password>`
  (the provider has no bearer type; this is ours, `extra.auth_type: "basic"` or `"none"` overrides);
- `extra`: each top-level string value is a header (the provider sends extra keys as headers, e.g.
  `{"X-Api-Key": "..."}`), apart from the provider's own options (`timeout`, `verify`, `proxies`, ...);
  `extra.headers` may also hold them as an object.

Every header built here is secret: it is never logged, returned or sent to another origin.
The connection is read only when a step runs (never by validation, dry runs or describe()).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from automation.airflow_adapter.connections import connection_extra, get_connection
from automation.errors import PermanentActionError

#: Extra keys the HTTP provider reads as options, not headers (plus ours: auth_type, headers).
PROVIDER_OPTIONS = frozenset({
    "stream", "cert", "proxies", "proxy", "timeout", "verify", "verify_ssl", "allow_redirects", "max_redirects",
    "trust_env", "check_response", "srv_lookup", "auth_type", "auth_kwargs", "headers",
})  # fmt: skip
AUTH_TYPES = ("basic", "bearer", "none")


@dataclass(frozen=True)
class HttpConnection:
    conn_id: str
    base_url: str
    headers: dict[str, str] = field(default_factory=dict, repr=False)

    def url_for(self, path: str) -> str:
        """`path` appended to the base URL, as the provider's `url_from_endpoint` does."""
        if not path:
            return self.base_url
        if not self.base_url.endswith("/") and not path.startswith("/"):
            return f"{self.base_url}/{path}"
        if self.base_url.endswith("/") and path.startswith("/"):
            return self.base_url + path[1:]
        return self.base_url + path


def _base_url(conn: Any, conn_id: str) -> str:
    host = (conn.host or "").strip()
    if not host:
        raise PermanentActionError(f"Airflow connection {conn_id!r} has no host; set it to the service's base URL")
    base = host if "://" in host else f"{conn.schema or 'http'}://{host}"
    if conn.port:
        scheme, rest = base.split("://", 1)
        netloc, slash, path = rest.partition("/")
        if ":" not in netloc.rsplit("]", 1)[-1]:
            netloc = f"{netloc}:{conn.port}"
        base = f"{scheme}://{netloc}{slash}{path}"
    if "@" in base.split("://", 1)[1].split("/", 1)[0]:
        raise PermanentActionError(
            f"Airflow connection {conn_id!r}: put credentials in login/password, not in the host URL"
        )
    return base


def _auth_header(conn: Any, extra: dict[str, Any], conn_id: str) -> dict[str, str]:
    auth_type = str(extra.get("auth_type") or ("basic" if conn.login else "bearer")).lower()
    if auth_type not in AUTH_TYPES:
        raise PermanentActionError(
            f"Airflow connection {conn_id!r}: extra.auth_type {auth_type!r} is not one of {', '.join(AUTH_TYPES)}"
        )
    if auth_type == "basic" and conn.login:
        token = base64.b64encode(f"{conn.login}:{conn.password or ''}".encode()).decode("ascii")
        return {"Authorization": f"Basic {token}"}
    if auth_type == "bearer" and conn.password:
        return {"Authorization": f"Bearer {conn.password}"}
    if auth_type == "bearer" and extra.get("auth_type"):
        raise PermanentActionError(f"Airflow connection {conn_id!r}: auth_type bearer needs the token as password")
    return {}


def _extra_headers(extra: dict[str, Any], conn_id: str) -> dict[str, str]:
    nested = extra.get("headers") or {}
    if not isinstance(nested, dict):
        raise PermanentActionError(f"Airflow connection {conn_id!r}: extra.headers must be an object")
    top = {k: v for k, v in extra.items() if k not in PROVIDER_OPTIONS}
    headers = {}
    for name, value in {**top, **nested}.items():
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise PermanentActionError(f"Airflow connection {conn_id!r}: extra header {name!r} must be text")
        headers[str(name)] = str(value)
    return headers


def http_connection(conn_id: str) -> HttpConnection:
    """The base URL and the secret headers of Airflow connection `conn_id`."""
    conn = get_connection(conn_id)
    extra = connection_extra(conn)
    headers = {**_extra_headers(extra, conn_id), **_auth_header(conn, extra, conn_id)}
    return HttpConnection(conn_id, _base_url(conn, conn_id), headers)
