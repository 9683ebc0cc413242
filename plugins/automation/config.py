"""Settings, in one place, with their defaults: the [automation] section of Airflow's configuration."""

from __future__ import annotations

import configparser
import functools
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DB_CONN_ID = "automation_db"
DAG_ID_PREFIX = "automation__"

#: The project checkout (plugins/automation/config.py -> repo root) when running from one; include/ lives there.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
#: The copy of include/ a built wheel carries (setup.py's build step; the checkout's include/templates is the source).
PACKAGE_DIR = Path(__file__).resolve().parent
PACKAGED_INCLUDE = PACKAGE_DIR / "_include"
#: The demo CRM's collections registry, used when `collections_file` is not set.
DEFAULT_COLLECTIONS_FILE = PACKAGE_DIR / "records" / "crm_collections.yaml"


def running_from_checkout() -> bool:
    """True when this package is the repository's plugins/automation (not an installed wheel)."""
    return (
        Path(__file__).resolve().parent == PROJECT_ROOT / "plugins" / "automation"
        and (PROJECT_ROOT / "include" / "templates").is_dir()
    )


def state_dir() -> Path:
    """Local directory for the factory's last-known-good snapshot and error file."""
    explicit = setting("state_dir")
    if explicit:
        return Path(explicit)
    airflow_home = os.environ.get("AIRFLOW_HOME", str(Path.home() / "airflow"))
    return Path(airflow_home) / "automation"


def include_dir() -> Path:
    """Page, email and workflow templates: the `include_dir` setting if set, else the checkout's include/
    when running from one, else the copy packaged in the wheel."""
    explicit = setting("include_dir")
    if explicit:
        return Path(explicit)
    return PROJECT_ROOT / "include" if running_from_checkout() else PACKAGED_INCLUDE


def email_template_dir() -> Path:
    """send_email's `template` files."""
    return include_dir() / "templates" / "email"


def db_connect_timeout() -> int:
    """Seconds before a connection attempt to the definitions DB gives up (never a hang)."""
    return setting("db_connect_timeout")


def db_pool_timeout() -> float:
    """Seconds an event/webhook request waits for a pooled connection before answering 503."""
    return setting("db_pool_timeout")


def max_event_bytes() -> int:
    """Largest body of POST /api/v1/events (413 beyond)."""
    return setting("max_event_bytes")


def max_webhook_bytes() -> int:
    """Largest webhook delivery (413 beyond, checked before the key or the signature)."""
    return setting("max_webhook_bytes")


def max_request_bytes() -> int:
    """Largest body of every other API request (event batches, workflows, bundles...)."""
    return setting("max_request_bytes")


def max_definition_bytes() -> int:
    """Largest stored workflow definition, as compact JSON after parsing (aliases expanded)."""
    return setting("max_definition_bytes")


def regex_max_work() -> int:
    """RE2 instructions x text bytes the `matches` / `regex` of one condition evaluation may cost together."""
    return setting("regex_max_work")


def dag_id_for(key: str) -> str:
    return f"{DAG_ID_PREFIX}{key}"


def key_for_dag_id(dag_id: str) -> str | None:
    """The workflow key of one of its DAGs (`automation__<key>`, `automation__<key>__scan`)."""
    if not dag_id.startswith(DAG_ID_PREFIX):
        return None
    return dag_id[len(DAG_ID_PREFIX) :].removesuffix("__scan")


def template_max_iterations() -> int:
    """Loop iterations plus function and macro calls one template render may make."""
    return setting("template_max_iterations")


def template_cpu_seconds() -> int:
    """CPU seconds a dry run's worker process may use before it is stopped."""
    return setting("template_cpu_seconds")


def template_memory_mb() -> int:
    """Memory (MB, above the worker's start) a dry run's worker process may add before it is stopped."""
    return setting("template_memory_mb")


def template_wall_seconds() -> int:
    """Seconds (wall clock) a dry run's worker process may take, waiting on the database included."""
    return setting("template_wall_seconds")


def records_filter_timeout_ms() -> int:
    """Milliseconds one record-filter query (select/update/delete by filter) may run in Postgres."""
    return setting("records_filter_timeout_ms")


def max_condition_lookups() -> int:
    """Related records one condition evaluation may read through lookups."""
    return setting("max_condition_lookups")


