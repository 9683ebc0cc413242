"""A webhook delivery, verified per its trigger's scheme, and what of it a run sees.

Schemes (definitions/webhooks.py): `automation` (`X-Automation-Signature: t=<unix seconds>,v1=<hex>`,
HMAC-SHA256 of `"<t>." + body`, what `http_request` sends), `github`, `stripe`, `slack`, `hmac_header`
and `token`. The secret is the password of an Airflow connection: the trigger's `secret_conn_id`, by
default `automation_webhook_<key with - as _>`.

Invariants: every comparison with a secret-derived value is constant-time; a timestamped scheme refuses
a timestamp further than its tolerance from now; `replay_key` is the same for a delivery and its
replay (the ledger stores one event per key), so a replay is refused. Headers a run sees never include
credentials or signatures, and are bounded in count and size, as are the query parameters.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from automation.definitions.files import load_json
from automation.definitions.webhooks import (
    AutomationVerification,
    GithubVerification,
    HmacHeaderVerification,
    SlackVerification,
    StripeVerification,
    TokenVerification,
)

MAX_AGE_SECONDS = 300
SIGNATURE_HEADER = "X-Automation-Signature"
GITHUB_SIGNATURE, GITHUB_DELIVERY = "X-Hub-Signature-256", "X-GitHub-Delivery"
STRIPE_SIGNATURE = "Stripe-Signature"
SLACK_SIGNATURE, SLACK_TIMESTAMP = "X-Slack-Signature", "X-Slack-Request-Timestamp"

#: Headers a run sees at most, and the longest value kept (a longer one is left out, never cut).
MAX_HEADERS, MAX_HEADER_VALUE = 64, 2048
#: Query parameters a delivery may carry, and the longest value (beyond: 422).
MAX_QUERY, MAX_QUERY_VALUE = 32, 2048
#: Fields of a form-encoded body (beyond: 422).
MAX_FORM_FIELDS = 1000
#: Header and parameter names that carry credentials: never shown to a run.
_SENSITIVE = re.compile(
    r"auth|token|secret|signature|password|passwd|cookie|(api|access|private)[-_]?key|session|hmac", re.IGNORECASE
)
#: A delivery id kept as is in the idempotency key; any other is hashed.
_PLAIN_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")

Verification = (
    AutomationVerification
    | GithubVerification
    | StripeVerification
    | SlackVerification
    | HmacHeaderVerification
    | TokenVerification
)


class SignatureError(Exception):
    """Why a delivery is refused (the route answers its uniform 404 and logs this)."""


class DeliveryError(ValueError):
    """A verified delivery whose content cannot be taken (422): `path` names the part."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path, self.message = path, message


@dataclass(frozen=True)
class Verified:
    """A verified delivery: `digest` is the verified signature (hex), or the body's SHA-256 for schemes
    without one; `delivery` the provider's delivery id header, when the scheme has one."""

    digest: str
    delivery: str | None = None
    #: whether the signature covers a timestamp (then the digest itself is unique per delivery)
    timestamped: bool = False
    #: the body member holding the provider's event id (signed with the body; a provider's retry
    #: of an event keeps it): Stripe's `id`, Slack's Events API `event_id`
    event_field: str | None = None


def default_secret_conn_id(key: str) -> str:
    return f"automation_webhook_{key.replace('-', '_')}"


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def _fresh(timestamp: str, tolerance: int, now: float | None, what: str) -> int:
    try:
        seconds = int(timestamp)
    except ValueError as exc:
        raise SignatureError(f"{what} timestamp must be unix seconds") from exc
    age = (now if now is not None else time.time()) - seconds
    if abs(age) > tolerance:
        raise SignatureError(f"signature timestamp is {int(age)} s old; at most {tolerance} s is accepted")
    return seconds


def _same(expected: str, given: str) -> bool:
    """Constant-time equality of two texts (any characters: a header may hold non-ASCII)."""
    return hmac.compare_digest(expected.encode(), given.encode())


def _hmac_hex(secret: str, message: bytes, algorithm: str = "sha256") -> str:
    return hmac.new(secret.encode(), message, algorithm).hexdigest()


def _pairs(header: str) -> list[tuple[str, str]]:
    """`t=1,v1=ab,v1=cd` -> [("t", "1"), ("v1", "ab"), ("v1", "cd")]; ValueError when malformed."""
    pairs = []
    for item in header.split(","):
        name, value = item.strip().split("=", 1)
        pairs.append((name.strip(), value.strip()))
    return pairs


