"""Outbound HTTP hardening against real loopback servers: credentials stay on their origin across
redirects, the URL's query string survives `params`, IPv6 forms of private IPv4 addresses are
refused, and the connection goes to the address the allow-list approved (no DNS rebinding)."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from typing import Any

import pytest

from automation.net.egress import AllowList, EgressDenied
from tests.servers import http_server

pytestmark = pytest.mark.usefixtures("db")

SECRETS = ("authorization", "cookie", "proxy-authorization", "x-api-key", "x-automation-signature")


@pytest.fixture
def api_conn(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Defines Airflow connection `api` pointing at `base` (env var, as an operator would)."""

    def define(base: str, **fields: Any) -> None:
        monkeypatch.setenv("AIRFLOW_CONN_API", json.dumps({"conn_type": "http", "host": base, **fields}))

    monkeypatch.setenv("AIRFLOW__AUTOMATION__HTTP_ALLOWED_HOSTS", "127.0.0.1")
    monkeypatch.setenv("AIRFLOW_CONN_WEBHOOK_SECRET", json.dumps({"conn_type": "generic", "password": "s3cret"}))
    return define


def _lower(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


@pytest.mark.parametrize("status", [302, 307, 308])
def test_a_redirect_to_another_origin_carries_no_credentials(
    run_step: Callable, api_conn: Callable, status: int
) -> None:
    with http_server() as (second, other):
        hop = (status, {"Location": f"{other}/landing"}, b"")
        with http_server(lambda r, n: hop) as (first, base):
            api_conn(base, password="tok-123", extra={"X-Api-Key": "key-456"})
            result = run_step({"id": "h", "type": "http_request", "config": {
                "conn_id": "api", "url": "/start", "headers": {"Cookie": "{{ trigger.new.name }}"},
                "json": {"a": 1}, "signature": {"conn_id": "webhook_secret"}}})  # fmt: skip
    assert result.output["status"] == 200 and result.output["url"] == f"{other}/landing"
    sent = _lower(first[0].headers)
    assert sent["authorization"] == "Bearer tok-123" and sent["x-api-key"] == "key-456" and sent["cookie"] == "ACME"
    assert "x-automation-signature" in sent
    arrived = _lower(second[0].headers)  # same host, another port: another origin
    assert not [name for name in SECRETS if name in arrived], arrived
    assert arrived["x-automation-delivery"].startswith("automation__t/")


def test_a_data_driven_authorization_header_is_not_sent_after_a_cross_origin_307(
    run_step: Callable, api_conn: Callable
) -> None:
    """The probe's finding: a 307 from one allowed host to another delivered `Authorization`."""
    with http_server() as (second, other), http_server(lambda r, n: (307, {"Location": other}, b"")) as (first, base):
        run_step({"id": "h", "type": "http_request", "config": {
            "url": base, "headers": {"Authorization": "Bearer {{ trigger.new.name }}"}}})  # fmt: skip
    assert _lower(first[0].headers)["authorization"] == "Bearer ACME"
    assert "authorization" not in _lower(second[0].headers) and second[0].method == "POST"


def test_a_redirect_on_the_same_origin_keeps_the_credentials(run_step: Callable, api_conn: Callable) -> None:
    hops = lambda r, n: (307, {"Location": "/next"}, b"") if n == 1 else (200, {}, b'{"ok": 1}')  # noqa: E731
    with http_server(hops) as (requests, base):
        api_conn(base, login="ann", password="pw")
        run_step({"id": "h", "type": "http_request", "config": {"conn_id": "api", "url": "/first"}})
    assert [r.path for r in requests] == ["/first", "/next"]
    assert all(_lower(r.headers)["authorization"] == "Basic YW5uOnB3" for r in requests)


def test_params_are_merged_into_the_urls_own_query_string(run_step: Callable, api_conn: Callable) -> None:
    with http_server() as (requests, base):
        run_step({"id": "a", "type": "http_request", "config": {"url": f"{base}/s?q=1&page=2", "params": {}}})
        run_step({"id": "b", "type": "http_request", "config": {"url": f"{base}/s?q=1", "params": {"limit": 5}}})
    assert [r.path for r in requests] == ["/s?q=1&page=2", "/s?q=1&limit=5"]


@pytest.mark.parametrize(
    "address",
    ["64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b:1::808:808", "::7f00:1", "::ffff:127.0.0.1",
     "::ffff:10.0.0.1", "2002:a9fe:a9fe::1", "2001:0:4136:e378:8000:63bf:80ff:fffe"],
)  # fmt: skip
def test_ipv6_forms_of_private_ipv4_addresses_are_refused(address: str) -> None:
    with pytest.raises(EgressDenied, match="private"):
        AllowList(("*",)).check(f"http://[{address}]/x")


def test_ipv6_forms_of_public_addresses_pass_and_listing_the_ipv4_opens_its_forms() -> None:
    assert AllowList(("*",)).check("http://[64:ff9b::808:808]/")
    assert AllowList(("*",)).check("http://[::ffff:8.8.8.8]/")
    assert AllowList(("127.0.0.1",)).check("http://[::ffff:127.0.0.1]/")


def test_the_connection_goes_to_the_checked_address_not_a_second_dns_answer(
    run_step: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the name answers the allowed 127.0.0.1 to the check and an internal address
    (127.0.0.2, not allowed) afterwards; the request still reaches 127.0.0.1."""
    real = socket.getaddrinfo
    answers: list[str] = []

    def rebinding(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "rebind.test":
            answers.append("127.0.0.1" if not answers else "127.0.0.2")
            return real(answers[-1], port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    monkeypatch.setenv("AIRFLOW__AUTOMATION__HTTP_ALLOWED_HOSTS", "*,127.0.0.1")
    with http_server(lambda r, n: (200, {}, b'{"who": "public"}')) as (allowed, base):
        port = int(base.rsplit(":", 1)[1])
        internal_answer = (200, {}, b'{"who": "internal"}')
        with http_server(lambda r, n: internal_answer, host="127.0.0.2", port=port) as (internal, _):
            out = run_step({"id": "h", "type": "http_request", "config": {"url": f"http://rebind.test:{port}/x"}})
            # what an unpinned client would have reached: the name now answers 127.0.0.2
            assert socket.getaddrinfo("rebind.test", port)[0][4][0] == "127.0.0.2"
    assert out.output["body"] == {"who": "public"} and internal == []
    assert allowed[0].headers["Host"] == f"rebind.test:{port}"  # the URL's host, connected to the pinned IP
    assert answers[0] == "127.0.0.1" and "127.0.0.2" in answers


def test_a_host_that_was_never_checked_is_not_connected_to() -> None:
    import httpx

    from automation.net.pinned import PinnedTransport, Pins

    with http_server() as (requests, base), httpx.Client(transport=PinnedTransport(Pins())) as client:
        with pytest.raises(httpx.ConnectError, match="not checked"):
            client.get(base)
    assert requests == []


def _self_signed(tmp_path: Any, name: str) -> tuple[str, str]:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    return str(cert_file), str(key_file)


def test_a_pinned_https_connection_keeps_the_host_name_for_sni_and_certificate_checks(tmp_path: Any) -> None:
    import ipaddress
    import ssl
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import httpx

    from automation.net.egress import Origin
    from automation.net.pinned import PinnedTransport, Pins

    cert, key = _self_signed(tmp_path, "api.test")
    seen: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"host": self.headers["Host"]}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    server_context.sni_callback = lambda sock, name, ctx: seen.append(name)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = server_context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    pins = Pins()
    for host in ("api.test", "other.test"):
        pins.pin(Origin.of(f"https://{host}:{port}/"), [ipaddress.ip_address("127.0.0.1")])
    try:
        with httpx.Client(transport=PinnedTransport(pins, verify=ssl.create_default_context(cafile=cert))) as client:
            assert client.get(f"https://api.test:{port}/").json() == {"host": f"api.test:{port}"}
            with pytest.raises(httpx.ConnectError, match="certificate"):
                client.get(f"https://other.test:{port}/")  # same address, a name the certificate does not cover
    finally:
        server.shutdown()
        server.server_close()
    assert seen[:2] == ["api.test", "other.test"]
