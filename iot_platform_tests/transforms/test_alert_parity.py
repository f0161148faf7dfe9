"""The grouped pass of the alert rules gives exactly the episodes of their window-function definitions
(``alerts_reference.py``) on seeded sequences full of faults, every column, ids and details included; the pass over
records read from the tables' files into the run's process gives exactly the grouped pass's."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from iot_platform import tables
from iot_platform.pipelines.sensor_alerts.plan import Watermark, instant
from iot_platform.pipelines.sensor_alerts.scan import new_records
from iot_platform.registry import parse_registry
from iot_platform.transforms import alert_rules
from iot_platform.transforms.alerts import (
    EPISODE_COLUMNS,
    alert_episodes,
    params_frame,
    reading_episodes,
    rejected_burst_episodes,
)
from iot_platform_tests.pipelines.sensor_alerts.test_scan import append, create, reading
from iot_platform_tests.pipelines.sensor_alerts.test_scan import rejected as stored_rejected
from iot_platform_tests.transforms import alerts_reference

T0 = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)
REGISTRY = {
    "types": {
        "temperature": {
            "unit": "celsius",
            "expected_interval_s": 1.0,
            "threshold_min": 15.0,
            "threshold_max": 35.0,
            "rules": {
                "threshold": {"min_readings": 3, "hysteresis": 0.5},
                "stuck": {"minutes": 0.5, "epsilon": 0.05},
                "silent": {"seconds": 10},
                "rate_of_change": {"max_per_second": 4.0},
                "rejected_burst": {"window_minutes": 1, "min_records": 3, "max_share": 0.2},
            },
        },
        "pressure": {"unit": "hPa", "expected_interval_s": 2.0, "threshold_min": 950.0, "threshold_max": 1050.0},
    },
    "sensors": [
        {"id": "T-1", "type": "temperature", "location": "hall"},
        {
            "id": "T-2",
            "type": "temperature",
            "location": "roof",
            "overrides": {"threshold_max": 30.0, "rules": {"threshold": {"min_seconds": 4.0, "min_readings": 10}}},
        },
        {"id": "P-1", "type": "pressure", "location": "hall"},
    ],
}


def faulty_values(rng: np.random.Generator, n: int, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    """Seconds and values of a random walk with excursions beyond the limits, frozen stretches, spikes and gaps."""
    seconds = np.cumsum(rng.choice([1.0, 1.0, 1.0, 0.5, 2.5, 14.0], size=n, p=[0.6, 0.2, 0.1, 0.05, 0.04, 0.01]))
    values = (low + high) / 2 + np.cumsum(rng.normal(0, (high - low) / 25, size=n))
    values = np.round(values, 2)
    for start in rng.integers(0, n - 60, size=n // 150):
        kind, length = rng.integers(0, 4), int(rng.integers(2, 50))
        if kind == 0:
            values[start : start + length] = values[start]
        elif kind == 1:
            values[start : start + length] = rng.choice([low, high]) + rng.normal(0, 3, size=length)
        elif kind == 2:
            values[start] += rng.choice([-1, 1]) * (high - low) / 2
        else:
            values[start : start + length] = np.round(values[start] + rng.normal(0, 0.02, size=length), 3)
    return seconds, values


def frames(spark: SparkSession) -> tuple[DataFrame, DataFrame]:
    """Readings of registered, unregistered and unknown-type sensors, and rejected records in bursts."""
    rng = np.random.default_rng(20261124)
    rows, rejected = [], []
    sensors = [("T-1", "temperature", 15, 35), ("T-2", "temperature", 15, 30), ("P-1", "pressure", 950, 1050)]
    sensors += [("T-9", "temperature", 15, 35), ("X-1", "vibration", 0, 1)]
    for sensor_id, kind, low, high in sensors:
        seconds, values = faulty_values(rng, 1500, low, high)
        micros = (T0.timestamp() + seconds) * 1_000_000
        rows += [(sensor_id, kind, "somewhere", float(v), int(us)) for us, v in zip(micros, values, strict=True)]
        for start in rng.choice(micros, size=6):
            rejected += [(sensor_id, int(start + k * 500_000)) for k in range(int(rng.integers(2, 90)))]
    readings = spark.createDataFrame(
        rows, "sensor_id string, sensor_type string, location string, value double, us long"
    ).select("sensor_id", "sensor_type", "location", "value", F.timestamp_micros("us").alias("event_time"))
    bad = spark.createDataFrame(rejected + [(None, int(T0.timestamp() * 1e6))], "record_key string, us long")
    return readings, bad.select("record_key", F.timestamp_micros("us").alias("kafka_timestamp"))


def rows_of(frame: DataFrame) -> list[tuple[Any, ...]]:
    times = ("started_at", "last_seen_at", "resolved_at")
    columns = [F.unix_micros(name).alias(name) if name in times else F.col(name) for name in EPISODE_COLUMNS]
    return sorted(tuple(row) for row in frame.select(*columns).collect())


def test_the_grouped_pass_finds_the_reference_episodes_of_every_rule(spark: SparkSession) -> None:
    params = params_frame(spark, parse_registry(REGISTRY).param_rows())
    readings, rejected = frames(spark)
    expected = rows_of(alerts_reference.reading_episodes(readings, params))
    found = rows_of(reading_episodes(readings, params))
    assert {row[4] for row in expected} == {"threshold", "stuck", "silent", "rate_of_change"}
    assert found == expected

    expected_bursts = rows_of(alerts_reference.rejected_burst_episodes(readings, rejected, params))
    assert len(expected_bursts) >= 3
    assert rows_of(rejected_burst_episodes(readings, rejected, params)) == expected_bursts


def indexed(readings: DataFrame, rejected: DataFrame, folder: Path) -> tuple[Any, list[tuple[str, Any]]]:
    """The records as a run reads them into its process: stored in the platform's tables (a pyiceberg catalog in
    ``folder``) and read back from their files (sensors by position), and each position's sensor with the names of
    its latest valid reading."""
    reading_table, rejected_table = create(folder, tables.SENSOR_READINGS_TABLE, tables.REJECTED_READINGS_TABLE)
    at = F.unix_micros
    stored = [
        reading(row["sensor_id"], 0, row["value"], T0, row["location"])
        | {"sensor_type": row["sensor_type"], "event_time": instant(row["us"]), "kafka_offset": k}
        for k, row in enumerate(readings.select("*", at("event_time").alias("us")).collect())
    ]
    bad = [
        stored_rejected(row["record_key"], 0, T0) | {"kafka_timestamp": instant(row["us"]), "kafka_offset": k}
        for k, row in enumerate(rejected.select("record_key", at("kafka_timestamp").alias("us")).collect())
    ]
    if stored:
        append(reading_table, tables.SENSOR_READINGS_TABLE, stored)
    append(rejected_table, tables.REJECTED_READINGS_TABLE, bad)
    found = new_records(reading_table, rejected_table, Watermark(), most=len(stored))
    assert found is not None
    new, collected = found
    names = {summary.sensor_id: (summary.sensor_type, summary.location) for summary in new.sensors}
    ids = sorted(collected.codes.ids)
    return collected.indexed(dict.fromkeys(ids, T0 - dt.timedelta(days=1))), [(i, names.get(i)) for i in ids]


def test_the_pass_over_records_read_from_the_tables_finds_the_grouped_pass_episodes(
    spark: SparkSession, tmp_path: Path
) -> None:
    rows = parse_registry(REGISTRY).param_rows()
    readings, rejected = frames(spark)
    grouped = rows_of(alert_episodes(readings, rejected, rows))
    table, sensors = indexed(readings, rejected, tmp_path)
    assert table.column_names == ["_sensor", "value", "_us", "_rejected"]
    local = alert_rules.table_episodes(table, rows, sensors)
    assert len(grouped) > 50 and {episode["sensor_id"] for episode in local} >= {"T-1", "T-9"}
    assert sorted(tuple(episode[name] for name in EPISODE_COLUMNS) for episode in local) == grouped


def test_a_sensor_with_only_rejected_records_is_judged_by_the_registry_alone(
    spark: SparkSession, tmp_path: Path
) -> None:
    rows = parse_registry(REGISTRY).param_rows()
    burst = [("T-9", int(T0.timestamp() * 1e6) + k * 100_000) for k in range(20)]  # unregistered: no rules
    burst += [("T-1", int(T0.timestamp() * 1e6) + k * 100_000) for k in range(20)]  # registered: its own rules
    rejected = spark.createDataFrame(burst, "record_key string, us long").select(
        "record_key", F.timestamp_micros("us").alias("kafka_timestamp")
    )
    readings = spark.createDataFrame([], "sensor_id string, sensor_type string, location string, value double")
    readings = readings.withColumn("event_time", F.current_timestamp())
    grouped = rows_of(alert_episodes(readings, rejected, rows))
    table, _ = indexed(readings, rejected, tmp_path)
    # The run knows T-9's type from its state row; with no valid reading among the records it still gets no rule.
    local = alert_rules.table_episodes(table, rows, [("T-1", None), ("T-9", ("temperature", "hall"))])
    assert [row[1] for row in grouped] == ["T-1"]
    assert sorted(tuple(episode[name] for name in EPISODE_COLUMNS) for episode in local) == grouped
