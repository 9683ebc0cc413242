"""docker-compose.airflow.yml is valid (checked by Debian's docker-compose, which needs no engine)."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

COMPOSE_FILE = ROOT / "docker-compose.airflow.yml"
AIRFLOW_SERVICES = {"airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"}


def _config(*args: str) -> dict[str, Any]:
    compose = shutil.which("docker-compose")
    assert compose, "docker-compose is missing: `make test` installs Debian's docker-compose package"
    done = subprocess.run(
        [compose, "-f", str(COMPOSE_FILE), *args, "config"], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)


def _words(command: str | list[str]) -> list[str]:
    return command.split() if isinstance(command, str) else command


def _mount(volume: str | dict[str, str]) -> tuple[str, str]:
    """(target, source) of a volume in either of docker-compose's output forms."""
    if isinstance(volume, dict):
        return volume["target"], volume.get("source", "")
    source, target = volume.split(":")[:2]
    return target, source


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return _config("--profile", "celery")


def test_every_airflow_process_and_helper_service_is_defined(config: dict[str, Any]) -> None:
    services = config["services"]
    assert AIRFLOW_SERVICES | {"postgres", "airflow-init", "automation-emitter", "mailpit"} <= set(services)
    assert {"redis", "airflow-worker"} <= set(services)
    assert services["redis"]["profiles"] == ["celery"] and services["airflow-worker"]["profiles"] == ["celery"]
    assert _words(services["airflow-worker"]["command"]) == ["celery", "worker"]


def test_airflow_services_run_this_repo_on_the_official_image(config: dict[str, Any]) -> None:
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    assert "FROM apache/airflow:3.3.2" in dockerfile and "requirements.txt" in dockerfile
    for name in AIRFLOW_SERVICES | {"airflow-worker", "automation-emitter"}:
        service = config["services"][name]
        mounts = dict(_mount(volume) for volume in service["volumes"])
        for folder in ("dags", "plugins", "include"):
            assert mounts[f"/opt/airflow/{folder}"] == str(ROOT / folder), (name, folder)
        env = service["environment"]
        assert env["AIRFLOW_CONN_AUTOMATION_DB"].endswith("@postgres:5432/automation")
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql")
        assert service["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"


def test_init_migrates_both_databases(config: dict[str, Any]) -> None:
    script = "\n".join(_words(config["services"]["airflow-init"]["command"]))
    assert "airflow db migrate" in script and "python -m automation migrate" in script


def test_the_executor_is_chosen_by_the_environment() -> None:
    import os

    celery = subprocess.run(
        ["docker-compose", "-f", str(COMPOSE_FILE), "config"],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
        env={**os.environ, "AIRFLOW_EXECUTOR": "CeleryExecutor"},
    )  # fmt: skip
    assert celery.returncode == 0, celery.stderr
    env = yaml.safe_load(celery.stdout)["services"]["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert _config()["services"]["airflow-scheduler"]["environment"]["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
