"""Environment and processes of a local Airflow 3.3 with this repo's DAGs and plugin.

`make run` and the end-to-end tests both use it, so what the tests start is what users run.
Invariants: secrets it writes are readable by their owner only (0600); a process of the stack
that dies is started again by `AirflowProcesses.supervise` after a growing pause (1, 2, 4 ... 30 s),
with the reason (exit code, last log lines) reported, until the stack is stopped.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from automation.config import PROJECT_ROOT
from automation.install import dag_sources_dir
from automation.local.embedded_db import EmbeddedPostgres, read_private, write_private

AIRFLOW_PROCESSES = ("api-server", "scheduler", "dag-processor", "triggerer")
#: Processes of this project started beside Airflow's: the event emitter (outbox, crash recovery).
AUTOMATION_PROCESSES = ("emitter",)
USERS = {"admin": "admin", "viewer": "viewer"}


#: Crash recovery (issue 12): a dead scheduler's queued/running task instances are reset by the next
#: scheduler once the dead one's heartbeat is older than the threshold (20 s; 4 missed 5 s beats) at
#: the next orphan check (every 10 s, Airflow's default 300 s): within about 30 s instead of ~5 min
#: (measured: 21 s; with compose's 30 s threshold and 15 s interval, 41 s). A task process that died
#: (its heartbeats, every 5 s, stop) is failed or retried after 60 s (default 300 s).
RECOVERY_SETTINGS = {
    "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "5",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD": "20",
    "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "10",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "60",
}

#: Airflow's metadata DB pool per process (default 5 + 10, 30 s wait). An api-server worker runs sync
#: endpoints (the token's revocation check, the execution API the tasks call) on up to 40 threads
#: (anyio's default): a pool of 10 + 30 gives each of them a connection, so a burst never queues for
#: one; a wait beyond 10 s (pool_timeout) is an overload to report, not to sit out. The engine args
#: repeat Airflow's defaults for psycopg2, which a set value replaces.
POOL_SETTINGS = {
    "AIRFLOW__DATABASE__SQL_ALCHEMY_POOL_SIZE": "10",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_MAX_OVERFLOW": "30",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_ENGINE_ARGS": json.dumps(
        {
            "pool_timeout": 10,
            "insertmanyvalues_page_size": 10000,
            "executemany_mode": "values_plus_batch",
            "executemany_batch_page_size": 2000,
        }
    ),
}


def _secret(home: Path, name: str) -> str:
    """A random secret made once per installation and reused (tokens survive a restart), 0600."""
    return read_private(home / f".{name}")


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
    write_private(passwords, json.dumps({name: name for name in users}))
    base = f"http://127.0.0.1:{api_port}"
    env = {
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": pg.url(airflow_db).replace("postgresql://", "postgresql+psycopg2://"),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__DAGS_FOLDER": str(dag_sources_dir()),  # the checkout's dags/, or the wheel's copy
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
        "AIRFLOW__AUTOMATION__STATE_DIR": str(airflow_home / "automation"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT / "plugins"), os.environ.get("PYTHONPATH")])),
        "NO_PROXY": "*",
        **RECOVERY_SETTINGS,
        **POOL_SETTINGS,
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


def _how_it_ended(code: int) -> str:
    return f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"


@dataclass
class AirflowProcesses:
    env: dict[str, str]
    log_dir: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    #: a process's command line when it is not `airflow <name>` or `python -m automation <name>`
    commands: dict[str, list[str]] = field(default_factory=dict)
    #: longest pause before a restart; a process that stayed up `stable_seconds` starts over at 1 s
    max_backoff: float = 30.0
    stable_seconds: float = 60.0
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _started: dict[str, float] = field(default_factory=dict, repr=False)
    _failures: dict[str, int] = field(default_factory=dict, repr=False)
    _due: dict[str, float] = field(default_factory=dict, repr=False)

    def _command(self, name: str) -> list[str]:
        if name in self.commands:
            return self.commands[name]
        if name in AUTOMATION_PROCESSES:
            return [sys.executable, "-m", "automation", name]
        return [bin_path("airflow"), *name.split()]

    def _spawn(self, name: str) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with (self.log_dir / f"{name}.log").open("ab") as log:
            self.processes[name] = subprocess.Popen(
                self._command(name),
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._started[name] = time.monotonic()

    def start(self, names: tuple[str, ...] = AIRFLOW_PROCESSES + AUTOMATION_PROCESSES) -> AirflowProcesses:
        """The api-server first, and the rest once it answers: a task the scheduler starts earlier fails its
        first try on the execution API and waits out its retry delay (minutes for the maintenance DAGs)."""
        first = [name for name in names if name == "api-server" and len(names) > 1]
        with self._lock:
            for name in first:
                self._due.pop(name, None)
                self._spawn(name)
        if first:
            self._wait_for_api_server()
        with self._lock:
            for name in names:
                if name not in first:
                    self._due.pop(name, None)
                    self._spawn(name)
        return self

    def _wait_for_api_server(self, timeout: float = 180) -> None:
        """Until the api-server's health answers, it dies, or `timeout` (then the rest start anyway)."""
        url = self.env.get("AIRFLOW__API__BASE_URL", "").rstrip("/") + "/api/v2/monitor/health"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.processes["api-server"].poll() is None:
            try:
                with urllib.request.urlopen(url, timeout=2):
                    return
            except OSError:
                time.sleep(0.5)

    def dead(self) -> list[str]:
        with self._lock:
            return [name for name, proc in self.processes.items() if proc.poll() is not None]

    def supervise(self, now: float | None = None) -> list[str]:
        """Start again what died: after 1 s, then 2, 4 ... `max_backoff` s while it keeps dying (a
        process up for `stable_seconds` starts over at 1 s). Returns what happened, one message each:
        why a process stopped (exit code, its last log lines) and when it is started again."""
        now = time.monotonic() if now is None else now
        messages = []
        with self._lock:
            for name, proc in list(self.processes.items()):
                code = proc.poll()
                if code is None:
                    if now - self._started.get(name, now) >= self.stable_seconds:
                        self._failures.pop(name, None)
                    continue
                if name not in self._due:
                    with contextlib.suppress(ProcessLookupError):  # its forks (workers) go with it
                        os.killpg(proc.pid, signal.SIGKILL)
                    failures = self._failures.get(name, 0)
                    delay = min(2.0**failures, self.max_backoff)
                    self._failures[name] = failures + 1
                    self._due[name] = now + delay
                    how = _how_it_ended(code)
                    messages.append(
                        f"{name} {how}; starting it again in {delay:.0f}s. Its last log lines:\n"
                        + self.log_tail(name, 20)
                    )
                if now >= self._due[name]:
                    del self._due[name]
                    with (self.log_dir / f"{name}.log").open("a") as log:
                        log.write(f"--- started again by the supervisor: it {_how_it_ended(code)} ---\n")
                    self._spawn(name)
                    self._started[name] = now
                    messages.append(f"{name} started again (pid {self.processes[name].pid})")
        return messages

    @contextlib.contextmanager
    def supervised(self, interval: float = 1.0, report: Callable[[str], None] | None = None) -> Iterator[None]:
        """`supervise()` every `interval` s in a thread until the block ends (tests; `make run` loops itself)."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(interval):
                for message in self.supervise():
                    (report or print)(message)

        thread = threading.Thread(target=loop, name="supervisor", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(30)

    def kill(self, name: str) -> None:
        """SIGKILL one process group at once (a crash, for recovery tests); it is not started again."""
        with self._lock:
            proc = self.processes.pop(name)
            self._due.pop(name, None)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM each process group (Airflow forks workers), then SIGKILL what is left."""
        with self._lock:
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
            self._due.clear()

    def log_tail(self, name: str, lines: int = 40) -> str:
        """The last `lines` lines of a process's log (read from its last 256 KB: logs of a long `make run` grow)."""
        path = self.log_dir / f"{name}.log"
        if not path.exists():
            return ""
        with path.open("rb") as log:
            log.seek(max(0, path.stat().st_size - 256 * 1024))
            return "\n".join(log.read().decode(errors="replace").splitlines()[-lines:])
