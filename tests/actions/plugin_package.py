"""A tiny package from another "vendor" that adds an action through the `airflow_automations.actions`
entry-point group: built as a wheel in a temporary folder and installed into the project's venv with
pip (no index, no dependencies), uninstalled afterwards."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DISTRIBUTION = "automation_test_shout"
VERSION = "0.1.0"
ACTION = "shout"

MODULE = '''"""shout: add an activity whose body is the text in capitals (a plugin action for the tests)."""

from __future__ import annotations

from pydantic import Field

from automation.actions import Action, ActionConfig, ActionContext, Capabilities, Delivered


class ShoutConfig(ActionConfig):
    text: str = Field(min_length=1, description="what to shout")
    entity_id: int = Field(ge=1, description="the deal the activity is about")


class Shout(Action[ShoutConfig]):
    name = "shout"
    config_model = ShoutConfig
    summary = "Shout a text on a deal's timeline"
    capabilities = Capabilities(needs_registry=True)

    def describe(self, config: ShoutConfig) -> str:
        return f"shout {config.text!r} on deal {config.entity_id}"

    def execute(self, config: ShoutConfig, ctx: ActionContext) -> Delivered:
        row = ctx.records.insert("activities", {"kind": "shout", "body": config.text.upper(), "entity": "deals",
                                                "entity_id": config.entity_id})
        return Delivered(row)
'''


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_wheel(folder: Path, entry_point: str = f"{ACTION} = {DISTRIBUTION}:Shout") -> Path:
    dist_info = f"{DISTRIBUTION}-{VERSION}.dist-info"
    files = {
        f"{DISTRIBUTION}/__init__.py": MODULE.encode(),
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {DISTRIBUTION}\nVersion: {VERSION}\n".encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{dist_info}/entry_points.txt": f"[airflow_automations.actions]\n{entry_point}\n".encode(),
    }
    record = [_record_line(name, data) for name, data in files.items()] + [f"{dist_info}/RECORD,,"]
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = folder / f"{DISTRIBUTION}-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return wheel


def _pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args], check=True,
                   timeout=300)  # fmt: skip


@contextmanager
def installed_plugin(folder: Path) -> Iterator[str]:
    """The plugin installed in this interpreter's environment (every process started from it sees it)."""
    _pip("install", "--no-deps", "--no-index", "--force-reinstall", str(build_wheel(folder)))
    try:
        yield ACTION
    finally:
        _pip("uninstall", "-y", DISTRIBUTION)