def verify(
    secret: str, body: bytes, header: str | None, now: float | None = None, tolerance: int = MAX_AGE_SECONDS
) -> str:
    """The `automation` scheme: the verified digest, or `SignatureError`."""
    if not header:
        raise SignatureError(f"missing {SIGNATURE_HEADER} header")
    try:
        parts = dict(_pairs(header))
        timestamp, digest = parts["t"], parts["v1"]
    except (KeyError, ValueError) as exc:
        raise SignatureError(f"{SIGNATURE_HEADER} must look like t=<unix seconds>,v1=<hex>") from exc
    seconds = _fresh(timestamp, tolerance, now, SIGNATURE_HEADER)
    if not _same(_hmac_hex(secret, f"{seconds}.".encode() + body), digest):
        raise SignatureError("signature does not match the body")
    return digest


def _stripe(secret: str, body: bytes, header: str | None, tolerance: int, now: float | None) -> str:
    if not header:
        raise SignatureError(f"missing {STRIPE_SIGNATURE} header")
    try:
        pairs = _pairs(header)
    except ValueError as exc:
        raise SignatureError(f"{STRIPE_SIGNATURE} must look like t=<unix seconds>,v1=<hex>") from exc
    timestamps = [value for name, value in pairs if name == "t"]
    signatures = [value for name, value in pairs if name == "v1"][:8]
    if len(timestamps) != 1 or not signatures:
        raise SignatureError(f"{STRIPE_SIGNATURE} needs one t= and at least one v1=")
    _fresh(timestamps[0], tolerance, now, STRIPE_SIGNATURE)
    expected = _hmac_hex(secret, timestamps[0].encode() + b"." + body)
    for signature in signatures:  # a secret being rolled: one v1 per active secret
        if _same(expected, signature):
            return signature
    raise SignatureError("no v1 signature matches the body")


def _slack(secret: str, body: bytes, headers: dict[str, str], tolerance: int, now: float | None) -> str:
    signature, timestamp = headers.get(SLACK_SIGNATURE.lower()), headers.get(SLACK_TIMESTAMP.lower())
    if not signature or not timestamp:
        raise SignatureError(f"missing {SLACK_SIGNATURE} or {SLACK_TIMESTAMP} header")
    _fresh(timestamp, tolerance, now, SLACK_TIMESTAMP)
    expected = "v0=" + _hmac_hex(secret, b"v0:" + timestamp.encode() + b":" + body)
    if not _same(expected, signature):
        raise SignatureError("signature does not match the body")
    return signature.removeprefix("v0=")


def _strip_prefix(value: str, prefix: str | None, header: str) -> str:
    if prefix is None:
        return value
    if not value.lower().startswith(prefix.lower()):
        raise SignatureError(f"{header} must start with {prefix!r}")
    return value[len(prefix) :]


def _hmac_header(secret: str, body: bytes, headers: dict[str, str], options: HmacHeaderVerification) -> str:
    value = headers.get(options.header.lower())
    if not value:
        raise SignatureError(f"missing {options.header} header")
    given = _strip_prefix(value.strip(), options.prefix, options.header)
    raw = hmac.new(secret.encode(), body, options.algorithm).digest()
    if options.encoding == "hex":
        matches = _same(raw.hex(), given.lower())
    else:
        matches = _same(base64.b64encode(raw).decode(), given)
    if not matches:
        raise SignatureError("signature does not match the body")
    return raw.hex()


def _token(secret: str, headers: dict[str, str], options: TokenVerification) -> None:
    value = headers.get(options.header.lower())
    if not value:
        raise SignatureError(f"missing {options.header} header")
    given = _strip_prefix(value.strip(), options.prefix.strip() if options.prefix else None, options.header)
    if not _same(secret, given.strip()):
        raise SignatureError(f"{options.header} does not match the secret")


def verify_delivery(
    verification: Verification, secret: str, body: bytes, headers: Mapping[str, str], now: float | None = None
) -> Verified:
    """Verify one delivery (its raw body and request headers) with `secret`, per the scheme; raises
    `SignatureError` saying why not."""
    lowered = _lower(headers)
    body_digest = hashlib.sha256(body).hexdigest()
    if isinstance(verification, AutomationVerification):
        digest = verify(secret, body, lowered.get(SIGNATURE_HEADER.lower()), now, verification.tolerance)
        return Verified(digest, timestamped=True)
    if isinstance(verification, StripeVerification):
        digest = _stripe(secret, body, lowered.get(STRIPE_SIGNATURE.lower()), verification.tolerance, now)
        return Verified(digest, timestamped=True, event_field="id")
    if isinstance(verification, SlackVerification):
        digest = _slack(secret, body, lowered, verification.tolerance, now)
        return Verified(digest, timestamped=True, event_field="event_id")
    if isinstance(verification, GithubVerification):
        options = HmacHeaderVerification(scheme="hmac_header", header=GITHUB_SIGNATURE, prefix="sha256=")
        _hmac_header(secret, body, lowered, options)
        return Verified(body_digest, lowered.get(GITHUB_DELIVERY.lower()))
    if isinstance(verification, HmacHeaderVerification):
        _hmac_header(secret, body, lowered, verification)
    else:
        _token(secret, lowered, verification)
    delivery_header = verification.delivery_header
    return Verified(body_digest, lowered.get(delivery_header.lower()) if delivery_header else None)


