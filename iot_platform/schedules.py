"""Schedules: ingestion every few minutes; hourly_stats for the previous hour after a grace period; table
maintenance (compaction hourly, housekeeping daily)."""

from __future__ import annotations

from dagster import DefaultScheduleStatus, ScheduleDefinition, build_schedule_from_partitioned_job

from iot_platform.jobs import compaction_job, hourly_stats_job, housekeeping_job, ingest_job
from iot_platform.settings import Settings


def build_schedules(settings: Settings) -> list:  # type: ignore[type-arg]
    """``ingest_schedule`` and ``hourly_stats_schedule`` (running unless ``IOT_SCHEDULES_ENABLED=false``)."""
    status = DefaultScheduleStatus.RUNNING if settings.schedules_enabled else DefaultScheduleStatus.STOPPED
    ingest = ScheduleDefinition(
        name="ingest_schedule",
        job=ingest_job,
        cron_schedule=f"*/{settings.ingest_interval_minutes} * * * *",
        execution_timezone="UTC",
        default_status=status,
        description=f"Ingests new readings every {settings.ingest_interval_minutes} minutes.",
    )
    hourly = build_schedule_from_partitioned_job(
        hourly_stats_job,
        name="hourly_stats_schedule",
        minute_of_hour=settings.schedule_grace_minutes,
        default_status=status,
        description=(
            f"At minute {settings.schedule_grace_minutes} of every hour: ingests, then builds the previous hour."
        ),
    )
    return [ingest, hourly, *maintenance_schedules(settings)]


def maintenance_schedules(settings: Settings) -> list[ScheduleDefinition]:
    """``table_compaction_schedule`` (hourly) and ``table_housekeeping_schedule`` (daily), running unless
    ``IOT_MAINTENANCE_ENABLED=false`` or ``IOT_SCHEDULES_ENABLED=false``."""
    running = settings.schedules_enabled and settings.maintenance_enabled
    status = DefaultScheduleStatus.RUNNING if running else DefaultScheduleStatus.STOPPED
    minute, hour = settings.maintenance_compaction_minute, settings.maintenance_daily_hour
    return [
        ScheduleDefinition(
            name="table_compaction_schedule",
            job=compaction_job,
            cron_schedule=f"{minute} * * * *",
            execution_timezone="UTC",
            default_status=status,
            description=f"At minute {minute} of every hour: compacts the tables' closed hours and days.",
        ),
        ScheduleDefinition(
            name="table_housekeeping_schedule",
            job=housekeeping_job,
            cron_schedule=f"{(minute + 20) % 60} {hour} * * *",
            execution_timezone="UTC",
            default_status=status,
            description=f"Daily at {hour:02d}:{(minute + 20) % 60:02d} UTC: rewrites piled-up manifests, expires "
            "old snapshots and removes old orphan files.",
        ),
    ]
