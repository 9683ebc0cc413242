"""`automation init`: put this product's thin DAG files into an existing Airflow's dags folder.

Invariants: the bodies written are the repository's `dags/*.py` (from the checkout, or the copy a wheel
carries), byte for byte; writing is idempotent (an identical file is left alone); a file that differs is
replaced only with `force`, and when one would be refused nothing at all is written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from automation.config import DB_CONN_ID, PROJECT_ROOT, running_from_checkout
from automation.errors import AutomationError

#: The DAG files a deployment needs: one DAG per stored workflow, and the maintenance DAGs.
DAG_FILES = ("automation_workflows.py", "automation_maintenance.py")
#: Where a built wheel carries the copy of dags/*.py (setup.py's build step).
PACKAGED_DAGS = Path(__file__).resolve().parent / "_dags"


class InstallError(AutomationError):
    """The dags folder cannot be written as asked; the message says what to do."""


def dag_sources_dir() -> Path:
    """The directory holding the DAG file bodies: the checkout's dags/, else the wheel's copy."""
    return PROJECT_ROOT / "dags" if running_from_checkout() else PACKAGED_DAGS


def dag_file_body(name: str) -> bytes:
    path = dag_sources_dir() / name
    if not path.is_file():
        raise InstallError(f"{path}: the DAG file {name} is missing from this installation; reinstall the package")
    return path.read_bytes()


@dataclass(frozen=True)
class Written:
    path: Path
    status: str  # "written" (new), "unchanged" (identical already), "replaced" (differed; --force)


def write_dag_files(dags_folder: Path, *, force: bool = False) -> list[Written]:
    """Write DAG_FILES into `dags_folder` (which must exist: it is Airflow's). Raises InstallError, having
    written nothing, if a file there differs and `force` is false."""
    if not dags_folder.is_dir():
        raise InstallError(
            f"--dags-folder {dags_folder}: not a directory; give your Airflow's dags folder "
            "(`airflow config get-value core dags_folder` prints it)"
        )
    plan: list[tuple[Path, bytes, str]] = []
    conflicts = []
    for name in DAG_FILES:
        body = dag_file_body(name)
        target = dags_folder / name
        if not target.exists():
            plan.append((target, body, "written"))
        elif target.is_file() and target.read_bytes() == body:
            plan.append((target, body, "unchanged"))
        elif target.is_file() and force:
            plan.append((target, body, "replaced"))
        else:
            conflicts.append(target)
    if conflicts:
        names = ", ".join(str(path) for path in conflicts)
        raise InstallError(
            f"{names}: exists and differs from this version's DAG file; nothing was written. "
            "Move it away, or run again with --force to replace it"
        )
    for target, body, status in plan:
        if status != "unchanged":
            temporary = target.with_name(f".{target.name}.tmp")
            temporary.write_bytes(body)
            os.replace(temporary, target)  # the dag-processor never parses a half-written file
    return [Written(target, status) for target, _, status in plan]


def next_steps() -> str:
    """What is left to do after the DAG files are in place."""
    return f"""Next steps:
  1. Create the Airflow connections (Admin > Connections, `airflow connections add`, AIRFLOW_CONN_* variables
     or your secrets backend):
       {DB_CONN_ID:<20} the Postgres database that stores workflows, events and runs
                            e.g. postgresql://user:password@host:5432/automation
       airflow_metadata_db  Airflow's own metadata database (the maintenance DAGs read run history there)
       smtp_default         your SMTP server, for the send_email action and alerts
  2. Create or upgrade the automation schema:  automation migrate
  3. Make the package importable by every Airflow component (scheduler, dag-processor, workers, api-server)
     and restart them: the plugin adds the API and the pages under /automation, the DAG files above
     turn stored workflows into DAGs."""
