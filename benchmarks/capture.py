"""Capture overhead: a bulk UPDATE of N rows of the demo CRM's deals, without and with the capture
trigger, interleaved rounds in one run (same server, same data), rows/s of each and the ratio; then how
fast the emitter's drain moves the captured changes into the ledger (rows/s).

Usage: python benchmarks/capture.py [--rows 20000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

from _env import bench_env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with bench_env():
        from sqlalchemy import text

        from automation.capture import install
        from automation.capture.outbox import drain_all
        from automation.store.db import engine
        from automation.store.ledger import EventLedger

        crm = engine()
        with crm.begin() as conn:
            conn.execute(
                text("INSERT INTO crm.deals (name, amount, stage) SELECT 'deal ' || g, g, 'NEW' "
                     "FROM generate_series(1, :n) g"), {"n": args.rows}
            )  # fmt: skip
            conn.execute(text("ANALYZE crm.deals"))

        def bulk_update() -> float:
            started = time.perf_counter()
            with crm.begin() as conn:
                updated = conn.execute(text("UPDATE crm.deals SET amount = amount + 1, updated_at = now()")).rowcount
            elapsed = time.perf_counter() - started
            assert updated == args.rows, updated
            return args.rows / elapsed

        bulk_update()  # warm-up (caches, hint bits)
        plain: list[float] = []
        captured: list[float] = []
        drained: list[float] = []
        for _ in range(args.rounds):
            install.disable(["deals"])
            plain.append(bulk_update())
            install.enable(["deals"])
            captured.append(bulk_update())
            started = time.perf_counter()
            moved = drain_all("automation_db", EventLedger())
            drained.append(moved / (time.perf_counter() - started))
            assert moved == args.rows, moved
        without, with_capture = statistics.median(plain), statistics.median(captured)
        print(f"bulk UPDATE of {args.rows} rows, median of {args.rounds} interleaved rounds")
        print(f"  without capture: {without:,.0f} rows/s  (rounds: {', '.join(f'{r:,.0f}' for r in plain)})")
        print(f"  with capture:    {with_capture:,.0f} rows/s  (rounds: {', '.join(f'{r:,.0f}' for r in captured)})")
        print(f"  ratio: capture costs {without / with_capture:.2f}x the time of the plain UPDATE")
        print(f"  drain outbox -> ledger: {statistics.median(drained):,.0f} rows/s")


if __name__ == "__main__":
    main()
