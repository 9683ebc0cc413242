"""Events: ingest throughput and latency of the events API, event-to-first-step latency vs an
empty DAG triggered through Airflow's REST API (the floor), and a burst: all runs finished, lost 0,
duplicated 0. Starts a real Airflow (api-server, scheduler, dag-processor, triggerer) + emitter.

Usage: python benchmarks/events.py [--ingest 1000] [--client both|lean|httpx] [--latency 20] [--burst 1000]
(--latency 0 --burst 0: ingest only). The lean client costs a tenth of the httpx one per request:
the generator shares the 2 cores with the server, so the lean figure is closer to a remote client's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from _env import ROOT, bench_env

# The floor: a DAG whose one task does nothing, but runs on a worker like our first task does (an
# EmptyOperator would be marked done by the scheduler without ever starting on a worker).
FLOOR_DAG = """
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG

with DAG("floor_empty", schedule=None, max_active_runs=64, is_paused_upon_creation=False):
    PythonOperator(task_id="first", python_callable=lambda: None)
"""
WORKFLOW = {
    "key": "bench-events", "name": "bench events", "status": "ACTIVE",
    "trigger": {"type": "record_event", "entity": "leads", "events": ["created"]},
    "settings": {"max_active_runs": 1000, "retries": 0},
    "steps": [{"id": "log", "type": "add_note", "config": {"entity": "leads", "entity_id": "{{ trigger.id }}",
                                                           "body": "lead {{ trigger.id }}"}}],
}  # fmt: skip


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class Api:
    def __init__(self, base: str) -> None:
        token = httpx.post(f"{base}/auth/token", json={"username": "admin", "password": "admin"}).json()["access_token"]
        self.headers = {"Authorization": f"Bearer {token}"}
        self.http = httpx.Client(base_url=base, headers=self.headers, timeout=60)

    def get(self, path: str, **params: object) -> dict:
        return self.http.get(f"/api/v2{path}", params=params).raise_for_status().json()

    def runs(self, dag_id: str, **params: object) -> list[dict]:
        out, offset = [], 0
        while True:
            page = self.get(f"/dags/{dag_id}/dagRuns", limit=100, offset=offset, **params)["dag_runs"]
            out += page
            offset += 100
            if len(page) < 100:
                return out

    def first_task_start(self, dag_id: str, run_id: str, task_id: str) -> float | None:
        ti = self.http.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}").json()
        start = ti.get("start_date")
        return None if not start else _ts(start)


def _ts(value: str) -> float:
    import pendulum

    return pendulum.parse(value).timestamp()


def wait(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(1)
    raise SystemExit(f"timed out waiting for {what}")


def _ingest_body(prefix: str, i: int) -> dict:
    return {"entity": "ingest_only", "event": "created", "id": i, "new": {"id": i},
            "idempotency_key": f"{prefix}-{i}"}  # fmt: skip


def _post_httpx(api: Api, n: int, workers: int, prefix: str) -> list[float]:
    """The first generator: httpx in a pool of threads (about 1.7 ms of client CPU per request)."""

    def post(i: int) -> float:
        start = time.perf_counter()
        api.http.post("/automation/api/v1/events", json=_ingest_body(prefix, i)).raise_for_status()
        return time.perf_counter() - start

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(post, range(n)))


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:] if line)}
    if "content-length" in headers:
        return int(head[0].split()[1]), await reader.readexactly(int(headers["content-length"]))
    body = b""  # chunked
    while size := int((await reader.readline()).split(b";")[0], 16):
        body += (await reader.readexactly(size + 2))[:-2]
    await reader.readline()
    return int(head[0].split()[1]), body


async def _post_lean(api: Api, n: int, workers: int, prefix: str) -> list[float]:
    """A client as cheap as a remote app's would look from here: `workers` keep-alive HTTP/1.1
    connections on one asyncio loop, each sending its next request when the last one answered."""
    url = urlsplit(str(api.http.base_url))
    head = (f"POST /automation/api/v1/events HTTP/1.1\r\nHost: {url.netloc}\r\n"
            f"Authorization: {api.headers['Authorization']}\r\nContent-Type: application/json\r\n")  # fmt: skip
    bodies = [json.dumps(_ingest_body(prefix, i)).encode() for i in range(n)]
    latencies: list[float] = []
    pending = iter(range(n))

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(url.hostname, url.port)
        try:
            for i in pending:
                start = time.perf_counter()
                writer.write(f"{head}Content-Length: {len(bodies[i])}\r\n\r\n".encode() + bodies[i])
                status, body = await _read_response(reader)
                latencies.append(time.perf_counter() - start)
                if status not in (200, 201):
                    raise SystemExit(f"ingest: HTTP {status}: {body[:300]!r}")
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(workers)))
    return latencies


def _cpu_seconds(roots: list[int]) -> float:
    """CPU time (user + system) of these processes and all their descendants, from /proc."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0.0, list(roots)
    while todo:
        pid = todo.pop()
        total += stats.get(pid, (0, 0.0))[1]
        todo += children.get(pid, [])
    return total


