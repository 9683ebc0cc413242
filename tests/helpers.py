"""Small builders shared by the tests."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from automation.demo.shapes import five_step_workflow

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

__all__ = ["MANUAL_WORKFLOW", "five_step_workflow", "workflow"]

MANUAL_WORKFLOW: dict[str, Any] = {
    "key": "manual-deal",
    "name": "Manual deal",
    "status": "ACTIVE",
    "trigger": {"type": "manual", "inputs": {"name": {"type": "string", "required": True}}},
    "steps": [
        {
            "id": "create_deal",
            "type": "create_record",
            "config": {"collection": "deals", "values": {"name": "{{ params.name }}", "amount": 1200}},
        },
        {
            "id": "to_proposition",
            "type": "update_record",
            "config": {
                "collection": "deals",
                "id": "{{ steps.create_deal.output.id }}",
                "values": {"stage": "PROPOSITION"},
            },
        },
    ],
}


def workflow(key: str = "wf", **overrides: Any) -> dict[str, Any]:
    data = copy.deepcopy(MANUAL_WORKFLOW)
    data["key"] = key
    data.update(overrides)
    return data


@contextmanager
def admin_api() -> Iterator[TestClient]:
    """The plugin's API in-process (Starlette's TestClient over `create_app()`), as Airflow's admin."""
    from airflow.api_fastapi.app import init_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from fastapi.testclient import TestClient

    from automation.api.app import create_app

    token = init_auth_manager().generate_jwt(SimpleAuthManagerUser(username="admin", role="admin"))
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def airflow_asset_id(uri: str) -> tuple[int, bool]:
    """(id, created) of the Airflow asset `uri`, made when missing (no DAG needs to listen)."""
    from airflow.models.asset import AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        model = session.scalar(select(AssetModel).where(AssetModel.uri == uri))
        if model is not None:
            return model.id, False
        model = AssetModel(name=uri, uri=uri, group="asset")
        session.add(model)
        session.flush()
        return model.id, True