# -- the settings table --------------------------------------------------------------------------------
# Invariant: every setting of the plugin is a row of SETTINGS, read only through `setting()` (or a small
# getter below that calls it), never cached: each call sees the current environment and configuration.
# Lookup order, first found wins:
#   1. AIRFLOW__AUTOMATION__<NAME> (read directly: no Airflow import, so the isolated dry-run worker,
#      which gets every setting this way from `settings_env()`, never imports Airflow);
#   2. Airflow's configuration, `[automation] <name>`: airflow.cfg, `<name>_cmd` / `<name>_secret`
#      (and their AIRFLOW__AUTOMATION__<NAME>_CMD / _SECRET variables) - imported only when it may hold
#      the option (already loaded, a _CMD / _SECRET variable, or an [automation] section in airflow.cfg);
#   3. the deprecated AUTOMATION_<NAME> variable (a DeprecationWarning, once per name);
#   4. the default.

SECTION = "automation"


@dataclass(frozen=True)
class Setting:
    name: str  #: option name in the [automation] section (lower case)
    type: str  #: int, float, bool, str, list (comma-separated), path
    default: str  #: as written in airflow.cfg; "" is "not set" (the help says what that means)
    help: str

    @property
    def env(self) -> str:
        return f"AIRFLOW__AUTOMATION__{self.name.upper()}"

    @property
    def deprecated_env(self) -> str:
        return f"AUTOMATION_{self.name.upper()}"


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "state_dir",
        "path",
        "",
        "Local directory for the DAG factory's last-known-good snapshot, error file and kept DAG plans "
        "(default: `$AIRFLOW_HOME/automation`).",
    ),
    Setting(
        "preload_runtime",
        "bool",
        "true",
        "Import the workflow runtime once in Airflow's scheduler, dag-processor and triggerer when they start "
        "(a listener), so the processes they fork (LocalExecutor workers and their task processes, parsing "
        "processes) do not import it again for every task and parse. Costs about 0.3 s and some memory at "
        "their start.",
    ),
    Setting(
        "dag_shards",
        "int",
        "1",
        "Workflow DAG files the workflows are spread over by a stable hash of their key (1 to 256): each parse "
        "builds one file's share and one edit re-parses one file. `automation init` writes that many copies of "
        "the workflow DAG file; set the same value on every component (docs/architecture.md: changing it).",
    ),
    Setting(
        "reparse_on_change",
        "bool",
        "true",
        "After every save that changes a workflow's DAG (create, edit, activate, deactivate, delete, rollback, "
        "import), ask Airflow to re-parse the DAG file holding it, so the change shows in seconds even with a "
        "long `[dag_processor] min_file_process_interval` (the periodic parse is then only a safety net).",
    ),
    Setting(
        "include_dir",
        "path",
        "",
        "Directory with the page, email and workflow templates (default: the "
        "checkout's `include/`, or the copy packaged in the wheel).",
    ),
    Setting(
        "collections_file",
        "path",
        "",
        "YAML registry of the record collections workflows may read and "
        "write (default: the example registry shipped with the plugin).",
    ),
    Setting(
        "db_connect_timeout",
        "int",
        "3",
        "Seconds before a connection attempt to the automation database gives up (never a hang).",
    ),
    Setting(
        "db_pool_timeout",
        "float",
        "5",
        "Seconds an event or webhook request waits for a pooled database connection before answering 503.",
    ),
    Setting("max_event_bytes", "int", str(256 * 1024), "Largest body of `POST /api/v1/events` (413 beyond)."),
    Setting(
        "max_webhook_bytes",
        "int",
        str(1024 * 1024),
        "Largest webhook delivery (413 beyond, checked before the key or the signature).",
    ),
    Setting(
        "max_request_bytes",
        "int",
        str(2 * 1024 * 1024),
        "Largest body of every other API request (event batches, workflows, bundles...).",
    ),
    Setting(
        "max_definition_bytes",
        "int",
        str(256 * 1024),
        "Largest stored workflow definition, as compact JSON after parsing (aliases expanded).",
    ),
    Setting(
        "regex_max_work",
        "int",
        str(100_000_000),
        "RE2 instructions x text bytes the `matches` / `regex` of one condition evaluation may cost together.",
    ),
    Setting(
        "template_max_iterations",
        "int",
        "100000",
        "Loop iterations plus function and macro calls one template render may make.",
    ),
    Setting("template_cpu_seconds", "int", "2", "CPU seconds a dry run's worker process may use before it is stopped."),
    Setting(
        "template_memory_mb",
        "int",
        "512",
        "Memory (MB, above the worker's start) a dry run's worker process may add before it is stopped.",
    ),
    Setting(
        "template_wall_seconds",
        "int",
        "20",
        "Seconds (wall clock) a dry run's worker process may take, waiting on the database included.",
    ),
    Setting(
        "records_filter_timeout_ms",
        "int",
        "10000",
        "Milliseconds one record-filter query (select, update or delete by filter) may run in Postgres.",
    ),
    Setting(
        "max_condition_lookups",
        "int",
        "5",
        "Related records one evaluation of a condition (the gate's or a step's `when`) may read through lookups "
        "(`lookup:<collection>.<column>` clauses, JsonLogic `lookup`); one more fails the evaluation. The same "
        "record read twice counts once.",
    ),
    Setting(
        "http_allowed_hosts",
        "list",
        "",
        "Comma-separated hosts `http_request` and the Slack and Apprise webhook channels may call: a host "
        "name, `*.suffix`, an IP or CIDR, or `*` for "
        "any host with public addresses; private, loopback and link-local addresses only when listed "
        "explicitly (default: empty, no outbound HTTP).",
    ),
    Setting(
        "emitter_gather_ms",
        "float",
        "50",
        "Under load, the emitter emits at most once per this many "
        "milliseconds, so events that arrive close together become one batch.",
    ),
    Setting(
        "alert_emails",
        "list",
        "",
        "Comma-separated addresses that get an email for every alert (default: alerts are notifications only).",
    ),
    Setting("cleanup_cron", "str", "0 3 * * 0", "Schedule (cron) of the cleanup DAG."),
    Setting("keep_last_runs", "int", "10", "Runs of each workflow the cleanup keeps whatever their age."),
    Setting("cleanup_batch", "int", "500", "Rows the cleanup deletes per transaction."),
    Setting(
        "retention_days",
        "int",
        "90",
        "Days of history kept for workflows without their own `settings.retention_days` (deleted workflows too).",
    ),
    Setting("daily_report_cron", "str", "0 9 * * *", "Schedule (cron) of the daily report DAG."),
    Setting("weekly_report_cron", "str", "0 9 * * 1", "Schedule (cron) of the weekly report DAG."),
    Setting(
        "report_emails",
        "list",
        "",
        "Comma-separated recipients of the daily and weekly reports (default: none, the reports are only stored).",
    ),
    Setting("maintenance_timezone", "str", "UTC", "Time zone of the maintenance DAGs' schedules."),
    Setting(
        "maintenance_paused",
        "bool",
        "false",
        "`true`: the maintenance DAGs (cleanup, reports) are created paused, so retention and reports wait until "
        "someone unpauses them (default `false`: they run on their schedules from the start).",
    ),
)
SETTINGS_BY_NAME = {s.name: s for s in SETTINGS}

