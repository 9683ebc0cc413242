from __future__ import annotations

import pytest

from automation.definitions import Status
from automation.errors import ConflictError, DefinitionError, NotFoundError
from automation.store.repository import Repository
from automation.validation import validate_definition
from tests.helpers import workflow

pytestmark = pytest.mark.usefixtures("db")


def test_every_change_is_a_new_immutable_version() -> None:
    repo = Repository()
    first = repo.create(validate_definition(workflow("a")))
    assert first.version == 1
    changed = workflow("a", name="Renamed")
    second = repo.update(validate_definition(changed))
    assert second.version == 2 and second.name == "Renamed"
    assert repo.get_version("a", 1)["name"] == "Manual deal"
    assert repo.get_version("a", 2)["name"] == "Renamed"


def test_saving_the_same_definition_adds_no_version() -> None:
    repo = Repository()
    repo.save(validate_definition(workflow("a")))
    stored, created = repo.save(validate_definition(workflow("a")))
    assert not created and stored.version == 1


def test_duplicate_key_is_a_conflict_and_unknown_key_not_found() -> None:
    repo = Repository()
    repo.create(validate_definition(workflow("a")))
    with pytest.raises(ConflictError):
        repo.create(validate_definition(workflow("a")))
    with pytest.raises(NotFoundError):
        repo.get("zzz")


def test_status_lives_on_the_workflow_and_drafts_are_not_buildable() -> None:
    repo = Repository()
    repo.create(validate_definition(workflow("a")))
    repo.create(validate_definition(workflow("b", status="DRAFT")))
    repo.create(validate_definition(workflow("c")))
    repo.set_status("c", Status.INACTIVE)
    assert [(w.key, w.status) for w in repo.load_buildable()] == [("a", "ACTIVE"), ("c", "INACTIVE")]
    assert repo.get("c").with_status()["status"] == "INACTIVE"


def test_soft_delete_hides_but_keeps_versions() -> None:
    repo = Repository()
    repo.create(validate_definition(workflow("a")))
    repo.soft_delete("a")
    assert repo.list_workflows() == [] and repo.load_buildable() == []
    assert repo.get_version("a", 1)["key"] == "a"


def test_a_run_keeps_the_version_its_first_task_pinned() -> None:
    repo = Repository()
    assert repo.pin_run_version("dag", "run1", "a", 1) == 1
    assert repo.pin_run_version("dag", "run1", "a", 2) == 1
    assert repo.pin_run_version("dag", "run2", "a", 2) == 2


def test_no_write_stores_a_definition_over_the_size_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever path saves it (create, update, save_all), a definition larger than
    AUTOMATION_MAX_DEFINITION_BYTES as compact JSON is refused with a message saying by how much."""
    monkeypatch.setenv("AUTOMATION_MAX_DEFINITION_BYTES", "4000")
    repo = Repository()
    repo.create(validate_definition(workflow("a")))
    big = validate_definition(workflow("a", description="d" * 5000))
    for write in (lambda: repo.create(big.model_copy(update={"key": "b"})), lambda: repo.update(big),
                  lambda: repo.save_all([big])):  # fmt: skip
        with pytest.raises(DefinitionError, match=r"the definition is \d+ bytes as JSON; at most 4000 are stored"):
            write()
    assert [w.key for w in repo.list_workflows()] == ["a"] and repo.get("a").version == 1


def test_postgres_computes_the_same_shard_as_the_factory() -> None:
    """The factory asks Postgres for one DAG file's share (`shard_sql`): it must be `shard_of`'s answer."""
    from sqlalchemy import literal, select

    from automation.factory.shards import shard_of
    from automation.store.db import engine
    from automation.store.repository import shard_sql

    keys = [f"wf-{i:05d}" for i in range(0, 4000, 37)] + ["é-deal", "客户", "a", "z" * 100]
    with engine().connect() as conn:
        for count in (2, 3, 7, 8, 256):
            got = [conn.execute(select(shard_sql(literal(key), count))).scalar_one() for key in keys]
            assert got == [shard_of(key, count) for key in keys], count


def test_the_factory_reads_one_shards_workflows_as_text() -> None:
    import json

    from automation.factory.shards import shard_of

    repo = Repository()
    keys = [f"wf-{i}" for i in range(12)]
    for key in keys:
        repo.create(validate_definition(workflow(key)))
    shares = [repo.load_buildable_texts(shard=(index, 3)) for index in range(3)]
    assert sorted(item.key for share in shares for item in share) == sorted(keys)  # each exactly once
    for index, share in enumerate(shares):
        assert all(shard_of(item.key, 3) == index for item in share)
    item = repo.load_buildable_texts("wf-4")[0]
    assert json.loads(item.text)["definition"] == repo.get("wf-4").definition
    assert item.stored() == repo.load_buildable("wf-4")[0]


def test_create_many_stores_all_or_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bulk load (two INSERTs for thousands): every workflow as version 1, buildable; a taken key, a key
    given twice or an oversized definition saves none of them."""
    repo = Repository()
    repo.create_many([validate_definition(workflow(f"k{i}", name=f"name {i}")) for i in range(5)], created_by="me")
    assert [(w.key, w.name, w.version) for w in repo.load_buildable()] == [(f"k{i}", f"name {i}", 1) for i in range(5)]
    assert [v.created_by for v in repo.list_versions("k3")] == ["me"]
    for batch in (["n1", "k2"], ["n1", "n1"]):
        with pytest.raises(ConflictError):
            repo.create_many([validate_definition(workflow(key)) for key in batch])
    monkeypatch.setenv("AUTOMATION_MAX_DEFINITION_BYTES", "4000")
    with pytest.raises(DefinitionError):
        repo.create_many(
            [validate_definition(workflow("n1")), validate_definition(workflow("n2", description="d" * 5000))]
        )
    assert len(repo.list_workflows()) == 5
