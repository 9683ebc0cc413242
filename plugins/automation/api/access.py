"""Airflow's DAG authorization, per workflow: a route with a `{key}` is checked against that
workflow's DAG (`automation__<key>`), and lists keep only the workflows whose DAG the user may read,
so an auth manager with per-DAG permissions (FAB roles, Keycloak...) applies to workflows as it does
to their DAGs. Routes without a key need the DAG permission without a DAG id, as Airflow's own
DAG list does."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from fastapi import Depends, Request

from automation.config import dag_id_for

Method = Literal["GET", "POST", "PUT", "DELETE"]


def dag_access(method: Method, access_entity: Any = None) -> Any:
    """A route dependency: Airflow's `requires_access_dag`, on the path's workflow when it has one."""
    from airflow.api_fastapi.core_api.security import get_user, requires_access_dag

    def check(request: Request, user: Any = Depends(get_user)) -> None:  # noqa: B008
        key = request.path_params.get("key")
        requires_access_dag(method, access_entity, param_dag_id=dag_id_for(key) if key else None)(request, user)

    return Depends(check)


def current_user() -> Any:
    from airflow.api_fastapi.core_api.security import get_user

    return Depends(get_user)


def readable_keys(user: Any, keys: Iterable[str], access_entity: Any = None) -> set[str]:
    """The workflows among `keys` whose DAG `user` may read (their runs, with DagAccessEntity.RUN)."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails

    manager = get_auth_manager()
    return {
        key for key in keys
        if manager.is_authorized_dag(method="GET", access_entity=access_entity, details=DagDetails(id=dag_id_for(key)),
                                     user=user)
    }  # fmt: skip
