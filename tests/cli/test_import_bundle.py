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


def test_cli_import_refuses_alias_bombs_deep_nesting_and_oversized_definitions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Files go through the same bounded loaders and stored-size check as the API: a clear error,
    nothing imported (and no RecursionError or a megabyte definition from a 1 KB file)."""
    laughs = ["  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    laughs += [f"  {c}: &{c} [{', '.join(['*' + chr(ord(c) - 1)] * 9)}]" for c in "bcdefghi"]
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("key: bomb\nname: Bomb\ntrigger: {type: manual}\nsteps: []\nsettings:\n" + "\n".join(laughs))
    assert bomb.stat().st_size < 1000
    assert main(["import", str(bomb)]) == 1
    assert "aliases expand the document to more than 200000 values" in capsys.readouterr().err
    deep = tmp_path / "deep.json"
    deep.write_text('{"key": "deep", "x": ' + "[" * 5000 + "]" * 5000 + "}")
    assert main(["import", str(deep)]) == 1
    assert "deep.json: <root>: not valid JSON: nested deeper than 64 levels" in capsys.readouterr().err
    big = tmp_path / "big.yaml"
    big.write_text(yaml.safe_dump([workflow("small"), workflow("big", description="d" * 300_000)]))
    assert main(["import", str(big)]) == 1
    err = capsys.readouterr().err
    assert "big.yaml[1]: <root>: the definition is" in err and "at most 262144 are stored" in err
    assert export_bundle()["workflows"] == []