#: Variables of `make run`'s own launcher process (not plugin settings, not read from airflow.cfg).
LAUNCHER_ENV: dict[str, str] = {
    "AUTOMATION_HOME": "`make run`: directory of the local stack (default `.automation`).",
    "AUTOMATION_PG_PORT": "`make run`: port of the embedded Postgres (default 54329).",
    "AUTOMATION_UI_PORT": "`make run`: port of the Airflow API server and UI (default 8080).",
    "AUTOMATION_API_WORKERS": "`make run`: API server worker processes (default 2).",
}

_MISSING = object()
_WARNED: set[str] = set()


@functools.cache
def _airflow_conf() -> Any:
    from automation.airflow_adapter.config import airflow_conf, mark_sensitive  # lazily: about 1.5 s, most of Airflow

    mark_sensitive(SECTION, (s.name for s in SETTINGS))  # so _cmd / _secret forms work
    return airflow_conf()


def _indirect(item: Setting) -> bool:
    """An AIRFLOW__AUTOMATION__<NAME>_CMD / _SECRET variable is set (Airflow resolves those)."""
    return any(f"{item.env}{tail}" in os.environ for tail in ("_CMD", "_SECRET"))


def _expand(value: str) -> str:
    """As Airflow expands a configuration value (environment variables, then `~`)."""
    return os.path.expanduser(os.path.expandvars(value))


@functools.lru_cache(maxsize=8)
def _cfg_has_section(path: str, mtime: float) -> bool:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read(path)
    except (configparser.Error, OSError, UnicodeDecodeError):
        return True  # Airflow's own reader will say what is wrong
    return parser.has_section(SECTION)


def _airflow_may_set(item: Setting) -> bool:
    """False only when Airflow's configuration cannot hold this option: not loaded in this process, no
    _CMD / _SECRET variable and no [automation] section in airflow.cfg (a few ms, not Airflow's import)."""
    from automation.airflow_adapter.config import loaded as airflow_conf_loaded

    if airflow_conf_loaded() or _indirect(item):
        return True
    home = _expand(os.environ.get("AIRFLOW_HOME", "~/airflow"))  # where Airflow looks (airflow.configuration)
    path = _expand(os.environ.get("AIRFLOW_CONFIG", os.path.join(home, "airflow.cfg")))
    try:
        mtime = os.stat(path).st_mtime
    except OSError:
        return False
    return _cfg_has_section(path, mtime)


