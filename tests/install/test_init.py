"""`automation init --dags-folder DIR`: the repository's DAG files, written once, never over a user's file."""

from __future__ import annotations

from pathlib import Path

import pytest

from automation.cli.main import main
from tests.conftest import ROOT

NAMES = ("automation_workflows.py", "automation_maintenance.py")


def test_init_writes_the_dag_files_and_prints_the_remaining_steps(tmp_path: Path, capsys) -> None:
    assert main(["init", "--dags-folder", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for name in NAMES:
        assert (tmp_path / name).read_bytes() == (ROOT / "dags" / name).read_bytes()
        assert f"written {tmp_path / name}" in out
    for step in ("automation_db", "airflow_metadata_db", "smtp_default", "automation migrate"):
        assert step in out
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(NAMES)  # no temporary file left


def test_init_again_is_a_no_op(tmp_path: Path, capsys) -> None:
    assert main(["init", "--dags-folder", str(tmp_path)]) == 0
    before = {name: (tmp_path / name).stat().st_mtime_ns for name in NAMES}
    capsys.readouterr()
    assert main(["init", "--dags-folder", str(tmp_path)]) == 0
    assert all(f"unchanged {tmp_path / name}" in capsys.readouterr().out for name in NAMES[:1])
    assert {name: (tmp_path / name).stat().st_mtime_ns for name in NAMES} == before


def test_init_refuses_a_different_file_and_writes_nothing_without_force(tmp_path: Path, capsys) -> None:
    mine = b"# my own DAG file\n"
    (tmp_path / "automation_maintenance.py").write_bytes(mine)
    assert main(["init", "--dags-folder", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "automation_maintenance.py: exists and differs" in err and "--force" in err
    assert (tmp_path / "automation_maintenance.py").read_bytes() == mine
    assert not (tmp_path / "automation_workflows.py").exists()  # nothing at all was written

    assert main(["init", "--dags-folder", str(tmp_path), "--force"]) == 0
    assert f"replaced {tmp_path / 'automation_maintenance.py'}" in capsys.readouterr().out
    assert (tmp_path / "automation_maintenance.py").read_bytes() == (
        ROOT / "dags/automation_maintenance.py"
    ).read_bytes()


@pytest.mark.parametrize("missing", ["nowhere", "a-file"])
def test_init_needs_an_existing_dags_folder(tmp_path: Path, capsys, missing: str) -> None:
    (tmp_path / "a-file").write_text("x")
    assert main(["init", "--dags-folder", str(tmp_path / missing)]) == 2
    assert "not a directory; give your Airflow's dags folder" in capsys.readouterr().err
    assert not (tmp_path / "nowhere").exists()


def test_init_requires_the_dags_folder(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["init"])
    assert "--dags-folder" in capsys.readouterr().err


def test_include_dir_is_the_setting_else_the_checkout(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from automation.config import include_dir

    for name in ("AUTOMATION_INCLUDE_DIR", "AIRFLOW__AUTOMATION__INCLUDE_DIR"):
        monkeypatch.delenv(name, raising=False)
    assert include_dir() == ROOT / "include"  # running from the checkout (the wheel's copy: test_wheel.py)
    monkeypatch.setenv("AIRFLOW__AUTOMATION__INCLUDE_DIR", str(tmp_path))
    assert include_dir() == tmp_path
