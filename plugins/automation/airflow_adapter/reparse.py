"""Ask Airflow's dag-processor to re-parse DAG files now (what `PUT /api/v2/parseDagFile/{file_token}` does).

Relies on: the ORM models `airflow.models.dagbag.DagPriorityParsingRequest` (the table
`dag_priority_parsing_request`: `bundle_name`, `relative_fileloc`, an `id` that is the MD5 of
`"<bundle_name>:<relative_fileloc>"`, so one file has at most one pending request) and
`airflow.models.dag.DagModel` (`dag_id`, `bundle_name`, `relative_fileloc`). The dag-processor claims the
table's rows at every loop (about once a second) and parses their files first. The public route needs a
running api-server, a token and a file token per DAG (a file holding no DAG yet has none); the CLI saves
workflows without any of these.

A file is found through the DAGs Airflow already has from its folder: the folders (per bundle) of the files
named in `beside` from which Airflow has a DAG whose id starts with `dag_id_prefix`; a file of the requested
name is asked for in each (a file holding no DAG yet is found too, beside its siblings). Nothing is requested
before Airflow has parsed one such DAG: the dag-processor parses a new file on its own when it first lists it.

A DAG that its file no longer builds (a deleted or drafted workflow) is marked stale (`DagModel.is_stale`),
which is what the dag-processor concludes on its own only a minute or two later (`[dag_processor]
stale_dag_threshold` after its file's parse, at its next stale scan); a parse that builds the DAG again clears
the mark, as for any DAG.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Collection, Iterable

from automation.airflow_adapter.db import metadata_session, require_metadata_db


def request_id(bundle_name: str, relative_fileloc: str) -> str:
    """The request's primary key, as Airflow makes it (`airflow.models.dagbag.generate_md5_hash`)."""
    return hashlib.md5(f"{bundle_name}:{relative_fileloc}".encode(), usedforsecurity=False).hexdigest()


def request_reparse(file_names: Iterable[str], *, dag_id_prefix: str, beside: Collection[str]) -> list[tuple[str, str]]:
    """Request a parse of each file named in `file_names`, in every bundle folder where Airflow has a DAG
    whose id starts with `dag_id_prefix` from a file named in `beside`; the (bundle, relative path) pairs
    requested (those already pending included). Raises when Airflow's metadata database cannot be reached."""
    from sqlalchemy.exc import IntegrityError

    names = sorted(set(file_names))
    if not names:
        return []
    require_metadata_db()
    try:
        return _request(names, dag_id_prefix, beside)
    except IntegrityError:  # another process requested one of the files meanwhile: it is now pending
        return _request(names, dag_id_prefix, beside)


def _request(names: list[str], dag_id_prefix: str, beside: Collection[str]) -> list[tuple[str, str]]:
    from airflow.models.dag import DagModel
    from airflow.models.dagbag import DagPriorityParsingRequest
    from sqlalchemy import select

    with metadata_session() as session:
        located = session.execute(
            select(DagModel.bundle_name, DagModel.relative_fileloc)
            .where(DagModel.dag_id.startswith(dag_id_prefix, autoescape=True))
            .where(DagModel.bundle_name.is_not(None), DagModel.relative_fileloc.is_not(None))
            .distinct()
        ).all()
        folders = sorted(
            {(bundle, posixpath.dirname(path)) for bundle, path in located if posixpath.basename(path) in beside}
        )
        wanted = {
            request_id(bundle, posixpath.join(folder, name)): (bundle, posixpath.join(folder, name))
            for bundle, folder in folders
            for name in names
        }
        if not wanted:
            return []
        pending = set(
            session.scalars(select(DagPriorityParsingRequest.id).where(DagPriorityParsingRequest.id.in_(list(wanted))))
        )
        for ident, (bundle, path) in wanted.items():
            if ident not in pending:
                request = DagPriorityParsingRequest(bundle_name=bundle, relative_fileloc=path)
                request.id = ident
                session.add(request)
    return sorted(wanted.values())


def mark_dags_stale(dag_ids: Iterable[str]) -> int:
    """Mark the DAGs stale (gone from the UI and the scheduler, history kept); how many Airflow knew. Raises
    when Airflow's metadata database cannot be reached."""
    from airflow.models.dag import DagModel
    from sqlalchemy import update

    wanted = sorted(set(dag_ids))
    if not wanted:
        return 0
    require_metadata_db()
    with metadata_session() as session:
        changed = session.execute(update(DagModel).where(DagModel.dag_id.in_(wanted)).values(is_stale=True))
    return int(changed.rowcount or 0)
