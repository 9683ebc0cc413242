"""Airflow's configuration, read as Airflow reads it (airflow.cfg, AIRFLOW__* variables, _cmd and
_secret forms).

Relies on: `airflow.configuration.conf` (core's parser) and its `sensitive_config_values` set. The
Task SDK's `airflow.sdk.conf` is the public parser in task processes, but the options read here
belong to the servers and the CLI (`[api] base_url`, `[api] secret_key`, `[database]
sql_alchemy_conn`, the plugin's own `[automation]` section), and only core's parser resolves
`_cmd`/`_secret` forms of options it has not seen in its own config description unless they are
marked sensitive. Importing it costs about 1.5 s (most of Airflow): callers import it lazily."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any


def airflow_conf() -> Any:
    """Airflow's configuration parser (`airflow.configuration.conf`)."""
    from airflow.configuration import conf

    return conf


def loaded() -> bool:
    """Airflow's configuration is already loaded in this process (reading it costs nothing more)."""
    return "airflow.configuration" in sys.modules


def mark_sensitive(section: str, options: Iterable[str]) -> None:
    """Let Airflow resolve `AIRFLOW__<SECTION>__<OPTION>_CMD` / `_SECRET` for these options (it does
    so only for options it knows as sensitive)."""
    airflow_conf().sensitive_config_values.update((section, option) for option in options)


def get(section: str, key: str, fallback: str = "") -> str:
    """An option of Airflow's configuration as text (`fallback` when it is not set)."""
    value = airflow_conf().get(section, key, fallback=fallback)
    return fallback if value is None else str(value)


def api_secret() -> str:
    """The api-server's signing secret: `[api] secret_key`, else `[api_auth] jwt_secret` ("" if neither)."""
    return get("api", "secret_key") or get("api_auth", "jwt_secret")
