"""Writes Airflow's SimpleAuthManager passwords file from the environment, never from defaults.

Invariant: every user named in AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS (name:role pairs) gets the password in
AIRFLOW_<NAME>_PASSWORD, which must be set, at least 12 characters and not the user's name; otherwise nothing is
written and the process exits non-zero naming the variable to set. The file is replaced atomically, mode 0600,
owned by the Airflow user (AIRFLOW_UID, 50000 in the official image) when run as root. Run by airflow-init in
docker-compose.airflow.yml at every start, so changing a password in .env takes effect on the next `up`.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

MIN_LENGTH = 12


def passwords_from_env(env: dict[str, str]) -> dict[str, str]:
    """{user: password}, or SystemExit naming every variable to fix."""
    users = [pair.split(":")[0].strip() for pair in env.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "").split(",")]
    passwords: dict[str, str] = {}
    problems: list[str] = []
    for user in filter(None, users):
        variable = f"AIRFLOW_{user.upper().replace('-', '_')}_PASSWORD"
        password = env.get(variable, "")
        if not password:
            problems.append(f"{variable} is not set (run docker/make-env.sh, or set it in .env)")
        elif len(password) < MIN_LENGTH or password == user:
            problems.append(f"{variable} is too weak: use at least {MIN_LENGTH} random characters")
        else:
            passwords[user] = password
    if problems:
        raise SystemExit("simple_auth_passwords: " + "; ".join(problems))
    return passwords


def write(path: Path, passwords: dict[str, str], uid: int, gid: int) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        if os.geteuid() == 0:
            os.fchown(descriptor, uid, gid)
        with os.fdopen(descriptor, "w") as file:
            file.write(json.dumps(passwords) + "\n")
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def main() -> None:
    env = dict(os.environ)
    path = Path(env.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", ""))
    if not path.name:
        sys.exit("simple_auth_passwords: AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE is not set")
    passwords = passwords_from_env(env)
    write(path, passwords, uid=int(env.get("AIRFLOW_UID", "50000")), gid=0)
    print(f"simple_auth_passwords: wrote {path} for {', '.join(sorted(passwords))}")


if __name__ == "__main__":
    main()
