"""`airflow_adapter.assets` against the installed Airflow: asset models, asset events and
`asset_manager.register_asset_change`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from automation.airflow_adapter import assets
from automation.airflow_adapter.db import airflow_session

pytestmark = pytest.mark.usefixtures("airflow_db")


@pytest.fixture
def asset_uri() -> str:
    """A new asset in Airflow (no DAG listens to it: its events start no run)."""
    from airflow.models.asset import AssetModel

    uri = f"automation://adapter_test/{uuid.uuid4().hex}"
    with airflow_session() as session:
        session.add(AssetModel(name=uri, uri=uri, group="asset"))
    return uri


def test_register_and_find_partitioned_asset_events(asset_uri: str) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    with airflow_session() as session:
        models = assets.assets_by_uri(session, [asset_uri, "automation://adapter_test/none"])
        assert list(models) == [asset_uri]
        assets.register_event(session, models[asset_uri], {"event_id": "7"}, "7")
        assets.register_event(session, models[asset_uri], {"event_id": "8"}, "8")
    with airflow_session() as session:
        asset_id = assets.assets_by_uri(session, [asset_uri])[asset_uri].id
        assert sorted(assets.events_since(session, [asset_id], before, ["7", "9"])) == [("7", {"event_id": "7"})]
        assert assets.events_since(session, [asset_id], datetime.now(UTC) + timedelta(minutes=1), ["7"]) == []


def test_an_event_registered_in_a_failed_transaction_is_not_kept(asset_uri: str) -> None:
    from airflow.models.asset import AssetEvent

    with pytest.raises(RuntimeError), airflow_session() as session:
        assets.register_event(session, assets.assets_by_uri(session, [asset_uri])[asset_uri], {}, "1")
        raise RuntimeError("the ledger's mark failed")
    with airflow_session() as session:
        asset_id = assets.assets_by_uri(session, [asset_uri])[asset_uri].id
        assert session.scalars(select(AssetEvent.id).where(AssetEvent.asset_id == asset_id)).all() == []
