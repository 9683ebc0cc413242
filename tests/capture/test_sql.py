"""The generated capture SQL: only registry identifiers, checked and quoted; only registry columns copied."""

from __future__ import annotations

import pytest

from automation.capture.sql import install_sql, quote
from automation.errors import RegistryError
from automation.records.registry import Collection


def test_the_trigger_copies_only_the_registry_columns_quoted() -> None:
    spec = Collection(table="shop.orders", columns={"id": "integer", "status": "string"})
    sql = install_sql("orders", spec)
    assert "'status', NEW.\"status\"" in sql and "'id', OLD.\"id\"" in sql
    assert "secret" not in sql
    assert 'ON "shop"."orders"' in sql and 'automation_capture."capture_orders"()' in sql


def test_many_columns_stay_under_the_argument_limit_of_jsonb_build_object() -> None:
    spec = Collection(table="s.t", columns={"id": "integer", **{f"c{i}": "string" for i in range(119)}})
    sql = install_sql("wide", spec)
    assert sql.count("jsonb_build_object(") == 2 * 3  # 120 columns: chunks of 40, for OLD and NEW


@pytest.mark.parametrize("name", ["Deals", 'x"; DROP TABLE crm.deals; --', "a" * 64, ""])
def test_an_identifier_that_is_not_plain_is_refused_with_what_to_do(name: str) -> None:
    with pytest.raises(RegistryError, match="not a plain lowercase identifier.*rename"):
        quote(name)


def test_a_collection_name_too_long_for_its_function_name_is_refused() -> None:
    spec = Collection(table="s.t", columns={"id": "integer"})
    with pytest.raises(RegistryError):
        install_sql("n" * 60, spec)