def ingest(api: Api, n: int, workers: int, client: str, watched: dict[str, list[int]]) -> dict[str, float]:
    """Throughput and latency, and the CPU each process spent per request meanwhile (`watched`)."""
    before = {name: _cpu_seconds(pids) for name, pids in watched.items()}
    own, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    prefix = f"ingest-{client}"
    if client == "httpx":
        latencies = _post_httpx(api, n, workers, prefix)
    else:
        latencies = asyncio.run(_post_lean(api, n, workers, prefix))
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = {name: (_cpu_seconds(pids) - before[name]) / n * 1000 for name, pids in watched.items()}
    cpu["load generator"] = (after.ru_utime - own.ru_utime + after.ru_stime - own.ru_stime) / n * 1000
    return {"events_per_s": n / wall, "p50_ms": pct(latencies, 50) * 1000, "p99_ms": pct(latencies, 99) * 1000,
            **{f"cpu_ms {name}": value for name, value in cpu.items()}}  # fmt: skip


def _run_for_event(api: Api, event_id: int) -> str | None:
    for run in api.runs("automation__bench-events"):
        if run.get("partition_key") == str(event_id):
            return run["dag_run_id"]
    return None


def _outbox_insert(i: int) -> int:
    from sqlalchemy import text

    from automation.store.db import engine

    with engine().begin() as conn:
        return conn.execute(
            text(
                "INSERT INTO automation.events (idempotency_key, entity, entity_id, event) "
                "VALUES (:k, 'leads', :i, 'created') RETURNING id"
            ),
            {"k": f"outbox-lat-{i}", "i": str(i)},
        ).scalar_one()


def _start_of_event_run(api: Api, event_id: int, timeout: float = 120) -> float | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if run_id := _run_for_event(api, event_id):
            start = api.first_task_start("automation__bench-events", run_id, "conditions")
            if start:
                return start
        time.sleep(0.1)
    return None


def outbox_latency(api: Api, n: int) -> list[float]:
    """An app's own INSERT into the ledger (outbox) to the workflow's first task: NOTIFY -> emitter."""
    samples = []
    for i in range(n):
        sent = time.time()
        start = _start_of_event_run(api, _outbox_insert(i))
        if start:
            samples.append(start - sent)
    return samples


def latency(api: Api, n: int, prefix: str = "lat") -> dict[str, list[float]]:
    """Sequential samples: an event to our gate task's start, a REST trigger to an empty DAG's task
    (`prefix`: of the events' idempotency keys, new for each run on the same automation database)."""
    ours, floor = [], []
    for i in range(n):
        sent = time.time()
        posted = api.http.post(
            "/automation/api/v1/events",
            json={"entity": "leads", "event": "created", "id": 50000 + i, "idempotency_key": f"{prefix}-{i}"},
        )
        event_id = posted.raise_for_status().json()["id"]
        sent_floor = time.time()
        run = api.http.post("/api/v2/dags/floor_empty/dagRuns", json={"logical_date": None}).raise_for_status().json()
        got_ours = got_floor = None
        deadline = time.monotonic() + 120
        while (got_ours is None or got_floor is None) and time.monotonic() < deadline:
            if got_floor is None:
                got_floor = api.first_task_start("floor_empty", run["dag_run_id"], "first")
            if got_ours is None and (run_id := _run_for_event(api, event_id)):
                got_ours = api.first_task_start("automation__bench-events", run_id, "conditions")
            time.sleep(0.1)
        if got_ours and got_floor:
            ours.append(got_ours - sent)
            floor.append(got_floor - sent_floor)
    return {"ours": ours, "floor": floor}


