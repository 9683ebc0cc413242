"""Test environment: a real embedded Postgres for the session, Airflow configured to use it.

The environment (ports, URLs, Airflow home) is set at import time, before anything imports Airflow (it reads
its config once); the Postgres server itself starts only when a test needs it (the `pg` fixture and every
fixture built on it: `migrated`, `db`, `airflow_db`, `airflow`).

Tiers: a test whose fixtures include none of those, that starts no Airflow (`airflow_e2e`) and no external
service, and whose module does not use `PG` directly, is marked `unit` at collection (`make test-unit`
runs `-m unit`). In a unit-only session the server is never started, so a unit test that reaches for the
database anyway fails (connection refused) instead of passing: give it the `db` (or `pg`) fixture.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))

from automation.local.embedded_db import EmbeddedPostgres, free_port  # noqa: E402
from automation.local.stack import airflow_env, bin_path  # noqa: E402

TMP = Path(tempfile.mkdtemp(prefix="automation-tests-"))
#: not started yet: `start_pg()` (the `pg` fixture) starts it once, on first need
PG = EmbeddedPostgres(TMP / "pgdata", free_port())
API_PORT = free_port()
ENV = airflow_env(
    TMP / "airflow",
    PG,
    api_port=API_PORT,
    parse_interval=5,
    extra={
        "AIRFLOW__AUTOMATION__HTTP_ALLOWED_HOSTS": "127.0.0.1",
        # the scheduler's and the triggerer's log servers (8793, 8794 by default): free ports, so another
        # worker's or test's Airflow on this machine (install, Celery) never finds them taken
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        # Airflow's simple auth manager + a per-DAG rule for the user `sales` (tests/e2e/per_dag_auth.py)
        "AIRFLOW__CORE__AUTH_MANAGER": "tests.e2e.per_dag_auth.PerDagSimpleAuthManager",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "plugins"), str(ROOT), os.environ.get("PYTHONPATH")])),
    },
    extra_users={"sales": "viewer"},
)
os.environ.update(ENV)


_pg_started = False


def start_pg() -> EmbeddedPostgres:
    """The session's Postgres with the `airflow` and `automation` databases, started on first call."""
    global _pg_started
    if not _pg_started:
        PG.start()
        for name in ("airflow", "automation"):
            PG.create_database(name)
        _pg_started = True
    return PG


#: fixtures that need the Postgres server or Airflow processes: a test using one (directly or through
#: another fixture) is not a unit test
SERVICE_FIXTURES = frozenset({"pg", "migrated", "db", "airflow_db", "airflow"})
#: markers of tests that start processes or need the machine's services
SERVICE_MARKERS = ("airflow_e2e", "external_services", "runs_last")


def needs_services(item: pytest.Item) -> bool:
    if SERVICE_FIXTURES.intersection(getattr(item, "fixturenames", ())):
        return True
    if any(item.get_closest_marker(name) for name in SERVICE_MARKERS):
        return True
    module = getattr(item, "module", None)
    return module is not None and getattr(module, "PG", None) is PG  # uses the server directly


def pytest_unconfigure(config: pytest.Config) -> None:
    if not _pg_started:
        shutil.rmtree(TMP, ignore_errors=True)
        return
    if "airflow.settings" in sys.modules:  # close Airflow's pooled connections before the server goes
        sys.modules["airflow.settings"].dispose_orm()
    from automation.store.db import dispose_engines

    dispose_engines()
    PG.stop()
    shutil.rmtree(TMP, ignore_errors=True)


@pytest.fixture(scope="session")
def pg() -> EmbeddedPostgres:
    return start_pg()


@pytest.fixture(scope="session", autouse=True)
def _server_unless_unit_only(request: pytest.FixtureRequest) -> None:
    """A session that runs any test beyond the unit tier starts the server first, as before the tiers
    (a test using `PG` directly needs it without naming a fixture); a unit-only session never does."""
    if any(not item.get_closest_marker("unit") for item in request.session.items):
        start_pg()


@pytest.fixture(scope="session")
def migrated(pg: EmbeddedPostgres) -> None:
    from automation.demo import create_demo_crm
    from automation.store.migrate import upgrade

    upgrade()
    create_demo_crm()


CLEAN_TABLES = (
    "automation.workflow_versions, automation.workflows, automation.definition_errors, automation.run_versions, "
    "automation.effects, automation.notifications, automation.round_robin, automation.events, automation.event_runs, "
    "automation.throttle_state, automation.step_failures, automation.step_notices, automation.workflow_health, "
    "automation.reports, automation.poll_cursors, automation.notification_deliveries, "
    "crm.tags, crm.activities, crm.tasks, crm.deals, crm.contacts, crm.organisations"
)


@pytest.fixture
def db(migrated: None) -> Iterator[None]:
    """A clean automation store and demo CRM (users kept) for each test."""
    from sqlalchemy import text

    from automation.runtime.versions import workflow_version
    from automation.store.db import engine

    with engine().begin() as conn:
        conn.execute(text(f"TRUNCATE {CLEAN_TABLES} RESTART IDENTITY CASCADE"))
    workflow_version.cache_clear()  # the ids restart, so version 1 of a key is new content
    shutil.rmtree(Path(os.environ["AIRFLOW__AUTOMATION__STATE_DIR"]), ignore_errors=True)
    yield


