"""Every manifest and values file in the repository parses, and the Helm deployment holds together.

Invariant: each YAML file under deploy/ and docker/ (and the compose files at the root) is valid YAML; the Helm
values use only keys the official Airflow chart defines (the list below is read from the chart's values.yaml,
apache/airflow `chart/values.yaml`, the Airflow 3 chart with `apiServer`); every secret the values refer to is
defined, with that key, in the example secrets file, which holds no real secret; the migration job runs
`automation migrate` after Airflow's own migration; the image is built from the Airflow version the package
pins, and carries the DAG files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

HELM_VALUES = ROOT / "deploy" / "helm" / "values.yaml"
HELM_SECRETS = ROOT / "deploy" / "helm" / "secrets.example.yaml"
HELM_IMAGE = ROOT / "docker" / "helm" / "Dockerfile"

# Keys of the official chart's values.yaml that this repository's values may set. A key whose value the chart
# takes as a free-form map or list (`config` renders airflow.cfg, `secret`, `extraContainers`) ends the check.
CHART_KEYS = {
    "defaultAirflowRepository", "defaultAirflowTag", "airflowVersion", "executor",
    "images.airflow.repository", "images.airflow.tag", "images.airflow.pullPolicy",
    "images.useDefaultImageForMigration", "images.migrationsWaitTimeout",
    "env", "secret", "extraSecrets", "extraConfigMaps", "extraEnv", "extraEnvFrom",
    "data.metadataSecretName", "data.resultBackendSecretName", "data.brokerUrlSecretName",
    "fernetKeySecretName", "apiSecretKeySecretName", "jwtSecretName",
    "postgresql.enabled", "config",
    "workers.replicas", "workers.extraContainers", "workers.extraInitContainers", "workers.env",
    "scheduler.replicas", "scheduler.extraContainers", "scheduler.extraInitContainers", "scheduler.env",
    "triggerer.extraContainers", "dagProcessor.enabled", "dagProcessor.extraContainers",
    "apiServer.replicas", "apiServer.env",
    "migrateDatabaseJob.enabled", "migrateDatabaseJob.args", "migrateDatabaseJob.command",
    "migrateDatabaseJob.extraInitContainers", "migrateDatabaseJob.env",
    "createUserJob.enabled",
    "dags.gitSync.enabled", "dags.persistence.enabled",
}  # fmt: skip
SECRET_ITEM_KEYS = {"envName", "secretName", "secretKey"}
# The chart reads these secrets with these keys (chart/templates/_helpers.yaml, chart/templates/secrets/*.yaml).
CHART_SECRET_KEYS = {
    "data.metadataSecretName": "connection",
    "fernetKeySecretName": "fernet-key",
    "apiSecretKeySecretName": "api-secret-key",
    "jwtSecretName": "jwt-secret",
}


def _yaml_files() -> list[Path]:
    files = [p for d in ("deploy", "docker") for p in sorted((ROOT / d).rglob("*")) if p.suffix in {".yaml", ".yml"}]
    return files + sorted(ROOT.glob("docker-compose*.yml"))


def _leaf_paths(values: dict[str, Any], prefix: str = "") -> list[str]:
    paths = []
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and path not in CHART_KEYS:
            paths.extend(_leaf_paths(value, path + "."))
        else:
            paths.append(path)
    return paths


def _get(values: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        values = values.get(part, {}) if isinstance(values, dict) else {}
    return values or None


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    return yaml.safe_load(HELM_VALUES.read_text())


@pytest.fixture(scope="module")
def secrets() -> dict[str, dict[str, str]]:
    docs = [d for d in yaml.safe_load_all(HELM_SECRETS.read_text()) if d]
    assert all(d["apiVersion"] == "v1" and d["kind"] == "Secret" for d in docs)
    return {d["metadata"]["name"]: d.get("stringData", {}) for d in docs}


@pytest.mark.parametrize("path", _yaml_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_manifest_and_values_file_parses(path: Path) -> None:
    documents = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    assert documents, f"{path} is empty"
    for document in documents:
        assert isinstance(document, dict), f"{path}: a document is not a mapping"
        if "kind" in document:
            assert document.get("apiVersion") and document.get("metadata", {}).get("name"), path


def test_the_helm_values_use_only_keys_of_the_official_chart(values: dict[str, Any]) -> None:
    unknown = [p for p in _leaf_paths(values) if p not in CHART_KEYS]
    assert not unknown, f"not keys of the Airflow chart's values.yaml: {unknown}"
    assert values["airflowVersion"] == "3.3.2"
    assert values["executor"] in {"CeleryExecutor", "KubernetesExecutor", "CeleryKubernetesExecutor"}
    for item in values["secret"]:
        assert set(item) == SECRET_ITEM_KEYS, item


def test_the_connections_the_product_reads_come_from_secrets_that_exist(
    values: dict[str, Any], secrets: dict[str, dict[str, str]]
) -> None:
    from automation.airflow_adapter.db import METADATA_CONN_ID
    from automation.config import DB_CONN_ID

    env = {item["envName"]: (item["secretName"], item["secretKey"]) for item in values["secret"]}
    for conn_id in (DB_CONN_ID, METADATA_CONN_ID, "smtp_default"):
        assert f"AIRFLOW_CONN_{conn_id.upper()}" in env, conn_id
    references = list(env.values())
    for key, secret_key in CHART_SECRET_KEYS.items():
        name = _get(values, key)
        assert name, key
        references.append((name, secret_key))
    for container in values["scheduler"]["extraContainers"]:
        for variable in container.get("env", []):
            ref = variable.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                references.append((ref["name"], ref["key"]))
    for name, key in references:
        assert key in secrets.get(name, {}), f"secret {name!r} with key {key!r} is not in {HELM_SECRETS.name}"


def test_the_example_secrets_hold_placeholders_only(secrets: dict[str, dict[str, str]]) -> None:
    for name, data in secrets.items():
        for key, value in data.items():
            assert "CHANGE-ME" in value, f"{name}.{key} looks like a real value"


def test_the_migration_job_migrates_airflow_then_the_automation_schema(values: dict[str, Any]) -> None:
    script = " ".join(values["migrateDatabaseJob"]["args"])
    assert re.search(r"airflow db migrate\s*&&\s*(exec\s+)?automation migrate", script), script


def test_the_emitter_runs_beside_the_scheduler_with_the_airflow_config(values: dict[str, Any]) -> None:
    (emitter,) = [c for c in values["scheduler"]["extraContainers"] if c["name"] == "automation-emitter"]
    assert emitter["command"][-2:] == ["automation", "emitter"] or emitter["command"][-1].endswith("emitter")
    assert "{{ .Values.defaultAirflowTag }}" in emitter["image"]
    names = {v["name"] for v in emitter["env"]}
    assert {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW_CONN_AUTOMATION_DB"} <= names
    assert any(m["name"] == "config" and m["mountPath"].endswith("airflow.cfg") for m in emitter["volumeMounts"])


def test_the_helm_image_is_the_pinned_airflow_plus_the_wheel_and_the_dag_files() -> None:
    dockerfile = HELM_IMAGE.read_text()
    pinned = re.search(r"^apache-airflow==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M)
    assert pinned
    assert re.search(rf"^FROM apache/airflow:{re.escape(pinned.group(1))}$", dockerfile, re.M)
    assert re.search(r"pip install .*--no-deps .*airflow_automations-.*\.whl", dockerfile)
    assert re.search(r"^RUN automation init --dags-folder /opt/airflow/dags$", dockerfile, re.M)
