"""Sharded workflow DAG files: each copy of the workflow DAG file builds the workflows of its shard, every
DAG is built by exactly one file under any count, and each shard keeps its own snapshot, errors and plans."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from automation.factory.shards import shard_file_name, shard_of, shard_of_file
from automation.install import write_dag_files
from automation.local.embedded_db import EmbeddedPostgres, free_port
from automation.store.db import dispose_engines, engine
from automation.store.migrate import upgrade
from automation.store.repository import Repository
from automation.validation import validate_definition
from tests.helpers import five_step_workflow, workflow

KEYS = [f"shard-wf-{i:02d}" for i in range(60)]
Parse = Callable[[int], dict[str, dict]]


def store(*keys: str) -> None:
    repo = Repository()
    for key in keys:
        repo.create(validate_definition(workflow(key)))


@pytest.fixture
def shard_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Parse]:
    """`parse(count)`: with `[automation] dag_shards` = count and `automation init --shards` count's files
    written, each workflow DAG file of the folder parsed as the dag-processor does: DAG ids by file name."""
    from airflow.dag_processing.dagbag import DagBag

    folder = tmp_path / "dags"
    folder.mkdir()

    monkeypatch.setenv("AIRFLOW__AUTOMATION__REPARSE_ON_CHANGE", "false")  # no Airflow here to ask

    def parse(count: int) -> dict[str, dict]:
        monkeypatch.setenv("AIRFLOW__AUTOMATION__DAG_SHARDS", str(count))
        write_dag_files(folder, shards=count)
        found = {}
        for path in sorted(folder.glob("automation_workflows*.py")):
            bag = DagBag(str(path), bundle_path=folder)
            assert bag.import_errors == {}
            found[path.name] = bag.dags
        return found

    yield parse


def _placed(found: dict[str, dict]) -> Counter[str]:
    return Counter(dag_id for dags in found.values() for dag_id in dags)


@pytest.mark.unit
def test_the_shard_of_a_key_is_stable_and_spread() -> None:
    # fixed values: a change of the hash would move every DAG to another file at an upgrade
    assert [shard_of(key, 4) for key in ("deal-signed", "lead-created", "a", "é")] == [3, 3, 0, 2]
    assert all(shard_of(key, 1) == 0 for key in KEYS)
    assert set(Counter(shard_of(key, 8) for key in KEYS)) == set(range(8))
    for index in (0, 1, 7, 255):
        assert shard_of_file(f"/opt/airflow/dags/{shard_file_name(index)}") == index
    assert shard_of_file("workflows.py") == 0  # a copy under another name (the benchmarks') is shard 0
    assert shard_of_file("automation_workflows_x.py") == 0


@pytest.mark.usefixtures("db")
def test_sixty_workflows_over_four_files_each_dag_once_and_a_deleted_one_goes(shard_files: Parse) -> None:
    from automation.services import workflows

    store(*KEYS)
    found = shard_files(4)
    assert sorted(found) == [shard_file_name(i) for i in range(4)]
    placed = _placed(found)
    assert sorted(placed) == sorted(f"automation__{key}" for key in KEYS) and set(placed.values()) == {1}
    for name, dags in found.items():
        assert {shard_file_name(shard_of(d.removeprefix("automation__"), 4)) for d in dags} == {name}
        assert 8 <= len(dags) <= 22  # each parse builds about a quarter

    gone = KEYS[7]
    workflows.delete(gone)
    after = shard_files(4)
    assert f"automation__{gone}" not in _placed(after)
    assert sum(_placed(after).values()) == 59


@pytest.mark.usefixtures("db")
def test_from_four_files_to_eight_every_dag_stays_in_exactly_one_file(shard_files: Parse) -> None:
    store(*KEYS)
    before = shard_files(4)
    after = shard_files(8)  # `automation init --shards 8` writes files 4-7, then the count is 8
    assert sorted(after) == sorted(shard_file_name(i) for i in range(8))
    assert _placed(after) == _placed(before) == Counter({f"automation__{key}": 1 for key in KEYS})
    # back to 4: files 4-7 stay in the folder and build nothing
    back = shard_files(4)
    assert len(back) == 8 and all(back[shard_file_name(i)] == {} for i in range(4, 8))
    assert _placed(back) == _placed(before)


@pytest.mark.usefixtures("db")
def test_files_beyond_the_count_build_nothing_and_init_reports_them(tmp_path: Path, shard_files: Parse) -> None:
    store(*KEYS[:10])
    shard_files(8)
    written = write_dag_files(tmp_path / "dags", shards=2)
    assert [w.path.name for w in written if w.status == "beyond the shard count"] == [
        shard_file_name(i) for i in range(2, 8)
    ]


@pytest.mark.usefixtures("db")
def test_each_shard_records_its_own_errors_and_keeps_the_others(shard_files: Parse) -> None:
    from automation.services.workflows import definition_errors

    keys = {shard_of(key, 4): key for key in KEYS}  # one key in each shard
    bad = [keys[0], keys[3]]
    store(*KEYS)
    with engine().begin() as conn:  # as if edited behind the API's back: a column that does not exist
        for key in bad:
            conn.execute(
                text(
                    "UPDATE automation.workflow_versions SET definition = jsonb_set(definition, "
                    "'{steps,0,config,values}', '{\"colour\": \"red\"}') WHERE workflow_id = "
                    "(SELECT id FROM automation.workflows WHERE key = :key)"
                ),
                {"key": key},
            )
    found = shard_files(4)
    assert sum(_placed(found).values()) == 58
    assert sorted(definition_errors()) == sorted(bad)  # shard 3's parse did not wipe shard 0's error
    plans = Path(os.environ["AIRFLOW__AUTOMATION__STATE_DIR"]) / "plans"
    assert len(list(plans.glob("*.json"))) == 58  # no shard pruned another's plans


@pytest.mark.usefixtures("db")
def test_the_database_down_every_shard_builds_its_dags_from_its_snapshot(
    shard_files: Parse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = EmbeddedPostgres(tmp_path / "pg", free_port()).start()
    try:
        own.create_database("automation")
        monkeypatch.setenv("AIRFLOW_CONN_AUTOMATION_DB", own.url("automation"))
        dispose_engines()
        upgrade()
        repo = Repository()
        for key in KEYS:
            repo.create(validate_definition(five_step_workflow(key)))
        up = shard_files(4)
        assert sum(_placed(up).values()) == 60
    finally:
        own.stop()
    dispose_engines()
    try:
        down = shard_files(4)
        assert {name: sorted(dags) for name, dags in down.items()} == {n: sorted(d) for n, d in up.items()}
        assert len(down[shard_file_name(0)][next(iter(down[shard_file_name(0)]))].tasks) == 6
        # the count changed while the database is down: the snapshots of the four files still hold every DAG
        moved = shard_files(8)
        assert _placed(moved) == Counter({f"automation__{key}": 1 for key in KEYS})
    finally:
        dispose_engines()


@pytest.mark.usefixtures("db")
def test_unchanged_shards_validate_nothing_and_an_edit_only_in_its_own_file(
    shard_files: Parse, monkeypatch: pytest.MonkeyPatch
) -> None:
    import automation.validation
    from automation.services import workflows

    real = automation.validation.validate_definition
    validated: list[str] = []

    def counting(data: dict, source: str | None = None) -> object:
        validated.append(str(data.get("key")))
        return real(data, source=source)

    store(*KEYS[:20])
    monkeypatch.setattr(automation.validation, "validate_definition", counting)
    shard_files(4)
    assert sorted(validated) == sorted(KEYS[:20])  # the first parses keep a plan of each
    validated.clear()
    assert sum(_placed(shard_files(4)).values()) == 20
    assert validated == []  # the same definitions: built from the kept plans, no validation

    monkeypatch.setattr(automation.validation, "validate_definition", real)
    workflows.update(KEYS[6], {**workflow(KEYS[6]), "name": "Edited"}, created_by="test")
    monkeypatch.setattr(automation.validation, "validate_definition", counting)
    found = shard_files(4)
    assert validated == [KEYS[6]]
    assert found[shard_file_name(shard_of(KEYS[6], 4))][f"automation__{KEYS[6]}"].description == "Edited"