def _resolve(item: Setting) -> tuple[str, str]:
    """(raw value, where it came from) of one setting; see the lookup order above."""
    if item.env in os.environ:
        return _expand(os.environ[item.env]), "env"
    value = _airflow_conf().get(SECTION, item.name, fallback=_MISSING) if _airflow_may_set(item) else _MISSING
    if value is not _MISSING and value is not None:
        return str(value).strip(), "env" if _indirect(item) else "airflow.cfg"  # a _cmd output ends in a newline
    if item.deprecated_env in os.environ:
        if item.deprecated_env not in _WARNED:
            _WARNED.add(item.deprecated_env)
            warnings.warn(
                f"{item.deprecated_env} is deprecated: set [{SECTION}] {item.name} in airflow.cfg or "
                f"{item.env} instead",
                DeprecationWarning,
                stacklevel=4,
            )
        return os.environ[item.deprecated_env], f"env (deprecated {item.deprecated_env})"
    return item.default, "default"


_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False, "": False}


def setting(name: str) -> Any:
    """The typed value of setting `name` (a row of SETTINGS); a malformed value names the setting."""
    item = SETTINGS_BY_NAME[name]
    raw, source = _resolve(item)
    try:
        if item.type == "int":
            return int(raw)
        if item.type == "float":
            return float(raw)
        if item.type == "bool":
            return _BOOLEANS[raw.strip().lower()]
        if item.type == "list":
            return tuple(part.strip() for part in raw.split(",") if part.strip())
        return raw
    except (ValueError, KeyError):
        expected = {"int": "an integer", "float": "a number", "bool": "true or false"}[item.type]
        raise ValueError(
            f"[{SECTION}] {name} must be {expected}, got {raw!r} (from {source}); fix it in airflow.cfg or {item.env}"
        ) from None


def settings_report() -> list[dict[str, str]]:
    """Every setting with its current raw value and source (airflow.cfg, env, env (deprecated ...), default)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        rows = []
        for item in SETTINGS:
            value, source = _resolve(item)
            rows.append(
                {
                    "name": item.name,
                    "value": value,
                    "source": source,
                    "type": item.type,
                    "default": item.default,
                    "env": item.env,
                    "help": item.help,
                }
            )
    return rows


def settings_env() -> dict[str, str]:
    """Every setting as an AIRFLOW__AUTOMATION__<NAME> variable: what a child process that must not import
    Airflow (the isolated dry-run worker) is given, so that it sees what this process sees."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return {item.env: _resolve(item)[0] for item in SETTINGS}


def settings_markdown() -> str:
    """The settings reference as a markdown table (generated into the docs; never a hand copy)."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [
        f"Set in the `[{SECTION}]` section of `airflow.cfg`, as `AIRFLOW__AUTOMATION__<NAME>` environment "
        "variables, or with Airflow's `<name>_cmd` / `<name>_secret` forms. The former `AUTOMATION_<NAME>` "
        "variables still work (deprecated: a warning; used only when the option is not set).",
        "",
        "| Setting | Type | Default | Environment variable | Description |",
        "|---|---|---|---|---|",
    ]
    for item in SETTINGS:
        default = f"`{item.default}`" if item.default else "(not set)"
        lines.append(f"| `{item.name}` | {item.type} | {cell(default)} | `{item.env}` | {cell(item.help)} |")
    lines += [
        "",
        "Not plugin settings: the environment of `make run`'s own launcher process.",
        "",
        "| Variable | Description |",
        "|---|---|",
    ]
    lines += [f"| `{name}` | {cell(text)} |" for name, text in LAUNCHER_ENV.items()]
    return "\n".join(lines) + "\n"


def http_allowed_hosts() -> tuple[str, ...]:
    return setting("http_allowed_hosts")


def collections_file() -> str:
    return setting("collections_file")


def collections_path() -> Path:
    """The collections registry file: the `collections_file` setting, else the demo CRM's registry."""
    return Path(collections_file() or DEFAULT_COLLECTIONS_FILE)


def emitter_gather_ms() -> float:
    return setting("emitter_gather_ms")


#: The most workflow DAG files `dag_shards` may ask for.
MAX_DAG_SHARDS = 256


def dag_shards() -> int:
    """The number of workflow DAG files ([automation] dag_shards), checked to be 1..MAX_DAG_SHARDS."""
    count: int = setting("dag_shards")
    if not 1 <= count <= MAX_DAG_SHARDS:
        raise ValueError(f"[{SECTION}] dag_shards must be between 1 and {MAX_DAG_SHARDS}, got {count}")
    return count


def alert_emails() -> tuple[str, ...]:
    return setting("alert_emails")


def maintenance_paused() -> bool:
    """True when the maintenance DAGs are to be created paused ([automation] maintenance_paused)."""
    return setting("maintenance_paused")