def burst(api: Api, n: int) -> dict[str, float]:
    before = {r["dag_run_id"] for r in api.runs("automation__bench-events")}
    events = [{"entity": "leads", "event": "created", "id": 100000 + i, "idempotency_key": f"burst-{i}"}
              for i in range(n)]  # fmt: skip
    started = time.perf_counter()
    for chunk in range(0, n, 500):
        api.http.post(
            "/automation/api/v1/events/batch", json={"events": events[chunk : chunk + 500]}
        ).raise_for_status()

    def done() -> bool:
        runs = [r for r in api.runs("automation__bench-events") if r["dag_run_id"] not in before]
        return len(runs) >= n and all(r["state"] in ("success", "failed") for r in runs)

    wait(done, 3600, "the burst's runs")
    elapsed = time.perf_counter() - started
    runs = [r for r in api.runs("automation__bench-events") if r["dag_run_id"] not in before]
    keys = [r.get("partition_key") for r in runs]
    return {"seconds": elapsed, "runs": len(runs), "lost": n - len(set(keys)), "duplicated": len(keys) - len(set(keys)),
            "failed": sum(r["state"] == "failed" for r in runs)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ingest", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--client", choices=["both", "lean", "httpx"], default="both",
                        help="ingest generator: lean asyncio, httpx threads (the first one) or both")  # fmt: skip
    parser.add_argument("--latency", type=int, default=20)
    parser.add_argument("--burst", type=int, default=1000)
    args = parser.parse_args()
    from automation.local.stack import AirflowProcesses, run_command

    with bench_env(airflow=True) as env:
        tmp = Path(env["BENCH_TMP"])
        (tmp / "workflows.py").write_text((ROOT / "dags" / "automation_workflows.py").read_text())
        (tmp / "floor.py").write_text(FLOOR_DAG)
        (tmp / "wf.json").write_text(json.dumps([WORKFLOW]))
        run_command([sys.executable, "-m", "automation", "import", str(tmp / "wf.json")], env)
        procs = AirflowProcesses(env, tmp / "logs").start()
        try:
            base = env["AIRFLOW__API__BASE_URL"]
            wait(lambda: _healthy(base), 180, "the api-server")
            api = Api(base)
            wait(lambda: api.http.get("/api/v2/dags/automation__bench-events").status_code == 200
                 and api.http.get("/api/v2/dags/floor_empty").status_code == 200, 300, "the DAGs")  # fmt: skip
            time.sleep(5)
            watched = {
                "api-server": [procs.processes["api-server"].pid],
                "Postgres": [int((tmp / "pg" / "postmaster.pid").read_text().split()[0])],
                "emitter": [procs.processes["emitter"].pid],
                "scheduler, dag-processor, triggerer": [procs.processes[name].pid for name in
                                                        ("scheduler", "dag-processor", "triggerer")],
            }  # fmt: skip
            clients = ["lean", "httpx"] if args.client == "both" else [args.client]
            # warm-up, not measured: the api-server's and the emitter's first event import and
            # connect (seconds of CPU in the emitter: Airflow's asset manager)
            _post_httpx(api, 50, args.workers, "warm-up")
            time.sleep(5)
            load = os.getloadavg()[0]
            ing = {}
            for client in clients:
                ing[client] = ingest(api, args.ingest, args.workers, client, watched)
                time.sleep(5)  # the emitter catches up before the next phase
            lat = latency(api, args.latency)
            lat["outbox"] = outbox_latency(api, args.latency)
            bur = burst(api, args.burst) if args.burst else {"runs": 0}
        finally:
            procs.stop()
    names = {"lean": "lean client", "httpx": "httpx client (as before)"}
    print(f"\n1-minute load average before ingest: {load:.2f}")
    print(
        f"\n| ingest ({args.ingest} events, {args.workers} clients, one per request) | "
        + " | ".join(names[c] for c in ing)
        + " |\n|---|"
        + "---:|" * len(ing)
    )
    rows = [("throughput", "events_per_s", "{:.0f} events/s"), ("p50", "p50_ms", "{:.1f} ms"),
            ("p99", "p99_ms", "{:.1f} ms")]  # fmt: skip
    rows += [(f"CPU per request: {k.removeprefix('cpu_ms ')}", k, "{:.2f} ms") for k in next(iter(ing.values()))
             if k.startswith("cpu_ms")]  # fmt: skip
    for label, key, fmt in rows:
        print(f"| {label} | " + " | ".join(fmt.format(r[key]) for r in ing.values()) + " |")
    if lat["ours"]:
        _print_latency(lat)
    if bur["runs"]:
        print(f"\n| burst of {args.burst} events | value |\n|---|---:|")
        print(f"| all runs finished after | {bur['seconds']:.0f} s |\n| runs | {bur['runs']} |\n"
              f"| lost | {bur['lost']} |\n| duplicated | {bur['duplicated']} |\n"
              f"| failed | {bur['failed']} |")  # fmt: skip


def _print_latency(lat: dict[str, list[float]]) -> None:
    o, f = lat["ours"], lat["floor"]
    print(f"\n| start latency ({len(o)} samples) | p50 (s) | p95 (s) |\n|---|---:|---:|")
    print(f"| event -> first task of the workflow | {pct(o, 50):.2f} | {pct(o, 95):.2f} |")
    ob = lat["outbox"]
    print(f"| outbox INSERT -> first task of the workflow | {pct(ob, 50):.2f} | {pct(ob, 95):.2f} |")
    print(f"| REST trigger -> first task of an empty DAG (floor) | {pct(f, 50):.2f} | {pct(f, 95):.2f} |")
    print(f"| ratio | {pct(o, 50) / pct(f, 50):.2f}x | {pct(o, 95) / pct(f, 95):.2f}x |")


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/api/v2/monitor/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    main()
