"""App-side helper: post events to the automation API, retrying 5xx and connection errors a
bounded number of times (`attempts`), with exponential backoff; a 503's `Retry-After` (seconds or
an HTTP date, at most `max_retry_after`) is waited for instead when it is longer.

from automation.client import AutomationClient
client = AutomationClient("http://airflow:8080", token=jwt)
client.emit("deals", "updated", id=42, new={...}, old={...}, idempotency_key="deal-42-v7")
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

RETRYABLE = {500, 502, 503, 504}


def retry_after(response: httpx.Response) -> float | None:
    """The seconds a response's Retry-After asks for (delta-seconds or an HTTP date), or None."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


class AutomationClient:
    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        attempts: int = 4,
        backoff: float = 0.5,
        timeout: float = 10.0,
        max_retry_after: float = 60.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.attempts, self.backoff, self.max_retry_after = attempts, backoff, max_retry_after
        self.http = httpx.Client(base_url=self.base_url, timeout=timeout)
        self._credentials = (username, password)
        self._token = token

    def _headers(self) -> dict[str, str]:
        if self._token is None and self._credentials[0]:
            username, password = self._credentials
            response = self._send("POST", "/auth/token", {"username": username, "password": password}, auth=False)
            self._token = response.json()["access_token"]
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    def _send(self, method: str, path: str, body: Any, *, auth: bool = True) -> httpx.Response:
        last: Exception | None = None
        for attempt in range(self.attempts):
            delay = self.backoff * 2**attempt
            try:
                response = self.http.request(method, path, json=body, headers=self._headers() if auth else {})
            except httpx.TransportError as exc:
                last = exc
            else:
                if response.status_code not in RETRYABLE:
                    response.raise_for_status()
                    return response
                last = httpx.HTTPStatusError(f"{response.status_code}", request=response.request, response=response)
                delay = max(delay, min(retry_after(response) or 0.0, self.max_retry_after))
            if attempt + 1 < self.attempts:
                time.sleep(delay)
        assert last is not None
        raise last

    def emit(self, entity: str, event: str, *, id: Any = None, new: dict[str, Any] | None = None,
             old: dict[str, Any] | None = None, idempotency_key: str | None = None,
             actor: str | None = None) -> dict[str, Any]:  # fmt: skip
        """Store one event; returns {"id": ledger id, "created": False when the key was seen before}."""
        body = {"entity": entity, "event": event, "id": id, "new": new, "old": old,
                "idempotency_key": idempotency_key, "actor": actor}  # fmt: skip
        body = {k: v for k, v in body.items() if v is not None}
        return self._send("POST", "/automation/api/v1/events", body).json()

    def emit_many(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Up to 500 events in one request."""
        return self._send("POST", "/automation/api/v1/events/batch", {"events": events}).json()

    def close(self) -> None:
        self.http.close()


def emit(base_url: str, entity: str, event: str, *, token: str | None = None, **fields: Any) -> dict[str, Any]:
    """One-shot form of `AutomationClient.emit`."""
    client = AutomationClient(base_url, token=token)
    try:
        return client.emit(entity, event, **fields)
    finally:
        client.close()
