"""Rows of a run's preview and check examples, as JSON-friendly dicts."""

from __future__ import annotations

import datetime as dt
import json

from pyspark.sql import Row

from iot_platform.pipelines.hourly_stats.result import row_dict

HOUR = dt.datetime(2026, 11, 24, 10, tzinfo=dt.UTC)


def test_timestamps_become_iso_strings_in_utc() -> None:
    row = Row(window_start=HOUR.replace(tzinfo=None), processed_at=HOUR, sensor_id="TEMP-001", avg_value=1.5)

    values = row_dict(row)

    assert values == {
        "window_start": "2026-11-24T10:00:00+00:00",
        "processed_at": "2026-11-24T10:00:00+00:00",
        "sensor_id": "TEMP-001",
        "avg_value": 1.5,
    }
    assert json.loads(json.dumps(values)) == values
