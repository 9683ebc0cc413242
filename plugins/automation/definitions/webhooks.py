"""How a webhook trigger verifies its deliveries: one model per scheme, discriminated on `scheme`.

Invariant: a definition names a scheme and its public options only (header names, algorithm,
encoding, prefix, tolerance); the secret is never here: it is the password of the trigger's Airflow
connection. Verifying a delivery against these options is events/webhooks.py's job.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from automation.definitions.base import StrictModel

#: An HTTP header name (RFC 9110 token characters a provider uses in practice), matched case-insensitively.
HeaderName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$", description="an HTTP header name")]
Tolerance = Annotated[
    int,
    Field(ge=1, le=3600, description="seconds a signature's timestamp may differ from now; older ones are refused"),
]
#: What a signature or token may start with before its value (`sha256=`, `Bearer `).
Prefix = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[\x21-\x7e]+ ?$")]


class AutomationVerification(StrictModel):
    """The project's own scheme (what `http_request` sends): `X-Automation-Signature: t=<unix seconds>,v1=<hex>`,
    HMAC-SHA256 of `"<t>." + body`. Replays: refused when stale, and the same signature twice is stored once."""

    scheme: Literal["automation"]
    tolerance: Tolerance = 300


class GithubVerification(StrictModel):
    """GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>` with the webhook's secret. Replays:
    each `X-GitHub-Delivery` id is accepted once (a redelivery from GitHub's UI is refused as a replay)."""

    scheme: Literal["github"]


class StripeVerification(StrictModel):
    """Stripe: `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=...]`, HMAC-SHA256 of `"<t>." + body` with the
    endpoint's signing secret (`whsec_...`). Replays: refused beyond `tolerance`; each event `id` of the body is
    accepted once (Stripe's own retries of an event too), else each signature once."""

    scheme: Literal["stripe"]
    tolerance: Tolerance = 300


class SlackVerification(StrictModel):
    """Slack: `X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:<X-Slack-Request-Timestamp>:" + body>` with the
    app's signing secret. Replays: refused beyond `tolerance`; each Events API `event_id` is accepted once
    (Slack's own retries too), else each signature once. Slack's
    `url_verification` handshake is answered with its `challenge` and starts nothing."""

    scheme: Literal["slack"]
    tolerance: Tolerance = 300


class HmacHeaderVerification(StrictModel):
    """Any provider that signs the raw body with an HMAC in one header (Shopify, GitLab-like, in-house):
    `header: <prefix><digest>`. Replays: `delivery_header`'s value is accepted once; without it, the same
    body is accepted once."""

    scheme: Literal["hmac_header"]
    header: HeaderName = Field(description="the header carrying the signature, e.g. X-Shopify-Hmac-Sha256")
    algorithm: Literal["sha1", "sha256", "sha512"] = Field(default="sha256", description="the HMAC's hash")
    encoding: Literal["hex", "base64"] = Field(default="hex", description="how the digest is written")
    prefix: Prefix | None = Field(default=None, description='what precedes the digest, e.g. "sha256="')
    delivery_header: HeaderName | None = Field(
        default=None, description="a header with the provider's unique delivery id (the replay key)"
    )


class TokenVerification(StrictModel):
    """A shared secret sent as is in a header, for providers without signatures (GitLab's `X-Gitlab-Token`,
    `Authorization: Bearer <secret>`): compared in constant time. Replays: as for `hmac_header`."""

    scheme: Literal["token"]
    header: HeaderName = Field(default="X-Webhook-Token", description="the header carrying the secret")
    prefix: Prefix | None = Field(default=None, description='what precedes the secret, e.g. "Bearer "')
    delivery_header: HeaderName | None = Field(
        default=None, description="a header with the provider's unique delivery id (the replay key)"
    )


WebhookVerification = Annotated[
    AutomationVerification
    | GithubVerification
    | StripeVerification
    | SlackVerification
    | HmacHeaderVerification
    | TokenVerification,
    Field(discriminator="scheme"),
]
SCHEMES = ("automation", "github", "stripe", "slack", "hmac_header", "token")
