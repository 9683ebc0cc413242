"""Bad or oversized input never gets a 500 and stores nothing (issue 12, items 6, 7, 8 and 11).

The first tests drive the plugin's FastAPI app in-process (Starlette's TestClient over `create_app()`)
on the session's real Postgres, with a real Airflow JWT; the `airflow_e2e` ones post to the real
api-server: oversized webhooks refused before they are read, and every JSON operation of the
OpenAPI spec given deep, huge and long-header input.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import select
import socket
import time
from collections.abc import Iterator
from typing import Any

import psutil
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from automation.api.app import create_app
from automation.api.errors import CatchAll
from automation.api.headers import PAGES_CSP
from automation.client import AutomationClient
from automation.local.embedded_db import free_port
from automation.store.db import dispose_engines, engine, ingest_engine
from tests.e2e.conftest import AirflowApi
from tests.helpers import workflow
from tests.servers import http_server

pytestmark = pytest.mark.usefixtures("db")
DEEP = 5000


def sql(statement: str, **params: Any) -> list[dict[str, Any]]:
    with engine().begin() as conn:
        result = conn.execute(text(statement), params)
        return [dict(r) for r in result.mappings()] if result.returns_rows else []


def stored() -> dict[str, int]:
    """What a refused request must not have added."""
    return {
        "events": sql("SELECT count(*) AS n FROM automation.events")[0]["n"],
        "workflows": sql("SELECT count(*) AS n FROM automation.workflow_versions")[0]["n"],
    }


def with_deep(document: Any, depth: int = DEEP) -> bytes:
    """`document` as JSON with its "DEEP" values replaced by arrays and objects nested `depth` deep
    (written as text: the json module itself cannot encode that)."""
    deep = '{"a": [' * (depth // 2) + '"leaf"' + "]}" * (depth // 2)
    return json.dumps(document).replace('"DEEP"', deep).encode()


def signed(secret: str, body: bytes) -> dict[str, str]:
    ts = int(time.time())
    digest = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Automation-Signature": f"t={ts},v1={digest}", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def token(airflow_db: None) -> str:
    """A real JWT of Airflow's auth manager (the test session's), for the admin user."""
    from airflow.api_fastapi.app import init_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    manager = init_auth_manager()
    return manager.generate_jwt(SimpleAuthManagerUser(username="admin", role="admin"))


@pytest.fixture
def api(token: str) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


# -- sizes (item 7) ----------------------------------------------------------------------------------


def test_bodies_over_their_route_limit_are_refused_with_413_and_nothing_is_stored(api: TestClient) -> None:
    before = stored()
    big_event = {"entity": "deals", "event": "updated", "new": {"notes": "x" * (300 * 1024)}}
    refused = api.post("/api/v1/events", json=big_event)
    assert refused.status_code == 413 and "[automation] max_event_bytes" in refused.json()["detail"]
    batch = {"events": [{"entity": "deals", "event": "updated", "new": {"notes": "x" * 200_000}}] * 11}
    assert api.post("/api/v1/events/batch", json=batch).status_code == 413
    huge = workflow("huge", description="x" * (3 * 1024 * 1024))
    assert api.post("/api/v1/workflows", json=huge).status_code == 413
    assert api.post("/api/v1/bundles/import", json={"workflows": [huge]}).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while streaming
        yield b'{"entity": "deals", "event": "updated", "new": {"notes": "'
        for _ in range(100):
            yield b"x" * 10_000
        yield b'"}}'

    streamed = api.post("/api/v1/events", content=chunks(), headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413
    assert stored() == before
    assert api.post("/api/v1/events", json={"entity": "deals", "event": "updated", "new": {"n": "x" * 1000}}).is_success


def test_a_definition_over_the_stored_size_is_refused_on_every_path(api: TestClient, tmp_path) -> None:
    """A 300 KB definition fits in a request but not in the store: create, update, import (API, CLI)."""
    big = workflow("big", description="d" * (300 * 1024))
    created = api.post("/api/v1/workflows", json=big)
    assert created.status_code == 422 and "max_definition_bytes" not in created.text
    assert "bytes as JSON; at most 262144" in created.json()["errors"][0]["message"]
    assert api.post("/api/v1/workflows", json=workflow("big")).status_code == 201
    assert api.put("/api/v1/workflows/big", json=big).status_code == 422
    imported = api.post("/api/v1/bundles/import", json={"workflows": [workflow("small"), big]})
    assert imported.status_code == 422 and imported.json()["errors"][0]["path"].startswith("workflows[1]")
    assert sql("SELECT key FROM automation.workflows") == [{"key": "big"}]
    assert sql("SELECT max(version) AS v FROM automation.workflow_versions") == [{"v": 1}]


# -- nesting, YAML aliases (item 6) ------------------------------------------------------------------


def test_deeply_nested_bodies_are_a_422_on_every_json_route(api: TestClient) -> None:
    before = stored()
    deep = {"detail": "body: nested deeper than 64 levels", "errors": [{"path": "", "message": "nested deeper than 64 levels"}]}  # fmt: skip
    cases = [
        ("/api/v1/events", {"entity": "deals", "event": "updated", "new": {"x": "DEEP"}}),
        ("/api/v1/events/batch", {"events": [{"entity": "deals", "event": "updated", "new": {"x": "DEEP"}}]}),
        ("/api/v1/workflows", workflow("deep", settings={"tags": "DEEP"})),
        ("/api/v1/workflows/validate", {"key": "deep", "conditions": "DEEP"}),
        ("/api/v1/workflows/deep", workflow("deep", conditions="DEEP")),
        ("/api/v1/bundles/import", {"workflows": ["DEEP"]}),
        ("/api/v1/templates/x/workflows", {"key": "x", "parameters": {"p": "DEEP"}}),
        ("/webhooks/anything", {"x": "DEEP"}),
    ]
    for path, document in cases:
        method = "PUT" if path.endswith("/deep") else "POST"
        response = api.request(method, path, content=with_deep(document), headers={"Content-Type": "application/json"})
        assert (response.status_code, response.json()) == (422, deep), path
    bracket_in_strings = {"entity": "deals", "event": "updated", "new": {"text": "[" * 5000}}
    assert api.post("/api/v1/events", json=bracket_in_strings).status_code == 201
    assert stored() == {**before, "events": before["events"] + 1}


def test_yaml_bundles_refuse_alias_bombs_and_deep_nesting_but_take_small_aliases(api: TestClient) -> None:
    laughs = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in "bcdefghi":
        previous = chr(ord(level) - 1)
        laughs.append(f"{level}: &{level} [{','.join(['*' + previous] * 9)}]")
    bomb = "workflows:\n- key: bomb\n  name: Bomb\n  trigger: {type: manual}\n  steps: []\n  x:\n" + "\n".join(
        "    " + line for line in laughs
    )
    assert len(bomb.encode()) < 1000
    yaml_headers = {"Content-Type": "application/yaml"}
    refused = api.post("/api/v1/bundles/import", content=bomb, headers=yaml_headers)
    assert refused.status_code == 422 and "aliases expand the document" in refused.json()["errors"][0]["message"]
    deep = api.post("/api/v1/bundles/import", content="workflows: " + "[" * 3000 + "]" * 3000, headers=yaml_headers)
    assert deep.status_code == 422 and "nested deeper than 64 levels" in deep.json()["errors"][0]["message"]
    cyclic = api.post("/api/v1/bundles/import", content="workflows: &w [*w]", headers=yaml_headers)
    assert cyclic.status_code == 422
    assert stored()["workflows"] == 0
    small = """
