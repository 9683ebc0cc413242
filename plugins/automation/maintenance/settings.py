"""Schedules and options of the maintenance DAGs, from the environment (read at parse time)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


@dataclass(frozen=True)
class MaintenanceSettings:
    cleanup_cron: str = field(default_factory=lambda: os.environ.get("AUTOMATION_CLEANUP_CRON", "0 3 * * 0"))
    #: Runs of each workflow kept whatever their age, so a rarely-run workflow keeps its history.
    keep_last_runs: int = field(default_factory=lambda: _int("AUTOMATION_KEEP_LAST_RUNS", 10))
    batch_size: int = field(default_factory=lambda: _int("AUTOMATION_CLEANUP_BATCH", 500))
    #: Retention of workflows without their own `settings.retention_days` (deleted ones too).
    default_retention_days: int = field(default_factory=lambda: _int("AUTOMATION_RETENTION_DAYS", 90))
    daily_report_cron: str = field(default_factory=lambda: os.environ.get("AUTOMATION_DAILY_REPORT_CRON", "0 9 * * *"))
    weekly_report_cron: str = field(
        default_factory=lambda: os.environ.get("AUTOMATION_WEEKLY_REPORT_CRON", "0 9 * * 1")
    )
    report_recipients: tuple[str, ...] = field(
        default_factory=lambda: tuple(
            a.strip() for a in os.environ.get("AUTOMATION_REPORT_EMAILS", "").split(",") if a.strip()
        )
    )
    timezone: str = field(default_factory=lambda: os.environ.get("AUTOMATION_MAINTENANCE_TIMEZONE", "UTC"))
