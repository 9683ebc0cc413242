from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from automation.cli.main import main
from tests.helpers import workflow


def write(path: Path, data: object) -> Path:
    path.write_text(yaml.safe_dump(data) if path.suffix != ".json" else json.dumps(data))
    return path


def test_validate_reports_each_bad_file_with_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path / "good.yaml", workflow("good"))
    bad = workflow("bad")
    bad["steps"][0]["config"]["collection"] = "payroll"
    write(tmp_path / "bad.json", bad)
    (tmp_path / "broken.yaml").write_text("key: [unclosed\n")
    code = main(["validate", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 1
    assert "ok good" in out
    assert f"{tmp_path / 'bad.json'}: steps[0].config.collection: collection 'payroll' is not in the registry" in err
    assert "broken.yaml: <root>: not valid YAML" in err
    assert main(["validate", str(good)]) == 0


def test_schema_prints_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "Workflow" and "create_record" in schema["$defs"]["actions"]


@pytest.mark.usefixtures("db")
def test_import_export_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path / "many.yaml", [workflow("one"), workflow("two", status="DRAFT")])
    assert main(["import", str(tmp_path), "--activate"]) == 0
    assert "created one v1 ACTIVE" in capsys.readouterr().out
    assert main(["export"]) == 0
    exported = yaml.safe_load(capsys.readouterr().out)
    assert [w["key"] for w in exported] == ["one", "two"] and {w["status"] for w in exported} == {"ACTIVE"}
    write(tmp_path / "many.yaml", exported)
    assert main(["import", str(tmp_path)]) == 0
    assert "updated one v1 ACTIVE" in capsys.readouterr().out  # unchanged: no new version
    assert main(["list"]) == 0
    listing = capsys.readouterr().out
    assert "one" in listing and "manual" in listing


@pytest.mark.usefixtures("db")
def test_import_refuses_everything_when_one_file_is_invalid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path / "a.yaml", workflow("a"))
    write(tmp_path / "b.yaml", {**workflow("b"), "trigger": {"type": "schedule", "cron": "never"}})
    assert main(["import", str(tmp_path)]) == 1
    assert "nothing imported" in capsys.readouterr().err
    assert main(["list"]) == 0
    assert " a " not in capsys.readouterr().out


@pytest.mark.usefixtures("db")
def test_unknown_key_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["activate", "nope"]) == 2
    assert "workflow 'nope' does not exist" in capsys.readouterr().err
