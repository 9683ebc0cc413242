"""`AirflowProcesses.supervise` (what `make run` does every second) with real child processes."""

from __future__ import annotations

import os
import signal
import sys
import time

from automation.local.stack import AirflowProcesses

FLAKY = [sys.executable, "-c", "import sys; print('out of cheese', flush=True); sys.exit(3)"]
STEADY = [sys.executable, "-c", "import time; time.sleep(120)"]


def wait_dead(procs: AirflowProcesses, name: str) -> None:
    deadline = time.monotonic() + 60  # a hang guard only
    while procs.processes[name].poll() is None:
        assert time.monotonic() < deadline, f"{name} did not exit"
        time.sleep(0.02)


def test_a_dead_process_is_started_again_after_growing_pauses_and_the_reason_is_reported(tmp_path) -> None:
    procs = AirflowProcesses({}, tmp_path / "logs", commands={"flaky": FLAKY}, stable_seconds=1000)
    procs.start(("flaky",))
    clock = time.monotonic()
    try:
        for delay in (1, 2, 4, 8, 16, 30, 30):
            wait_dead(procs, "flaky")
            pid = procs.processes["flaky"].pid
            (why,) = procs.supervise(now=clock)
            assert why.startswith(f"flaky exited with code 3; starting it again in {delay}s")
            assert "out of cheese" in why  # its last log lines
            assert procs.supervise(now=clock + delay - 0.5) == []  # not before the pause is over
            clock += delay
            (started,) = procs.supervise(now=clock)
            assert started.startswith("flaky started again") and procs.processes["flaky"].pid != pid
        assert "started again by the supervisor: it exited with code 3" in procs.log_tail("flaky")
    finally:
        procs.stop()


def test_a_process_that_stayed_up_starts_over_at_one_second_and_a_killed_one_stays_down(tmp_path) -> None:
    procs = AirflowProcesses({}, tmp_path / "logs", commands={"flaky": FLAKY, "steady": STEADY}, stable_seconds=60)
    procs.start(("flaky", "steady"))
    clock = time.monotonic()
    try:
        for delay in (1, 2):
            wait_dead(procs, "flaky")
            procs.supervise(now=clock)
            clock += delay
            procs.supervise(now=clock)
        procs.commands["flaky"] = STEADY  # the cause went away: it keeps running
        wait_dead(procs, "flaky")
        procs.supervise(now=clock)
        clock += 4
        procs.supervise(now=clock)
        assert procs.supervise(now=clock + 61) == []  # up for longer than stable_seconds
        os.killpg(procs.processes["flaky"].pid, signal.SIGKILL)  # a crash
        wait_dead(procs, "flaky")
        (why,) = procs.supervise(now=clock + 62)
        assert why.startswith("flaky was killed by signal 9; starting it again in 1s")

        procs.kill("steady")  # stopped on purpose (a test's crash): not started again
        assert "steady" not in procs.processes
        assert all("steady" not in m for m in procs.supervise(now=clock + 200))
    finally:
        procs.stop()
