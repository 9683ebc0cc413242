"""Lookups in conditions without a database: the reader is the test's input (an in-memory one that
counts its reads), so what is read, how often and when the cap stops it are all visible."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from automation.conditions import ConditionData, LookupRead, evaluate
from automation.definitions import Condition
from automation.errors import ConditionError, DefinitionError
from automation.pages.readable import condition_tree
from automation.records.filters import filter_problems
from automation.records.registry import CollectionsRegistry
from automation.validation import validate_definition
from tests.helpers import workflow

parse = TypeAdapter(Condition).validate_python

REGISTRY = CollectionsRegistry.model_validate(
    {
        "collections": {
            "users": {"table": "crm.users", "columns": {"id": "integer", "name": "string", "team": "string"}},
            "organisations": {
                "table": "crm.organisations",
                "columns": {"id": "integer", "name": "string", "potential_amount": "number", "owner_id": "integer"},
            },
            "codes": {"table": "crm.codes", "primary_key": "code", "columns": {"code": "string", "label": "string"}},
        }
    }
)


class MemoryReader:
    """Records by (collection, id); every read is logged."""

    def __init__(self, records: dict[tuple[str, Any], dict[str, Any]]) -> None:
        self.records = records
        self.reads: list[tuple[str, Any]] = []
        self.registry = REGISTRY

    def read(self, collection: str, record_id: Any) -> Mapping[str, Any] | None:
        self.reads.append((collection, record_id))
        return self.records.get((collection, record_id))


def reader() -> MemoryReader:
    return MemoryReader(
        {
            ("users", 1): {"id": 1, "name": "Alice", "team": "sales"},
            ("users", 2): {"id": 2, "name": "Bob", "team": "sales"},
            ("users", 3): {"id": 3, "name": "Carla", "team": "management"},
            ("organisations", 10): {"id": 10, "name": "ACME", "potential_amount": 90000, "owner_id": 3},
            ("codes", "7"): {"code": "7", "label": "seven"},
        }
    )


def data(new: dict[str, Any], source: MemoryReader | None) -> ConditionData:
    return ConditionData(values={"new": new, "deal": new}, reader=source)


TEAM_IS_SALES = {"field": "lookup:users.team", "via": "new.owner_id", "op": "==", "value": "sales"}


def test_a_clause_compares_one_column_of_the_related_record() -> None:
    source = reader()
    assert evaluate(parse(TEAM_IS_SALES), data({"owner_id": 1}, source)) is True
    assert evaluate(parse(TEAM_IS_SALES), data({"owner_id": 3}, source)) is False
    assert source.reads == [("users", 1), ("users", 3)]


def test_jsonlogic_lookup_reads_the_same_way() -> None:
    source = reader()
    logic = {"jsonlogic": {">": [{"lookup": ["organisations", {"var": "new.organisation_id"}, "potential_amount"]},
                                 50000]}}  # fmt: skip
    assert evaluate(parse(logic), data({"organisation_id": 10}, source)) is True
    assert source.reads == [("organisations", 10)]


def test_a_condition_without_lookups_never_calls_the_reader() -> None:
    source = reader()
    plain = parse({"all": [{"field": "new.stage", "op": "==", "value": "SIGNED"},
                           {"jsonlogic": {"==": [{"var": "new.stage"}, "SIGNED"]}}]})  # fmt: skip
    assert evaluate(plain, data({"stage": "SIGNED"}, source)) is True
    assert source.reads == []
    assert evaluate(plain, data({"stage": "SIGNED"}, None)) is True  # and needs none


def test_without_a_reader_a_lookup_is_an_error_naming_the_clause() -> None:
    with pytest.raises(ConditionError, match=r"conditions \(lookup:users.team via new.owner_id == 'sales'\).*"
                                             "without a record reader"):  # fmt: skip
        evaluate(parse(TEAM_IS_SALES), data({"owner_id": 1}, None))


def test_a_missing_record_and_a_null_id_read_null() -> None:
    source = reader()
    is_empty = parse({"field": "lookup:users.team", "via": "new.owner_id", "op": "is_empty"})
    assert evaluate(is_empty, data({"owner_id": 99}, source)) is True
    assert evaluate(is_empty, data({"owner_id": None}, source)) is True
    assert evaluate(parse(TEAM_IS_SALES), data({"owner_id": 99}, source)) is False
    assert source.reads == [("users", 99), ("users", 99)]  # a null id reads nothing


def test_an_id_path_absent_from_the_data_is_an_error() -> None:
    with pytest.raises(ConditionError, match="'new.owner_id' .*is missing from the data"):
        evaluate(parse(TEAM_IS_SALES), data({"stage": "SIGNED"}, reader()))


def test_ids_take_the_primary_keys_type() -> None:
    source = reader()
    assert evaluate(parse(TEAM_IS_SALES), data({"owner_id": "1"}, source)) is True  # digits from a webhook
    code = parse({"field": "lookup:codes.label", "via": "new.code", "op": "==", "value": "seven"})
    assert evaluate(code, data({"code": 7}, source)) is True
    assert source.reads == [("users", 1), ("codes", "7")]
    for bad in ("abc", True, {"id": 1}, 1.5, 2**63, float("nan")):
        with pytest.raises(ConditionError, match="the users id must be"):
            evaluate(parse(TEAM_IS_SALES), data({"owner_id": bad}, source))
    assert len(source.reads) == 2  # none of them reached the reader


def test_one_evaluation_reads_a_record_once() -> None:
    source = reader()
    both = parse({"all": [TEAM_IS_SALES, {"field": "lookup:users.name", "via": "deal.owner_id", "op": "==",
                                          "value": "Alice"},
                          {"jsonlogic": {"==": [{"lookup": ["users", {"var": "new.owner_id"}, "team"]}, "sales"]}}]})  # fmt: skip
    seen: list[LookupRead] = []
    assert evaluate(both, data({"owner_id": 1}, source), seen=seen) is True
    assert source.reads == [("users", 1)]
    assert [(s.collection, s.id, s.column, s.value) for s in seen] == [
        ("users", 1, "team", "sales"), ("users", 1, "name", "Alice"), ("users", 1, "team", "sales")]  # fmt: skip
    evaluate(both, data({"owner_id": 1}, source))  # a new evaluation reads again
    assert source.reads == [("users", 1), ("users", 1)]


def test_more_lookups_than_the_cap_fail_the_evaluation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__AUTOMATION__MAX_CONDITION_LOOKUPS", "2")
    source = reader()
    three = {"jsonlogic": {"and": [{"!!": {"lookup": ["users", {"var": f"new.u{i}"}, "team"]}} for i in (1, 2, 3)]}}
    with pytest.raises(ConditionError, match=r"conditions.jsonlogic: .*lookup 3 of this evaluation, over the "
                                             r"limit of 2 \(\[automation\] max_condition_lookups\)"):  # fmt: skip
        evaluate(parse(three), data({"u1": 1, "u2": 2, "u3": 3}, source))
    assert source.reads == [("users", 1), ("users", 2)]
    # the same records again stay within the cap: repeated reads are memoized, not counted
    assert evaluate(parse(three), data({"u1": 1, "u2": 2, "u3": 1}, source)) is True
    # the default is 5
    monkeypatch.delenv("AIRFLOW__AUTOMATION__MAX_CONDITION_LOOKUPS")
    six = {"jsonlogic": {"and": [{"!": {"lookup": ["users", {"var": f"new.u{i}"}, "team"]}} for i in range(6)]}}
    with pytest.raises(ConditionError, match="lookup 6 of this evaluation, over the limit of 5"):
        evaluate(parse(six), data({f"u{i}": 100 + i for i in range(6)}, source))


def test_a_lookup_per_item_of_a_list_is_capped_too() -> None:
    source = reader()
    per_item = {"jsonlogic": {"some": [{"var": "new.watchers"},
                                      {"==": [{"lookup": ["users", {"var": ""}, "team"]}, "sales"]}]}}  # fmt: skip
    with pytest.raises(ValidationError, match="expected the dotted path of the record id"):
        parse(per_item)  # the id is a path of the data, never the whole item
    per_item["jsonlogic"]["some"][1]["=="][0]["lookup"][1] = {"var": "id"}
    watchers = [{"id": i} for i in range(50, 60)]  # nobody: `some` goes through them all
    with pytest.raises(ConditionError, match="over the limit of 5"):
        evaluate(parse(per_item), data({"watchers": watchers}, source))
    assert len(source.reads) == 5


def test_a_registry_that_lost_the_column_since_validation_is_an_error() -> None:
    clause = parse({"field": "lookup:users.phone", "via": "new.owner_id", "op": "is_empty"})
    with pytest.raises(ConditionError, match=r"collection 'users' has no column 'phone'; expected one of \['id', "):
        evaluate(clause, data({"owner_id": 1}, reader()))


@pytest.mark.parametrize(
    ("condition", "path", "message"),
    [
        ({"field": "lookup:users", "via": "new.owner_id", "op": "is_empty"}, "field",
         "expected lookup:<collection>.<column>"),
        ({"field": "lookup:users.team", "op": "is_empty"}, "via", "a lookup clause needs `via`"),
        ({"field": "new.stage", "via": "new.owner_id", "op": "is_empty"}, "via", "`via` belongs to a lookup clause"),
        ({"field": "lookup:users.team", "via": "{{ new.owner_id }}", "op": "is_empty"}, "via",
         "expected the dotted path of the record id"),
        ({"field": "lookup:users.team", "via": "new.owner_id", "op": "changed"}, "op", "current state only"),
        ({"jsonlogic": {"lookup": ["users", "new.owner_id", "team"]}}, "jsonlogic.lookup[1]",
         'the record id must be a {"var": ...}'),
        ({"jsonlogic": {"!": {"lookup": ["users", {"var": "new.owner_id"}]}}}, "jsonlogic.!.lookup",
         "expected three arguments"),
        ({"jsonlogic": {"lookup": ["crm.users", {"var": "new.owner_id"}, "team"]}}, "jsonlogic.lookup[0]",
         "expected the collection as a plain lowercase name"),
        ({"jsonlogic": {"lookup": ["users", {"var": {"cat": ["new.", "owner_id"]}}, "team"]}},
         "jsonlogic.lookup[1].var", "expected the dotted path"),
    ],
)  # fmt: skip
def test_validation_refuses_malformed_lookups_at_their_path(condition: dict, path: str, message: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        validate_definition(workflow("lookup", conditions=condition))
    assert [(i.path, message in i.message) for i in caught.value.issues] == [(f"conditions.{path}", True)]


def test_validation_checks_the_collection_and_column_against_the_registry() -> None:
    conditions = {"all": [
        {"field": "lookup:people.team", "via": "params.name", "op": "is_empty"},
        {"field": "lookup:users.phone", "via": "params.name", "op": "is_empty"},
        {"jsonlogic": {"==": [{"lookup": ["users", {"var": "params.name"}, "rank"]}, 1]}},
    ]}  # fmt: skip
    data = workflow("lookup", conditions=conditions)
    data["steps"][1]["when"] = {"field": "lookup:deals.colour", "via": "steps.create_deal.output.id", "op": "is_empty"}
    with pytest.raises(DefinitionError) as caught:
        validate_definition(data)
    issues = {i.path: i.message for i in caught.value.issues}
    assert issues["conditions.all[0].field"].startswith("collection 'people' is not in the registry; expected one of")
    assert "'users'" in issues["conditions.all[0].field"]
    assert issues["conditions.all[1].field"].startswith("collection 'users' has no column 'phone'; expected one of")
    assert "'team'" in issues["conditions.all[1].field"]
    assert issues["conditions.all[2].jsonlogic.==[0].lookup"].startswith("collection 'users' has no column 'rank'")
    assert issues["steps[1].when.field"].startswith("collection 'deals' has no column 'colour'")
    assert len(issues) == 4


def test_validation_checks_the_id_path_like_any_field() -> None:
    with pytest.raises(DefinitionError) as caught:
        validate_definition(workflow("lookup", conditions={**TEAM_IS_SALES, "via": "nothing.owner_id"}))
    assert [i.path for i in caught.value.issues] == ["conditions.via"]
    assert "unknown name 'nothing'" in caught.value.issues[0].message
    valid = validate_definition(workflow("lookup", conditions={**TEAM_IS_SALES, "via": "params.name"}))
    assert valid.conditions is not None


def test_a_record_filter_cannot_use_a_lookup() -> None:
    """`lookup:users.team` must not be read as the filter's own `team` column."""
    problems = filter_problems(parse(TEAM_IS_SALES), REGISTRY.collections["users"].columns)
    assert problems == [("filter.field", "a record filter compares the collection's own columns; it cannot use a "
                                         "lookup")]  # fmt: skip


def test_the_pages_show_where_a_lookup_reads_its_id() -> None:
    assert condition_tree(TEAM_IS_SALES).text == 'lookup:users.team via new.owner_id == "sales"'
