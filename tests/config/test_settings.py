"""The [automation] settings: read from Airflow's configuration (airflow.cfg, AIRFLOW__AUTOMATION__*, _cmd),
the former AUTOMATION_* variables still honoured with a warning, listed by `automation config`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from automation import config
from automation.alerts.send import default_recipients
from automation.cli.main import main
from automation.config import SETTINGS, setting, settings_env, settings_markdown
from automation.local.stack import bin_path
from automation.maintenance.settings import MaintenanceSettings
from automation.net.egress import AllowList

ROOT = Path(__file__).resolve().parents[2]
#: AUTOMATION_* words in plugins/ that are not settings: a constant name, a family named in a docstring, and
#: the connection id in AIRFLOW_CONN_AUTOMATION_DB when built from parts
NOT_SETTINGS = {"AUTOMATION_PROCESSES", "AUTOMATION_TEMPLATE", "AUTOMATION_DB"}


@pytest.fixture
def airflow_conf():
    from airflow.configuration import conf

    added: list[str] = []

    def set_option(name: str, value: str) -> None:
        if not conf.has_section("automation"):
            conf.add_section("automation")
        conf.set("automation", name, value)  # as a line in airflow.cfg's [automation] section
        added.append(name)

    yield set_option
    for name in added:
        conf.remove_option("automation", name)


@pytest.fixture
def fresh_warnings(monkeypatch):
    monkeypatch.setattr(config, "_WARNED", set())


def test_an_airflow_variable_sets_a_setting_and_airflow_conf_sees_the_same(monkeypatch):
    from airflow.configuration import conf

    monkeypatch.setenv("AIRFLOW__AUTOMATION__KEEP_LAST_RUNS", "3")
    monkeypatch.setenv("AIRFLOW__AUTOMATION__REPORT_EMAILS", "a@example.com, b@example.com")
    assert conf.get("automation", "keep_last_runs") == "3"
    settings = MaintenanceSettings()
    assert settings.keep_last_runs == 3
    assert settings.report_recipients == ("a@example.com", "b@example.com")
    monkeypatch.setenv("AIRFLOW__AUTOMATION__KEEP_LAST_RUNS", "4")  # never cached
    assert MaintenanceSettings().keep_last_runs == 4


def test_an_airflow_cfg_option_is_read_and_a_cmd_form_too(airflow_conf, monkeypatch):
    airflow_conf("retention_days", "30")
    assert MaintenanceSettings().default_retention_days == 30
    monkeypatch.setenv("AIRFLOW__AUTOMATION__ALERT_EMAILS_CMD", "echo ops@example.com")
    assert default_recipients() == ["ops@example.com"]


def test_the_deprecated_variable_works_and_warns_once(monkeypatch, fresh_warnings):
    monkeypatch.setenv("AUTOMATION_CLEANUP_CRON", "0 4 * * *")
    with pytest.warns(DeprecationWarning, match=r"AUTOMATION_CLEANUP_CRON is deprecated.*\[automation\] cleanup_cron"):
        assert MaintenanceSettings().cleanup_cron == "0 4 * * *"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert MaintenanceSettings().cleanup_cron == "0 4 * * *"


def test_precedence_airflow_variable_then_airflow_cfg_then_deprecated_variable_then_default(
    airflow_conf, monkeypatch, fresh_warnings
):
    assert setting("cleanup_batch") == 500
    monkeypatch.setenv("AUTOMATION_CLEANUP_BATCH", "100")
    with pytest.warns(DeprecationWarning):
        assert setting("cleanup_batch") == 100
    airflow_conf("cleanup_batch", "200")
    assert setting("cleanup_batch") == 200  # the [automation] option wins over the deprecated name
    monkeypatch.setenv("AIRFLOW__AUTOMATION__CLEANUP_BATCH", "300")
    assert setting("cleanup_batch") == 300


def test_the_allow_list_comes_from_the_settings(monkeypatch):
    monkeypatch.setenv("AIRFLOW__AUTOMATION__HTTP_ALLOWED_HOSTS", " API.example.com ,10.0.0.0/8,")
    assert AllowList.from_env().entries == ("api.example.com", "10.0.0.0/8")


def test_a_malformed_value_names_the_setting_and_where_it_came_from(monkeypatch):
    monkeypatch.setenv("AIRFLOW__AUTOMATION__TEMPLATE_CPU_SECONDS", "two")
    with pytest.raises(ValueError, match=r"\[automation\] template_cpu_seconds must be an integer, got 'two'"):
        config.template_cpu_seconds()


def test_automation_config_lists_every_setting(monkeypatch, capsys, fresh_warnings):
    monkeypatch.setenv("AIRFLOW__AUTOMATION__MAX_EVENT_BYTES", "1000")
    monkeypatch.setenv("AUTOMATION_RETENTION_DAYS", "12")
    assert main(["config", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert list(rows) == [s.name for s in SETTINGS]
    assert rows["max_event_bytes"]["value"] == "1000" and rows["max_event_bytes"]["source"] == "env"
    assert rows["retention_days"]["source"] == "env (deprecated AUTOMATION_RETENTION_DAYS)"
    assert rows["keep_last_runs"] == {**rows["keep_last_runs"], "value": "10", "source": "default"}
    assert all(row["help"] for row in rows.values())
    assert main(["config"]) == 0
    text = capsys.readouterr().out
    assert all(f"{s.name} = " in text for s in SETTINGS)


def test_the_markdown_reference_has_a_row_per_setting():
    text = settings_markdown()
    for item in SETTINGS:
        assert f"| `{item.name}` | {item.type} |" in text and f"`{item.env}`" in text
    assert "`AUTOMATION_HOME`" in text  # the launcher's own variables, marked as not plugin settings


def test_every_automation_variable_named_in_the_plugin_is_a_setting():
    known = {s.deprecated_env for s in SETTINGS} | set(config.LAUNCHER_ENV) | NOT_SETTINGS
    named = set()
    for path in (ROOT / "plugins" / "automation").rglob("*.py"):
        named |= set(re.findall(r"(?<![A-Z0-9_])AUTOMATION_[A-Z0-9_]*[A-Z0-9]", path.read_text()))
    assert named - known == set(), "add these to automation.config.SETTINGS (or LAUNCHER_ENV)"


def test_airflow_cfg_in_a_real_airflow_home_shows_in_automation_config(tmp_path):
    (tmp_path / "airflow.cfg").write_text(
        "[automation]\nretention_days = 45\ncleanup_batch_cmd = echo 250\nmaintenance_timezone = Europe/Paris\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__AUTOMATION__")}
    env.pop("AIRFLOW_CONFIG", None)
    env.update(AIRFLOW_HOME=str(tmp_path), AUTOMATION_RETENTION_DAYS="5", AUTOMATION_KEEP_LAST_RUNS="6")
    done = subprocess.run(
        [bin_path("automation"), "config", "--json"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    rows = {row["name"]: row for row in json.loads(done.stdout)}
    assert (rows["retention_days"]["value"], rows["retention_days"]["source"]) == ("45", "airflow.cfg")
    assert (rows["cleanup_batch"]["value"], rows["cleanup_batch"]["source"]) == ("250", "airflow.cfg")
    assert rows["maintenance_timezone"]["value"] == "Europe/Paris"
    assert rows["keep_last_runs"]["source"] == "env (deprecated AUTOMATION_KEEP_LAST_RUNS)"


def test_a_process_given_settings_env_reads_every_setting_without_importing_airflow(airflow_conf, tmp_path):
    """What the isolated dry-run worker relies on: it sees the caller's settings, airflow.cfg's included."""
    airflow_conf("regex_max_work", "1234")
    code = (
        "import sys, warnings; warnings.simplefilter('error')\n"
        "from automation import config\n"
        "values = {s.name: config.setting(s.name) for s in config.SETTINGS}\n"
        "assert 'airflow' not in sys.modules, 'imported Airflow'\n"
        "print(values['regex_max_work'])\n"
    )
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT / "plugins"), **settings_env()}
    env["AUTOMATION_REGEX_MAX_WORK"] = "99"  # deprecated and shadowed: no warning
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1234"


def test_without_an_automation_section_reading_settings_does_not_import_airflow(tmp_path):
    """Airflow's import (about 1.5 s) is paid only when its configuration may hold an [automation] option."""
    (tmp_path / "airflow.cfg").write_text("[core]\nload_examples = False\n")
    code = (
        "import sys, warnings; warnings.simplefilter('ignore')\n"
        "from automation import config\n"
        "values = {s.name: config.setting(s.name) for s in config.SETTINGS}\n"
        "print('airflow' in sys.modules, values['keep_last_runs'], values['retention_days'])\n"
    )
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT / "plugins"), "AIRFLOW_HOME": str(tmp_path)}
    env["AUTOMATION_KEEP_LAST_RUNS"] = "6"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout.strip()) == (0, "False 6 90"), done.stderr
    (tmp_path / "airflow.cfg").write_text("[core]\nload_examples = False\n[automation]\nkeep_last_runs = 8\n")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout.strip()) == (0, "True 8 90"), done.stderr
