"""Hourly statistics on Spark: replace exactly the rows of the hours in a window, atomically.

One MERGE per run: rows of the window that the new aggregate has are updated, new ones inserted, and rows of the
window it no longer has are deleted, all in one Iceberg snapshot. Re-runs and backfills never duplicate.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from iot_platform import tables
from iot_platform.clients.iceberg import load_catalog

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from iot_platform.settings import Settings

PREVIEW_ROWS = 10


@dataclass
class HourlyResult:
    """What one hourly_stats run wrote, and the numbers its checks need."""

    start: dt.datetime
    end: dt.datetime
    rows: int = 0
    readings: int = 0
    sensors: int = 0
    readings_snapshot_id: int | None = None
    stats_snapshot_id: int | None = None
    rejected: int = 0
    stored_readings: int = 0
    """Valid readings stored for the window, counted independently of the aggregate (reconciliation)."""
    duplicate_keys: int = 0
    empty_rows: int = 0
    disordered_rows: list[dict[str, Any]] = field(default_factory=list)
    out_of_range: list[dict[str, Any]] = field(default_factory=list)
    preview: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


def _ts(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S+00:00")


def build_hourly_stats(
    spark: SparkSession,
    settings: Settings,
    start: dt.datetime,
    end: dt.datetime,
    physical_ranges: dict[str, tuple[float, float]] | None = None,
) -> HourlyResult:
    """Aggregate ``iot.sensor_readings`` of ``[start, end)`` into ``iot.hourly_stats``, replacing those hours.

    Args:
        spark: A session on the platform's master with the catalog mounted (session time zone UTC).
        settings: Platform settings.
        start: Window start (UTC hour).
        end: Window end (exclusive, UTC hour).
        physical_ranges: Plausible (min, max) value per sensor type, for the range check.

    Returns:
        Counts, snapshot ids, check inputs and a preview of the rows written.
    """
    from pyspark.sql import functions as F

    from iot_platform.transforms.hourly_stats import aggregate_hourly

    began = time.monotonic()
    tables.ensure_tables(spark)
    result = HourlyResult(start=start, end=end)
    catalog = load_catalog(settings)
    readings_table = catalog.load_table(tables.SENSOR_READINGS)
    snapshot = readings_table.current_snapshot()
    result.readings_snapshot_id = snapshot.snapshot_id if snapshot is not None else None

    reader = spark.read
    if result.readings_snapshot_id is not None:
        reader = reader.option("snapshot-id", str(result.readings_snapshot_id))
    window = (F.col("event_time") >= F.lit(_ts(start)).cast("timestamp")) & (
        F.col("event_time") < F.lit(_ts(end)).cast("timestamp")
    )
    readings = reader.table(tables.SENSOR_READINGS).where(window)
    processed_at = dt.datetime.now(dt.UTC)
    stats = aggregate_hourly(readings, processed_at).persist()
    try:
        stats.createOrReplaceTempView("iot_new_hourly_stats")
        spark.sql(
            f"""
            MERGE INTO {tables.HOURLY_STATS} t
            USING iot_new_hourly_stats s
            ON t.window_start = s.window_start AND t.sensor_id = s.sensor_id
            WHEN MATCHED THEN UPDATE SET *
            WHEN NOT MATCHED THEN INSERT *
            WHEN NOT MATCHED BY SOURCE
                AND t.window_start >= TIMESTAMP '{_ts(start)}' AND t.window_start < TIMESTAMP '{_ts(end)}'
                THEN DELETE
            """
        )
        summary = stats.agg(
            F.count(F.lit(1)).alias("rows"),
            F.coalesce(F.sum("reading_count"), F.lit(0)).alias("readings"),
            F.countDistinct("sensor_id").alias("sensors"),
        ).collect()[0]
        result.rows, result.readings, result.sensors = (
            int(summary["rows"]),
            int(summary["readings"]),
            int(summary["sensors"]),
        )
    finally:
        stats.unpersist()

    # Check inputs, read back from the table as committed.
    written = spark.table(tables.HOURLY_STATS).where(
        (F.col("window_start") >= F.lit(_ts(start)).cast("timestamp"))
        & (F.col("window_start") < F.lit(_ts(end)).cast("timestamp"))
    )
    written = written.persist()
    try:
        result.duplicate_keys = written.groupBy("window_start", "sensor_id").count().where(F.col("count") > 1).count()
        result.empty_rows = written.where(F.col("reading_count") <= 0).count()
        tolerance = F.greatest(F.abs(F.col("max_value")), F.abs(F.col("min_value")), F.lit(1.0)) * F.lit(1e-12)
        disordered = written.where(
            (F.col("min_value") > F.col("avg_value") + tolerance)
            | (F.col("avg_value") > F.col("max_value") + tolerance)
        )
        result.disordered_rows = [_row(r) for r in disordered.limit(20).collect()]
        if physical_ranges:
            outside = F.lit(False)
            for sensor_type, (low, high) in physical_ranges.items():
                outside = outside | (
                    (F.col("sensor_type") == sensor_type) & ((F.col("min_value") < low) | (F.col("max_value") > high))
                )
            result.out_of_range = [_row(r) for r in written.where(outside).limit(20).collect()]
        result.preview = [_row(r) for r in written.orderBy("window_start", "sensor_id").limit(PREVIEW_ROWS).collect()]
    finally:
        written.unpersist()
    result.stored_readings = readings.count()
    rejected = spark.table(tables.REJECTED_READINGS) if spark.catalog.tableExists(tables.REJECTED_READINGS) else None
    if rejected is not None and "kafka_timestamp" in rejected.columns:
        result.rejected = rejected.where(
            (F.col("kafka_timestamp") >= F.lit(_ts(start)).cast("timestamp"))
            & (F.col("kafka_timestamp") < F.lit(_ts(end)).cast("timestamp"))
        ).count()
    stats_table = catalog.load_table(tables.HOURLY_STATS)
    current = stats_table.current_snapshot()
    result.stats_snapshot_id = current.snapshot_id if current is not None else None
    result.seconds = time.monotonic() - began
    return result


def _row(row: Any) -> dict[str, Any]:
    values = row.asDict()
    for key, value in values.items():
        if isinstance(value, dt.datetime):
            values[key] = value.replace(tzinfo=dt.UTC).isoformat() if value.tzinfo is None else value.isoformat()
    return values
