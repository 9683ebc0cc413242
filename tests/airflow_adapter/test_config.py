"""`airflow_adapter.config` against the installed Airflow: `airflow.configuration.conf`, its options
and `sensitive_config_values` (what lets `_CMD` / `_SECRET` forms of the plugin's own options work)."""

from __future__ import annotations

import os

import pytest

from automation.airflow_adapter import config


def test_options_as_airflow_reads_them(monkeypatch: pytest.MonkeyPatch) -> None:
    assert config.get("database", "sql_alchemy_conn") == os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert config.get("automation", "adapter_no_such_option", fallback="dflt") == "dflt"
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.test/prefix/")
    assert config.get("api", "base_url") == "https://airflow.test/prefix/"
    assert config.loaded()


def test_api_secret_is_the_secret_key_else_the_jwt_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__API__SECRET_KEY", "the-secret-key")
    monkeypatch.setenv("AIRFLOW__API_AUTH__JWT_SECRET", "the-jwt-secret")
    assert config.api_secret() == "the-secret-key"
    monkeypatch.setenv("AIRFLOW__API__SECRET_KEY", "")
    assert config.api_secret() == "the-jwt-secret"


def test_cmd_forms_of_options_marked_sensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__AUTOMATION__ADAPTER_PROBE_CMD", "echo from-a-command")
    config.mark_sensitive("automation", ["adapter_probe"])
    assert config.get("automation", "adapter_probe").strip() == "from-a-command"
