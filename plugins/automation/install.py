"""`automation init`: put this product's thin DAG files into an existing Airflow's dags folder.

Invariants: the bodies written are the repository's `dags/*.py` (from the checkout, or the copy a wheel
carries), byte for byte; the workflow DAG file is written once per shard (`[automation] dag_shards`, or
`shards`), under each shard's name (`factory.shards`), every copy the same body; writing is idempotent (an
identical file is left alone); a file that differs is replaced only with `force`, and when one would be
refused nothing at all is written. Workflow DAG files of shards beyond the count are left in place and
reported: they build nothing, and removing one is safe once Airflow has parsed the others.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from automation.config import DB_CONN_ID, MAX_DAG_SHARDS, PROJECT_ROOT, dag_shards, running_from_checkout
from automation.errors import AutomationError
from automation.factory.shards import shard_file_name, shard_file_names, shard_of_file

#: The workflow DAG file's body (shard 0's name) and the maintenance DAGs' file.
WORKFLOWS_DAG_FILE = shard_file_name(0)
MAINTENANCE_DAG_FILE = "automation_maintenance.py"
#: The bodies in dags/: the workflow DAG file (written once per shard) and the maintenance DAGs.
DAG_FILES = (WORKFLOWS_DAG_FILE, MAINTENANCE_DAG_FILE)
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
    #: "written" (new), "unchanged" (identical already), "replaced" (differed; --force), "beyond the shard
    #: count" (a workflow DAG file of a larger count, left as it is: it builds nothing)
    status: str


def _files(shards: int) -> list[tuple[str, str]]:
    """(name in the dags folder, name of its body in dags/) of every file to write."""
    workflows = [(name, WORKFLOWS_DAG_FILE) for name in shard_file_names(shards)]
    return [*workflows, (MAINTENANCE_DAG_FILE, MAINTENANCE_DAG_FILE)]


def _beyond(dags_folder: Path, shards: int) -> list[Written]:
    """Workflow DAG files in `dags_folder` whose shard is not below `shards` (they build nothing)."""
    names = {path.name for path in dags_folder.glob(f"{WORKFLOWS_DAG_FILE[:-3]}_*.py")}
    return [
        Written(dags_folder / name, "beyond the shard count")
        for name in sorted(names, key=shard_of_file)
        if name == shard_file_name(shard_of_file(name)) and shard_of_file(name) >= shards
    ]


def write_dag_files(dags_folder: Path, *, force: bool = False, shards: int | None = None) -> list[Written]:
    """Write the DAG files into `dags_folder` (which must exist: it is Airflow's): the workflow DAG file once
    per shard (`shards`, default `[automation] dag_shards`) and the maintenance DAGs' file. Raises
    InstallError, having written nothing, if a file there differs and `force` is false."""
    if not dags_folder.is_dir():
        raise InstallError(
            f"--dags-folder {dags_folder}: not a directory; give your Airflow's dags folder "
            "(`airflow config get-value core dags_folder` prints it)"
        )
    count = dag_shards() if shards is None else shards
    if not 1 <= count <= MAX_DAG_SHARDS:
        raise InstallError(f"--shards {count}: give a number of workflow DAG files from 1 to {MAX_DAG_SHARDS}")
    plan: list[tuple[Path, bytes, str]] = []
    conflicts = []
    for name, source in _files(count):
        body = dag_file_body(source)
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
    return [Written(target, status) for target, _, status in plan] + _beyond(dags_folder, count)


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
