"""`make run`: embedded Postgres + Airflow 3.3 (api-server, scheduler, dag-processor, triggerer).

Data lives under `.automation/` and is reused by the next run (the Postgres password in
`.automation/pgpass`, 0600); Ctrl-C stops everything started. A process that dies (Postgres
included) is started again with backoff, with the reason printed; the stack never stops by itself.
"""

from __future__ import annotations

import os
import shlex
import signal
import sys
import time
import urllib.request
from pathlib import Path

from automation.airflow_adapter.db import METADATA_CONN_ID
from automation.config import DB_CONN_ID
from automation.local.embedded_db import EmbeddedPostgres
from automation.local.stack import USERS, AirflowProcesses, airflow_env, prepare


def _wait_for_ui(url: str, procs: AirflowProcesses, timeout: float = 180) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "api-server" in procs.dead():
            return False
        for message in procs.supervise():  # the others are started again meanwhile
            print(message, file=sys.stderr, flush=True)
        try:
            with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=2):
                return True
        except OSError:
            time.sleep(1)
    return False


def cli_environment(pg: EmbeddedPostgres, automation_db: str = "automation", airflow_db: str = "airflow") -> str:
    """The shell assignments the `automation` CLI needs beside `make run`: both connections, the
    definitions database and Airflow's (activate/deactivate/import --activate pause and unpause DAGs
    there). The password stays in its file: the line reads it when run."""
    password = f"$(cat {shlex.quote(str(pg.password_path))})"
    return " ".join(
        f'AIRFLOW_CONN_{name}="postgresql://postgres:{password}@{pg.host}:{pg.port}/{db}"'
        for name, db in ((DB_CONN_ID.upper(), automation_db), (METADATA_CONN_ID.upper(), airflow_db))
    )


def supervise(pg: EmbeddedPostgres, procs: AirflowProcesses, interval: float = 1.0) -> None:
    """Forever: start Postgres again when it is gone, and any process of the stack that died."""
    while True:
        if not pg.alive():
            print(f"Postgres stopped unexpectedly; starting it again (log: {pg.pgdata / 'server.log'})",
                  file=sys.stderr, flush=True)  # fmt: skip
            try:
                pg.start()
            except Exception as exc:
                print(f"Postgres did not start: {exc}", file=sys.stderr, flush=True)
        for message in procs.supervise():
            print(message, file=sys.stderr, flush=True)
        time.sleep(interval)


def main() -> int:
    # Ctrl-C must stop everything even when started from a shell that ignores SIGINT (background jobs)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    root = Path(os.environ.get("AUTOMATION_HOME", ".automation")).resolve()
    pg_port = int(os.environ.get("AUTOMATION_PG_PORT", "54329"))
    api_port = int(os.environ.get("AUTOMATION_UI_PORT", "8080"))
    pg = EmbeddedPostgres(root / "pgdata", pg_port)
    print(f"Starting embedded Postgres on 127.0.0.1:{pg_port} (data in {pg.pgdata})", flush=True)
    pg.start()
    procs: AirflowProcesses | None = None
    try:
        for name in ("airflow", "automation"):
            pg.create_database(name)
        env = airflow_env(root / "airflow", pg, api_port=api_port)
        marker = root / ".demo-imported"
        print("Migrating the Airflow and automation databases...", flush=True)
        prepare(env, import_demo=not marker.exists())
        marker.touch()
        procs = AirflowProcesses(env, root / "logs").start()
        url = f"http://127.0.0.1:{api_port}"
        if not _wait_for_ui(url, procs):
            print("The Airflow api-server did not start:\n" + procs.log_tail("api-server"), file=sys.stderr)
            return 1
        print(
            f"\nAirflow Automations is running.\n  UI:     {url}\n  Login:  admin / {USERS['admin']}"
            f"  (read-only: viewer / {USERS['viewer']})\n  Logs:   {procs.log_dir}\n"
            f"  CLI:    {cli_environment(pg)} .venv/bin/automation list\n"
            "Press Ctrl-C to stop.",
            flush=True,
        )
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        supervise(pg, procs)
        return 0
    except KeyboardInterrupt:
        print("\nStopping...", flush=True)
        return 0
    finally:
        if procs is not None:
            procs.stop()
        pg.stop()
        print("Stopped Airflow and Postgres.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
