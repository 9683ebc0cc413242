"""Each webhook verification scheme against the provider's documented example (GitHub's and Slack's
published test vectors; Stripe's documented `t=..,v1=..` scheme over "<t>.<payload>"), a wrong
signature, a stale timestamp, and the replay key a repeated delivery gets; what of a request a run sees
(headers without credentials, bounded; query; form bodies). No database: these are the verifiers."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from pydantic import TypeAdapter, ValidationError

from automation.definitions.triggers import WebhookTrigger
from automation.definitions.webhooks import WebhookVerification
from automation.events.webhooks import (
    MAX_HEADERS,
    DeliveryError,
    SignatureError,
    delivery_body,
    replay_key,
    slack_challenge,
    verify_delivery,
    visible_headers,
    visible_query,
)

SCHEME = TypeAdapter(WebhookVerification)

# docs.github.com, "Validating webhook deliveries": the example secret, payload and signature.
GITHUB_SECRET = "It's a Secret to Everybody"
GITHUB_BODY = b"Hello, World!"
GITHUB_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

# api.slack.com, "Verifying requests from Slack": the worked example.
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SLACK_TIMESTAMP = 1531420618
SLACK_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
    b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
    b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
SLACK_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"

STRIPE_SECRET = "whsec_test_secret"
STRIPE_BODY = b'{"id": "evt_1", "object": "event", "type": "payment_intent.succeeded"}'


def stripe_header(secret: str, body: bytes, ts: int, *extra: str) -> str:
    """Stripe's documented scheme: v1 = hex HMAC-SHA256 of "<t>." + payload with the endpoint secret."""
    v1 = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return ",".join([f"t={ts}", *extra, f"v1={v1}"])


def automation_header(secret: str, body: bytes, ts: int) -> str:
    return f"t={ts},v1=" + hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()


def test_github_accepts_its_documented_example_and_keys_replays_on_the_delivery_id() -> None:
    github = SCHEME.validate_python({"scheme": "github"})
    headers = {"X-Hub-Signature-256": GITHUB_SIGNATURE, "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958"}
    verified = verify_delivery(github, GITHUB_SECRET, GITHUB_BODY, headers)
    assert replay_key("gh", verified) == "webhook:gh:delivery:72d3162e-cc78-11e3-81ab-4c9367dc0958"
    # the same delivery again has the same key (the ledger stores it once): a replay
    assert replay_key("gh", verify_delivery(github, GITHUB_SECRET, GITHUB_BODY, headers)) == replay_key("gh", verified)
    # without a delivery id, the body's digest is the key
    bare = verify_delivery(github, GITHUB_SECRET, GITHUB_BODY, {"x-hub-signature-256": GITHUB_SIGNATURE})
    assert replay_key("gh", bare) == "webhook:gh:" + hashlib.sha256(GITHUB_BODY).hexdigest()
    with pytest.raises(SignatureError, match="does not match"):
        verify_delivery(github, "another secret", GITHUB_BODY, headers)
    with pytest.raises(SignatureError, match="does not match"):
        verify_delivery(github, GITHUB_SECRET, b"Hello, World?", headers)
    with pytest.raises(SignatureError, match="must start with 'sha256='"):
        verify_delivery(github, GITHUB_SECRET, GITHUB_BODY, {"X-Hub-Signature-256": GITHUB_SIGNATURE[7:]})
    with pytest.raises(SignatureError, match="missing X-Hub-Signature-256"):
        verify_delivery(github, GITHUB_SECRET, GITHUB_BODY, {"X-Hub-Signature": "sha1=abc"})


def test_slack_accepts_its_documented_example_within_the_tolerance_only() -> None:
    slack = SCHEME.validate_python({"scheme": "slack"})
    headers = {"X-Slack-Signature": SLACK_SIGNATURE, "X-Slack-Request-Timestamp": str(SLACK_TIMESTAMP)}
    verified = verify_delivery(slack, SLACK_SECRET, SLACK_BODY, headers, now=SLACK_TIMESTAMP + 10)
    assert replay_key("sl", verified) == "webhook:sl:" + SLACK_SIGNATURE[3:]
    assert replay_key("sl", verified, {"event_id": "Ev0PV52K21"}) == "webhook:sl:event:Ev0PV52K21"
    assert replay_key("sl", verified, {"event_id": {"not": "an id"}}) == replay_key("sl", verified)
    with pytest.raises(SignatureError, match="301 s old; at most 300 s"):
        verify_delivery(slack, SLACK_SECRET, SLACK_BODY, headers, now=SLACK_TIMESTAMP + 301)
    with pytest.raises(SignatureError, match="does not match"):
        verify_delivery(slack, "0" * 32, SLACK_BODY, headers, now=SLACK_TIMESTAMP)
    moved = {**headers, "X-Slack-Request-Timestamp": str(SLACK_TIMESTAMP + 1)}  # the timestamp is signed
    with pytest.raises(SignatureError, match="does not match"):
        verify_delivery(slack, SLACK_SECRET, SLACK_BODY, moved, now=SLACK_TIMESTAMP)
    with pytest.raises(SignatureError, match="missing"):
        verify_delivery(slack, SLACK_SECRET, SLACK_BODY, {"X-Slack-Signature": SLACK_SIGNATURE})
    longer = SCHEME.validate_python({"scheme": "slack", "tolerance": 600})
    assert verify_delivery(longer, SLACK_SECRET, SLACK_BODY, headers, now=SLACK_TIMESTAMP + 599)


