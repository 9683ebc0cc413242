"""http_request credentials come from Airflow connections (`conn_id`), never from the definition;
the captured response is capped. Real loopback HTTP server, connections from `AIRFLOW_CONN_*`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from automation.actions.http_request import MAX_BODY_CHARS
from automation.cli.main import main
from automation.errors import DefinitionError, PermanentActionError
from automation.store.repository import Repository
from automation.validation import validate_definition
from tests.helpers import workflow
from tests.servers import http_server

pytestmark = pytest.mark.usefixtures("db")


@pytest.fixture
def conn(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    def define(**fields: Any) -> None:
        monkeypatch.setenv("AIRFLOW_CONN_CRM_API", json.dumps({"conn_type": "http", **fields}))

    monkeypatch.setenv("AIRFLOW__AUTOMATION__HTTP_ALLOWED_HOSTS", "127.0.0.1")
    return define


def _hook(**config: Any) -> dict[str, Any]:
    return {"id": "hook", "type": "http_request", "config": config}


@pytest.mark.parametrize(
    ("fields", "header", "expected"),
    [
        ({"login": "ann", "password": "pa:ss"}, "Authorization", "Basic YW5uOnBhOnNz"),
        ({"password": "tok-1"}, "Authorization", "Bearer tok-1"),
        ({"login": "svc", "password": "tok-2", "extra": {"auth_type": "bearer"}}, "Authorization", "Bearer tok-2"),
        ({"extra": {"X-Api-Key": "k-3", "timeout": 5}}, "X-Api-Key", "k-3"),
        ({"extra": {"headers": {"X-Api-Key": "k-4"}}}, "X-Api-Key", "k-4"),
    ],
    ids=["basic", "bearer", "bearer-by-auth-type", "api-key-header", "api-key-extra-headers"],
)
def test_conn_id_auth_reaches_the_server(
    run_step: Callable, conn: Callable, fields: dict[str, Any], header: str, expected: str
) -> None:
    with http_server() as (requests, base):
        host, port = base.removeprefix("http://").split(":")
        conn(host=host, port=int(port), schema="http", **fields)
        result = run_step(_hook(conn_id="crm_api", url="deals/7", method="GET", params={"full": True}))
    (request,) = requests
    assert request.path == "/deals/7?full=true" and request.headers[header] == expected
    assert "timeout" not in {k.lower() for k in request.headers}  # provider options are not headers
    assert json.dumps(result.output).count(expected.split()[-1]) == 0  # the secret is not in the output


def test_conn_host_as_full_url_and_an_absolute_url_elsewhere_is_refused(run_step: Callable, conn: Callable) -> None:
    with http_server() as (requests, base):
        conn(host=f"{base}/api/v1", password="tok")
        run_step(_hook(conn_id="crm_api", url="/items"))
        with pytest.raises(PermanentActionError, match="not on connection 'crm_api'"):
            run_step(_hook(conn_id="crm_api", url="http://127.0.0.1:9/steal"), run_id="r2")
    assert [r.path for r in requests] == ["/api/v1/items"]


@pytest.mark.parametrize(
    ("config", "path"),
    [
        ({"url": "https://x.test", "headers": {"Authorization": "Bearer abc"}}, "headers.Authorization"),
        ({"url": "https://x.test", "headers": {"X-Api-Key": "{{ 'k-1234' }}"}}, "headers.X-Api-Key"),
        ({"url": "https://x.test", "headers": {"cookie": "session=abc"}}, "headers.cookie"),
        ({"url": "https://x.test", "headers": "{{ {'Authorization': 'Bearer abc'} }}"}, "headers"),
        ({"url": "https://x.test", "params": {"api_key": "abc"}}, "params.api_key"),
        ({"url": "https://ann:pw@x.test/"}, "url"),
        ({"url": "https://{{ trigger.body.host }}/x?api_key=abc"}, "url"),
        ({"url": "https://x.test/x?api_key=abc&q=1"}, "url"),
        ({"url": "/x", "conn_id": "{{ trigger.body.conn }}"}, "conn_id"),
    ],
)
def test_a_written_out_credential_is_refused_with_its_path(config: dict[str, Any], path: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        validate_definition(workflow("w", steps=[_hook(**config)]))
    (issue,) = caught.value.issues
    assert issue.path == f"steps[0].config.{path}"
    assert path == "conn_id" or ("conn_id" in issue.message and "Airflow connection" in issue.message)


def test_credentials_read_from_the_runs_data_and_plain_headers_are_accepted() -> None:
    validate_definition(workflow("w", steps=[_hook(url="https://x.test", headers={
        "Authorization": "Bearer {{ trigger.body.callback_token }}", "X-Request-Id": "abc-123",
        "Content-Type": "application/json"})]))  # fmt: skip


def test_a_dry_run_never_shows_the_connections_secret(
    conn: Callable, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conn(host="127.0.0.1", port=9, password="very-secret-token", extra={"X-Api-Key": "very-secret-key"})
    Repository().create(validate_definition(workflow("w", steps=[_hook(conn_id="crm_api", url="/deals")])))
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"name": "x"}))
    assert main(["dry-run", "w", "--event", str(event), "--json"]) == 0
    out = capsys.readouterr().out
    (plan,) = json.loads(out)["steps"]
    assert plan["status"] == "planned" and "crm_api" in plan["detail"]
    assert "very-secret" not in out


def test_a_large_json_response_is_stored_truncated_with_its_full_size(run_step: Callable, conn: Callable) -> None:
    big = json.dumps({"items": ["x" * 100] * 2000}).encode()  # ~206 KB of JSON
    with http_server(lambda r, n: (200, {}, big)) as (_, base):
        conn(host=base)
        out = run_step(_hook(conn_id="crm_api", method="GET")).output
    assert out["body_size"] == len(big) and out["body_truncated"] is True
    assert isinstance(out["body"], str) and len(out["body"]) == MAX_BODY_CHARS and big.decode().startswith(out["body"])
    with http_server(lambda r, n: (200, {}, b'{"id": 7}')) as (_, base):
        conn(host=base)
        small = run_step(_hook(conn_id="crm_api", method="GET"), run_id="r2").output
    assert small["body"] == {"id": 7} and small["body_size"] == 9 and small["body_truncated"] is False


def test_a_catalogue_template_takes_its_credentials_from_a_connection(run_step: Callable, conn: Callable) -> None:
    from automation.catalogue.templates import render_template

    with http_server(lambda r, n: (201, {}, b'{"id": "ERP-1"}')) as (requests, base):
        conn(host=base, password="erp-token")
        workflow_ = render_template(
            "erp-sync-step-alerts", {"erp_url": f"{base}/erp/deals", "connection": "crm_api"}, key="erp"
        )
        (step,) = [s.model_dump(by_alias=True, exclude_none=True) for s in workflow_.steps if s.id == "push_to_erp"]
        result = run_step({"id": step["id"], "type": step["type"], "config": step["config"]})
    assert result.output["body"] == {"id": "ERP-1"} and requests[0].headers["Authorization"] == "Bearer erp-token"
    assert "erp-token" not in json.dumps(workflow_.model_dump(mode="json"))


def test_a_header_value_with_a_line_break_from_data_is_refused_before_sending(
    run_step: Callable, conn: Callable
) -> None:
    with http_server() as (requests, base):
        with pytest.raises(PermanentActionError, match="(?i)'X-Deal': line breaks"):
            run_step(_hook(url=base, headers={"X-Deal": "{{ trigger.new.name }}"}),
                     trigger={"type": "manual", "new": {"name": "a\r\nX-Injected: 1"}})  # fmt: skip
    assert requests == []