def replay_key(webhook_key: str, verified: Verified, payload: Mapping[str, Any] | None = None) -> str:
    """The ledger's idempotency key of a delivery: the same for a replay of it, so it is stored once.
    Stripe and Slack events: the event id of the (signed) body, so the provider's own retry of an
    event, newly timestamped and signed, is not a second event either. Other timestamped deliveries:
    the signature (unique per delivery within the tolerance). Others: the provider's delivery id
    when it sends one, else the body's digest (the same body twice is one delivery)."""
    event_id = (payload or {}).get(verified.event_field) if verified.event_field else None
    if isinstance(event_id, str) and _PLAIN_ID.match(event_id):
        return f"webhook:{webhook_key}:event:{event_id}"
    if verified.timestamped or not verified.delivery:
        return f"webhook:{webhook_key}:{verified.digest}"
    delivery = verified.delivery.strip()
    if not _PLAIN_ID.match(delivery):
        delivery = hashlib.sha256(delivery.encode()).hexdigest()
    return f"webhook:{webhook_key}:delivery:{delivery}"


def signature_headers(verification: Verification) -> frozenset[str]:
    """The (lowercase) headers that carry this scheme's signature or secret."""
    names = {
        "automation": (SIGNATURE_HEADER,),
        "github": (GITHUB_SIGNATURE, "X-Hub-Signature"),
        "stripe": (STRIPE_SIGNATURE,),
        "slack": (SLACK_SIGNATURE,),
    }.get(verification.scheme, ())
    header = getattr(verification, "header", None)
    return frozenset(name.lower() for name in (*names, *([header] if header else [])))


def _shown(name: str, hidden: frozenset[str]) -> bool:
    return name not in hidden and not _SENSITIVE.search(name)


def visible_headers(headers: Iterable[tuple[str, str]], verification: Verification) -> dict[str, str]:
    """The headers a run sees (`trigger.headers`): lowercase names, without credentials, signatures or
    the scheme's secret header; at most `MAX_HEADERS`, values longer than `MAX_HEADER_VALUE` left out;
    a repeated header's values joined with ", "."""
    hidden = signature_headers(verification)
    shown: dict[str, str] = {}
    for name, value in headers:
        name = name.lower()
        if not _shown(name, hidden) or len(value) > MAX_HEADER_VALUE or len(name) > 100:
            continue
        if name in shown:
            joined = f"{shown[name]}, {value}"
            if len(joined) <= MAX_HEADER_VALUE:
                shown[name] = joined
        elif len(shown) < MAX_HEADERS:
            shown[name] = value
    return shown


def _multi(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Pairs as a dict; a repeated name's values as a list."""
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            previous = result[name]
            result[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            result[name] = value
    return result


def visible_query(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """The query parameters a run sees (`trigger.query`), credentials left out; `DeliveryError` beyond
    `MAX_QUERY` parameters or a value longer than `MAX_QUERY_VALUE`."""
    if len(pairs) > MAX_QUERY:
        raise DeliveryError("query", f"at most {MAX_QUERY} parameters are accepted, got {len(pairs)}")
    for name, value in pairs:
        if len(name) > 100 or len(value) > MAX_QUERY_VALUE:
            raise DeliveryError(f"query.{name[:100]}", f"longer than {MAX_QUERY_VALUE} characters")
    return _multi((name, value) for name, value in pairs if not _SENSITIVE.search(name))


def delivery_body(body: bytes, content_type: str | None) -> dict[str, Any]:
    """The body a run sees (`trigger.body`): a JSON object, or a form's fields
    (`application/x-www-form-urlencoded`, as Slack's commands send); {} when empty."""
    if not body.strip():
        return {}
    if (content_type or "").split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
        try:
            text = body.decode("utf-8")
            fields = parse_qsl(text, keep_blank_values=True, strict_parsing=True, errors="strict",
                               max_num_fields=MAX_FORM_FIELDS)  # fmt: skip
            return _multi(fields)
        except (UnicodeDecodeError, ValueError) as exc:
            raise DeliveryError("body", f"expected a form (at most {MAX_FORM_FIELDS} UTF-8 fields)") from exc
    try:
        payload = load_json(body)
    except ValueError as exc:
        raise DeliveryError("body", "expected a JSON object") from exc
    if not isinstance(payload, dict):
        raise DeliveryError("body", "expected a JSON object")
    return payload


def slack_challenge(verification: Verification, payload: Mapping[str, Any]) -> str | None:
    """Slack's `url_verification` handshake (sent, signed, when the request URL is saved): its
    challenge, to be echoed; None for any other delivery."""
    if verification.scheme != "slack" or payload.get("type") != "url_verification":
        return None
    challenge = payload.get("challenge")
    return challenge if isinstance(challenge, str) and len(challenge) <= 500 else None
