"""Actions from other packages (entry-point group `airflow_automations.actions`): an installed package's
action is listed, validated and described like a built-in; a broken one is logged and left out."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from automation.actions import registry
from tests.actions.plugin_package import installed_plugin
from tests.conftest import ENV

pytestmark = pytest.mark.usefixtures("db")


@pytest.fixture(scope="module")
def plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with installed_plugin(tmp_path_factory.mktemp("plugin")) as name:
        yield name


def automation(*args: str) -> subprocess.CompletedProcess[str]:
    """The `automation` CLI, in a new process (it discovers the installed packages' actions)."""
    return subprocess.run([sys.executable, "-m", "automation", *args], env={**os.environ, **ENV},
                          capture_output=True, text=True, timeout=180, check=False)  # fmt: skip


def python(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], env={**os.environ, **ENV}, capture_output=True, text=True,
                            timeout=180, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_automation_schema_lists_the_installed_action(plugin: str) -> None:
    result = automation("schema")
    assert result.returncode == 0, result.stderr
    schema = json.loads(result.stdout)["$defs"]["actions"][plugin]
    assert set(schema["properties"]) == {"text", "entity_id"} and schema["required"] == ["text", "entity_id"]


def test_its_config_errors_carry_paths_like_the_built_ins(plugin: str, tmp_path: Path) -> None:
    definition = {"key": "shouting", "name": "Shouting", "trigger": {"type": "manual"},
                  "steps": [{"id": "shout", "type": plugin, "config": {"text": "", "entity_id": 0}},
                            {"id": "note", "type": "add_note", "config": {"entity": "deals", "entity_id": 1}}]}  # fmt: skip
    path = tmp_path / "shouting.json"
    path.write_text(json.dumps(definition))
    result = automation("validate", str(path))
    assert result.returncode != 0
    assert "steps[0].config.text" in result.stderr + result.stdout
    assert "steps[0].config.entity_id" in result.stderr + result.stdout
    assert "steps[1].config.body" in result.stderr + result.stdout  # the built-in's error, the same way


def test_it_is_described_and_dry_runs_like_a_built_in(plugin: str) -> None:
    out = python(
        "import json\n"
        "from automation.actions import describe_step, action_names\n"
        "from automation.runtime.dry_run import dry_run_report\n"
        "from automation.validation import validate_definition\n"
        f"step = {{'id': 's', 'type': {plugin!r}, 'config': {{'text': 'hello {{{{ params.who }}}}', 'entity_id': 3}}}}\n"
        "wf = validate_definition({'key': 'shouting', 'name': 'S', 'trigger': {'type': 'manual'}, 'steps': [step]})\n"
        "report = dry_run_report(wf, 1, {'params': {'who': 'you'}})\n"
        "print(json.dumps([describe_step(step), report['steps'][0]['output']['body'], 'shout' in action_names()]))\n"
    )
    assert json.loads(out.strip().splitlines()[-1]) == ["shout 'hello {{ params.who }}' on deal 3", "HELLO YOU", True]


def test_a_broken_plugin_is_logged_and_left_out(caplog: pytest.LogCaptureFixture) -> None:
    before = registry.action_names()
    points = [
        EntryPoint("missing", "no_such_module_here:Thing", registry.ENTRY_POINT_GROUP),
        EntryPoint("not_an_action", "json:dumps", registry.ENTRY_POINT_GROUP),
        EntryPoint("send_email", "automation.actions.wait:Wait", registry.ENTRY_POINT_GROUP),
    ]
    with caplog.at_level(logging.ERROR, logger="automation.actions.registry"):
        for point in points:
            registry._load_plugin(point)
    assert registry.action_names() == before
    messages = caplog.text
    assert "Action plugin 'missing' (no_such_module_here:Thing" in messages and "ModuleNotFoundError" in messages
    assert "json:dumps is not an Action subclass" in messages
    assert "named 'wait', not 'send_email'" in messages
    assert set(registry.PLUGIN_ERRORS) >= {"missing", "not_an_action", "send_email"}
    for point in points:
        registry.PLUGIN_ERRORS.pop(point.name, None)


def test_a_plugin_whose_import_fails_does_not_stop_the_cli(tmp_path: Path) -> None:
    """Installed with an entry point to a module that does not exist: every command still works."""
    from tests.actions.plugin_package import DISTRIBUTION, _pip, build_wheel

    wheel = build_wheel(tmp_path, entry_point="broken = automation_test_shout_missing:Nope")
    _pip("install", "--no-deps", "--no-index", "--force-reinstall", str(wheel))
    try:
        result = automation("schema")
        assert result.returncode == 0 and "send_email" in json.loads(result.stdout)["$defs"]["actions"]
        assert "Action plugin 'broken'" in result.stderr and "automation_test_shout_missing" in result.stderr
    finally:
        _pip("uninstall", "-y", DISTRIBUTION)