defaults: &step {id: note, type: add_note, config: {entity: deals, entity_id: 1, body: hi}}
workflows:
- {key: aliased, name: Aliased, status: DRAFT, trigger: {type: manual}, steps: [*step]}
"""
    accepted = api.post("/api/v1/bundles/import", content="workflows:" + small.split("workflows:")[1].replace(
        "[*step]", "[{id: note, type: add_note, config: {entity: deals, entity_id: 1, body: hi}}]"), headers=yaml_headers)  # fmt: skip
    assert accepted.status_code == 200, accepted.text


# -- webhooks: uniform 404, long User-Agent, a key starting with a digit (items 6, 8) -----------------


HOOK = {"name": "Hook", "status": "ACTIVE", "trigger": {"type": "webhook"},
        "steps": [{"id": "log", "type": "add_note", "config": {"entity": "webhook", "entity_id": 1, "body": "x"}}]}  # fmt: skip


def test_unknown_inactive_and_unsigned_webhooks_answer_the_same_404(
    api: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for key, status in (("hook", "ACTIVE"), ("7-hook", "ACTIVE"), ("no-secret", "ACTIVE"), ("draft", "DRAFT")):
        assert api.post("/api/v1/workflows", json={**HOOK, "key": key, "status": status}).status_code == 201
    monkeypatch.setenv("AIRFLOW_CONN_AUTOMATION_WEBHOOK_HOOK", json.dumps({"conn_type": "generic", "password": "s3"}))
    monkeypatch.setenv("AIRFLOW_CONN_AUTOMATION_WEBHOOK_7_HOOK", json.dumps({"conn_type": "generic", "password": "s7"}))
    monkeypatch.setenv("AIRFLOW_CONN_AUTOMATION_WEBHOOK_DRAFT", json.dumps({"conn_type": "generic", "password": "sd"}))
    body = b'{"issue": 7}'
    caplog.set_level(logging.WARNING, logger="automation.api.webhooks")
    answers = {
        "unknown key": api.post("/webhooks/nope", content=body, headers=signed("s3", body)),
        "draft workflow": api.post("/webhooks/draft", content=body, headers=signed("sd", body)),
        "no secret": api.post("/webhooks/no-secret", content=body, headers=signed("s3", body)),
        "wrong secret": api.post("/webhooks/hook", content=body, headers=signed("wrong", body)),
        "no signature": api.post("/webhooks/hook", content=body),
    }
    assert {(r.status_code, r.text) for r in answers.values()} == {(404, answers["unknown key"].text)}
    assert "automation_webhook" not in answers["no secret"].text
    assert "automation_webhook_no_secret" in caplog.text  # the operator finds the reason in the log
    assert stored()["events"] == 0

    user_agent = "crawler/" + "x" * 400
    accepted = api.post("/webhooks/hook", content=body, headers={**signed("s3", body), "User-Agent": user_agent})
    assert accepted.status_code == 202, accepted.text
    assert sql("SELECT actor FROM automation.events") == [{"actor": user_agent[:200]}]
    digit = api.post("/webhooks/7-hook", content=body, headers=signed("s7", body))
    assert digit.status_code == 202, digit.text
    long_actor = api.post("/api/v1/events", json={"entity": "deals", "event": "updated", "actor": "a" * 201})
    assert long_actor.status_code == 422 and long_actor.json()["errors"][0]["path"] == "actor"


# -- headers (item 8) --------------------------------------------------------------------------------


def test_pages_send_csp_nosniff_and_referrer_policy(api: TestClient) -> None:
    for path in ("/ui/stats", "/ui/workflows", "/ui/workflows/missing", "/ui/static/pages.css"):
        response = api.get(path)
        assert response.headers["Content-Security-Policy"] == PAGES_CSP, path
        assert "frame-ancestors 'self'" in PAGES_CSP and "default-src 'self'" in PAGES_CSP
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
    page = api.get("/ui/workflows").text
    assert "<script>" not in page and " style=" not in page and "<style" not in page  # nothing inline to allow
    assert api.get("/api/v1/workflows").headers["X-Content-Type-Options"] == "nosniff"


# -- errors: no SQL, no traceback, 503 for outages (items 6, 8, 11) ----------------------------------


def test_values_postgres_refuses_are_a_422_without_sql(api: TestClient) -> None:
    """Before: Postgres's `LINE 1: ...'deals', 'updated', '{"t": NaN...` (the statement) in the 422,
    and a 500 for an unpaired surrogate in a text column."""
    for new in ("NaN", "Infinity", '"\\ud800"'):
        body = '{"entity": "deals", "event": "updated", "new": {"t": NEW}}'.replace("NEW", new)
        refused = api.post("/api/v1/events", content=body, headers={"Content-Type": "application/json"})
        assert refused.status_code == 422, refused.text
        detail = refused.json()["detail"]
        assert detail.startswith("a value cannot be stored: invalid input syntax for type json (NaN, Infinity")
        for sql_text in ("LINE", "INSERT", "'deals'", "[SQL", "CONTEXT", "automation.events", "%("):
            assert sql_text not in detail
    body = '{"entity": "deals", "event": "updated", "id": "\\ud800"}'
    refused = api.post("/api/v1/events", content=body, headers={"Content-Type": "application/json"})
    assert refused.status_code == 422 and "unpaired surrogates" in refused.json()["detail"]
    assert stored()["events"] == 0


def test_an_unexpected_error_is_a_json_500_with_an_id_in_the_log(caplog: pytest.LogCaptureFixture) -> None:
    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("secret internals: SELECT * FROM automation.events")

    caplog.set_level(logging.ERROR, logger="automation.api.errors")
    response = TestClient(CatchAll(broken), raise_server_exceptions=False).get("/anything")
    assert response.status_code == 500
    body = response.json()
    assert set(body) == {"detail", "error_id"} and body["detail"] == "internal error"
    assert f"error_id={body['error_id']}" in caplog.text and "secret internals" in caplog.text
    assert "SELECT" not in response.text and "Traceback" not in response.text


def test_an_unreachable_database_is_a_503_with_retry_after(api: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_AUTOMATION_DB", f"postgresql://nobody@127.0.0.1:{free_port()}/automation")
    dispose_engines()
    try:
        event = api.post("/api/v1/events", json={"entity": "deals", "event": "updated"})
        batch = api.post("/api/v1/events/batch", json={"events": [{"entity": "deals", "event": "updated"}]})
        hook = api.post("/webhooks/hook", content=b"{}")
        listing = api.get("/api/v1/workflows")
    finally:
        monkeypatch.undo()
        dispose_engines()
    for response in (event, batch, hook, listing):
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"] == "5" and "retry" in response.json()["detail"]


def test_a_busy_pool_answers_503_instead_of_waiting(api: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every pooled ingest connection is taken: an event waits `AUTOMATION_DB_POOL_TIMEOUT`, then 503."""
    monkeypatch.setenv("AUTOMATION_DB_POOL_TIMEOUT", "1")
    dispose_engines()
    held = []
    try:
        pool = ingest_engine().pool
        held = [ingest_engine().connect() for _ in range(pool.size() + pool._max_overflow)]  # type: ignore[attr-defined]
        response = api.post("/api/v1/events", json={"entity": "deals", "event": "updated"})
    finally:
        for conn in held:
            conn.close()
        monkeypatch.undo()
        dispose_engines()
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert stored()["events"] == 0


def test_the_client_retries_a_503_after_its_retry_after() -> None:
    arrived: list[float] = []

    def respond(request: Any, n: int) -> tuple[int, dict[str, str], bytes]:
        arrived.append(time.monotonic())
        if n == 1:
            return 503, {"Retry-After": "1"}, b'{"detail": "busy"}'
        return 201, {}, b'{"id": 1, "created": true}'

    with http_server(respond) as (requests, url):
        client = AutomationClient(url, token="t", backoff=0.01)
        assert client.emit("deals", "updated", id=1) == {"id": 1, "created": True}
        client.close()
    assert len(requests) == 2
    assert len(arrived) == 2 and arrived[1] - arrived[0] >= 0.95  # waited what Retry-After asked


# -- the real api-server (airflow_e2e) ---------------------------------------------------------------


def _api_server_rss(airflow: AirflowApi) -> int:
    """Resident memory of the api-server and its workers (one process group)."""
    leader = airflow.procs.processes["api-server"].pid
    group = [p for p in psutil.process_iter(["pid"]) if _pgid(p.pid) == leader]
    return sum(p.memory_info().rss for p in group if p.is_running())


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def _raw_post(port: int, path: str, headers: list[str], chunks: Iterator[bytes]) -> tuple[bytes, int]:
    """POST over a raw socket, the body chunk by chunk, looking for an answer before each chunk:
    returns the answer's status line and how many body bytes were sent before it came."""
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n" + "".join(f"{h}\r\n" for h in headers) + "\r\n"
    sent, answer = 0, b""
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        sock.sendall(head.encode())
        for chunk in chunks:
            if select.select([sock], [], [], 0.2)[0]:
                break
            try:
                sock.sendall(chunk)
            except OSError:  # the server closed the connection: its answer is waiting
                break
            sent += len(chunk)
        while b"\r\n" not in answer and (data := sock.recv(65536)):
            answer += data
    return answer.split(b"\r\n", 1)[0], sent


@pytest.mark.airflow_e2e
def test_oversized_webhooks_are_refused_before_the_api_server_reads_them(airflow: AirflowApi) -> None:
    port = int(airflow.base.rsplit(":", 1)[1])
    mb = 1024 * 1024
    before = _api_server_rss(airflow)
    status, sent = _raw_post(port, "/automation/webhooks/unknown-key",
                             ["Content-Type: application/json", f"Content-Length: {50 * mb}"],
                             (b"x" * mb for _ in range(50)))  # fmt: skip
    assert status.startswith(b"HTTP/1.1 413"), status
    assert sent < 50 * mb  # answered from the Content-Length, before the body
    chunk = b"%x\r\n%s\r\n" % (mb, b"x" * mb)
    status, sent = _raw_post(port, "/automation/webhooks/unknown-key",
                             ["Content-Type: application/json", "Transfer-Encoding: chunked"],
                             (chunk for _ in range(50)))  # fmt: skip
    assert status.startswith(b"HTTP/1.1 413"), status
    assert sent < 20 * mb  # read up to the 1 MB limit, then refused
    assert _api_server_rss(airflow) - before < 100 * mb
    assert stored()["events"] == 0


@pytest.mark.airflow_e2e
def test_every_json_operation_answers_4xx_to_deep_huge_and_long_header_input(airflow: AirflowApi) -> None:
    """The OpenAPI fuzz test's hand-written cases: every POST/PUT of the spec, with a body nested
    5,000 deep, a 3 MB string, and 4,000-character headers; no 5xx, nothing stored."""
    assert airflow.client.post("/automation/api/v1/workflows", json=workflow("fuzzed", status="DRAFT")).is_success
    before = stored()
    spec = airflow.client.get("/automation/openapi.json").json()
    operations = [(method.upper(), path.replace("{key}", "fuzzed").replace("{template_id}", "x"))
                  for path, item in spec["paths"].items() for method in item if method in ("post", "put")]  # fmt: skip
    assert len(operations) >= 10
    bodies = {
        "deep": with_deep({"key": "fuzzed", "x": "DEEP"}),
        "huge": json.dumps({"key": "fuzzed", "name": "n" * (3 * 1024 * 1024)}).encode(),
    }
    failures = []
    for method, path in operations:
        for name, body in bodies.items():
            response = airflow.client.request(method, f"/automation{path}", content=body,
                                              headers={"Content-Type": "application/json"})  # fmt: skip
            if not 400 <= response.status_code < 500:
                failures.append(f"{method} {path} {name} -> {response.status_code}: {response.text[:200]}")
        response = airflow.client.request(method, f"/automation{path}", json={},
                                          headers={"User-Agent": "u" * 4000, "X-Long": "h" * 4000})  # fmt: skip
        if response.status_code >= 500:
            failures.append(f"{method} {path} long headers -> {response.status_code}: {response.text[:200]}")
    assert not failures, "\n".join(failures)
    assert stored() == before
