from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.fixture
def parse_dags() -> Callable[[], dict]:
    """Parse the real DAG file the way Airflow's dag-processor does (a DagBag over dags/)."""
    from airflow.dag_processing.dagbag import DagBag

    def parse() -> dict:
        bag = DagBag(str(ROOT / "dags" / "automation_workflows.py"), bundle_path=Path(ROOT / "dags"))
        assert bag.import_errors == {}
        return bag.dags

    return parse
