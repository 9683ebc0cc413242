from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from automation.catalogue.bundles import export_bundle
from automation.cli.main import main
from tests.helpers import workflow

pytestmark = pytest.mark.usefixtures("db")


def test_cli_imports_a_bundle_exported_by_the_api(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = {"format_version": 1, "workflows": [workflow("one"), workflow("two")]}
    (tmp_path / "bundle.yaml").write_text(yaml.safe_dump(bundle))
    assert main(["import", str(tmp_path / "bundle.yaml")]) == 0
    out = capsys.readouterr().out
    assert "created one v1 ACTIVE" in out and "created two v1 ACTIVE" in out
    assert [w["key"] for w in export_bundle()["workflows"]] == ["one", "two"]
    (tmp_path / "bundle.yaml").write_text(yaml.safe_dump({"workflows": [workflow("three"), 7]}))
    assert main(["import", str(tmp_path / "bundle.yaml")]) == 1
    err = capsys.readouterr().err
    assert "bundle.yaml: workflows[1]: expected a workflow object" in err and "nothing imported" in err