@pytest.fixture(scope="session")
def airflow_db(pg: EmbeddedPostgres) -> None:
    """Airflow's metadata database, migrated once per session (real `airflow db migrate`)."""
    subprocess.run([bin_path("airflow"), "db", "migrate"], check=True, capture_output=True, timeout=600)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "runs_last: disturbs the shared stack (a Postgres restart): after every other test"
    )


#: How many shared Airflow stacks the stack tests are split over, each on its own xdist worker (`make test
#: TEST_STACKS=2`, the Makefile's default: `TEST_WORKERS` is this + 1, the `postgres` group's worker). One when
#: pytest is run by hand (docs/contributing.md has the two measured side by side).
STACKS = max(1, int(os.environ.get("AUTOMATION_TEST_STACKS", "1")))
#: A stack test module's share of its stack's time (seconds, measured on a quiet 2-core machine with
#: `--durations=0`), to split the modules evenly over the stacks; a module not listed counts `DEFAULT_WEIGHT`.
STACK_MODULE_WEIGHTS = {
    "test_events_in_airflow.py": 160,  # the 100-event burst (200 task processes; 330 with the 300 of 2026-11)
    "test_scenarios_platform.py": 170,
    "test_faults.py": 150,
    "test_scenarios_crm.py": 110,
    "test_editor_browser.py": 80,
    "test_pages_browser.py": 60,
    "test_openapi_fuzz.py": 60,
    "test_operations_in_airflow.py": 60,
    "test_workflows_in_airflow.py": 60,
    "test_compat.py": 40,
}
DEFAULT_WEIGHT = 30
#: Modules kept on one stack: the ones that load the machine with task processes (the event burst) and
#: the ones timing a recovery (a killed scheduler's tasks reset within 60 s) never run at the same time
#: (measured: the fault test beside the other stack's burst, at load 40, missed its 60 s).
STACK_MODULES_TOGETHER = (("test_events_in_airflow.py", "test_faults.py"),)


def stack_groups(items: list[pytest.Item]) -> dict[str, str]:
    """Test module file name -> its stack's group (`airflow-stack`, `airflow-stack-2`, ...): the modules of
    the stack tests (those of `STACK_MODULES_TOGETHER` as one), heaviest first, each to the stack with the
    least weight so far (ties: the first). The same collection gives the same split on every worker; a
    module's tests stay on one stack (its module-scoped fixtures and its `runs_last` test among them)."""
    modules = {item.path.name for item in items if "airflow" in getattr(item, "fixturenames", ())}
    units = [tuple(name for name in together if name in modules) for together in STACK_MODULES_TOGETHER]
    units = [unit for unit in units if unit]
    units += [(name,) for name in sorted(modules - {name for unit in units for name in unit})]

    def weight(unit: tuple[str, ...]) -> int:
        return sum(STACK_MODULE_WEIGHTS.get(name, DEFAULT_WEIGHT) for name in unit)

    loads = [0] * STACKS
    groups = {}
    for unit in sorted(units, key=lambda unit: (-weight(unit), unit)):
        stack = loads.index(min(loads))
        loads[stack] += weight(unit)
        for name in unit:
            groups[name] = "airflow-stack" if stack == 0 else f"airflow-stack-{stack + 1}"
    return groups


def worker_group(item: pytest.Item, stacks: dict[str, str]) -> str | None:
    """The pytest-xdist group (`--dist loadgroup`, `make test`) of a test: each stack group (`stacks`) runs
    on one worker, in the serial order, on that worker's own Airflow stack (the `airflow` fixture); another
    worker runs every other test of its Postgres (their `dag.test()` runs never meet a stack's scheduler:
    each worker has its own Postgres, Airflow home and ports, made at import), then, last, the tests that
    start an Airflow of their own on their own databases (install, Celery: `airflow_e2e` without the shared
    stack); unit tests go to whichever worker is free. xdist gives the largest groups out first, one per
    worker: with fewer workers than groups, a worker runs a second stack group after its first, on the same
    stack (or, after the `postgres` group, starts one)."""
    if "airflow" in getattr(item, "fixturenames", ()):
        return stacks[item.path.name]
    return None if item.get_closest_marker("unit") else "postgres"


def _name_group_in_node_id(item: pytest.Item, group: str) -> None:
    """pytest-xdist's loadgroup scheduler reads a test's group from its node id (`<id>@<group>`), which
    xdist 3.8 writes to `_nodeid`, an attribute pytest 9 no longer reads: write the id itself."""
    from _pytest.nodeid import coerce_node_id

    item._id = coerce_node_id(f"{item.nodeid}@{group}")


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker, and before xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the unit tier (see the module's docstring) and the xdist groups. Tests that start the real
    Airflow processes run last: their scheduler must not compete with the in-process `dag.test()` runs of
    the other tests for the same metadata database."""
    loadgroup_worker = bool(getattr(config.option, "loadgroup", False))  # set on xdist workers only
    stacks = stack_groups(items)
    for item in items:
        if not needs_services(item):
            item.add_marker(pytest.mark.unit)
        group = worker_group(item, stacks)
        if group:
            item.add_marker(pytest.mark.xdist_group(group))
            if loadgroup_worker:
                _name_group_in_node_id(item, group)
    items.sort(
        key=lambda item: (
            item.get_closest_marker("airflow_e2e") is not None,
            item.get_closest_marker("runs_last") is not None,
        )
    )
