"""Signed webhooks: HMAC-SHA256 of "<timestamp>." + raw body, fresh (5 minutes) and never replayed.

Header: `X-Automation-Signature: t=<unix seconds>,v1=<hex digest>` (what `http_request` sends).
The secret is the password of an Airflow connection: the trigger's `secret_conn_id`, by default
`automation_webhook_<key with - as _>`.
"""

from __future__ import annotations

import hashlib
import hmac
import time

MAX_AGE_SECONDS = 300
SIGNATURE_HEADER = "X-Automation-Signature"


class SignatureError(Exception):
    """Why a delivery is refused (401)."""


def default_secret_conn_id(key: str) -> str:
    return f"automation_webhook_{key.replace('-', '_')}"


def verify(secret: str, body: bytes, header: str | None, now: float | None = None) -> str:
    """The verified digest (used as the delivery's idempotency key), or `SignatureError`."""
    if not header:
        raise SignatureError(f"missing {SIGNATURE_HEADER} header")
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp, digest = int(parts["t"]), parts["v1"]
    except (KeyError, ValueError) as exc:
        raise SignatureError(f"{SIGNATURE_HEADER} must look like t=<unix seconds>,v1=<hex>") from exc
    age = (now if now is not None else time.time()) - timestamp
    if abs(age) > MAX_AGE_SECONDS:
        raise SignatureError(f"signature timestamp is {int(age)} s old; at most {MAX_AGE_SECONDS} s is accepted")
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, digest):
        raise SignatureError("signature does not match the body")
    return digest
