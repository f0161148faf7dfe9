"""Checking a commit from a real Iceberg table's metadata: rows added per event-time hour."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from iot_platform.pipelines.sensor_readings.commit import added_rows_per_hour
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
