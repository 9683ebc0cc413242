"""`airflow_adapter.pools` and `automation pools sync` against the installed Airflow's `Pool` table."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from automation.airflow_adapter.pools import NEW_NAMED_POOL_SLOTS, pool_slots, sync_pools
from automation.config import DEFAULT_COLLECTIONS_FILE
from automation.records.registry import POOL_PREFIX
from tests.conftest import ENV
from tests.helpers import workflow

pytestmark = pytest.mark.usefixtures("airflow_db")
P = POOL_PREFIX


def test_sync_makes_resizes_and_deletes_only_its_own_pools() -> None:
    sync_pools({}, ["someone_elses"], P, delete_stale=False)
    changes = sync_pools({f"{P}deals": 3, f"{P}tasks": 1}, ["someone_elses"], P, delete_stale=True)
    assert changes.created == [f"{P}deals", f"{P}tasks"] and changes.unchanged == ["someone_elses"]
    changes = sync_pools({f"{P}deals": 5}, [], P, delete_stale=True)
    assert (changes.resized, changes.deleted) == ([f"{P}deals"], [f"{P}tasks"])
    assert pool_slots([f"{P}deals", f"{P}tasks", "someone_elses", "default_pool"]) == {
        f"{P}deals": 5,
        "someone_elses": NEW_NAMED_POOL_SLOTS,
        "default_pool": 128,
    }
    sync_pools({}, [], P, delete_stale=True)
    assert pool_slots([f"{P}deals"]) == {}


def test_cli_sync_and_an_import_make_the_pools_workflows_need(db: None, tmp_path: Path) -> None:
    data = yaml.safe_load(DEFAULT_COLLECTIONS_FILE.read_text())
    data["collections"]["deals"]["concurrency"] = 2
    registry = tmp_path / "collections.yaml"
    registry.write_text(yaml.safe_dump(data))
    env = {**os.environ, **ENV, "AIRFLOW__AUTOMATION__COLLECTIONS_FILE": str(registry)}
    (tmp_path / "wf.yaml").write_text(yaml.safe_dump(workflow("pooled", settings={"pool": "crm_api"})))

    def cli(*args: str) -> str:
        result = subprocess.run([sys.executable, "-m", "automation", *args], env=env, capture_output=True,
                                text=True, timeout=120, check=False)  # fmt: skip
        assert result.returncode == 0, result.stderr
        return result.stdout

    cli("import", str(tmp_path / "wf.yaml"))  # the import makes both pools
    assert pool_slots([f"{P}deals", "crm_api"]) == {f"{P}deals": 2, "crm_api": NEW_NAMED_POOL_SLOTS}
    data["collections"]["deals"]["concurrency"] = 4
    registry.write_text(yaml.safe_dump(data))
    out = cli("pools", "sync")
    assert f"resized {P}deals" in out and "0 created, 1 resized, 0 deleted" in out
    assert pool_slots([f"{P}deals"]) == {f"{P}deals": 4}
    del data["collections"]["deals"]["concurrency"]
    registry.write_text(yaml.safe_dump(data))
    assert f"deleted {P}deals" in cli("pools", "sync")
    assert pool_slots([f"{P}deals", "crm_api"]) == {"crm_api": NEW_NAMED_POOL_SLOTS}