def test_stripe_accepts_any_matching_v1_within_the_tolerance() -> None:
    stripe = SCHEME.validate_python({"scheme": "stripe"})
    ts = 1_700_000_000
    header = stripe_header(STRIPE_SECRET, STRIPE_BODY, ts, "v1=" + "0" * 64, "v0=ignored")
    verified = verify_delivery(stripe, STRIPE_SECRET, STRIPE_BODY, {"Stripe-Signature": header}, now=ts + 5)
    assert replay_key("st", verified) == "webhook:st:" + header.rsplit("v1=", 1)[1]
    # Stripe retries an event with a new timestamp and signature: its (signed) id is the key
    assert replay_key("st", verified, {"id": "evt_1"}) == "webhook:st:event:evt_1"
    with pytest.raises(SignatureError, match="no v1 signature matches"):
        verify_delivery(stripe, "whsec_other", STRIPE_BODY, {"Stripe-Signature": header}, now=ts)
    with pytest.raises(SignatureError, match="at most 300 s"):
        verify_delivery(stripe, STRIPE_SECRET, STRIPE_BODY, {"Stripe-Signature": header}, now=ts + 301)
    with pytest.raises(SignatureError, match="one t= and at least one v1="):
        verify_delivery(stripe, STRIPE_SECRET, STRIPE_BODY, {"Stripe-Signature": f"t={ts}"}, now=ts)
    with pytest.raises(SignatureError, match="must look like"):
        verify_delivery(stripe, STRIPE_SECRET, STRIPE_BODY, {"Stripe-Signature": "garbage"}, now=ts)


def test_the_automation_scheme_is_the_default_and_keeps_its_digest_key() -> None:
    trigger = WebhookTrigger.model_validate({"type": "webhook"})
    assert trigger.verification.scheme == "automation"
    header = automation_header("s", b"{}", 1000)
    verified = verify_delivery(trigger.verification, "s", b"{}", {"X-Automation-Signature": header}, now=1000)
    assert replay_key("a", verified) == "webhook:a:" + header.split("v1=")[1]
    with pytest.raises(SignatureError, match="at most 300 s"):
        verify_delivery(trigger.verification, "s", b"{}", {"X-Automation-Signature": header}, now=1301)


@pytest.mark.parametrize(
    ("algorithm", "encoding", "prefix"),
    [("sha256", "base64", None), ("sha1", "hex", "sha1="), ("sha512", "hex", None)],
)
def test_hmac_header_with_each_algorithm_and_encoding(algorithm: str, encoding: str, prefix: str | None) -> None:
    options = {"scheme": "hmac_header", "header": "X-Shop-Hmac", "algorithm": algorithm, "encoding": encoding}
    scheme = SCHEME.validate_python({**options, "prefix": prefix, "delivery_header": "X-Shop-Webhook-Id"})
    body = b'{"order": 42}'
    raw = hmac.new(b"shh", body, algorithm).digest()
    signature = (prefix or "") + (raw.hex() if encoding == "hex" else base64.b64encode(raw).decode())
    verified = verify_delivery(scheme, "shh", body, {"X-Shop-Hmac": signature, "X-Shop-Webhook-Id": "w-1"})
    assert replay_key("shop", verified) == "webhook:shop:delivery:w-1"
    with pytest.raises(SignatureError, match="does not match"):
        verify_delivery(scheme, "shh", body + b" ", {"X-Shop-Hmac": signature})
    with pytest.raises(SignatureError, match="does not match"):
        verify_delivery(scheme, "shh", body, {"X-Shop-Hmac": (prefix or "") + "é" * 10})  # never a TypeError


