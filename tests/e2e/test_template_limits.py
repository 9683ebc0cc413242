"""Hostile templates through the real api-server's dry-run route: refused within seconds, the
api-server's memory unchanged and its other requests answered meanwhile; a normal dry run unchanged."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import AirflowApi
from tests.helpers import workflow

pytestmark = [pytest.mark.airflow_e2e, pytest.mark.usefixtures("db")]
BASE = "/automation/api/v1/workflows"
HUGE = "{{ 'a' * 10**9 }}"
LOOPS = "{% for i in range(10000) %}{% for j in range(100000) %}{{ i }}{% endfor %}{% endfor %}"
#: two equal trees of 4**15 leaves, distinct objects: `==` walks every leaf (minutes of CPU), no size limit applies
CPU_BOMB = (
    "{% set a = (params.name, 1) %}{% set b = (params.name ~ '', 1) %}"
    + "{% set a = (a, a, a, a) %}{% set b = (b, b, b, b) %}" * 15
    + "{{ a == b }}"
)


def titled(key: str, title: str) -> dict[str, Any]:
    return workflow(key, steps=[{"id": "task", "type": "create_task", "config": {"title": title}}])


def _group_rss_kb(pgid: int) -> tuple[int, int]:
    """RSS (kB) of the api-server's process group: (its own processes, the isolated workers' processes)."""
    server = workers = 0
    for proc in Path("/proc").iterdir():
        try:
            if not proc.name.isdigit() or int((proc / "stat").read_text().rsplit(")", 1)[1].split()[2]) != pgid:
                continue
            rss = next(int(line.split()[1]) for line in (proc / "status").read_text().splitlines()
                       if line.startswith("VmRSS:"))  # fmt: skip
            if b"automation.runtime.isolated" in (proc / "cmdline").read_bytes():
                workers += rss
            else:
                server += rss
        except (OSError, StopIteration, ValueError, IndexError):
            continue  # a process that ended meanwhile (or a kernel thread without VmRSS)
    return server, workers


class PeakRss(threading.Thread):
    """Samples the group's RSS every 50 ms until stopped; `peak` is the largest server sum seen."""

    def __init__(self, pgid: int) -> None:
        super().__init__(daemon=True)
        self.pgid, self.peak, self.peak_workers, self.done = pgid, 0, 0, threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            server, workers = _group_rss_kb(self.pgid)
            self.peak, self.peak_workers = max(self.peak, server), max(self.peak_workers, workers)
            time.sleep(0.05)


def test_hostile_templates_are_refused_within_seconds_without_growing_the_api_server(airflow: AirflowApi) -> None:
    admin = airflow.client
    for data in (titled("tl-normal", "Call {{ params.name }}"), titled("tl-huge", HUGE), titled("tl-loops", LOOPS),
                 titled("tl-cpu", CPU_BOMB)):  # fmt: skip
        assert admin.post(BASE, json=data).status_code == 201
    viewer = AirflowApi(airflow.base, "viewer", "viewer").client

    def dry_run(key: str) -> tuple[httpx.Response, float]:
        started = time.monotonic()
        response = viewer.post(f"{BASE}/{key}/dry-run", json={"params": {"name": "ACME"}})
        return response, time.monotonic() - started

    normal, normal_took = dry_run("tl-normal")
    assert normal.status_code == 200, normal.text
    (plan,) = normal.json()["steps"]
    assert plan["status"] == "would_run" and plan["output"]["title"] == "Call ACME"
    warm = []
    for _ in range(3):  # both api-server workers have started their isolated-worker helper by now, most likely
        again, took = dry_run("tl-normal")
        assert again.status_code == 200
        warm.append(took)

    pgid = airflow.procs.processes["api-server"].pid
    baseline, _ = _group_rss_kb(pgid)
    sampler = PeakRss(pgid)
    sampler.start()
    try:
        huge, huge_took = dry_run("tl-huge")
        assert huge.status_code == 200 and huge_took < 30, (huge.text, huge_took)
        (task,) = huge.json()["steps"]
        assert task["status"] == "error" and "steps.task.config.title" in task["detail"]
        assert "would make more than 1,000,000 characters" in task["detail"]

        loops, loops_took = dry_run("tl-loops")
        assert loops.status_code == 200 and loops_took < 30, (loops.text, loops_took)
        assert "more than 100,000 loop iterations" in loops.json()["steps"][0]["detail"]

        result: dict[str, Any] = {}
        bomb = threading.Thread(target=lambda: result.update(zip(("response", "took"), dry_run("tl-cpu"), strict=True)))
        bomb.start()
        time.sleep(0.5)
        health_started = time.monotonic()
        health = httpx.get(f"{airflow.base}/api/v2/monitor/health", timeout=30)
        health_took = time.monotonic() - health_started
        bomb.join(60)
        assert health.status_code == 200 and health_took < 15, health_took  # answered while the bomb ran
        response = result["response"]
        assert response.status_code == 422 and result["took"] < 30, (response.text, result["took"])
        assert "CPU time ([automation] template_cpu_seconds)" in response.json()["detail"]
        assert "Traceback" not in response.text
    finally:
        sampler.done.set()
        sampler.join(5)
    growth_mb = (sampler.peak - baseline) / 1024
    print(f"normal dry run {normal_took:.2f} s (first), {min(warm):.2f}-{max(warm):.2f} s (then); 'a'*10**9 refused in {huge_took:.2f} s, nested loops in "
          f"{loops_took:.2f} s, CPU bomb in {result['took']:.2f} s; api-server RSS {baseline / 1024:.0f} MB, "
          f"peak growth {growth_mb:.1f} MB; isolated workers' peak {sampler.peak_workers / 1024:.0f} MB")  # fmt: skip
    assert growth_mb < 100, growth_mb
    assert dry_run("tl-normal")[0].status_code == 200  # still serving dry runs
