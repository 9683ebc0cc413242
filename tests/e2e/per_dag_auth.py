"""An auth manager with per-DAG permissions, for the tests: Airflow's simple auth manager plus the
kind of DAG-level rule FAB roles or Keycloak give an operator (those run outside this machine).
The user `sales` (role viewer) may only read the DAGs of CRM workflows (`automation__crm-*`); the user
`crm-editor` reads every DAG its role may, and changes (any method but GET) only those of CRM workflows."""

from __future__ import annotations

from typing import Any

from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

RESTRICTED_USER = "sales"
ALLOWED_PREFIX = "automation__crm-"
WRITE_RESTRICTED_USER = "crm-editor"


class PerDagSimpleAuthManager(SimpleAuthManager):
    def is_authorized_dag(self, *, method: Any, user: Any, access_entity: Any = None, details: Any = None) -> bool:
        dag_id = getattr(details, "id", None)
        if user.username == RESTRICTED_USER and dag_id and not dag_id.startswith(ALLOWED_PREFIX):
            return False
        if (
            user.username == WRITE_RESTRICTED_USER
            and method != "GET"
            and dag_id
            and not dag_id.startswith(ALLOWED_PREFIX)
        ):
            return False
        return super().is_authorized_dag(method=method, user=user, access_entity=access_entity, details=details)
