"""The pages' Jinja2 environment (sandboxed, autoescaped) and the links the templates build."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from automation.airflow_adapter import config as airflow_config
from automation.config import dag_id_for, include_dir
from automation.pages import charts, formatting
from automation.pages.readable import label


def pages_dir() -> Path:
    return include_dir() / "templates" / "pages"


def airflow_base() -> str:
    """The Airflow UI's path prefix ("" unless `[api] base_url` has a path)."""
    return urlsplit(airflow_config.get("api", "base_url")).path.rstrip("/")


class Links:
    """Paths of this app's pages (under its mount point) and of Airflow's own pages."""

    def __init__(self, request: Request) -> None:
        self.root = request.scope.get("root_path", "").rstrip("/")
        self.airflow = airflow_base()

    def page(self, *parts: str, **query: Any) -> str:
        path = "/".join(quote(str(p), safe="") for p in parts)
        query_string = "&".join(f"{k}={quote(str(v), safe='')}" for k, v in query.items() if v is not None)
        return f"{self.root}/ui/{path}" + (f"?{query_string}" if query_string else "")

    def api(self, *parts: str) -> str:
        """A path of this app's API (`/automation/api/v1/...`), for the pages' scripts."""
        return f"{self.root}/api/v1/" + "/".join(quote(str(p), safe="") for p in parts)

    def static(self, name: str) -> str:
        from automation import __version__

        return f"{self.root}/ui/static/{quote(name)}?v={quote(__version__)}"

    def dag(self, key: str) -> str:
        return f"{self.airflow}/dags/{quote(dag_id_for(key), safe='')}"

    def runs(self, key: str) -> str:
        return f"{self.dag(key)}/runs"

    def airflow_path(self, path: str) -> str:
        """A path in the Airflow UI given without its prefix (e.g. an execution's `airflow_url`)."""
        return f"{self.airflow}{path}"


@cache
def environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=FileSystemLoader(str(pages_dir())),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # `tojson` keeps the key order: the editor's data lists schema properties in their model's order
    env.policies["json.dumps_kwargs"] = {"sort_keys": False}
    env.filters.update(
        duration=formatting.duration,
        percent=formatting.percent,
        when=formatting.when,
        iso=formatting.iso,
        label=label,
    )
    env.globals.update(
        sparkline=charts.sparkline,
        executions_per_day=charts.executions_per_day,
        duration_histogram=charts.duration_histogram,
        step_timeline=charts.step_timeline,
        dag_id_for=dag_id_for,
    )
    return env


def render(request: Request, template_name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    html = environment().get_template(template_name).render(links=Links(request), **context)
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})
