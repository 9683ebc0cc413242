"""The registry of collections and columns that actions may touch (nothing else is reachable).

Invariant: a registry that loads is consistent: every name in it is a plain lowercase identifier, each
collection's primary key and relation columns are among its columns, and each relation leads to a collection
of the registry. `registry_issues` says what is wrong with one that does not load, with each problem's path."""

from __future__ import annotations

import re
import time
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from automation.config import DB_CONN_ID, DEFAULT_COLLECTIONS_FILE, collections_path
from automation.definitions.base import StrictModel
from automation.definitions.issues import join_path
from automation.errors import Issue, RegistryError

ColumnType = Literal["integer", "number", "string", "boolean", "datetime", "date", "json"]
_IDENT = r"^[a-z_][a-z0-9_]{0,62}$"
_IDENT_RE = re.compile(r"[a-z_][a-z0-9_]{0,62}")
#: an Airflow connection id (the ASCII part of what airflow.models.connection.sanitize_conn_id accepts, 250 at most)
CONN_ID_PATTERN = r"^[A-Za-z0-9_#!()\-.:/\\]{1,250}$"
DEFAULT_REGISTRY = DEFAULT_COLLECTIONS_FILE


def is_identifier(name: str) -> bool:
    """A plain lowercase SQL identifier (what the registry's names must be: no quoting ever needed)."""
    return _IDENT_RE.fullmatch(name) is not None


