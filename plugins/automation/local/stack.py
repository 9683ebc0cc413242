"""Environment and processes of a local Airflow 3.3 with this repo's DAGs and plugin.

`make run` and the end-to-end tests both use it, so what the tests start is what users run.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from automation.config import PROJECT_ROOT
from automation.local.embedded_db import EmbeddedPostgres

AIRFLOW_PROCESSES = ("api-server", "scheduler", "dag-processor", "triggerer")
#: Processes of this project started beside Airflow's: the event emitter (outbox, crash recovery).
AUTOMATION_PROCESSES = ("emitter",)
USERS = {"admin": "admin", "viewer": "viewer"}


def _secret(home: Path, name: str) -> str:
    """A random secret made once per installation and reused (tokens survive a restart)."""
    path = home / f".{name}"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
    return path.read_text().strip()


def airflow_env(
    airflow_home: Path,
    pg: EmbeddedPostgres,
    *,
    api_port: int,
    automation_db: str = "automation",
    airflow_db: str = "airflow",
    parse_interval: int = 10,
    extra: dict[str, str] | None = None,
    extra_users: dict[str, str] | None = None,
) -> dict[str, str]:
    """`extra_users`: more simple-auth-manager logins, username -> role (the password is the username)."""
    airflow_home.mkdir(parents=True, exist_ok=True)
    users = {**USERS, **(extra_users or {})}
    passwords = airflow_home / "passwords.json"
    passwords.write_text(json.dumps({name: name for name in users}))
    base = f"http://127.0.0.1:{api_port}"
    env = {
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": pg.url(airflow_db).replace("postgresql://", "postgresql+psycopg2://"),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{name}:{role}" for name, role in users.items()),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base}/execution/",
        "AIRFLOW__CORE__PARALLELISM": "16",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__BASE_URL": base,
        "AIRFLOW__API__WORKERS": os.environ.get("AUTOMATION_API_WORKERS", "2"),  # measured: benchmarks/events.py
        "AIRFLOW__API__SECRET_KEY": _secret(airflow_home, "api_secret_key"),
        "AIRFLOW__API_AUTH__JWT_SECRET": _secret(airflow_home, "jwt_secret"),
        # an edit shows in the UI within 30 s: rescan and re-parse the DAG file every `parse_interval`
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": str(parse_interval),
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": str(parse_interval),
        "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": str(parse_interval),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "AIRFLOW_CONN_AUTOMATION_DB": pg.url(automation_db),
        # the maintenance tasks' way into Airflow's DB (Airflow 3 blocks its ORM in task processes)
        "AIRFLOW_CONN_AIRFLOW_METADATA_DB": pg.url(airflow_db),
        "AUTOMATION_STATE_DIR": str(airflow_home / "automation"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT / "plugins"), os.environ.get("PYTHONPATH")])),
        "NO_PROXY": "*",
        **(extra or {}),
    }
    return env


def bin_path(name: str) -> str:
    """A console script of this virtualenv (`airflow`, `automation`)."""
    candidate = Path(sys.executable).with_name(name)
    return str(candidate) if candidate.exists() else name


def run_command(args: list[str], env: dict[str, str], *, timeout: float = 600) -> None:
    subprocess.run(args, env={**os.environ, **env}, check=True, timeout=timeout)


def prepare(env: dict[str, str], *, import_demo: bool) -> None:
    """Migrate Airflow's and the automation database; create the demo CRM; import the demos."""
    run_command([bin_path("airflow"), "db", "migrate"], env)
    automation = [sys.executable, "-m", "automation"]
    run_command([*automation, "migrate"], env)
    run_command([*automation, "demo-setup"], env)
    if import_demo:
        from automation.demo import DEMO_WORKFLOWS

        run_command([*automation, "import", str(DEMO_WORKFLOWS)], env)


@dataclass
class AirflowProcesses:
    env: dict[str, str]
    log_dir: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, names: tuple[str, ...] = AIRFLOW_PROCESSES + AUTOMATION_PROCESSES) -> AirflowProcesses:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for name in names:
            log = (self.log_dir / f"{name}.log").open("ab")
            command = [sys.executable, "-m", "automation", name] if name in AUTOMATION_PROCESSES else [
                bin_path("airflow"), *name.split()]  # fmt: skip
            self.processes[name] = subprocess.Popen(
                command,
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def dead(self) -> list[str]:
        return [name for name, proc in self.processes.items() if proc.poll() is not None]

    def kill(self, name: str) -> None:
        """SIGKILL one process group at once (a crash, for recovery tests)."""
        proc = self.processes.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM each process group (Airflow forks workers), then SIGKILL what is left."""
        for proc in self.processes.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        self.processes.clear()

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.log_dir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""
