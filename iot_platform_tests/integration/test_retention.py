"""Retention on the real stack: old hours of readings leave by whole files, the next ingestion continues at exactly
the right offsets, and the daily job runs with its metadata.

The readings live in hours of 2024-12-30, before any other test's data (2025 onward), and the cutoff is chosen
through ``now``, so the shared session table loses only this test's own old hour.
"""

from __future__ import annotations

import datetime as dt
import uuid

import dagster as dg
import pytest

from iot_platform import tables
from iot_platform.clients.iceberg import load_catalog
from iot_platform.jobs import INGEST_JOB
from iot_platform.pipelines.maintenance.retention import RetentionPolicy, apply_retention
from iot_platform.runs import RETENTION_JOB
from iot_platform.settings import Settings
from iot_platform.stack.service import exported_environment
from iot_platform_tests.integration.pipeline_support import (
    materialization_metadata,
    own_topic,
    produce,
    reading,
    run_job,
    utc,
)

pytestmark = pytest.mark.integration

OLD_HOUR = utc(2024, 12, 30, 0)


def _rows(settings: Settings, prefix: str) -> list[dict[str, object]]:
    table = load_catalog(settings).load_table(tables.SENSOR_READINGS)
    return table.scan(row_filter=f"sensor_id LIKE '{prefix}%'").to_arrow().to_pylist()


def _files(settings: Settings, row_filter: str) -> set[str]:
    table = load_catalog(settings).load_table(tables.SENSOR_READINGS)
    return {task.file.file_path for task in table.scan(row_filter=row_filter).plan_files()}


def test_old_hours_leave_whole_and_the_next_ingestion_continues_exactly(stack_settings: Settings) -> None:
    prefix = f"R{uuid.uuid4().hex[:6].upper()}"
    hours = [OLD_HOUR + dt.timedelta(hours=h) for h in range(3)]
    first = [reading(f"{prefix}-1", hour + dt.timedelta(seconds=s), float(s)) for hour in hours for s in range(10)]
    with own_topic(stack_settings, "retention") as settings, dg.instance_for_test() as instance:
        produce(settings, first, partition=0)
        assert run_job(INGEST_JOB, instance).success
        kept_filter = f"event_time >= '{hours[1].isoformat()}' AND event_time < '{utc(2025, 1, 1).isoformat()}'"
        kept_files = _files(settings, kept_filter)

        # "Now" one day after the end of the first hour: only that hour is past a one-day retention.
        now = hours[1] + dt.timedelta(days=1, minutes=30)
        [readings, _, _] = apply_retention(
            load_catalog(settings), RetentionPolicy(readings_days=1, rejected_days=None, alerts_days=None), now
        )

        assert readings.cutoff == hours[1]
        assert (readings.rows, readings.partitions, readings.rewritten_files) == (10, 1, 0)
        assert _files(settings, kept_filter) == kept_files, "the kept hours' files are untouched"
        assert sorted(row["kafka_offset"] for row in _rows(settings, prefix)) == list(range(10, 30))  # type: ignore[type-var]

        later = [reading(f"{prefix}-1", hours[2] + dt.timedelta(minutes=5, seconds=s), 1.0) for s in range(7)]
        produce(settings, later, partition=0)
        result = run_job(INGEST_JOB, instance)
        assert result.success
        meta = materialization_metadata(result, "sensor_readings")
        assert (meta["stored"], meta["duplicates_dropped"]) == (7, 0), "only the new records were read"
        offsets = sorted(row["kafka_offset"] for row in _rows(settings, prefix))  # type: ignore[type-var]
        assert offsets == list(range(10, 37)), "no duplicate, no gap after the delete"


def test_the_retention_job_runs_with_metadata_and_keeps_what_the_policy_keeps(stack_settings: Settings) -> None:
    keep_all = {
        "IOT_RETENTION_READINGS_DAYS": "0",
        "IOT_RETENTION_REJECTED_DAYS": "0",
        "IOT_RETENTION_ALERTS_DAYS": "0",
        "IOT_RETENTION_RUNS_DAYS": "1",
    }
    table = load_catalog(stack_settings).load_table(tables.SENSOR_READINGS)
    before = table.current_snapshot()
    with exported_environment(keep_all), dg.instance_for_test() as instance:
        result = run_job(RETENTION_JOB, instance)
        assert result.success
        tables_meta = materialization_metadata(result, "table_retention")
        runs_meta = materialization_metadata(result, "dagster_run_retention")
    assert tables_meta["rows_dropped"] == 0
    assert set(tables_meta["tables"].values()) == {"kept (no retention set)"}
    assert runs_meta["runs_deleted"] == 0  # the test instance has no run older than a day
    table.refresh()
    after = table.current_snapshot()
    assert (after.snapshot_id if after else None) == (before.snapshot_id if before else None), "no commit"
