"""`automation dry-run`: the report, and its inputs (--event, --at, --mock STEP=FILE) refused in one
line with the field's path (exit 2, no traceback) before anything runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from automation.cli.main import main
from automation.services.workflows import create
from tests.helpers import workflow

pytestmark = pytest.mark.usefixtures("db")


@pytest.fixture
def stored() -> str:
    create(workflow("cli-dry"), created_by="test")
    return "cli-dry"


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err.strip()


def test_the_report_as_json_and_as_text(stored: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "event.json").write_text(json.dumps({"name": "Acme"}))
    assert main(["dry-run", stored, "--event", str(tmp_path / "event.json"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["workflow"] == stored and report["conditions_met"] is True
    assert [s["status"] for s in report["steps"]] == ["would_run", "would_run"]
    assert report["steps"][0]["config"]["values"]["name"] == "Acme"
    assert main(["dry-run", stored, "--event", str(tmp_path / "event.json")]) == 0
    out = capsys.readouterr().out
    assert f"{stored} v1: conditions met" in out and "create_deal" in out and "nothing was changed" in out


@pytest.mark.parametrize(
    ("options", "files", "expected"),
    [
        (["--at", "next tuesday"], {}, "error: at: 'next tuesday' is not a time: expected ISO 8601"),
        (
            ["--mock", "nope=out.json"],
            {"out.json": "{}"},
            "error: mocks.nope: the workflow has no step 'nope'; its steps: create_deal, to_proposition",
        ),
        (["--mock", "create_deal=out.json"], {"out.json": "{nope"}, "error: mocks.create_deal: "),
        (["--mock", "create_deal=missing.json"], {}, "error: mocks.create_deal: cannot read missing.json"),
        (["--mock", "create_deal"], {}, "error: mocks: 'create_deal': expected STEP=FILE"),
        (["--event", "event.yaml"], {"event.yaml": "[1, 2]"}, "error: event: event.yaml: expected an object"),
        (["--event", "event.yaml"], {"event.yaml": "a: [b"}, "error: event: event.yaml is not valid JSON or YAML"),
    ],
)
def test_bad_inputs_are_one_line_with_the_field_path(
    stored: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    options: list[str],
    files: dict[str, str],
    expected: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert main(["dry-run", stored, *options]) == 2
    line = one_error_line(capsys)
    assert line.startswith(expected), line
    assert capsys.readouterr().out == ""  # refused before anything ran


def test_a_workflow_that_does_not_exist(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dry-run", "nope"]) == 2
    assert one_error_line(capsys) == "error: workflow 'nope' does not exist"


def test_mocks_give_later_steps_an_output_and_at_sets_the_slot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--mock STEP=FILE` (YAML or JSON) stands in for an external step; `--at` is a schedule's slot
    (UTC when it has no offset)."""
    steps = [
        {"id": "hook", "type": "http_request", "config": {"url": "http://127.0.0.1:1/x"}},
        {"id": "deal", "type": "create_record", "config": {"collection": "deals", "values": {
            "name": "{{ steps.hook.output.body.name }} {{ run.data_interval_start }}"}}},
    ]  # fmt: skip
    create(workflow("weekly", trigger={"type": "schedule", "cron": "0 7 * * 1"}, steps=steps), created_by="test")
    (tmp_path / "hook.yaml").write_text("status: 200\nbody:\n  name: ACME\n")
    argv = ["dry-run", "weekly", "--mock", f"hook={tmp_path / 'hook.yaml'}", "--json"]
    assert main([*argv, "--at", "2026-03-02T07:00"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["would_run"] is True and report["run"]["logical_date"] == "2026-03-02T07:00:00+00:00"
    assert report["steps"][0]["output"] == {"status": 200, "body": {"name": "ACME"}}
    assert report["steps"][1]["output"]["name"] == "ACME 2026-03-02T07:00:00+00:00"
    (tmp_path / "hook.json").write_text(json.dumps({"body": {"name": "Globex"}}))
    assert (
        main(["dry-run", "weekly", "--mock", f"hook={tmp_path / 'hook.json'}", "--at", "2026-03-09T08:00+01:00"]) == 0
    )
    out = capsys.readouterr().out
    assert "logical date 2026-03-09T07:00:00+00:00" in out and "Globex 2026-03-09T07:00:00+00:00" in out
