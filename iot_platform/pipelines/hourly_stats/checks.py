"""The inputs of the hourly_stats checks, read back from the tables as committed."""

from __future__ import annotations

import datetime as dt
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from iot_platform import tables
from iot_platform.pipelines.hourly_stats.read import in_window
from iot_platform.pipelines.hourly_stats.result import HourlyResult, row_dict
from iot_platform.transforms.hourly_stats import disordered_rows, rows_out_of_range

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from iot_platform.registry import PlausibleRanges

PREVIEW_ROWS = 10
"""Rows of the window kept as the run's preview."""
VIOLATIONS_SHOWN = 20
"""Rows kept per failed check, as examples."""


def read_written(spark: SparkSession, result: HourlyResult, physical_ranges: PlausibleRanges | None) -> None:
    """Fill ``result``'s counts of what was written, its row checks and its preview from the window's rows of
    ``iot.hourly_stats`` as committed: one aggregate and one collect of the few example rows.

    Args:
        spark: A session with the platform's catalog as its default catalog.
        result: The run's result; its ``start`` and ``end`` select the rows.
        physical_ranges: Plausible (min, max) value per sensor and sensor type; no range check without it.
    """
    from pyspark.sql import functions as F

    written = spark.table(tables.HOURLY_STATS).where(in_window("window_start", result.start, result.end)).persist()
    try:
        counts = written_counts(written).first()
        assert counts is not None
        result.rows, result.readings, result.sensors = counts["rows"], counts["readings"], counts["sensors"]
        result.duplicate_keys, result.empty_rows = counts["duplicate_keys"], counts["empty_rows"]
        parts = {
            "disordered": disordered_rows(written).limit(VIOLATIONS_SHOWN),
            "preview": written.orderBy("window_start", "sensor_id").limit(PREVIEW_ROWS),
        }
        if physical_ranges:
            parts["out_of_range"] = rows_out_of_range(written, physical_ranges).limit(VIOLATIONS_SHOWN)
        examples: dict[str, list[dict[str, Any]]] = {name: [] for name in parts}
        tagged = [frame.withColumn(_PART, F.lit(name)) for name, frame in parts.items()]
        union = tagged[0]
        for frame in tagged[1:]:
            union = union.unionByName(frame)
        for row in union.collect():
            values = row_dict(row)
            examples[values.pop(_PART)].append(values)
        by_key = itemgetter("window_start", "sensor_id")
        result.disordered_rows = examples["disordered"]
        result.out_of_range = examples.get("out_of_range", [])
        result.preview = sorted(examples["preview"], key=by_key)
    finally:
        written.unpersist()


_PART = "_iot_example_of"
"""Column naming which example list a collected row belongs to."""


def written_counts(written: DataFrame) -> DataFrame:
    """One row over rows of ``iot.hourly_stats``: ``rows``, ``readings`` (sum of ``reading_count``), distinct
    ``sensors``, ``duplicate_keys`` (keys ``(window_start, sensor_id)`` with more than one row) and ``empty_rows``
    (rows with ``reading_count <= 0``); zeros when there is no row."""
    from pyspark.sql import functions as F

    per_key = written.groupBy("window_start", "sensor_id").agg(
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


def count_rejected(spark: SparkSession, start: dt.datetime, end: dt.datetime) -> int:
    """Records of ``iot.rejected_readings`` whose Kafka time lies in ``[start, end)`` (0 before the table has it)."""
    if not spark.catalog.tableExists(tables.REJECTED_READINGS):
        return 0
    rejected = spark.table(tables.REJECTED_READINGS)
    if "kafka_timestamp" not in rejected.columns:
        return 0
    return rejected.where(in_window("kafka_timestamp", start, end)).count()
