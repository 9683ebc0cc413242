"""The DAG factory: every buildable workflow definition -> one Airflow DAG.

Rules (DESIGN.md section 5): never raise, one query per parse, fall back to the last-known-good
snapshot when the database is unreachable, skip (and record) what cannot be built, and on a worker
build only the DAG being run. `build_dags` is imported on first use, so that what only needs to know
which file holds a workflow (`factory.shards`: the services, `automation init`) imports no Airflow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from automation.factory.loader import build_dags

__all__ = ["build_dags"]


def __getattr__(name: str) -> Any:
    if name == "build_dags":
        from automation.factory.loader import build_dags

        return build_dags
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
