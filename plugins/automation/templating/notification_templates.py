"""Named notification templates: `include/templates/notifications/<name>.yaml`, a title and a body, and
per channel kind (`in_app`, `email`, `apprise`, `slack`) a title and/or body that replace them there.
A template is a file of the include folder only (its name is an allow-listed identifier, never a path),
bounded in size, and read once per process; its texts render like a notice's own."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from automation.config import include_dir
from automation.errors import TemplateError

MAX_FILE_BYTES = 64 * 1024
KINDS = ("in_app", "email", "apprise", "slack")


class Texts(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(default=None, max_length=500)
    body: str | None = Field(default=None, max_length=20_000)


class NotificationTemplate(Texts):
    channels: dict[str, Texts] = Field(default_factory=dict)

    def texts(self, kind: str) -> tuple[str | None, str | None]:
        """Title and body for a channel kind: its own, else the template's."""
        own = self.channels.get(kind)
        return ((own.title if own and own.title else self.title), (own.body if own and own.body else self.body))


def template_dir() -> Path:
    return include_dir() / "templates" / "notifications"


@cache
def _load(path: Path, mtime_ns: int) -> NotificationTemplate:
    if path.stat().st_size > MAX_FILE_BYTES:
        raise TemplateError(f"notification template {path.stem!r} is over {MAX_FILE_BYTES} bytes")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        template = NotificationTemplate.model_validate(data)
    except (yaml.YAMLError, ValidationError) as exc:
        raise TemplateError(f"notification template {path.stem!r} is not valid: {exc}") from exc
    unknown = sorted(set(template.channels) - set(KINDS))
    if unknown:
        raise TemplateError(f"notification template {path.stem!r}: unknown channels {unknown} (known: {list(KINDS)})")
    return template


def notification_template(name: str) -> NotificationTemplate:
    """The template `name` (a definition's validated name); TemplateError when there is none or it is bad."""
    path = template_dir() / f"{name}.yaml"
    if "/" in name or "\\" in name or name.startswith(".") or not path.is_file():
        raise TemplateError(f"no notification template {name!r} under include/templates/notifications/")
    return _load(path, path.stat().st_mtime_ns)


def template_names() -> list[str]:
    folder = template_dir()
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []
