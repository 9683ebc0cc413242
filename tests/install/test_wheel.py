"""The built wheel is the product: it carries include/templates and dags/*.py byte for byte, and installed
alone (with apache-airflow==3.3.2) into a fresh virtualenv, outside the checkout, it runs in Airflow.

The wheel is built once per module from a copy of the sources (never the checkout's build/ directory).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import pytest

from automation.local.embedded_db import EmbeddedPostgres, free_port
from automation.local.stack import airflow_env
from tests.conftest import ROOT, TMP
from tests.e2e.conftest import AirflowApi, wait_for

#: what a source distribution holds: enough to build the wheel
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "plugins/automation", "include/templates", "dags")
#: the checkout's sources of the wheel's copies -> where the wheel carries them
COPIES = {"include/templates": "automation/_include/templates", "dags": "automation/_dags"}


def _source_files(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


@pytest.fixture(scope="module")
def wheel() -> Path:
    work = TMP / "wheel-build"
    shutil.rmtree(work, ignore_errors=True)
    source = work / "src"
    for name in SOURCES:
        origin = ROOT / name
        if origin.is_dir():
            shutil.copytree(origin, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(origin, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(work / "dist"), str(source)],
        check=True,
        capture_output=True,
        timeout=600,
        cwd=work,
    )
    (built,) = (work / "dist").glob("*.whl")
    return built


def test_wheel_carries_include_templates_and_dag_files_byte_for_byte(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for source, packaged in COPIES.items():
            expected = _source_files(ROOT / source)
            assert expected, f"{source} is empty"
            carried = {
                name.removeprefix(packaged + "/"): archive.read(name)
                for name in names
                if name.startswith(packaged + "/")
            }
            assert sorted(carried) == sorted(expected), f"the wheel's {packaged} lists other files than {source}"
            different = [name for name in expected if carried[name] != expected[name]]
            assert not different, f"the wheel's copy of {source} differs: {different}"
    for needed in (
        "automation/records/crm_collections.yaml",
        "automation/store/migrations/env.py",
        "automation/store/migrations/script.py.mako",
        "automation/demo/crm.sql",
    ):
        assert needed in names, f"{needed} is missing from the wheel"
    assert any(name.startswith("automation/store/migrations/versions/") for name in names)
    assert not any(name.startswith(("include/", "dags/", "tests/")) for name in names)


# ---------------------------------------------------------------------------------------------------------------
# Installed into a fresh virtualenv with Airflow, outside the checkout, and run.

PROCESSES = ("api-server", "scheduler", "dag-processor")
#: `make test` downloads the pinned requirements here once (requirements.txt changes download them again):
#: the virtualenv is then installed offline, in about half the time (measured: 33 s instead of 60 s).
WHEELHOUSE = ROOT / ".venv" / "wheelhouse"
#: uv (requirements-test.txt) makes the virtualenv and installs into it: no pip bootstrap, no compiling of
#: every module of Airflow and the providers up front (the processes compile what they import), so the
#: fixture costs a few seconds of CPU instead of about a minute (docs/contributing.md); pip without it.
UV = Path(sys.executable).with_name("uv")


def _clean_env(**extra: str) -> dict[str, str]:
    """Nothing of this test session's environment (its PYTHONPATH names the checkout): a user's shell."""
    keep = {
        name: os.environ[name]
        for name in ("PATH", "HOME", "LANG", "TZ", "PIP_CERT", "PIP_FIND_LINKS")
        if name in os.environ
    }
    return {**keep, "NO_PROXY": "*", **extra}


def _run(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 600) -> str:
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr[-4000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def venv(wheel: Path) -> Path:
    """A fresh virtualenv with the pinned requirements (Airflow 3.3.2 and the providers) and the wheel."""
    place = TMP / "install-venv"
    shutil.rmtree(place, ignore_errors=True)
    env = _clean_env()
    started = time.monotonic()
    offline = ["--no-index", "--find-links", str(WHEELHOUSE)] if (WHEELHOUSE / ".complete").exists() else []
    requirements = ["-r", str(ROOT / "requirements.txt"), str(wheel)]
    if UV.exists():
        _run([str(UV), "venv", "-q", "--python", sys.executable, str(place)], env, TMP)
        _run([str(UV), "pip", "install", "-q", "--python", str(place / "bin/python"), *offline, *requirements],
             env, TMP, 1200)  # fmt: skip
    else:
        _run([sys.executable, "-m", "venv", str(place)], env, TMP)
        _run([str(place / "bin/pip"), "install", "-q", *offline, *requirements], env, TMP, 1200)
    print(
        f"virtualenv with Airflow and the wheel ({'uv' if UV.exists() else 'pip'}): {time.monotonic() - started:.0f}s"
    )
    return place


@pytest.mark.airflow_e2e
def test_installed_wheel_runs_in_a_fresh_airflow(venv: Path, pg: EmbeddedPostgres, tmp_path: Path) -> None:
    cwd = tmp_path / "user"
    cwd.mkdir()
    bin_dir = venv / "bin"
    probe = "import automation, sys; from automation.config import include_dir as d; print(automation.__file__, d(), sys.path)"
    where = _run([str(bin_dir / "python"), "-c", probe], _clean_env(), cwd)
    package, include, _ = where.split(" ", 2)
    assert package.startswith(str(venv)) and include == str(Path(package).parent / "_include"), where
    assert str(ROOT) not in where, f"the checkout is on sys.path: {where}"

    for name in ("install_airflow", "install_automation"):
        pg.create_database(name)
    home = tmp_path / "airflow"
    dags = home / "dags"
    dags.mkdir(parents=True)
    port = free_port()
    env = _clean_env(
        **airflow_env(
            home,
            pg,
            api_port=port,
            automation_db="install_automation",
            airflow_db="install_airflow",
            parse_interval=5,
            extra={
                "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(home / "plugins"),
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),  # beside the shared stack's
                "PYTHONPATH": "",
            },
        )
    )
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"

    init = _run([str(bin_dir / "automation"), "init", "--dags-folder", str(dags)], env, cwd)
    assert f"written {dags / 'automation_workflows.py'}" in init and "automation migrate" in init, init
    assert (dags / "automation_workflows.py").read_bytes() == (ROOT / "dags/automation_workflows.py").read_bytes()
    assert "unchanged" in _run([str(bin_dir / "automation"), "init", "--dags-folder", str(dags)], env, cwd)
    _run([str(bin_dir / "airflow"), "db", "migrate"], env, cwd)
    assert "up to date" in _run([str(bin_dir / "automation"), "migrate"], env, cwd)

    logs = tmp_path / "logs"
    logs.mkdir()
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name in PROCESSES:
            with (logs / f"{name}.log").open("wb") as log:
                processes[name] = subprocess.Popen(
                    [str(bin_dir / "airflow"), name], env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True,
                )  # fmt: skip
        base = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            dead = [name for name, proc in processes.items() if proc.poll() is not None]
            assert not dead, f"{dead[0]} died:\n{(logs / f'{dead[0]}.log').read_text()[-4000:]}"
            try:
                return httpx.get(f"{base}/api/v2/monitor/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy, 180, "the installed api-server")
        airflow = AirflowApi(base)
        api = airflow.client
        body = {"key": "installed-deals", "parameters": {"threshold": 5000, "manager_email": "boss@acme.test"}}
        created = api.post("/automation/api/v1/templates/large-deal-alert/workflows", json=body)
        assert created.status_code == 201, created.text
        dag = wait_for(lambda: airflow.dag("automation__installed-deals"), 120, "the DAG of the installed product")
        assert dag["is_paused"] is False
        maintenance = airflow.get("/dags", dag_id_pattern="automation_maintenance")["dags"]
        assert "automation_maintenance_cleanup" in {d["dag_id"] for d in maintenance}, maintenance

        token = httpx.post(f"{base}/auth/token", json={"username": "admin", "password": "admin"}, timeout=60).json()
        pages = httpx.Client(base_url=base, cookies={"_token": token["access_token"]}, timeout=60)
        for path, content in (
            ("stats", "installed-deals"),
            ("templates", "large-deal-alert"),
            ("workflows", "installed-deals"),
        ):
            page = pages.get(f"/automation/ui/{path}")
            assert page.status_code == 200 and content in page.text, (path, page.status_code, page.text[:500])
        css = pages.get("/automation/ui/static/pages.css")
        assert (
            css.status_code == 200 and css.content == (ROOT / "include/templates/pages/static/pages.css").read_bytes()
        )
    finally:
        for proc in processes.values():
            if proc.poll() is None:
                os.killpg(proc.pid, 15)
        for proc in processes.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
        artifacts = ROOT / "test-artifacts" / "install-logs"
        shutil.rmtree(artifacts, ignore_errors=True)
        shutil.copytree(logs, artifacts, dirs_exist_ok=True)