def test_a_token_is_compared_whole_and_a_hostile_delivery_id_is_hashed() -> None:
    token = SCHEME.validate_python({"scheme": "token", "header": "Authorization", "prefix": "Bearer ",
                                    "delivery_header": "X-Request-Id"})  # fmt: skip
    odd_id = "id with spaces/" + "x" * 300
    verified = verify_delivery(token, "t0ken", b"{}", {"authorization": "Bearer t0ken", "x-request-id": odd_id})
    assert replay_key("k", verified) == "webhook:k:delivery:" + hashlib.sha256(odd_id.encode()).hexdigest()
    for wrong in ("Bearer t0ke", "Bearer t0ken2", "t0ken", "Basic t0ken"):
        with pytest.raises(SignatureError):
            verify_delivery(token, "t0ken", b"{}", {"Authorization": wrong})
    plain = SCHEME.validate_python({"scheme": "token"})
    assert verify_delivery(plain, "t0ken", b"{}", {"X-Webhook-Token": "t0ken"})
    with pytest.raises(SignatureError, match="missing X-Webhook-Token"):
        verify_delivery(plain, "t0ken", b"{}", {})


def test_scheme_options_are_checked_with_their_paths() -> None:
    with pytest.raises(ValidationError) as caught:
        WebhookTrigger.model_validate({"type": "webhook", "verification": {"scheme": "hmac_header"}})
    assert caught.value.errors()[0]["loc"][-1] == "header"
    for bad in ({"scheme": "gitlab"}, {"scheme": "hmac_header", "header": "X-A", "algorithm": "md5"},
                {"scheme": "token", "header": "X A"}, {"scheme": "slack", "tolerance": 0},
                {"scheme": "github", "secret": "inline"}):  # fmt: skip
        with pytest.raises(ValidationError):
            SCHEME.validate_python(bad)


def test_a_run_sees_headers_without_credentials_and_bounded() -> None:
    github = SCHEME.validate_python({"scheme": "github"})
    headers = [("X-Hub-Signature-256", "sha256=abc"), ("X-Hub-Signature", "sha1=abc"), ("Authorization", "x"),
               ("Cookie", "c"), ("X-Api-Key", "k"), ("X-GitHub-Event", "push"), ("Content-Type", "application/json"),
               ("X-Big", "v" * 3000), ("Accept", "a"), ("Accept", "b")]  # fmt: skip
    assert visible_headers(headers, github) == {
        "x-github-event": "push",
        "content-type": "application/json",
        "accept": "a, b",
    }
    token = SCHEME.validate_python({"scheme": "token", "header": "X-Custom-Pass"})
    assert visible_headers([("X-Custom-Pass", "secret"), ("X-Other", "1")], token) == {"x-other": "1"}
    many = [(f"X-H{i}", "v") for i in range(MAX_HEADERS + 10)]
    assert len(visible_headers(many, github)) == MAX_HEADERS


def test_query_parameters_are_bounded_and_credentials_left_out() -> None:
    assert visible_query([("source", "crm"), ("tag", "a"), ("tag", "b"), ("api_key", "k"), ("token", "t")]) == {
        "source": "crm",
        "tag": ["a", "b"],
    }
    with pytest.raises(DeliveryError, match="query: at most 32 parameters"):
        visible_query([(f"p{i}", "v") for i in range(33)])
    with pytest.raises(DeliveryError) as caught:
        visible_query([("long", "v" * 3000)])
    assert caught.value.path == "query.long"


def test_bodies_json_forms_and_slack_handshake() -> None:
    assert delivery_body(b"", None) == {}
    assert delivery_body(b'{"a": 1}', "application/json") == {"a": 1}
    form = delivery_body(SLACK_BODY, "application/x-www-form-urlencoded; charset=utf-8")
    assert form["command"] == "/webhook-collect" and form["text"] == ""
    for bad, content_type in (
        (b"[1, 2]", None),
        (b"{", "application/json"),
        (b"a=%ff", "application/x-www-form-urlencoded"),
    ):
        with pytest.raises(DeliveryError) as caught:
            delivery_body(bad, content_type)
        assert caught.value.path == "body"
    slack, github = SCHEME.validate_python({"scheme": "slack"}), SCHEME.validate_python({"scheme": "github"})
    handshake = {"type": "url_verification", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}
    assert slack_challenge(slack, handshake) == handshake["challenge"]
    assert slack_challenge(github, handshake) is None
    assert slack_challenge(slack, {"type": "event_callback"}) is None


def test_the_json_schema_shows_the_url_and_every_scheme_with_descriptions() -> None:
    from automation.validation import json_schema

    definitions = json_schema()["$defs"]
    assert "POST /automation/webhooks/<workflow key>" in definitions["WebhookTrigger"]["description"]
    verification = definitions["WebhookTrigger"]["properties"]["verification"]
    assert set(verification["discriminator"]["mapping"]) == {
        "automation",
        "github",
        "stripe",
        "slack",
        "hmac_header",
        "token",
    }
    for name in ("AutomationVerification", "GithubVerification", "StripeVerification", "SlackVerification",
                 "HmacHeaderVerification", "TokenVerification"):  # fmt: skip
        assert "Replays" in definitions[name]["description"], name
    assert definitions["HmacHeaderVerification"]["properties"]["header"]["description"]
