"""The workflows API of the plugin app, with real Airflow auth (JWT from /auth/token)."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import AirflowApi, wait_for
from tests.helpers import workflow

pytestmark = [pytest.mark.airflow_e2e, pytest.mark.usefixtures("db")]
BASE = "/automation/api/v1/workflows"


def test_workflows_crud_validation_and_permissions(airflow: AirflowApi) -> None:
    api = airflow.client
    created = api.post(BASE, json=workflow("api-made"))
    assert created.status_code == 201, created.text
    assert created.json()["version"] == 1 and created.json()["dag_id"] == "automation__api-made"
    assert api.post(BASE, json=workflow("api-made")).status_code == 409

    bad = workflow("api-bad")
    bad["steps"][1]["config"]["values"] = {"stag": "X"}
    invalid = api.post(BASE, json=bad)
    assert invalid.status_code == 422 and invalid.json()["errors"][0]["path"] == "steps[1].config.values"
    assert api.post(f"{BASE}/validate", json=bad).status_code == 422
    assert api.post(f"{BASE}/validate", json=workflow("ok")).json() == {"valid": True, "key": "ok"}

    changed = workflow("api-made", name="Renamed by API")
    updated = api.put(f"{BASE}/api-made", json=changed)
    assert updated.status_code == 200 and updated.json()["version"] == 2
    assert api.get(f"{BASE}/api-made/versions/1").json()["definition"]["name"] == "Manual deal"
    listing = api.get(BASE, params={"q": "renamed"}).json()
    assert listing["total"] == 1 and listing["workflows"][0]["name"] == "Renamed by API"

    wait_for(lambda: airflow.dag("automation__api-made"), 60, "the API-made DAG")
    assert api.post(f"{BASE}/api-made/deactivate").json()["status"] == "INACTIVE"
    assert airflow.dag("automation__api-made")["is_paused"] is True
    assert api.post(f"{BASE}/api-made/activate").json()["status"] == "ACTIVE"
    assert airflow.dag("automation__api-made")["is_paused"] is False

    viewer = AirflowApi(airflow.base, "viewer", "viewer").client
    assert viewer.get(f"{BASE}/api-made").status_code == 200
    assert viewer.post(BASE, json=workflow("viewer-made")).status_code == 403
    assert viewer.delete(f"{BASE}/api-made").status_code == 403
    assert api.delete(f"{BASE}/api-made").status_code == 204
    assert api.get(f"{BASE}/api-made").status_code == 404
    assert api.get(f"{BASE}/nope").status_code == 404


def test_an_auth_manager_with_per_dag_permissions_applies_to_workflows(airflow: AirflowApi) -> None:
    """`sales` may read only the DAGs automation__crm-* (tests/e2e/per_dag_auth.py): the workflows,
    their executions and the statistics of the others are hidden from them, as their DAGs are."""
    api = airflow.client
    for key in ("crm-leads", "finance-payroll"):
        assert api.post(BASE, json=workflow(key)).status_code == 201
    sales = AirflowApi(airflow.base, "sales", "sales").client
    assert [w["key"] for w in sales.get(BASE).json()["workflows"]] == ["crm-leads"]
    assert {w["key"] for w in api.get(BASE).json()["workflows"]} == {"crm-leads", "finance-payroll"}
    assert sales.get(f"{BASE}/crm-leads").status_code == 200
    for path in ("", "/versions", "/executions", "/stats"):
        assert sales.get(f"{BASE}/finance-payroll{path}").status_code == 403, path
    assert sales.post(f"{BASE}/finance-payroll/dry-run", json={"params": {"name": "x"}}).status_code == 403
    assert sales.get(f"{BASE}/crm-leads/executions").status_code == 200
    overall = sales.get("/automation/api/v1/stats").json()
    assert [w["key"] for w in overall["workflows"]] == ["crm-leads"]
    assert {w["key"] for w in api.get("/automation/api/v1/stats").json()["workflows"]} == {"crm-leads",
                                                                                         "finance-payroll"}  # fmt: skip
    assert sales.get("/automation/api/v1/stats", params={"key": "finance-payroll"}).json()["workflows"] == []
    exported = sales.get("/automation/api/v1/bundles/export").json()["workflows"]
    assert [w["key"] for w in exported] == ["crm-leads"]
    assert sales.get("/automation/api/v1/bundles/export", params={"keys": "finance-payroll"}).status_code == 403


def nested_logic(levels: int) -> dict:
    logic: dict = {"var": "params.name"}
    for _ in range(levels):
        logic = {"!": [logic]}
    return logic


def test_jsonlogic_nested_400_deep_is_a_422_on_create_update_and_validate(airflow: AirflowApi) -> None:
    """It passed /validate and then failed to serialize on create: a 500 (issue 12). Refused by
    the body's nesting bound or, when shallower than that, by validation at the expression's path."""
    api = airflow.client
    deep = workflow("deep-logic", conditions={"jsonlogic": nested_logic(400)})
    created, validated = api.post(BASE, json=deep), api.post(f"{BASE}/validate", json=deep)
    assert created.status_code == validated.status_code == 422, created.text
    assert created.json() == validated.json()
    assert api.get(f"{BASE}/deep-logic").status_code == 404

    deeper_than_conditions_allow = workflow("deep-logic", conditions={"jsonlogic": nested_logic(20)})
    created = api.post(BASE, json=deeper_than_conditions_allow)
    assert (
        created.status_code == 422
        and created.json() == api.post(f"{BASE}/validate", json=deeper_than_conditions_allow).json()
    )
    assert [e["path"] for e in created.json()["errors"]] == ["conditions.jsonlogic"]
    assert api.get(f"{BASE}/deep-logic").status_code == 404

    assert api.post(BASE, json=workflow("deep-logic")).status_code == 201
    for body in (deep, deeper_than_conditions_allow):
        updated = api.put(f"{BASE}/deep-logic", json=body)
        assert updated.status_code == 422 and updated.json() == api.post(f"{BASE}/validate", json=body).json()
    assert api.get(f"{BASE}/deep-logic/versions").json()["current_version"] == 1
