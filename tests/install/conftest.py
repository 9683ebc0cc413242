"""The install test starts its own Airflow from the wheel: it runs first among the Airflow tests, before the
session's shared stack (tests/e2e/conftest.py) is started, so the two never compete for the machine (under
`make test`'s xdist workers, every Airflow test is on one worker: tests/conftest.py's `worker_group`)."""

from __future__ import annotations

import pytest


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mine = [item for item in items if item.get_closest_marker("airflow_e2e") and "tests/install/" in item.nodeid]
    if not mine:
        return
    rest = [item for item in items if item not in mine]
    first_e2e = next((i for i, item in enumerate(rest) if item.get_closest_marker("airflow_e2e")), len(rest))
    items[:] = rest[:first_e2e] + mine + rest[first_e2e:]
