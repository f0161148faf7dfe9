"""The alert rules on hand-made sequences of readings (local Spark)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from iot_platform.registry import parse_registry
from iot_platform.transforms.alerts import (
    alert_id,
    alert_id_column,
    params_frame,
    reading_episodes,
    rejected_burst_episodes,
)
from iot_platform_tests.transforms.conftest import session_time_zone

T0 = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)


def registry_data(**temperature_rules: Any) -> dict[str, Any]:
    """A registry of one temperature sensor T-1 (limits 15..35, one reading a second)."""
    rules = {"stuck": {"enabled": False}, "silent": {"seconds": 10}, **temperature_rules}
    return {
        "types": {
            "temperature": {
                "unit": "celsius",
                "expected_interval_s": 1.0,
                "threshold_min": 15.0,
                "threshold_max": 35.0,
                "rules": rules,
            }
        },
        "sensors": [{"id": "T-1", "type": "temperature", "location": "hall"}],
    }


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def readings(spark: SparkSession, values: list[tuple[float, float]], sensor_id: str = "T-1") -> DataFrame:
    """Readings of ``sensor_id`` from (seconds after T0, value)."""
    rows = [(sensor_id, "temperature", "somewhere", float(v), int(at(s).timestamp() * 1_000_000)) for s, v in values]
    frame = spark.createDataFrame(rows, "sensor_id string, sensor_type string, location string, value double, us long")
    return frame.select("sensor_id", "sensor_type", "location", "value", F.timestamp_micros("us").alias("event_time"))


def episodes(spark: SparkSession, values: list[tuple[float, float]], rule: str, **rules: Any) -> list[dict[str, Any]]:
    """The episodes of ``rule`` found in the readings, oldest first, with times as seconds after T0."""
    registry = parse_registry(registry_data(**rules))
    params = params_frame(spark, registry.param_rows())
    return collected(reading_episodes(readings(spark, values), params), rule)


def collected(frame: DataFrame, rule: str) -> list[dict[str, Any]]:
    times = ("started_at", "last_seen_at", "resolved_at")
    rows = (
        frame.where(F.col("rule") == rule)
        .select("*", *(F.unix_micros(name).alias(f"_{name}") for name in times))
        .orderBy("started_at")
        .collect()
    )
    result = []
    for row in rows:
        record = row.asDict()
        for name in times:
            micros = record.pop(f"_{name}")
            record[name] = None if micros is None else (micros / 1_000_000 - T0.timestamp())
        result.append(record)
    return result


def steady(start: int, end: int, value: float = 20.0) -> list[tuple[float, float]]:
    return [(float(s), value + (s % 2) * 0.5) for s in range(start, end)]


def test_threshold_opens_after_min_readings_and_resolves_at_the_first_reading_back_inside(spark: SparkSession) -> None:
    values = steady(0, 5) + [(5, 36.0), (6, 38.5), (7, 37.0)] + steady(8, 10) + [(10, 40.0), (11, 20.0)]
    [episode] = episodes(spark, values, "threshold")
    assert (episode["started_at"], episode["last_seen_at"], episode["resolved_at"]) == (5, 7, 8)
    assert (episode["peak_value"], episode["threshold"], episode["readings"]) == (38.5, 35.0, 3)
    assert (episode["state"], episode["severity"], episode["location"]) == ("resolved", "critical", "hall")
    assert episode["alert_id"] == alert_id("threshold", "T-1", at(5))


def test_threshold_below_the_minimum_is_open_while_readings_stay_out(spark: SparkSession) -> None:
    [episode] = episodes(spark, steady(0, 3) + [(3, 10.0), (4, 9.0), (5, 12.0), (6, 11.0)], "threshold")
    assert (episode["started_at"], episode["last_seen_at"], episode["resolved_at"]) == (3, 6, None)
    assert (episode["state"], episode["peak_value"], episode["threshold"], episode["readings"]) == (
        "open",
        9.0,
        15.0,
        4,
    )


def test_threshold_hysteresis_keeps_the_episode_open_until_the_value_is_well_inside(spark: SparkSession) -> None:
    values = steady(0, 2) + [(2, 36.0), (3, 37.0), (4, 34.0), (5, 36.0), (6, 33.5), (7, 32.0), (8, 36.0)]
    [episode] = episodes(spark, values, "threshold", threshold={"hysteresis": 2.0})
    # 34.0 and 33.5 lie in the hysteresis band (33..35): the run goes on; 32.0 ends it; 36.0 alone is too short.
    assert (episode["started_at"], episode["last_seen_at"], episode["resolved_at"], episode["readings"]) == (2, 5, 7, 3)
    without = episodes(spark, values, "threshold")
    assert without == []


def test_threshold_min_seconds_counts_a_long_run_of_few_readings(spark: SparkSession) -> None:
    values = [(0, 20.0), (1, 40.0), (30, 40.0), (31, 20.0)]
    assert episodes(spark, values, "threshold", silent={"enabled": False}) == []
    [episode] = episodes(spark, values, "threshold", threshold={"min_seconds": 20}, silent={"enabled": False})
    assert (episode["started_at"], episode["resolved_at"], episode["readings"]) == (1, 31, 2)


def test_a_rule_turned_off_opens_nothing(spark: SparkSession) -> None:
    values = steady(0, 3) + [(3, 50.0), (4, 50.0), (5, 50.0), (6, 50.0)]
    assert episodes(spark, values, "threshold", threshold={"enabled": False}) == []
    assert episodes(spark, values, "rate_of_change") == []


def test_stuck_episode_spans_the_flat_stretch(spark: SparkSession) -> None:
    values = steady(0, 5) + [(float(s), 22.25) for s in range(5, 140)] + [(140, 23.0), (141, 22.5)]
    [episode] = episodes(spark, values, "stuck", stuck={"enabled": True, "minutes": 1})
    assert (episode["started_at"], episode["last_seen_at"], episode["resolved_at"]) == (5, 139, 140)
    assert (episode["readings"], episode["peak_value"], episode["threshold"]) == (135, 22.25, 0.0)
    # Shorter than the window: nothing.
    assert episodes(spark, values[:50], "stuck", stuck={"enabled": True, "minutes": 1}) == []


def test_equal_values_around_a_gap_are_silent_not_stuck(spark: SparkSession) -> None:
    values = steady(0, 5) + [(100.0, 20.0), (101.0, 20.0), (102.0, 20.0)]
    assert episodes(spark, values, "stuck", stuck={"enabled": True, "minutes": 1}) == []
    assert len(episodes(spark, values, "silent")) == 1


def test_stuck_with_epsilon_tolerates_small_noise(spark: SparkSession) -> None:
    values = [(float(s), 20.0 + (s % 3) * 0.01) for s in range(0, 100)]
    assert episodes(spark, values, "stuck", stuck={"enabled": True, "minutes": 1}) == []
    [episode] = episodes(spark, values, "stuck", stuck={"enabled": True, "minutes": 1, "epsilon": 0.05})
    assert (episode["started_at"], episode["last_seen_at"], episode["state"]) == (0, 99, "open")


def test_silent_gap_is_a_resolved_episode_from_the_reading_before_to_the_reading_after(spark: SparkSession) -> None:
    [episode] = episodes(spark, steady(0, 5) + steady(30, 32), "silent")
    assert (episode["started_at"], episode["last_seen_at"], episode["resolved_at"]) == (4, 4, 30)
    assert (episode["readings"], episode["peak_value"], episode["threshold"]) == (0, 26.0, 10.0)
    assert episode["alert_id"] == alert_id("silent", "T-1", at(4))


def test_rate_of_change_groups_consecutive_fast_changes(spark: SparkSession) -> None:
    values = steady(0, 5) + [(5, 30.0), (6, 20.0), (7, 20.5), (8, 20.0)]
    [episode] = episodes(spark, values, "rate_of_change", rate_of_change={"max_per_second": 4.0})
    assert (episode["started_at"], episode["last_seen_at"], episode["resolved_at"]) == (5, 6, 7)
    assert (episode["readings"], episode["threshold"]) == (2, 4.0)
    assert episode["peak_value"] == pytest.approx(10.0)


def test_unknown_sensor_of_a_known_type_gets_its_types_rules(spark: SparkSession) -> None:
    registry = parse_registry(registry_data())
    params = params_frame(spark, registry.param_rows())
    frame = readings(spark, steady(0, 3) + [(3, 50.0), (4, 50.0), (5, 51.0)], sensor_id="T-9")
    [episode] = collected(reading_episodes(frame, params), "threshold")
    assert (episode["sensor_id"], episode["location"], episode["started_at"]) == ("T-9", "somewhere", 3)
    other_type = frame.withColumn("sensor_type", F.lit("vibration"))
    assert reading_episodes(other_type, params).count() == 0


def test_rejected_burst_over_tumbling_windows(spark: SparkSession) -> None:
    registry = parse_registry(registry_data(rejected_burst={"window_minutes": 1, "min_records": 3, "max_share": 0.2}))
    params = params_frame(spark, registry.param_rows())
    valid = readings(spark, [(float(s), 20.0) for s in range(0, 180, 10)])
    rejected_at = [65.0, 70.0, 75.0, 80.0, 150.0]
    rows = [("T-1", int(at(s).timestamp() * 1_000_000)) for s in rejected_at] + [(None, int(T0.timestamp() * 1e6))]
    rejected = spark.createDataFrame(rows, "record_key string, us long").select(
        "record_key", F.timestamp_micros("us").alias("kafka_timestamp")
    )
    [episode] = collected(rejected_burst_episodes(valid, rejected, params), "rejected_burst")
    # T0 is aligned to the minute: window [60, 120) holds 4 rejected and 6 valid records.
    assert (episode["started_at"], episode["last_seen_at"], episode["resolved_at"]) == (65, 80, 120)
    assert (episode["readings"], episode["state"], episode["peak_value"]) == (4, "resolved", 0.4)


def test_alert_id_is_the_same_in_spark_and_python_in_any_session_time_zone(spark: SparkSession) -> None:
    started = dt.datetime(2026, 3, 29, 1, 30, 15, 123456, tzinfo=dt.UTC)
    frame = spark.createDataFrame([(int(started.timestamp() * 1_000_000),)], "us long").select(
        F.timestamp_micros("us").alias("t")
    )
    expected = alert_id("stuck", "T-1", started)
    for zone in ("UTC", "Europe/Berlin", "America/Los_Angeles"):
        with session_time_zone(spark, zone):
            [row] = frame.select(alert_id_column(F.lit("stuck"), F.lit("T-1"), F.col("t")).alias("id")).collect()
        assert row["id"] == expected
    assert expected == alert_id("stuck", "T-1", started.astimezone(dt.timezone(dt.timedelta(hours=5))))
    assert len(expected) == 32 and expected != alert_id("stuck", "T-2", started)
