"""The plugin API's templates, bundles and workflow extras through the mounted app, real JWT auth."""

from __future__ import annotations

import httpx
import pytest
import yaml

from tests.e2e.conftest import AirflowApi, wait_for
from tests.helpers import workflow

pytestmark = [pytest.mark.airflow_e2e, pytest.mark.usefixtures("db")]
API = "/automation/api/v1"
WF = f"{API}/workflows"


def test_create_from_template_makes_a_dag_in_airflow(airflow: AirflowApi) -> None:
    api = airflow.client
    listing = api.get(f"{API}/templates").json()
    assert listing["total"] >= 5 and {t["category"] for t in listing["templates"]} >= {"sales", "leads"}
    sales = api.get(f"{API}/templates", params={"category": "sales"}).json()["templates"]
    assert sales and all(t["category"] == "sales" for t in sales)
    detail = api.get(f"{API}/templates/large-deal-alert").json()
    assert detail["trigger"] == "deals created/updated (amount)"
    assert {p["name"]: p["type"] for p in detail["parameters"]}["threshold"] == "number"

    body = {"key": "big-deals", "parameters": {"threshold": 20000, "manager_email": "boss@acme.test"}}
    created = api.post(f"{API}/templates/large-deal-alert/workflows", json=body)
    assert created.status_code == 201, created.text
    out = created.json()
    assert (out["key"], out["dag_id"], out["version"], out["status"]) == (
        "big-deals",
        "automation__big-deals",
        1,
        "ACTIVE",
    )
    assert out["definition"]["conditions"]["all"][0]["value"] == 20000
    dag = wait_for(lambda: airflow.dag("automation__big-deals"), 90, "the DAG made from the template")
    assert dag["is_paused"] is False

    again = api.post(f"{API}/templates/large-deal-alert/workflows", json=body)
    assert again.status_code == 409
    bad = api.post(
        f"{API}/templates/large-deal-alert/workflows",
        json={"key": "x", "parameters": {"threshold": "lots", "level": "panic"}},
    )
    assert bad.status_code == 422
    assert {e["path"] for e in bad.json()["errors"]} == {"parameters.threshold", "parameters.level"}
    assert api.post(f"{API}/templates/nope/workflows", json={"key": "y"}).status_code == 404
    assert api.get(f"{API}/templates/nope").status_code == 404


def test_versions_diff_rollback_duplicate_and_dry_run(airflow: AirflowApi) -> None:
    api = airflow.client
    assert api.post(WF, json=workflow("versioned")).status_code == 201
    assert api.put(f"{WF}/versioned", json=workflow("versioned", name="Second")).status_code == 200
    versions = api.get(f"{WF}/versioned/versions").json()
    assert [v["version"] for v in versions["versions"]] == [1, 2] and versions["current_version"] == 2
    assert versions["versions"][0]["created_by"] == "api" and versions["versions"][0]["created_at"]

    diff = api.get(f"{WF}/versioned/versions/diff", params={"from": 1, "to": 2}).json()
    assert "-name: Manual deal\n+name: Second\n" in diff["diff"]
    assert api.get(f"{WF}/versioned/versions/diff", params={"from": 1, "to": 9}).status_code == 404
    assert api.get(f"{WF}/versioned/versions/diff", params={"from": "one"}).status_code == 422

    rolled = api.post(f"{WF}/versioned/rollback", json={"version": 1})
    assert rolled.status_code == 200 and rolled.json()["version"] == 3 and rolled.json()["name"] == "Manual deal"
    assert api.get(f"{WF}/versioned/versions").json()["versions"][2]["comment"] == "rollback to v1"
    assert api.post(f"{WF}/versioned/rollback", json={"version": 7}).status_code == 404

    copy = api.post(f"{WF}/versioned/duplicate", json={"key": "versioned-copy"})
    assert copy.status_code == 201
    assert (copy.json()["name"], copy.json()["status"], copy.json()["version"]) == ("Manual deal (copy)", "DRAFT", 1)
    assert api.post(f"{WF}/versioned/duplicate", json={"key": "versioned-copy"}).status_code == 409
    assert api.post(f"{WF}/nope/duplicate", json={"key": "zz"}).status_code == 404

    report = api.post(f"{WF}/versioned/dry-run", json={"params": {"name": "Dry deal"}})
    assert report.status_code == 200, report.text
    plans = {p["step"]: p for p in report.json()["steps"]}
    assert plans["create_deal"]["status"] == "would_run" and plans["create_deal"]["output"]["name"] == "Dry deal"
    listing = airflow.client.get(f"{WF}/versioned").json()
    assert listing["version"] == 3  # the dry run saved nothing
    assert api.post(f"{WF}/versioned/dry-run", json={"event": {"new": "text"}}).status_code == 422


