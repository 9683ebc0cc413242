"""A throwaway embedded Postgres (and, when asked, a migrated Airflow database) for a benchmark."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))

from automation.local.embedded_db import EmbeddedPostgres, free_port  # noqa: E402


@contextmanager
def bench_env(airflow: bool = False) -> Iterator[dict[str, str]]:
    """Environment variables of a fresh stack; os.environ is updated (set before importing Airflow)."""
    from automation.local.stack import airflow_env, bin_path

    tmp = Path(tempfile.mkdtemp(prefix="automation-bench-"))
    pg = EmbeddedPostgres(tmp / "pg", free_port()).start()
    try:
        for name in ("airflow", "automation"):
            pg.create_database(name)
        env = airflow_env(tmp / "airflow", pg, api_port=free_port())
        env["AIRFLOW__CORE__DAGS_FOLDER"] = str(tmp)
        os.environ.update(env)
        if airflow:
            subprocess.run([bin_path("airflow"), "db", "migrate"], check=True, capture_output=True)
        from automation.demo import create_demo_crm
        from automation.store.migrate import upgrade

        upgrade()
        create_demo_crm()
        yield {**os.environ, "BENCH_TMP": str(tmp)}
    finally:
        if "airflow.settings" in sys.modules:
            sys.modules["airflow.settings"].dispose_orm()
        from automation.store.db import dispose_engines

        dispose_engines()
        pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)
