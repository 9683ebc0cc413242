"""Statistics over real runs: counts by status, success rate, durations, per day, failing steps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from automation.errors import NotFoundError
from automation.insights.stats import stats_report
from tests.insights.conftest import failing_workflow, guarded_workflow

pytestmark = pytest.mark.usefixtures("db", "airflow_db")


def test_counts_rates_durations_and_failing_steps(create, run_workflow) -> None:
    create(guarded_workflow("st-guarded"))
    create(failing_workflow("st-closer"))
    runs = [
        run_workflow("st-guarded", name="VIP one"),
        run_workflow("st-guarded", name="VIP two"),
        run_workflow("st-guarded", name="nobody"),
        run_workflow("st-closer", deal_id=777001),
        run_workflow("st-closer", deal_id=777001),
        run_workflow("st-closer", deal_id=777002),
    ]
    assert [r.state for r in runs] == ["success"] * 3 + ["failed"] * 3

    report = stats_report(keys=["st-guarded", "st-closer"])
    assert len(report.overall.per_day) == 30
    stats = {w.key: w for w in report.workflows}
    guarded, closer = stats["st-guarded"], stats["st-closer"]
    assert (guarded.total, guarded.success, guarded.skipped, guarded.failed) == (3, 2, 1, 0)
    assert guarded.success_rate == 1.0 and guarded.status == "ACTIVE"
    assert (closer.total, closer.failed, closer.success_rate) == (3, 3, 0.0)
    overall = report.overall
    assert (overall.total, overall.success, overall.failed, overall.skipped) == (6, 2, 3, 1)
    assert overall.success_rate == pytest.approx(2 / 5)
    assert len(report.durations_s) == 5  # success and failed runs; the skipped one executed no step
    assert 0 <= guarded.p50_duration_s <= guarded.p95_duration_s
    assert guarded.avg_duration_s == pytest.approx(guarded.p50_duration_s)  # the mean of two is their median
    assert min(report.durations_s) <= overall.avg_duration_s <= max(report.durations_s)
    today = overall.per_day[-1]
    assert (today.day, today.success, today.failed, today.skipped) == (datetime.now(UTC).date(), 2, 3, 1)
    assert sum(d.success + d.failed + d.skipped for d in overall.per_day[:-1]) == 0
    assert guarded.last_execution.run_id == runs[2].run_id and guarded.last_execution.status == "skipped"
    assert overall.last_execution.run_id == runs[-1].run_id

    [failing] = closer.failing_steps
    assert failing.step_id == "close_missing" and failing.failures == 3
    assert [e.count for e in failing.top_errors] == [2, 1]
    assert "777001" in failing.top_errors[0].message and "777002" in failing.top_errors[1].message
    assert overall.failing_steps[0].key == "st-closer" and guarded.failing_steps == []


def test_period_filters_and_unknown_keys(create, run_workflow) -> None:
    create(guarded_workflow("st-period"))
    run_workflow("st-period", name="VIP")
    old = stats_report(
        keys=["st-period"], since=datetime(2020, 1, 1, tzinfo=UTC), until=datetime(2020, 1, 8, tzinfo=UTC)
    )
    assert old.overall.total == 0 and len(old.overall.per_day) == 7 and old.durations_s == []
    assert old.workflows[0].success_rate is None and old.workflows[0].last_execution is None
    now = datetime.now(UTC)
    recent = stats_report(keys=["st-period"], since=now - timedelta(hours=1), until=now + timedelta(minutes=1))
    assert recent.overall.total == 1 and recent.workflows[0].key == "st-period"
    with pytest.raises(NotFoundError):
        stats_report(keys=["st-missing"])
    with pytest.raises(ValueError, match="since"):
        stats_report(since=now, until=now - timedelta(days=1))
