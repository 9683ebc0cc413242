"""The preload listener: the scheduler's and dag-processor's job imports the runtime before it forks,
a task process imports only what its task runs, and the setting turns it off."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from automation.airflow_adapter import preload
from automation.plugin import AutomationPlugin

PROBE = """
import json, sys
from automation.airflow_adapter.preload import on_starting
kind = sys.argv[1]
component = type(kind, (), {})()
on_starting(component=component)
print(json.dumps({m: m in sys.modules for m in sys.argv[2:]}))
"""


def imported_after_on_starting(component: str, env: dict[str, str] | None = None) -> dict[str, bool]:
    """Which runtime modules a fresh interpreter has imported after the listener saw `component` start."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE, component, *preload.RUNTIME_MODULES],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_job_process_imports_the_runtime_before_it_forks() -> None:
    assert all(imported_after_on_starting("Job").values())


def test_a_task_process_does_not_import_the_runtime_at_start() -> None:
    assert not any(imported_after_on_starting("TaskRunnerMarker").values())


def test_the_setting_turns_the_preload_off() -> None:
    assert not any(imported_after_on_starting("Job", {"AIRFLOW__AUTOMATION__PRELOAD_RUNTIME": "false"}).values())


def test_the_plugin_registers_the_listener_and_importing_it_loads_no_runtime() -> None:
    assert preload in AutomationPlugin.listeners
    out = subprocess.run(
        [sys.executable, "-c", "import sys, automation.plugin; print([m for m in sys.modules if "
         "m.startswith(('automation.runtime', 'automation.definitions', 'automation.store'))])"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert out.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("name", preload.RUNTIME_MODULES)
def test_each_preloaded_module_exists(name: str) -> None:
    __import__(name)
