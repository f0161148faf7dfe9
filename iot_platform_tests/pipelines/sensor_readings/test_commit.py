"""Checking a commit from a real Iceberg table's metadata: the run's own snapshot, rows added per event-time hour."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from iot_platform.errors import IngestionError
from iot_platform.pipelines.sensor_readings.commit import added_rows_per_hour, verify_commit
from iot_platform.pipelines.sensor_readings.plan import plan_ingestion
from iot_platform_tests.pipelines.sensor_readings.iceberg_support import append, readings_table

TOPIC = "sensor-raw"
HOUR = dt.datetime(2026, 11, 24, 10, tzinfo=dt.UTC)


def test_rows_added_per_hour_count_only_the_snapshot_asked_about(tmp_path: Path) -> None:
    table = readings_table(tmp_path)
    append(table, [HOUR, HOUR], {0: 2}, TOPIC)
    first = table.current_snapshot()
    later = [HOUR + dt.timedelta(minutes=59), HOUR + dt.timedelta(hours=1), HOUR + dt.timedelta(hours=3, seconds=1)]
    append(table, later, {0: 5}, TOPIC)
    second = table.current_snapshot()
    assert first is not None and second is not None

    assert added_rows_per_hour(table, first.snapshot_id) == {"2026-11-24-10:00": 2}
    assert added_rows_per_hour(table, second.snapshot_id) == {
        "2026-11-24-10:00": 1,
        "2026-11-24-11:00": 1,
        "2026-11-24-13:00": 1,
    }


def test_a_commit_is_verified_on_the_runs_own_snapshot_below_a_maintenance_commit(tmp_path: Path) -> None:
    table = readings_table(tmp_path)
    plan = plan_ingestion(table, TOPIC, {0: (0, 2)})
    append(table, [HOUR, HOUR + dt.timedelta(hours=1)], {0: 2}, TOPIC, run_id="run-1")
    own = table.current_snapshot()
    append(table, [HOUR], None, TOPIC)  # a compaction or other commit landing right after
    assert own is not None

    assert verify_commit(table, plan, 2, "run-1") == (
        own.snapshot_id,
        {"2026-11-24-10:00": 1, "2026-11-24-11:00": 1},
    )
    with pytest.raises(IngestionError, match="added 2 rows but the run wrote 3"):
        verify_commit(table, plan, 3, "run-1")
    with pytest.raises(IngestionError, match="no snapshot of run run-2"):
        verify_commit(table, plan, 2, "run-2")
