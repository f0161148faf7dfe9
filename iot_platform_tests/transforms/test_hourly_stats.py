"""Hourly statistics (contract ``iot.hourly_stats``) against the plain-Python reference."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from iot_platform import tables
from iot_platform.registry import PlausibleRanges
from iot_platform.transforms.hourly_stats import (
    HOURLY_STATS_COLUMNS,
    HOURLY_STATS_SCHEMA,
    aggregate_hourly,
    disordered_rows,
    duplicate_keys,
    rows_out_of_range,
)
from iot_platform_tests.transforms.conftest import readings_frame_from, session_time_zone
from iot_platform_tests.transforms.reference import from_micros, reference_hourly_stats

PROCESSED_AT = dt.datetime(2026, 11, 24, 12, 10, 0, 123_456, tzinfo=dt.UTC)
T0 = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)
STAT_COLUMNS = ("avg_value", "min_value", "max_value", "stddev_value")


def reading(sensor_id: str, at: dt.datetime, value: float, **extra: Any) -> dict[str, Any]:
    return {
        "sensor_id": sensor_id,
        "event_time": at,
        "value": value,
        "sensor_type": "temperature",
        "location": "factory-A",
        **extra,
    }


def collect_stats(df: DataFrame) -> list[dict[str, Any]]:
    """Rows sorted by (window_start, sensor_id), timestamps as aware UTC datetimes."""
    timestamps = ("window_start", "window_end", "processed_at")
    rows = df.select(*(F.unix_micros(c).alias(c) if c in timestamps else F.col(c) for c in df.columns)).collect()
    result = [{k: (from_micros(v) if k in timestamps else v) for k, v in row.asDict().items()} for row in rows]
    return sorted(result, key=lambda r: (r["window_start"], r["sensor_id"]))


def assert_matches_reference(actual: list[dict[str, Any]], readings: list[dict[str, Any]], abs_scale: bool) -> None:
    """Exact keys, counts, min and max; avg and stddev within 1e-9 relative of the exact reference.

    With ``abs_scale`` an absolute slack of 1e-9 x the largest |value| of the hour is also allowed: double
    summation of values of mixed sign can lose all relative precision of a mean near zero (its error bound is
    n x eps x sum|x|), which arbitrary generated values do hit.
    """
    expected = reference_hourly_stats(readings)
    assert [(r["window_start"], r["sensor_id"]) for r in actual] == [
        (r["window_start"], r["sensor_id"]) for r in expected
    ]
    for got, want in zip(actual, expected, strict=True):
        exact = (
            "window_start",
            "window_end",
            "sensor_id",
            "sensor_type",
            "location",
            "reading_count",
            "min_value",
            "max_value",
        )
        assert {k: got[k] for k in exact} == {k: want[k] for k in exact}
        scale = max(
            abs(r["value"])
            for r in readings
            if r["sensor_id"] == want["sensor_id"] and got["window_start"] <= r["event_time"] < got["window_end"]
        )
        slack = 1e-9 * scale if abs_scale else 0.0
        assert math.isclose(got["avg_value"], want["avg_value"], rel_tol=1e-9, abs_tol=slack)
        if want["stddev_value"] is None:
            assert got["stddev_value"] is None
        else:
            assert math.isclose(got["stddev_value"], want["stddev_value"], rel_tol=1e-9, abs_tol=slack)
        assert got["processed_at"] == PROCESSED_AT


def test_columns_types_and_order(spark: SparkSession) -> None:
    df = aggregate_hourly(readings_frame_from(spark, [reading("TEMP-001", T0, 1.0)]), PROCESSED_AT)

    assert (
        tuple(df.columns)
        == HOURLY_STATS_COLUMNS
        == tables.HOURLY_STATS_COLUMNS
        == (
            "window_start",
            "window_end",
            "sensor_id",
            "sensor_type",
            "location",
            "avg_value",
            "min_value",
            "max_value",
            "stddev_value",
            "reading_count",
            "processed_at",
        )
    )
    assert [f.dataType for f in df.schema] == [f.dataType for f in HOURLY_STATS_SCHEMA]
    assert df.schema["reading_count"].dataType == T.LongType()


def test_hour_boundaries_and_statistics(spark: SparkSession) -> None:
    readings = [
        reading("TEMP-001", T0 + dt.timedelta(minutes=0), 20.0),
        reading("TEMP-001", T0 + dt.timedelta(minutes=30), 22.5),
        reading("TEMP-001", T0 + dt.timedelta(minutes=59, seconds=59, microseconds=999_000), -3.25),
        reading("TEMP-001", T0 + dt.timedelta(hours=1), 30.0),  # 11:00:00.000 opens the next hour
        reading("TEMP-001", T0 + dt.timedelta(hours=1, minutes=1), 31.0),
        reading("HUMID-001", T0 + dt.timedelta(minutes=5), 55.0, sensor_type="humidity", location="factory-B"),
    ]
    actual = collect_stats(aggregate_hourly(readings_frame_from(spark, readings), PROCESSED_AT))

    assert [(r["window_start"], r["window_end"], r["sensor_id"], r["reading_count"]) for r in actual] == [
        (T0, T0 + dt.timedelta(hours=1), "HUMID-001", 1),
        (T0, T0 + dt.timedelta(hours=1), "TEMP-001", 3),
        (T0 + dt.timedelta(hours=1), T0 + dt.timedelta(hours=2), "TEMP-001", 2),
    ]
    ten = actual[1]
    assert (ten["min_value"], ten["max_value"]) == (-3.25, 22.5)
    assert math.isclose(ten["avg_value"], 39.25 / 3, rel_tol=1e-12)
    assert math.isclose(ten["stddev_value"], 14.200205397575534, rel_tol=1e-12)
    assert_matches_reference(actual, readings, abs_scale=False)


def test_one_reading_hour_has_null_stddev(spark: SparkSession) -> None:
    actual = collect_stats(
        aggregate_hourly(readings_frame_from(spark, [reading("PRESS-001", T0, 1013.25)]), PROCESSED_AT)
    )

    assert [
        (r["reading_count"], r["avg_value"], r["min_value"], r["max_value"], r["stddev_value"]) for r in actual
    ] == [(1, 1013.25, 1013.25, 1013.25, None)]


def test_equal_values_have_zero_stddev(spark: SparkSession) -> None:
    readings = [reading("TEMP-001", T0 + dt.timedelta(seconds=s), 0.1) for s in range(7)]
    (row,) = collect_stats(aggregate_hourly(readings_frame_from(spark, readings), PROCESSED_AT))

    assert (row["stddev_value"], row["reading_count"]) == (0.0, 7)


def test_sensor_type_and_location_come_from_the_latest_reading(spark: SparkSession) -> None:
    readings = [
        reading("TEMP-001", T0 + dt.timedelta(minutes=50), 1.0, location="factory-B", offset=1),
        reading("TEMP-001", T0 + dt.timedelta(minutes=10), 2.0, location="factory-C", offset=2),
        reading("TEMP-001", T0 + dt.timedelta(minutes=20), 3.0, location="factory-A", offset=3),
    ]
    (row,) = collect_stats(aggregate_hourly(readings_frame_from(spark, readings), PROCESSED_AT))

    assert row["location"] == "factory-B"


def test_many_readings_match_reference(spark: SparkSession) -> None:
    readings = [
        reading(f"TEMP-{s:03d}", T0 + dt.timedelta(seconds=7 * i + s), 20 + ((i * 37 + s * 11) % 1000) / 37.0)
        for s in range(5)
        for i in range(1500)
    ]
    actual = collect_stats(aggregate_hourly(readings_frame_from(spark, readings), PROCESSED_AT))

    assert sum(r["reading_count"] for r in actual) == len(readings)
    assert_matches_reference(actual, readings, abs_scale=False)


def test_hours_do_not_depend_on_session_time_zone(spark: SparkSession) -> None:
    readings = [reading("TEMP-001", T0 + dt.timedelta(minutes=m), float(m)) for m in (0, 29, 31, 59, 61)]
    frame = readings_frame_from(spark, readings)
    utc = collect_stats(aggregate_hourly(frame, PROCESSED_AT))
    with session_time_zone(spark, "Asia/Kolkata"):  # +05:30: its local hours are not UTC hours
        kolkata = collect_stats(aggregate_hourly(frame, PROCESSED_AT))

    assert kolkata == utc
    assert [(r["window_start"], r["reading_count"]) for r in utc] == [(T0, 4), (T0 + dt.timedelta(hours=1), 1)]


def test_processed_at_must_be_timezone_aware(spark: SparkSession) -> None:
    frame = readings_frame_from(spark, [reading("TEMP-001", T0, 1.0)])
    with pytest.raises(ValueError, match="timezone-aware"):
        aggregate_hourly(frame, dt.datetime(2026, 11, 24, 12, 0))


def test_processed_at_may_be_a_column(spark: SparkSession) -> None:
    frame = readings_frame_from(spark, [reading("TEMP-001", T0, 1.0)])
    (row,) = collect_stats(aggregate_hourly(frame, F.timestamp_micros(F.lit(1_795_516_200_000_000))))

    assert row["processed_at"] == from_micros(1_795_516_200_000_000)


SENSORS = st.sampled_from([("TEMP-001", "temperature"), ("TEMP-002", "temperature"), ("HUMID-001", "humidity")])
READINGS = st.lists(
    st.tuples(
        SENSORS,
        st.integers(min_value=0, max_value=3 * 3_600_000 - 1),  # ms within three hours
        # Magnitudes under 1e-9 are left out: squared deviations of values near 1e-160 underflow in any
        # double-precision variance (Spark's included), and no sensor reports such values.
        st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False).filter(
            lambda v: v == 0 or abs(v) >= 1e-9
        ),
        st.sampled_from(["factory-A", "factory-B"]),
    ),
    min_size=1,
    max_size=40,
    unique_by=lambda r: (r[0][0], r[1]),  # de-duplicated input: one reading per (sensor_id, event_time)
)


@settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(generated=READINGS)
def test_property_matches_reference(spark: SparkSession, generated: list[Any]) -> None:
    start = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC) - dt.timedelta(minutes=17)  # hours not aligned to start
    readings = [
        reading(sensor_id, start + dt.timedelta(milliseconds=ms), value, sensor_type=sensor_type, location=location)
        for (sensor_id, sensor_type), ms, value, location in generated
    ]
    actual = collect_stats(aggregate_hourly(readings_frame_from(spark, readings), PROCESSED_AT))

    assert_matches_reference(actual, readings, abs_scale=True)


# --- the checks' row selections ----------------------------------------------------------------------------------
def stats_frame(spark: SparkSession, *rows: tuple[str, str, float, float, float]) -> DataFrame:
    """``iot.hourly_stats`` rows of hour T0 from (sensor_id, sensor_type, min, avg, max)."""
    return spark.createDataFrame(
        [
            (T0, T0 + dt.timedelta(hours=1), sensor_id, kind, "factory-A", avg, low, high, None, 2, PROCESSED_AT)
            for sensor_id, kind, low, avg, high in rows
        ],
        HOURLY_STATS_SCHEMA,
    )


def test_duplicate_keys_are_the_keys_with_two_rows(spark: SparkSession) -> None:
    stats = stats_frame(
        spark,
        ("A", "temperature", 1.0, 2.0, 3.0),
        ("A", "temperature", 1.0, 2.0, 3.0),
        ("B", "humidity", 1.0, 2.0, 3.0),
    )

    assert [(r["sensor_id"], r["count"]) for r in duplicate_keys(stats).collect()] == [("A", 2)]


def test_disordered_rows_allow_rounding_only(spark: SparkSession) -> None:
    stats = stats_frame(
        spark,
        ("ok", "temperature", 1.0, 1.0, 1.0),
        ("rounded", "temperature", 1e6, 1e6 * (1 - 1e-13), 1e6),
        ("low", "temperature", 2.0, 1.0, 3.0),
        ("high", "temperature", 1.0, 3.5, 3.0),
    )

    assert sorted(r["sensor_id"] for r in disordered_rows(stats).collect()) == ["high", "low"]


def test_rows_out_of_range_per_sensor_then_per_sensor_type(spark: SparkSession) -> None:
    stats = stats_frame(
        spark,
        ("inside", "temperature", -10.0, 20.0, 60.0),
        ("too-hot", "temperature", 20.0, 30.0, 500.0),
        ("too-dry", "humidity", -1.0, 50.0, 60.0),
        ("unknown-type", "vibration", -1e9, 0.0, 1e9),
        ("narrow", "temperature", 20.0, 25.0, 41.0),
        ("wide", "humidity", -50.0, 0.0, 10.0),
    )
    ranges = PlausibleRanges(
        by_sensor={"narrow": (0.0, 40.0), "wide": (-100.0, 100.0)},
        by_type={"temperature": (-10.0, 60.0), "humidity": (0.0, 100.0)},
    )

    flagged = sorted(r["sensor_id"] for r in rows_out_of_range(stats, ranges).collect())
    assert flagged == ["narrow", "too-dry", "too-hot"]
    assert rows_out_of_range(stats, PlausibleRanges(by_sensor={}, by_type={})).count() == 0
