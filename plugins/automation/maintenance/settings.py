"""Schedules and options of the maintenance DAGs, from the [automation] settings (read at parse time)."""

from __future__ import annotations

from dataclasses import dataclass, field

from automation.config import maintenance_paused, setting


@dataclass(frozen=True)
class MaintenanceSettings:
    cleanup_cron: str = field(default_factory=lambda: setting("cleanup_cron"))
    #: Runs of each workflow kept whatever their age, so a rarely-run workflow keeps its history.
    keep_last_runs: int = field(default_factory=lambda: setting("keep_last_runs"))
    batch_size: int = field(default_factory=lambda: setting("cleanup_batch"))
    #: Retention of workflows without their own `settings.retention_days` (deleted ones too).
    default_retention_days: int = field(default_factory=lambda: setting("retention_days"))
    daily_report_cron: str = field(default_factory=lambda: setting("daily_report_cron"))
    weekly_report_cron: str = field(default_factory=lambda: setting("weekly_report_cron"))
    report_recipients: tuple[str, ...] = field(default_factory=lambda: setting("report_emails"))
    timezone: str = field(default_factory=lambda: setting("maintenance_timezone"))
    #: Created paused ([automation] maintenance_paused); by default they run from the start (housekeeping on).
    paused: bool = field(default_factory=maintenance_paused)
