"""docker-compose.airflow.yml is valid and safe by default (checked by Debian's docker-compose, no engine needed).

Safe means: it refuses to start without real secrets (no default for any secret, no literal password, no
`admin/admin`), publishes ports on 127.0.0.1 unless told otherwise, keeps mailpit in the dev profile, restarts
every long-lived service, and recovers a dead scheduler's tasks in about 30 s. docker/make-env.sh writes the
secrets once (0600) and docker/simple_auth_passwords.py turns them into the login file.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

COMPOSE_FILE = ROOT / "docker-compose.airflow.yml"
MAKE_ENV = ROOT / "docker" / "make-env.sh"
PASSWORDS_SCRIPT = ROOT / "docker" / "simple_auth_passwords.py"
AIRFLOW_SERVICES = {"airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"}
LONG_LIVED = AIRFLOW_SERVICES | {"postgres", "redis", "mailpit", "automation-emitter", "airflow-worker"}
DEV_PROFILES = {"dev", "local"}
SECRET_NAME = re.compile(r"SECRET|PASSWORD|KEY|TOKEN")
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message}, ${NAME?message}
INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?P<op>:?[-?])?(?P<rest>[^}]*)\}")
GUARDED = re.compile(r"\$\{\w+:\?[^}]+\}")  # ${NAME:?message}: fails when unset *or empty*
URL_CREDENTIALS = re.compile(r"://(?P<user>[^:/@\s]+):(?P<password>.+?)@[\w.-]+[:/]")
SECRETS = {  # what a real .env holds (values only for the hermetic `_config` runs)
    "AIRFLOW_JWT_SECRET": "a" * 64,
    "AIRFLOW_API_SECRET_KEY": "b" * 64,
    "AIRFLOW_FERNET_KEY": "c" * 43 + "=",
    "POSTGRES_PASSWORD": "d" * 64,
    "AIRFLOW_ADMIN_PASSWORD": "e" * 32,
    "AIRFLOW_VIEWER_PASSWORD": "f" * 32,
}


def _compose(*args: str, env: dict[str, str], cwd: Path = ROOT, env_file: Path | None = None):
    """docker-compose with only `env` (plus PATH/HOME) in its environment and no ambient .env file."""
    compose = shutil.which("docker-compose")
    assert compose, "docker-compose is missing: `make test` installs Debian's docker-compose package"
    base = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    options = ["--env-file", str(env_file)] if env_file else []
    return subprocess.run(
        [compose, *options, "-f", str(cwd / COMPOSE_FILE.name), *args],
        capture_output=True, text=True, timeout=120, cwd=cwd, env={**base, **env},
    )  # fmt: skip


def _config(*args: str, env: dict[str, str] | None = None, tmp: Path) -> dict[str, Any]:
    empty = tmp / "empty.env"
    empty.touch()
    done = _compose(*args, "config", env={**SECRETS, **(env or {})}, env_file=empty)
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


def _host_ip(port: str | dict[str, Any]) -> str:
    """The host address of a published port in either output form ("" means all interfaces)."""
    if isinstance(port, dict):
        return str(port.get("host_ip", ""))
    parts = str(port).split(":")
    return parts[0] if len(parts) == 3 else ""


def _strings(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, text) of every string value in the raw (uninterpolated) file."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _strings(value, f"{path}[{index}]")
    elif isinstance(node, str):
        yield path, node


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    """The file as written (YAML merge keys applied, `${...}` untouched)."""
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _config("--profile", "celery", tmp=tmp_path_factory.mktemp("compose"))


@pytest.fixture()
def copy(tmp_path: Path) -> Path:
    """The compose file and docker/ in a fresh directory (so make-env.sh writes a .env there)."""
    shutil.copy(COMPOSE_FILE, tmp_path)
    shutil.copytree(ROOT / "docker", tmp_path / "docker")
    return tmp_path


def _make_env(directory: Path) -> dict[str, str]:
    done = subprocess.run(
        ["sh", str(directory / "docker" / "make-env.sh")], capture_output=True, text=True, timeout=60, check=True
    )
    assert "log in as admin" in done.stderr
    lines = (directory / ".env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


# --- the stack's shape -------------------------------------------------------------------------------------------


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


def test_init_migrates_both_databases_and_writes_the_logins_from_the_environment(config: dict[str, Any]) -> None:
    init = config["services"]["airflow-init"]
    script = "\n".join(_words(init["command"]))
    assert "airflow db migrate" in script and "python -m automation migrate" in script
    assert "python /opt/airflow/init/simple_auth_passwords.py" in script
    assert "COPY docker/simple_auth_passwords.py /opt/airflow/init/" in (ROOT / "docker" / "Dockerfile").read_text()
    assert init["environment"]["AIRFLOW_ADMIN_PASSWORD"] == SECRETS["AIRFLOW_ADMIN_PASSWORD"]
    # the login passwords reach the init container only
    for name, service in config["services"].items():
        if name != "airflow-init":
            assert "AIRFLOW_ADMIN_PASSWORD" not in service.get("environment", {}), name


def test_the_executor_is_chosen_by_the_environment(tmp_path: Path) -> None:
    celery = _config(env={"AIRFLOW_EXECUTOR": "CeleryExecutor"}, tmp=tmp_path)
    assert celery["services"]["airflow-scheduler"]["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    local = _config(tmp=tmp_path)
    assert local["services"]["airflow-scheduler"]["environment"]["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"


# --- no default secrets ------------------------------------------------------------------------------------------


def test_no_secret_variable_has_a_default_or_can_be_empty(raw: dict[str, Any]) -> None:
    seen = set()
    for path, text in _strings(raw):
        for found in INTERPOLATION.finditer(text):
            if SECRET_NAME.search(found["name"]):
                seen.add(found["name"])
                assert found["op"] == ":?" and found["rest"].strip(), (
                    f"{path}: {found[0]} must be ${{{found['name']}:?message}} (no default, not empty)"
                )
    assert set(SECRETS) <= seen


def test_no_literal_password_in_urls_or_secret_settings(raw: dict[str, Any]) -> None:
    for path, text in _strings(raw):
        for found in URL_CREDENTIALS.finditer(text):
            assert GUARDED.fullmatch(found["password"]), f"{path}: literal password in {text!r}"
        setting = path.rsplit(".", 1)[-1]
        if SECRET_NAME.search(setting) and not setting.endswith("_FILE"):
            assert GUARDED.fullmatch(text), f"{path}: {text!r} must come from ${{VAR:?message}}"
    assert GUARDED.fullmatch(raw["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"])


def test_no_user_whose_password_is_its_name_outside_a_dev_profile(raw: dict[str, Any]) -> None:
    """`admin:admin`, `"admin": "admin"`, `airflow:airflow@`: a credential anyone can guess."""
    same = re.compile(r"""\b(?P<name>[A-Za-z]\w*)["']?\s*[:=]\s*["']?(?P=name)\b""")
    for name, service in raw["services"].items():
        if DEV_PROFILES & set(service.get("profiles", [])):
            continue
        for path, text in _strings(service, f"services.{name}"):
            if path.endswith(".AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"):
                # name:role pairs, not passwords: every role must be a real role
                roles = {pair.split(":")[1] for pair in text.split(",")}
                assert roles <= {"admin", "op", "user", "viewer"}, text
                continue
            assert not same.search(text), f"{path}: guessable credential in {text!r}"


def test_the_stack_refuses_to_start_without_each_secret(copy: Path) -> None:
    bare = _compose("config", env={}, cwd=copy)
    assert bare.returncode != 0 and "run docker/make-env.sh" in bare.stderr, bare.stderr
    secrets = _make_env(copy)
    assert set(secrets) == set(SECRETS)
    for missing in secrets:
        (copy / ".env").write_text("".join(f"{k}={v}\n" for k, v in secrets.items() if k != missing))
        done = _compose("config", env={}, cwd=copy)
        assert done.returncode != 0, f"starts without {missing}"
        assert f"set {missing}" in done.stderr, done.stderr
        empty = _compose("config", env={missing: ""}, cwd=copy)
        assert empty.returncode != 0, f"starts with an empty {missing}"


def test_make_env_writes_private_url_safe_secrets_once_and_the_stack_then_starts(copy: Path) -> None:
    secrets = _make_env(copy)
    env_file = copy / ".env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert len(set(secrets.values())) == len(secrets), "every secret is its own"
    for name in ("AIRFLOW_JWT_SECRET", "AIRFLOW_API_SECRET_KEY", "POSTGRES_PASSWORD"):
        assert re.fullmatch(r"[0-9a-f]{64}", secrets[name]), name
    assert len(secrets["AIRFLOW_ADMIN_PASSWORD"]) >= 32
    from cryptography.fernet import Fernet

    Fernet(secrets["AIRFLOW_FERNET_KEY"].encode())  # a key Airflow accepts

    before = env_file.read_text()
    again = subprocess.run(["sh", str(copy / "docker" / "make-env.sh")], capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "keeping it" in again.stderr
    assert env_file.read_text() == before, "a second run must not replace the secrets the volumes use"

    done = _compose("--profile", "celery", "--profile", "dev", "config", env={}, cwd=copy)
    assert done.returncode == 0, done.stderr
    services = yaml.safe_load(done.stdout)["services"]
    password = secrets["POSTGRES_PASSWORD"]
    env = services["airflow-scheduler"]["environment"]
    assert (
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"postgresql+psycopg2://airflow:{password}@postgres:5432/airflow"
    )
    assert env["AIRFLOW_CONN_AUTOMATION_DB"] == f"postgresql://airflow:{password}@postgres:5432/automation"
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == password
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == secrets["AIRFLOW_JWT_SECRET"]
    assert env["AIRFLOW__CORE__FERNET_KEY"] == secrets["AIRFLOW_FERNET_KEY"]


def test_make_env_is_ignored_by_git() -> None:
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert ".env" in ignored, ".env holds the stack's secrets: list it in .gitignore"


# --- the login file ----------------------------------------------------------------------------------------------


def _write_passwords(tmp_path: Path, **passwords: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ["PATH"],
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,viewer:viewer",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(tmp_path / "passwords.json"),
        "AIRFLOW_UID": str(os.getuid()),
        **passwords,
    }
    return subprocess.run([sys.executable, str(PASSWORDS_SCRIPT)], capture_output=True, text=True, timeout=60, env=env)


def test_the_login_file_holds_the_passwords_from_the_environment_readable_by_its_owner_only(tmp_path: Path) -> None:
    done = _write_passwords(
        tmp_path, AIRFLOW_ADMIN_PASSWORD="s3cret-admin-passw0rd", AIRFLOW_VIEWER_PASSWORD="s3cret-viewer-passw0rd"
    )
    assert done.returncode == 0, done.stderr
    written = tmp_path / "passwords.json"
    assert json.loads(written.read_text()) == {"admin": "s3cret-admin-passw0rd", "viewer": "s3cret-viewer-passw0rd"}
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    # a changed password in .env replaces the old one on the next start
    done = _write_passwords(
        tmp_path, AIRFLOW_ADMIN_PASSWORD="another-admin-passw0rd", AIRFLOW_VIEWER_PASSWORD="s3cret-viewer-passw0rd"
    )
    assert done.returncode == 0 and json.loads(written.read_text())["admin"] == "another-admin-passw0rd"
    assert [p.name for p in tmp_path.iterdir()] == ["passwords.json"], "no temporary file left behind"


@pytest.mark.parametrize(
    ("passwords", "message"),
    [
        ({"AIRFLOW_ADMIN_PASSWORD": "s3cret-admin-passw0rd"}, "AIRFLOW_VIEWER_PASSWORD is not set"),
        ({"AIRFLOW_ADMIN_PASSWORD": "admin", "AIRFLOW_VIEWER_PASSWORD": "viewer-passw0rd!"}, "is too weak"),
    ],
)
def test_the_login_file_is_not_written_without_a_real_password(
    tmp_path: Path, passwords: dict[str, str], message: str
) -> None:
    done = _write_passwords(tmp_path, **passwords)
    assert done.returncode != 0 and message in done.stderr, done.stderr
    assert not (tmp_path / "passwords.json").exists()


# --- exposure ----------------------------------------------------------------------------------------------------


def test_published_ports_bind_to_loopback_unless_told_otherwise(tmp_path: Path) -> None:
    services = _config("--profile", "celery", "--profile", "dev", tmp=tmp_path)["services"]
    published = {name: service["ports"] for name, service in services.items() if service.get("ports")}
    assert {"airflow-apiserver", "mailpit"} <= set(published)
    for name, ports in published.items():
        for port in ports:
            assert _host_ip(port) == "127.0.0.1", f"{name} publishes {port} beyond this machine by default"
    exposed = _config(env={"AIRFLOW_BIND": "0.0.0.0"}, tmp=tmp_path)["services"]
    assert [_host_ip(port) for port in exposed["airflow-apiserver"]["ports"]] == ["0.0.0.0"]


def test_mailpit_runs_only_in_the_dev_profile(raw: dict[str, Any]) -> None:
    services = raw["services"]
    assert services["mailpit"]["profiles"] == ["dev"], "mailpit shows every sent email without a login"
    for name, service in services.items():
        if "dev" not in service.get("profiles", []):
            assert "mailpit" not in (service.get("depends_on") or {}), f"{name} needs mailpit outside dev"
    # outside dev, the SMTP connection is the operator's (AIRFLOW_CONN_SMTP_DEFAULT in .env)
    smtp = raw["x-airflow-common"]["environment"]["AIRFLOW_CONN_SMTP_DEFAULT"]
    assert smtp.startswith("${AIRFLOW_CONN_SMTP_DEFAULT:-"), smtp


# --- recovery and load -------------------------------------------------------------------------------------------


def test_every_long_lived_service_restarts_and_init_runs_once(config: dict[str, Any]) -> None:
    services = config["services"]
    for name in LONG_LIVED:
        assert services[name].get("restart") in {"always", "unless-stopped"}, name
    assert services["airflow-init"]["restart"] == "no"


def test_a_dead_schedulers_tasks_are_reset_in_about_thirty_seconds(config: dict[str, Any]) -> None:
    """Airflow's orphan check (every `interval` s) fails schedulers silent for `threshold` s and resets their
    queued/running tasks: worst case about threshold + interval after the crash (default 300 + 300)."""
    for name in AIRFLOW_SERVICES | {"airflow-worker", "automation-emitter", "airflow-init"}:
        env = config["services"][name]["environment"]
        interval = float(env["AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL"])
        threshold = float(env["AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD"])
        heartbeat_timeout = float(env["AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT"])
        scheduler_heartbeat = float(env["AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC"])
        assert (scheduler_heartbeat, interval, threshold, heartbeat_timeout) == (5, 10, 20, 60), name
        assert threshold >= 3 * scheduler_heartbeat, "a busy but live scheduler must not be declared dead"
        assert interval < threshold and threshold + interval <= 30, name
        task_heartbeat = 5  # [workers] min_heartbeat_interval, Airflow's default
        assert heartbeat_timeout >= 6 * task_heartbeat and heartbeat_timeout > threshold, name


POOL_PROBE = """
import json, os
from airflow import settings
from sqlalchemy import create_engine
engine = create_engine(os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], **settings.prepare_engine_args())
print(json.dumps({"size": engine.pool.size(), "overflow": engine.pool._max_overflow, "timeout": engine.pool.timeout()}))
"""


def test_the_api_server_pool_takes_a_burst_and_waits_briefly(config: dict[str, Any], tmp_path: Path) -> None:
    """Airflow's own engine set-up, given the api-server's database settings, builds the pool the docs promise
    (an option Airflow does not read would leave its 5 + 10 connections and 30 s wait)."""
    env = config["services"]["airflow-apiserver"]["environment"]
    database = {k: str(v) for k, v in env.items() if k.startswith("AIRFLOW__DATABASE__")}
    probe = subprocess.run(
        [sys.executable, "-c", POOL_PROBE],
        capture_output=True, text=True, timeout=120,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), "AIRFLOW_HOME": str(tmp_path), **database},
    )  # fmt: skip
    assert probe.returncode == 0, probe.stderr
    pool = json.loads(probe.stdout.strip().splitlines()[-1])
    assert pool == {"size": 10, "overflow": 30, "timeout": 10.0}, "the same pool as `make run`"
    api_peak = int(env["AIRFLOW__API__WORKERS"]) * (pool["size"] + pool["overflow"])
    command = _words(config["services"]["postgres"]["command"])
    max_connections = int(next(w.split("=")[1] for w in command if w.startswith("max_connections=")))
    # the other processes and the task processes keep the room Postgres' default of 100 gives them
    assert max_connections >= api_peak + 100, "Postgres must have room for every pool at its peak"
