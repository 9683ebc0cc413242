"""A registry can name one Airflow connection per collection; the others use the registry's."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from automation.errors import RegistryError
from automation.records.registry import CollectionsRegistry


def _registry(**collection_extra: object) -> CollectionsRegistry:
    return CollectionsRegistry.model_validate(
        {
            "connection_id": "crm_db",
            "collections": {
                "users": {"table": "crm.users", "columns": {"id": "integer"}},
                "events": {"table": "audit.events", "columns": {"id": "integer"}, **collection_extra},
            },
        }
    )


def test_a_collection_without_its_own_connection_uses_the_registrys() -> None:
    registry = _registry()
    assert registry.connection_for("users") == "crm_db"
    assert registry.connection_for("events") == "crm_db"
    assert registry.connection_ids() == {"crm_db"}


def test_a_collection_can_name_its_own_connection() -> None:
    registry = _registry(connection_id="audit_db")
    assert registry.connection_for("events") == "audit_db"
    assert registry.connection_for("users") == "crm_db"
    assert registry.connection_ids() == {"crm_db", "audit_db"}


def test_the_registrys_connection_is_not_listed_when_every_collection_names_its_own() -> None:
    registry = CollectionsRegistry.model_validate(
        {
            "collections": {
                "events": {"table": "audit.events", "columns": {"id": "integer"}, "connection_id": "audit_db"}
            }
        }
    )
    assert registry.connection_ids() == {"audit_db"}


def test_an_unknown_collection_names_the_known_ones() -> None:
    with pytest.raises(RegistryError, match=r"'nope' is not in the registry.*\['events', 'users'\]"):
        _registry().connection_for("nope")


@pytest.mark.parametrize("conn_id", ["", "has space", "x" * 251, "semi;colon"])
def test_a_connection_id_airflow_would_refuse_is_an_error_with_its_path(conn_id: str) -> None:
    with pytest.raises(ValidationError) as info:
        _registry(connection_id=conn_id)
    assert info.value.errors()[0]["loc"] == ("collections", "events", "connection_id")
