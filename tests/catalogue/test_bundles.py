from __future__ import annotations

import pytest

from automation.catalogue.bundles import export_bundle, import_definitions, parse_bundle
from automation.errors import DefinitionError, NotFoundError
from automation.store.repository import Repository
from tests.helpers import workflow

pytestmark = pytest.mark.usefixtures("db")


def sourced(items: list[dict]) -> list[tuple[str, dict]]:
    return [(f"workflows[{i}]", item) for i, item in enumerate(items)]


def test_export_then_import_round_trips_without_new_versions() -> None:
    report = import_definitions(sourced([workflow("one"), workflow("two", status="DRAFT")]), created_by="t")
    assert [(i.workflow.key, i.outcome) for i in report.imported] == [("one", "created"), ("two", "created")]
    bundle = export_bundle(["two", "one"])
    assert bundle["format_version"] == 1 and [w["key"] for w in bundle["workflows"]] == ["two", "one"]
    again = import_definitions(sourced(parse_bundle(bundle)))
    assert {i.outcome for i in again.imported} == {"unchanged"}
    assert Repository().get("one").version == 1
    with pytest.raises(NotFoundError):
        export_bundle(["one", "missing"])


def test_one_invalid_workflow_imports_nothing_unless_partial() -> None:
    bad = workflow("bad")
    bad["steps"][0]["config"]["collection"] = "payroll"
    items = sourced([workflow("good"), bad, workflow("good", name="Twice")])
    report = import_definitions(items)
    assert report.refused and report.imported == []
    assert [(e.source, e.issues[0].path) for e in report.errors] == [
        ("workflows[1]", "steps[0].config.collection"),
        ("workflows[2]", "key"),
    ]
    assert "workflows[0] has it too" in report.errors[1].issues[0].message
    assert not Repository().exists("good")
    partial = import_definitions(items, partial=True, activate=True)
    assert [(i.workflow.key, i.workflow.status) for i in partial.imported] == [("good", "ACTIVE")]
    assert len(partial.errors) == 2


def test_changed_workflow_becomes_a_new_version_and_deleted_keys_are_refused() -> None:
    import_definitions(sourced([workflow("a"), workflow("old")]))
    Repository().soft_delete("old")
    report = import_definitions(sourced([workflow("a", name="A2"), workflow("old")]), partial=True)
    assert [(i.workflow.key, i.workflow.version, i.outcome) for i in report.imported] == [("a", 2, "updated")]
    assert "deleted workflow" in report.errors[0].issues[0].message


def test_bundle_document_errors_have_paths() -> None:
    with pytest.raises(DefinitionError) as exc:
        parse_bundle({"workflows": [workflow("a"), "nope"], "extra": 1})
    assert {i.path: i.message for i in exc.value.issues} == {
        "workflows[1]": "expected a workflow object (key, name, trigger, steps)",
        "extra": "unknown key; remove it or check its spelling",
    }
    with pytest.raises(DefinitionError, match="expected a bundle"):
        parse_bundle("text")
    assert parse_bundle([workflow("a")])[0]["key"] == "a"  # a bare list, as `automation export` prints


def test_an_oversized_definition_is_an_error_of_its_item(monkeypatch: pytest.MonkeyPatch) -> None:
    """Checked with the validation, so the error has the item's path and `partial` imports the rest."""
    monkeypatch.setenv("AUTOMATION_MAX_DEFINITION_BYTES", "4000")
    items = sourced([workflow("small"), workflow("big", description="d" * 5000)])
    report = import_definitions(items)
    assert report.refused and [e.source for e in report.errors] == ["workflows[1]"]
    assert "bytes as JSON; at most 4000 are stored" in report.errors[0].issues[0].message
    partial = import_definitions(items, partial=True)
    assert [i.workflow.key for i in partial.imported] == ["small"] and not Repository().exists("big")
