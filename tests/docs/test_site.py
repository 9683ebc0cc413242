"""The documentation a user reads is built and true to the code.

Invariant: `mkdocs build --strict` succeeds (no broken link or anchor, no page outside the navigation); the
reference pages are generated from the code, so every action, trigger, condition, API route and setting the
code has is on them; the README stays short, links only to files in the repository and its example
validates."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

README = ROOT / "README.md"
GEN = ROOT / "docs" / "gen_reference.py"


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("gen_reference", GEN)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out


def _page(site: Path, name: str) -> str:
    return (site / name / "index.html").read_text()


def test_the_site_builds_in_strict_mode_with_every_page(site: Path) -> None:
    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text().replace("!!python", ""))["nav"]
    pages: list[str] = []

    def walk(items: list[Any]) -> None:
        for item in items:
            for value in item.values():
                walk(value) if isinstance(value, list) else pages.append(value)

    walk(nav)
    for page in pages:
        built = site / (page.removesuffix(".md").removesuffix("index")) / "index.html"
        assert built.exists(), page
    assert not (ROOT / "docs" / "reference").exists(), "reference pages are generated in memory, never written"
    written = {p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")}
    assert written <= set(pages), f"pages missing from mkdocs.yml nav: {sorted(written - set(pages))}"


def test_the_reference_lists_every_action_trigger_condition_route_and_setting(site: Path) -> None:
    from automation.actions import action_names, get_action
    from automation.api.app import create_app
    from automation.validation import json_schema

    actions = _page(site, "reference/actions")
    shipped = [name for name in action_names() if type(get_action(name)).__module__.startswith("automation.")]
    assert "http_request" in shipped
    for name in shipped:  # not the ones other tests register in this process: the site is built in its own
        assert f'id="{name.replace("_", "-")}"' in actions, name
        assert get_action(name).summary.split("(")[0].strip() in actions, name
    schema = json_schema()
    triggers = _page(site, "reference/triggers")
    for definition in schema["$defs"].values():
        kind = definition.get("properties", {}).get("type", {}).get("const")
        if kind and definition.get("title", "").endswith("Trigger"):
            assert f"<code>{kind}</code>" in triggers, kind
    conditions = _page(site, "reference/conditions")
    for op in schema["$defs"]["Clause"]["properties"]["op"]["enum"]:
        assert f"<code>{op.replace('<', '&lt;').replace('>', '&gt;')}</code>" in conditions, op
    api = _page(site, "reference/http-api")
    for path in create_app().openapi()["paths"]:
        assert f"/automation{path}" in api, path
    settings = _page(site, "reference/settings")
    for variable in ("AUTOMATION_MAX_EVENT_BYTES", "AUTOMATION_REGEX_MAX_WORK", "AUTOMATION_TEMPLATE_CPU_SECONDS"):
        name = variable.removeprefix("AUTOMATION_")
        assert name in settings or name.lower() in settings, variable


def test_a_new_action_appears_in_the_reference_without_editing_a_page() -> None:
    from pydantic import Field

    from automation.actions.base import Action, ActionConfig
    from automation.actions.registry import _ACTIONS, action_names, register
    from automation.validation import json_schema

    class PingConfig(ActionConfig):
        target: str = Field(description="what to ping, for the docs test")

    action_names()  # the registry is complete before the extra one

    @register
    class Ping(Action):
        name = "docs_test_ping"
        config_model = PingConfig
        summary = "Ping something (docs test)"

    try:
        page = _generator().actions_page(json_schema())
    finally:
        _ACTIONS.pop("docs_test_ping", None)
    assert "## `docs_test_ping`" in page
    assert "| `target` | string | required | what to ping, for the docs test |" in page
    assert "Ping something (docs test)" in page


def test_the_readme_is_short_and_points_only_at_files_in_the_repository() -> None:
    text = README.read_text()
    assert len(text.encode()) <= 10 * 1024
    assert "../shared" not in text and "DESIGN.md" not in text
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text):
        if "://" in target:
            continue
        assert (ROOT / target).exists(), target
    for heading in ("## Compatibility", "## Install into an existing Airflow", "## Quickstart", "## One example"):
        assert heading in text
    assert "3.3.2" in text and "Python" in text and "Postgres" in text


def test_the_readme_example_is_a_valid_workflow() -> None:
    from automation.validation import validate_definition

    block = re.search(r"```yaml\n(# deal-signed.yaml\n.*?)```", README.read_text(), re.S)
    assert block, "the README's example workflow"
    definition = validate_definition(yaml.safe_load(block.group(1)))
    assert definition.key == "deal-signed"
    assert [step.type for step in definition.steps] == ["create_task", "send_email"]


def test_every_setting_the_docs_and_helm_values_name_exists() -> None:
    from automation.config import SETTINGS_BY_NAME

    named: set[tuple[str, str]] = set()
    for path in [README, *sorted((ROOT / "docs").glob("*.md"))]:
        for name in re.findall(r"`\[automation\] (\w+)", path.read_text()):
            named.add((path.name, name))
    ini_blocks = re.findall(r"```ini\n\[automation\]\n(.*?)```", (ROOT / "docs" / "configuration.md").read_text(), re.S)
    for block in ini_blocks:
        named.update(("configuration.md", n) for n in re.findall(r"^(\w+) =", block, re.M))
    helm = yaml.safe_load((ROOT / "deploy" / "helm" / "values.yaml").read_text())
    named.update(("values.yaml", n) for n in helm["config"]["automation"])
    assert len(named) > 5
    unknown = sorted((where, n) for where, n in named if n not in SETTINGS_BY_NAME)
    assert not unknown, f"settings named in the docs but not in automation.config.SETTINGS: {unknown}"
