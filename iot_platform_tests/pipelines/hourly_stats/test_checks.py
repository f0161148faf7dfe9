"""The counts a run reads back from the window's committed rows (one aggregate), on a local Spark."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import SparkSession

from iot_platform.transforms.hourly_stats import HOURLY_STATS_SCHEMA, duplicate_keys, written_counts

HOUR = dt.datetime(2026, 11, 24, 10, tzinfo=dt.UTC)


def row(sensor_id: str, hours: int, count: int) -> tuple[object, ...]:
    start = HOUR + dt.timedelta(hours=hours)
    end = start + dt.timedelta(hours=1)
    return (start, end, sensor_id, "temperature", "factory-A", 1.0, 1.0, 1.0, None, count, HOUR)


def test_written_counts_count_rows_readings_sensors_duplicates_and_empty_rows(spark: SparkSession) -> None:
    rows = [row("TEMP-001", 0, 10), row("TEMP-001", 0, 5), row("TEMP-002", 0, 7), row("TEMP-002", 1, 0)]
    rows += [row("TEMP-003", 1, 3)] * 3
    written = spark.createDataFrame(rows, HOURLY_STATS_SCHEMA)

    counts = written_counts(written).first()

    assert counts is not None
    assert counts.asDict() == {"rows": 7, "readings": 31, "sensors": 3, "duplicate_keys": 2, "empty_rows": 1}
    assert counts["duplicate_keys"] == duplicate_keys(written).count()


def test_written_counts_of_an_empty_window_are_zeros(spark: SparkSession) -> None:
    counts = written_counts(spark.createDataFrame([], HOURLY_STATS_SCHEMA)).first()

    assert counts is not None
    assert counts.asDict() == {"rows": 0, "readings": 0, "sensors": 0, "duplicate_keys": 0, "empty_rows": 0}
