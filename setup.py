"""Build step: the wheel carries a copy of the repository's include/templates and dags/*.py.

Invariant: `include/templates/` and `dags/` stay the single sources; a build copies them, byte for byte, to
`automation/_include/templates/` and `automation/_dags/` in the build directory (never into the source tree).
tests/install/test_wheel.py fails if a built wheel's copy differs. Everything else is in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
#: source in the checkout -> destination inside the package
COPIES = {ROOT / "include" / "templates": Path("_include") / "templates", ROOT / "dags": Path("_dags")}


def _files(source: Path) -> list[Path]:
    return sorted(
        path
        for path in source.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in {".pyc", ".pyo"}
    )


class BuildWithIncludes(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):  # an editable install reads the checkout itself
            return
        package_dir = Path(self.build_lib) / "automation"
        for source, destination in COPIES.items():
            target = package_dir / destination
            shutil.rmtree(target, ignore_errors=True)
            for path in _files(source):
                out = target / path.relative_to(source)
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, out)


setup(cmdclass={"build_py": BuildWithIncludes})
