"""Import and export of several workflows at once (bundles, files, directories).

Invariant: an import is all or nothing unless `partial` (one invalid definition, from a file that
did not parse or a definition that does not validate, means nothing is saved and `ImportRefused`
lists every problem); every imported workflow's DAG pause state is synced right after the save, and
Airflow is asked to re-parse the DAG files holding them (`services.workflows.request_reparse_of`).
Documents are parsed with the bounded loaders (nesting, YAML aliases), and exports are written
without anchors/aliases so they import again under the alias bound.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from automation.catalogue.bundles import (
    Bundle,
    Imported,
    export_bundle,
    export_definitions,
    import_definitions,
    parse_bundle,
)
from automation.definitions.files import definition_files, load_json, load_yaml, read_documents
from automation.definitions.issues import join_path
from automation.errors import DefinitionError, Issue
from automation.services.workflows import PauseSync, request_reparse_of, sync_pause

Format = Literal["json", "yaml"]

__all__ = [
    "Bundle",
    "BundleImport",
    "ImportRefused",
    "dump_document",
    "export_bundle",
    "export_definitions",
    "import_bundle",
    "import_documents",
    "parse_document",
    "read_paths",
]


class _PlainDumper(yaml.SafeDumper):
    """Every value written out (no &anchors/*aliases), so exports import under the alias bound."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_document(data: Any, fmt: Format) -> str:
    """JSON (indented) or YAML (block style, keys in order, no aliases)."""
    if fmt == "yaml":
        return yaml.dump(data, Dumper=_PlainDumper, sort_keys=False, allow_unicode=True)
    return json.dumps(data, indent=2)


def parse_document(body: bytes | str, *, as_yaml: bool) -> Any:
    """A bundle document sent as text; a problem is a `DefinitionError` at the root."""
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        return load_yaml(text) if as_yaml else load_json(text)
    except UnicodeDecodeError:
        raise DefinitionError([Issue("", "expected UTF-8 text")]) from None
    except (yaml.YAMLError, ValueError) as exc:
        kind = "YAML" if as_yaml else "JSON (send YAML with Content-Type: application/yaml)"
        raise DefinitionError([Issue("", f"not valid {kind}: {exc}")]) from None


def _bundle_items(items: list[dict[str, Any]], source: str) -> list[dict[str, Any]]:
    """A bundle file (`{workflows: [...]}`, as the API exports) stands for its workflows."""
    if len(items) == 1 and "workflows" in items[0] and "key" not in items[0]:
        try:
            return parse_bundle(items[0])
        except DefinitionError as exc:
            raise DefinitionError(exc.issues, source) from None
    return items


def read_paths(paths: Sequence[str]) -> tuple[list[tuple[str, Any]], list[DefinitionError]]:
    """The definitions in files and directories (YAML or JSON; one definition, a list, or a bundle
    per file), each with its source (`file` or `file[i]`), and the files that could not be read."""
    documents: list[tuple[str, Any]] = []
    errors: list[DefinitionError] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            errors.append(DefinitionError([], source=f"{raw}: no such file or directory"))
            continue
        for file in definition_files(path):
            try:
                items = _bundle_items(read_documents(file), str(file))
            except DefinitionError as exc:
                errors.append(exc)
                continue
            for index, item in enumerate(items):
                documents.append((f"{file}[{index}]" if len(items) > 1 else str(file), item))
    return documents, errors


def located(errors: Sequence[DefinitionError]) -> list[Issue]:
    """Each error's issues with its source in the path: `workflows[2].steps[0].config.to`."""
    issues = []
    for exc in errors:
        for issue in exc.issues or [Issue("", str(exc))]:
            source = exc.source or ""
            joiner = "." if source and issue.path and not issue.path.startswith("[") else ""
            issues.append(Issue(f"{source}{joiner}{issue.path}", issue.message))
    return issues


class ImportRefused(DefinitionError):
    """Nothing was imported: `errors` are the problems, each with its source (a file, `workflows[i]`);
    `issues` the same with the source in the path."""

    def __init__(self, errors: Sequence[DefinitionError]) -> None:
        self.errors = list(errors)
        super().__init__(located(self.errors))


@dataclass
class BundleImport:
    imported: list[tuple[Imported, PauseSync]] = field(default_factory=list)
    errors: list[DefinitionError] = field(default_factory=list)  # only with `partial`


def import_documents(
    documents: Sequence[tuple[str, Any]],
    *,
    activate: bool = False,
    partial: bool = False,
    created_by: str,
    errors: Sequence[DefinitionError] = (),
) -> BundleImport:
    """Validate and save `(source, definition)` pairs, then sync each saved workflow's DAG.
    `errors` are problems found before (files that did not parse): they refuse the import too."""
    found = list(errors)
    if found and not partial:
        raise ImportRefused(found)
    report = import_definitions(documents, activate=activate, partial=partial, created_by=created_by)
    found += report.errors
    if found and not partial:
        raise ImportRefused(found)
    request_reparse_of(item.workflow for item in report.imported)
    synced = [(item, sync_pause(item.workflow.key, item.workflow.status)) for item in report.imported]
    return BundleImport(synced, found)


def import_bundle(data: Any, *, activate: bool = False, partial: bool = False, created_by: str) -> BundleImport:
    """A parsed bundle document (`{workflows: [...]}` or a list): each workflow's source is
    `workflows[i]`."""
    definitions = parse_bundle(data)
    documents = [(join_path(["workflows", i]), d) for i, d in enumerate(definitions)]
    return import_documents(documents, activate=activate, partial=partial, created_by=created_by)