class RegistryIssues(ValueError):
    """Problems a model validator found, each with its path inside the model (pydantic knows only one)."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        super().__init__("; ".join(str(issue) for issue in issues))


class Relation(StrictModel):
    column: str = Field(pattern=_IDENT)
    collection: str = Field(pattern=_IDENT)


class Collection(StrictModel):
    table: str = Field(pattern=r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$", description="schema.table")
    primary_key: str = Field(default="id", pattern=_IDENT)
    columns: dict[str, ColumnType]
    relations: dict[str, Relation] = Field(default_factory=dict)
    connection_id: str | None = Field(
        default=None,
        pattern=CONN_ID_PATTERN,
        description="the Airflow connection of this collection's database; none = the registry's connection_id",
    )
    concurrency: int | None = Field(
        default=None,
        ge=1,
        le=10_000,
        description="at most this many steps touching the collection run at once, across workflows (an Airflow "
        "pool the product makes and sizes: `automation pools sync`)",
    )

    @field_validator("columns")
    @classmethod
    def _identifiers(cls, columns: dict[str, ColumnType]) -> dict[str, ColumnType]:
        bad = [
            Issue(name, "a column's name must be a plain lowercase identifier")
            for name in columns
            if not is_identifier(name)
        ]
        if bad:
            raise RegistryIssues(bad)
        return columns

    @model_validator(mode="after")
    def _keys_are_columns(self) -> Collection:
        issues = []
        columns = sorted(self.columns)
        if self.primary_key not in self.columns:
            message = f"{self.primary_key!r} is not one of the columns {columns}; list it under columns or fix the name"
            issues.append(Issue("primary_key", message))
        for name, relation in self.relations.items():
            if not is_identifier(name):
                issues.append(Issue(f"relations.{name}", "a relation's name must be a plain lowercase identifier"))
            elif relation.column not in self.columns:
                message = f"{relation.column!r} is not one of the columns {columns}"
                issues.append(Issue(f"relations.{name}.column", message))
        if issues:
            raise RegistryIssues(issues)
        return self

    @property
    def schema_name(self) -> str:
        return self.table.split(".", 1)[0]

    @property
    def table_name(self) -> str:
        return self.table.split(".", 1)[1]


class CollectionsRegistry(StrictModel):
    connection_id: str = Field(default=DB_CONN_ID, pattern=CONN_ID_PATTERN)
    collections: dict[str, Collection]

    @model_validator(mode="after")
    def _relations_lead_somewhere(self) -> CollectionsRegistry:
        known = sorted(self.collections)
        issues = [
            Issue(
                f"collections.{name}.relations.{relation_name}.collection",
                f"{relation.collection!r} is not a collection of the registry; expected one of {known}",
            )
            for name, spec in self.collections.items()
            for relation_name, relation in spec.relations.items()
            if relation.collection not in self.collections
        ]
        if issues:
            raise RegistryIssues(issues)
        return self

    def connection_for(self, collection: str) -> str:
        """The Airflow connection id of `collection`'s database (its own, else the registry's)."""
        return self.collection(collection).connection_id or self.connection_id

    def connection_ids(self) -> set[str]:
        """Every connection id a collection uses (the registry's own only if some collection uses it)."""
        return {spec.connection_id or self.connection_id for spec in self.collections.values()}

    def pool_for(self, collection: str) -> str | None:
        """The Airflow pool of the steps touching `collection`, when it has a concurrency limit."""
        spec = self.collections.get(collection)
        return pool_name(collection) if spec is not None and spec.concurrency is not None else None

    def pools(self) -> dict[str, int]:
        """Every collection pool the registry asks for: name -> slots."""
        return {pool_name(name): spec.concurrency for name, spec in self.collections.items() if spec.concurrency}

    def collection(self, name: str) -> Collection:
        try:
            return self.collections[name]
        except KeyError:
            raise RegistryError(
                f"collection {name!r} is not in the registry; expected one of {sorted(self.collections)}"
            ) from None

    def check_columns(self, collection: str, columns: list[str] | set[str]) -> Collection:
        spec = self.collection(collection)
        unknown = sorted(set(columns) - set(spec.columns))
        if unknown:
            raise RegistryError(
                f"column(s) {unknown} are not in collection {collection!r}; expected some of {sorted(spec.columns)}"
            )
        return spec


#: the prefix of the Airflow pools the product makes for collections (and alone may resize or delete)
POOL_PREFIX = "automation_collection__"


def pool_name(collection: str) -> str:
    return f"{POOL_PREFIX}{collection}"


def registry_path() -> Path:
    return collections_path()


_PATTERN_HINTS = {
    "table": "expected schema.table, both plain lowercase identifiers (crm.deals)",
    "connection_id": "expected an Airflow connection id: letters, digits and _ - . : / # ! ( ), at most 250",
}


def _issue(error: ErrorDetails) -> Issue:
    path = join_path(error["loc"])
    if error["type"] == "extra_forbidden":
        return Issue(path, "unknown key; remove it or check its spelling")
    if error["type"] == "missing":
        return Issue(path, "required field is missing")
    if error["type"] == "string_pattern_mismatch":
        field = str(error["loc"][-1]) if error["loc"] else ""
        return Issue(path, _PATTERN_HINTS.get(field, "expected a plain lowercase identifier ([a-z_][a-z0-9_]*)"))
    return Issue(path, error["msg"].removeprefix("Value error, "))


def registry_issues(data: Any) -> tuple[CollectionsRegistry | None, list[Issue]]:
    """`data` (a parsed registry file) as a registry, or every problem with it, each with its path
    (`collections.deals.relations.owner.collection`)."""
    try:
        return CollectionsRegistry.model_validate(data), []
    except ValidationError as exc:
        issues = []
        for error in exc.errors(include_url=False):
            original = error.get("ctx", {}).get("error")
            if isinstance(original, RegistryIssues):
                base = join_path(error["loc"])
                issues += [Issue(f"{base}.{i.path}" if base else i.path, i.message) for i in original.issues]
            else:
                issues.append(_issue(error))
        return None, issues


#: libyaml's safe loader when PyYAML was built with it (the same rules as yaml.SafeLoader, ten times faster)
SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: a registry file larger than this is refused (it is read whole, by every parse and task)
MAX_REGISTRY_BYTES = 4 * 1024 * 1024


def read_registry_file(path: Path) -> Any:
    """The parsed YAML of a registry file; a RegistryError that names the file (and the line of a
    YAML syntax error) when it cannot be read."""
    try:
        size = path.stat().st_size
        if size > MAX_REGISTRY_BYTES:
            raise RegistryError(f"{path}: {size} bytes, more than the {MAX_REGISTRY_BYTES} a registry file may have")
        return yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except OSError as exc:
        raise RegistryError(f"{path}: cannot read the collections registry: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise RegistryError(f"{path}: not UTF-8 text") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise RegistryError(f"{path}{where}: not valid YAML: {problem}") from None


@cache
def _load(path: str, mtime: float) -> CollectionsRegistry:
    registry, issues = registry_issues(read_registry_file(Path(path)))
    if registry is None:
        shown = "; ".join(str(issue) for issue in issues[:3])
        more = f"; and {len(issues) - 3} more" if len(issues) > 3 else ""
        raise RegistryError(
            f"the collections registry {path} is invalid: {shown}{more} (`automation registry check {path}` lists all)"
        )
    return registry


_checked: dict[str, tuple[float, CollectionsRegistry]] = {}
RECHECK_SECONDS = 2.0


def get_registry() -> CollectionsRegistry:
    """The registry file's content, re-read when it changes (its mtime is looked at every 2 s at
    most: a parse validates thousands of step configs against it)."""
    path = str(registry_path())
    now = time.monotonic()
    cached = _checked.get(path)
    if cached is not None and now - cached[0] < RECHECK_SECONDS:
        return cached[1]
    registry = _load(path, Path(path).stat().st_mtime)
    _checked[path] = (now, registry)
    return registry
