"""Dry runs of stored workflows and of drafts (a definition not stored yet: the editor, the API's
`POST /workflows/dry-run`), with their inputs checked before anything runs.

Invariant: what a caller gives a dry run (the sample event, the logical date `at`, step outputs in
`mocks`) is checked here, and a problem is a `RequestError` at the field's path (`at`,
`mocks.<step id>`, `event`), and a draft that does not validate is the `DefinitionError` every caller
maps through `services.errors` (422 with each problem's path), never a traceback; the run itself is the runtime's
(`automation.runtime.dry_run`): the API's in a limited worker process, the CLI's in its own process.
A poll workflow's dry run also polls (`runtime.poll.preview`: read-only) in this process, where the
Airflow connection is read, and reports which items would be new (`poll`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from automation.definitions import Workflow
from automation.definitions.files import load_json, load_yaml
from automation.errors import AutomationError, Issue
from automation.services.errors import RequestError
from automation.services.workflows import definition_at, validate


def _refuse(path: str, message: str) -> RequestError:
    return RequestError([Issue(path, message)])


def aware(at: datetime) -> datetime:
    """A time without an offset is UTC (as everywhere in the API)."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def parse_at(text: str, *, path: str = "at") -> datetime:
    """An ISO 8601 time such as 2026-05-04T09:00:00+02:00 or 2026-05-04 (UTC when no offset)."""
    try:
        return aware(datetime.fromisoformat(text.strip()))
    except ValueError:
        raise _refuse(path, f"{text!r} is not a time: expected ISO 8601, such as 2026-05-04T09:00:00Z") from None


def check_mocks(workflow: Workflow, mocks: Mapping[str, Any], *, path: str = "mocks") -> dict[str, Any]:
    """The mocks, each keyed by a step id of the workflow; an unknown id is refused at its path,
    with the ids there are (the runtime's check, as a request error)."""
    from automation.runtime.dry_run import unknown_mock_issues

    issues = unknown_mock_issues(workflow, mocks, path)
    if issues:
        raise RequestError(issues)
    return dict(mocks)


def read_data_file(file: str, *, path: str) -> Any:
    """A JSON or YAML file's content (JSON when the name ends in .json; bounded loaders)."""
    try:
        text = Path(file).read_text(encoding="utf-8")
    except OSError as exc:
        raise _refuse(path, f"cannot read {file}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise _refuse(path, f"{file} is not UTF-8 text") from None
    as_json = file.lower().endswith(".json")
    try:
        return load_json(text) if as_json else load_yaml(text)
    except (yaml.YAMLError, ValueError) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise _refuse(path, f"{file} is not valid {'JSON' if as_json else 'JSON or YAML'}: {first}") from None


def read_mock(spec: str, *, path: str = "mocks") -> tuple[str, Any]:
    """`STEP=FILE` (the CLI's `--mock`): the step id and the output in FILE (JSON or YAML)."""
    step_id, sep, file = spec.partition("=")
    if not sep or not step_id.strip() or not file.strip():
        raise _refuse(path, f"{spec!r}: expected STEP=FILE, such as send_quote=quote.json")
    step_id = step_id.strip()
    return step_id, read_data_file(file.strip(), path=f"{path}.{step_id}")


def read_event(file: str, *, path: str = "event") -> dict[str, Any]:
    """A sample event file: an object ({id, new, old, ...} or a manual trigger's params)."""
    event = read_data_file(file, path=path)
    if not isinstance(event, dict):
        raise _refuse(path, f'{file}: expected an object such as {{"id": 1, "new": {{...}}}}')
    return event


def dry_run(
    key: str,
    event: dict[str, Any],
    *,
    version: int | None = None,
    at: datetime | None = None,
    mocks: Mapping[str, Any] | None = None,
    isolated: bool = True,
    source: str | None = None,
) -> dict[str, Any]:
    """The dry run report (JSON-ready) of the stored workflow `key` at `version` (default: current).
    `isolated` runs it in a worker process with CPU, memory and time limits (for servers)."""
    workflow, number = definition_at(key, version, source=source)
    return _run(workflow, number, event, at=at, mocks=mocks, isolated=isolated)


def dry_run_definition(
    definition: Any,
    event: Any,
    *,
    version: int = 1,
    at: datetime | None = None,
    mocks: Mapping[str, Any] | None = None,
    isolated: bool = True,
) -> dict[str, Any]:
    """The dry run report of a draft, a definition not stored (nothing is stored by it either):
    `DefinitionError` when it does not validate, a `RequestError` at `event` when the event is not an
    object; `version` is the number the report gives the draft's steps (default 1)."""
    if not isinstance(definition, Mapping):
        raise _refuse("definition", "expected a workflow definition (an object)")
    if not isinstance(event, dict):
        raise _refuse("event", 'expected an object such as {"id": 1, "new": {...}, "old": {...}}')
    return _run(validate(definition), version, event, at=at, mocks=mocks, isolated=isolated)


def _run(
    workflow: Workflow,
    number: int,
    event: dict[str, Any],
    *,
    at: datetime | None,
    mocks: Mapping[str, Any] | None,
    isolated: bool,
) -> dict[str, Any]:
    from automation.runtime.dry_run import dry_run_report, isolated_dry_run

    options: dict[str, Any] = {}
    if at is not None:
        options["at"] = aware(at)
    if mocks:
        options["mocks"] = check_mocks(workflow, mocks)
    run = isolated_dry_run if isolated else dry_run_report
    if workflow.trigger.type != "poll":
        return run(workflow, number, event, **options)
    poll, event = _poll_preview(workflow, event)
    return {**run(workflow, number, event, **options), "poll": poll}


def _poll_preview(workflow: Workflow, event: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A poll workflow's dry run polls now (the same GET, nothing stored): which items would be new and
    which were already seen. The steps run for the sample event given, else for the first new item
    (else an empty item). A poll that fails (egress refused, no connection, an HTTP error, no list at
    `items_path`) is the report's `poll.error`; the steps still run for the sample."""
    from automation.runtime.poll import preview, sample_event

    try:
        report = preview(workflow)
    except AutomationError as exc:
        return {"error": str(exc)}, event
    if not event and report["new"]:
        event = sample_event(workflow.key, report["new"][0], report["new_items"][0])
    return report, event
