"""A registry that does not hold together is refused with every problem's path; the demo registry holds."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from automation.errors import RegistryError
from automation.records.registry import DEFAULT_REGISTRY, read_registry_file, registry_issues


def _collection(**extra: object) -> dict[str, object]:
    return {"table": "crm.deals", "columns": {"id": "integer", "owner_id": "integer"}, **extra}


def test_the_demo_registry_is_consistent() -> None:
    registry, issues = registry_issues(read_registry_file(DEFAULT_REGISTRY))
    assert issues == []
    assert registry is not None and "deals" in registry.collections


def test_every_problem_is_reported_with_its_path() -> None:
    data = {
        "connection_id": "no spaces please",
        "collections": {
            "deals": _collection(
                primary_key="deal_id",
                relations={"owner": {"column": "owner", "collection": "users"}, "Bad": {"column": "id", "collection": "deals"}},
            ),
            "contacts": _collection(table="CRM.contacts", columns={"id": "integer", "Email": "string"}, extra=1),
            "tasks": _collection(columns={"id": "integer", "x": "text"}),
        },
    }  # fmt: skip
    registry, issues = registry_issues(data)
    assert registry is None
    assert [(i.path, i.message) for i in issues] == [
        ("connection_id", "expected an Airflow connection id: letters, digits and _ - . : / # ! ( ), at most 250"),
        ("collections.deals.primary_key",
         "'deal_id' is not one of the columns ['id', 'owner_id']; list it under columns or fix the name"),
        ("collections.deals.relations.owner.column", "'owner' is not one of the columns ['id', 'owner_id']"),
        ("collections.deals.relations.Bad", "a relation's name must be a plain lowercase identifier"),
        ("collections.contacts.table", "expected schema.table, both plain lowercase identifiers (crm.deals)"),
        ("collections.contacts.columns.Email", "a column's name must be a plain lowercase identifier"),
        ("collections.contacts.extra", "unknown key; remove it or check its spelling"),
        ("collections.tasks.columns.x",
         "Input should be 'integer', 'number', 'string', 'boolean', 'datetime', 'date' or 'json'"),
    ]  # fmt: skip


def test_a_relation_must_lead_to_a_collection_of_the_registry() -> None:
    data = {"collections": {"deals": _collection(relations={"owner": {"column": "owner_id", "collection": "users"}})}}
    _, issues = registry_issues(data)
    assert [str(i) for i in issues] == [
        "collections.deals.relations.owner.collection: 'users' is not a collection of the registry; "
        "expected one of ['deals']"
    ]


def test_a_column_name_with_a_trailing_newline_is_not_an_identifier() -> None:
    _, issues = registry_issues({"collections": {"deals": _collection(columns={"id": "integer", "name\n": "string"})}})
    assert [i.path for i in issues] == ["collections.deals.columns.name\n"]


def test_a_file_that_is_not_yaml_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "collections.yaml"
    path.write_text("collections:\n  deals: {table: crm.deals\n")
    with pytest.raises(RegistryError, match=rf"^{path}:3:1: not valid YAML: "):
        read_registry_file(path)
    with pytest.raises(RegistryError, match=rf"^{tmp_path / 'nope.yaml'}: cannot read the collections registry: "):
        read_registry_file(tmp_path / "nope.yaml")


def test_the_runtime_refuses_an_inconsistent_registry_file_with_what_to_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from automation.records.registry import get_registry

    path = tmp_path / "collections.yaml"
    data = yaml.safe_load(DEFAULT_REGISTRY.read_text())
    del data["collections"]["users"]  # several relations lead to users
    path.write_text(yaml.safe_dump(data))
    monkeypatch.setenv("AIRFLOW__AUTOMATION__COLLECTIONS_FILE", str(path))
    with pytest.raises(RegistryError) as info:
        get_registry()
    assert str(info.value).startswith(
        f"the collections registry {path} is invalid: collections.contacts.relations.owner.collection: 'users' is "
        "not a collection of the registry; expected one of ['activities', "
    )
    assert str(info.value).endswith(f"; and 1 more (`automation registry check {path}` lists all)")
