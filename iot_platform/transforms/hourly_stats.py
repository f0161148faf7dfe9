"""Hourly statistics per sensor over valid, de-duplicated readings (pure ``DataFrame -> DataFrame``).

Hours are UTC hours computed from epoch microseconds, so the result does not depend on
``spark.sql.session.timeZone``.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from iot_platform.registry import PlausibleRanges
from iot_platform.tables import HOURLY_STATS_COLUMNS, HOURLY_STATS_TABLE
from iot_platform.transforms.readings import MICROS_PER_HOUR, utc_hour_start

__all__ = [
    "HOURLY_STATS_COLUMNS",
    "HOURLY_STATS_SCHEMA",
    "aggregate_hourly",
    "disordered_rows",
    "duplicate_keys",
    "rows_out_of_range",
    "written_counts",
]

HOURLY_STATS_SCHEMA = HOURLY_STATS_TABLE.spark_schema()
"""The contract's ``iot.hourly_stats`` columns, in order (Spark ``TimestampType`` is Iceberg ``timestamptz``)."""


def aggregate_hourly(readings: DataFrame, processed_at: dt.datetime | Column) -> DataFrame:
    """One row of statistics per (UTC hour, sensor) over the given readings.

    ``sensor_type`` and ``location`` are those of the sensor's latest reading in the hour (greatest
    ``event_time``; on a tie, the greatest ``sensor_type`` then ``location``), so a sensor moved mid-hour is
    reported where it ended the hour and the choice does not depend on row order.

    Args:
        readings: Valid, de-duplicated readings with at least ``sensor_id``, ``sensor_type``, ``location``,
            ``value`` (double) and ``event_time`` (timestamp), as produced by
            :func:`iot_platform.transforms.readings.dedupe_readings`. Only the hours present are aggregated:
            filter to the partition's window before calling.
        processed_at: When the rows are written: a timezone-aware datetime or a timestamp column.

    Returns:
        ``HOURLY_STATS_COLUMNS``: ``window_start`` (start of the UTC hour), ``window_end`` (+1 h), ``sensor_id``,
        ``sensor_type``, ``location``, ``avg_value``, ``min_value``, ``max_value``, ``stddev_value`` (sample
        standard deviation, null when ``reading_count`` is 1), ``reading_count`` (bigint), ``processed_at``.

    Raises:
        ValueError: ``processed_at`` is a naive datetime (it would be read in the local time zone).
    """
    processed = _processed_at_column(processed_at)
    count = F.count(F.lit(1))
    stats = readings.groupBy(utc_hour_start(F.col("event_time")).alias("window_start"), F.col("sensor_id")).agg(
        F.max(F.struct("event_time", "sensor_type", "location")).alias("_latest"),
        F.avg("value").alias("avg_value"),
        F.min("value").alias("min_value"),
        F.max("value").alias("max_value"),
        F.when(count > 1, F.stddev_samp("value")).alias("stddev_value"),
        count.alias("reading_count"),
    )
    return stats.select(
        "window_start",
        F.timestamp_micros(F.unix_micros("window_start") + F.lit(MICROS_PER_HOUR)).alias("window_end"),
        "sensor_id",
        F.col("_latest.sensor_type").alias("sensor_type"),
        F.col("_latest.location").alias("location"),
        "avg_value",
        "min_value",
        "max_value",
        "stddev_value",
        F.col("reading_count").cast(T.LongType()).alias("reading_count"),
        processed.alias("processed_at"),
    )


def _processed_at_column(processed_at: dt.datetime | Column) -> Column:
    if isinstance(processed_at, Column):
        return processed_at.cast(T.TimestampType())
    if processed_at.tzinfo is None or processed_at.utcoffset() is None:
        raise ValueError(f"processed_at must be timezone-aware (got {processed_at.isoformat()})")
    micros = (processed_at - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)
    return F.timestamp_micros(F.lit(micros))


def duplicate_keys(stats: DataFrame) -> DataFrame:
    """The ``(window_start, sensor_id)`` keys that have more than one row, with their ``count``."""
    return stats.groupBy("window_start", "sensor_id").count().where(F.col("count") > 1)


def written_counts(stats: DataFrame) -> DataFrame:
    """One row over hourly rows: ``rows``, ``readings`` (sum of ``reading_count``), distinct ``sensors``,
    ``duplicate_keys`` (how many keys :func:`duplicate_keys` lists) and ``empty_rows`` (rows with
    ``reading_count <= 0``); zeros when there is no row."""
    per_key = stats.groupBy("window_start", "sensor_id").agg(
        F.count(F.lit(1)).alias("_n"),
        F.sum("reading_count").alias("_readings"),
        F.count(F.when(F.col("reading_count") <= 0, F.lit(1))).alias("_empty"),
    )
    return per_key.agg(
        F.coalesce(F.sum("_n"), F.lit(0)).alias("rows"),
        F.coalesce(F.sum("_readings"), F.lit(0)).alias("readings"),
        F.count_distinct("sensor_id").alias("sensors"),
        F.count(F.when(F.col("_n") > 1, F.lit(1))).alias("duplicate_keys"),
        F.coalesce(F.sum("_empty"), F.lit(0)).alias("empty_rows"),
    )


def disordered_rows(stats: DataFrame) -> DataFrame:
    """Rows where ``min_value <= avg_value <= max_value`` fails by more than rounding (1e-12 of the magnitude)."""
    tolerance = F.greatest(F.abs(F.col("max_value")), F.abs(F.col("min_value")), F.lit(1.0)) * F.lit(1e-12)
    return stats.where(
        (F.col("min_value") > F.col("avg_value") + tolerance) | (F.col("avg_value") > F.col("max_value") + tolerance)
    )


def rows_out_of_range(stats: DataFrame, ranges: PlausibleRanges) -> DataFrame:
    """Rows whose minimum or maximum lies outside the plausible ``(low, high)`` range of their sensor.

    A registered sensor has its own range; other sensors take their type's. Sensors of unknown types are never
    out of range.
    """
    bounds = []
    for index in (0, 1):
        per_sensor = _lookup(ranges.by_sensor, index, "sensor_id")
        per_type = _lookup(ranges.by_type, index, "sensor_type")
        bounds.append(F.coalesce(per_sensor, per_type))
    low, high = bounds
    return stats.where((F.col("min_value") < low) | (F.col("max_value") > high))


def _lookup(ranges: dict[str, tuple[float, float]], index: int, key: str) -> Column:
    """The ``index``-th bound of the range keyed by column ``key`` (null when absent)."""
    if not ranges:
        return F.lit(None).cast("double")
    pairs = [part for name, bounds in ranges.items() for part in (F.lit(name), F.lit(float(bounds[index])))]
    return F.try_element_at(F.create_map(*pairs), F.col(key))