def test_bundles_export_and_import_json_and_yaml(airflow: AirflowApi) -> None:
    api = airflow.client
    for key in ("b-one", "b-two"):
        assert api.post(WF, json=workflow(key, status="DRAFT")).status_code == 201
    exported = api.get(f"{API}/bundles/export", params={"keys": "b-one,b-two"}).json()
    assert [w["key"] for w in exported["workflows"]] == ["b-one", "b-two"]
    as_yaml = api.get(f"{API}/bundles/export", params={"keys": ["b-two"], "format": "yaml"})
    assert as_yaml.headers["content-type"].startswith("application/yaml")
    assert yaml.safe_load(as_yaml.text)["workflows"][0]["key"] == "b-two"
    assert api.get(f"{API}/bundles/export", params={"keys": "missing"}).status_code == 404

    exported["workflows"][0]["name"] = "One, changed"
    exported["workflows"].append(workflow("b-three", status="DRAFT"))
    imported = api.post(f"{API}/bundles/import", json=exported)
    assert imported.status_code == 200, imported.text
    outcomes = {i["key"]: (i["outcome"], i["version"]) for i in imported.json()["imported"]}
    assert outcomes == {"b-one": ("updated", 2), "b-two": ("unchanged", 1), "b-three": ("created", 1)}

    bad = workflow("b-four")
    bad["steps"][1]["config"]["collection"] = "payroll"
    text = yaml.safe_dump({"workflows": [workflow("b-five"), bad]})
    refused = api.post(f"{API}/bundles/import", content=text, headers={"Content-Type": "application/yaml"})
    assert refused.status_code == 422
    assert [e["path"] for e in refused.json()["errors"]] == ["workflows[1].steps[1].config.collection"]
    assert api.get(f"{WF}/b-five").status_code == 404  # all or nothing
    partial = api.post(
        f"{API}/bundles/import",
        params={"partial": True, "activate": True},
        content=text,
        headers={"Content-Type": "application/yaml"},
    )
    assert partial.status_code == 200 and [i["key"] for i in partial.json()["imported"]] == ["b-five"]
    assert partial.json()["imported"][0]["status"] == "ACTIVE"
    broken = api.post(f"{API}/bundles/import", content="workflows: [", headers={"Content-Type": "application/yaml"})
    assert broken.status_code == 422 and broken.json()["errors"][0]["message"].startswith("not valid YAML")
    assert (
        api.post(f"{API}/bundles/import", content="{", headers={"Content-Type": "application/json"}).status_code == 422
    )


def test_viewer_reads_but_cannot_change_and_no_token_is_401(airflow: AirflowApi) -> None:
    api = airflow.client
    assert api.post(WF, json=workflow("guarded", status="DRAFT")).status_code == 201
    viewer = AirflowApi(airflow.base, "viewer", "viewer").client
    reads = [
        ("GET", f"{WF}/guarded/versions", None),
        ("GET", f"{WF}/guarded/versions/diff?from=1", None),
        ("GET", f"{WF}/guarded/versions/1", None),
        ("POST", f"{WF}/guarded/dry-run", {"params": {"name": "x"}}),
        ("GET", f"{API}/bundles/export", None),
        ("GET", f"{API}/templates", None),
        ("GET", f"{API}/templates/large-deal-alert", None),
    ]
    changes = [
        ("POST", f"{WF}/guarded/duplicate", {"key": "guarded-2"}),
        ("POST", f"{WF}/guarded/rollback", {"version": 1}),
        ("POST", f"{API}/bundles/import", {"workflows": [workflow("guarded-3")]}),
        ("POST", f"{API}/templates/large-deal-alert/workflows", {"key": "guarded-4"}),
    ]
    for method, url, body in reads:
        assert viewer.request(method, url, json=body).status_code == 200, (method, url)
    for method, url, body in changes:
        assert viewer.request(method, url, json=body).status_code == 403, (method, url)
    anonymous = httpx.Client(base_url=airflow.base, timeout=30)
    for method, url, body in reads + changes:
        assert anonymous.request(method, url, json=body).status_code == 401, (method, url)
    assert api.get(f"{WF}/guarded-2").status_code == 404  # nothing the viewer tried happened
