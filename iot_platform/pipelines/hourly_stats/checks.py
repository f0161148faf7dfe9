"""The inputs of the hourly_stats checks, read back from the tables as committed."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from iot_platform import tables
from iot_platform.pipelines.hourly_stats.read import in_window
from iot_platform.pipelines.hourly_stats.result import HourlyResult, row_dict
from iot_platform.transforms.hourly_stats import disordered_rows, duplicate_keys, rows_out_of_range

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from iot_platform.registry import PlausibleRanges

PREVIEW_ROWS = 10
"""Rows of the window kept as the run's preview."""
VIOLATIONS_SHOWN = 20
"""Rows kept per failed check, as examples."""


def read_written(spark: SparkSession, result: HourlyResult, physical_ranges: PlausibleRanges | None) -> None:
    """Fill ``result``'s row checks and preview from the window's rows of ``iot.hourly_stats`` as committed.

    Args:
        spark: A session with the platform's catalog as its default catalog.
        result: The run's result; its ``start`` and ``end`` select the rows.
        physical_ranges: Plausible (min, max) value per sensor and sensor type; no range check without it.
    """
    from pyspark.sql import functions as F

    written = spark.table(tables.HOURLY_STATS).where(in_window("window_start", result.start, result.end)).persist()
    try:
        result.duplicate_keys = duplicate_keys(written).count()
        result.empty_rows = written.where(F.col("reading_count") <= 0).count()
        result.disordered_rows = [row_dict(r) for r in disordered_rows(written).limit(VIOLATIONS_SHOWN).collect()]
        if physical_ranges:
            outside = rows_out_of_range(written, physical_ranges).limit(VIOLATIONS_SHOWN).collect()
            result.out_of_range = [row_dict(r) for r in outside]
        preview = written.orderBy("window_start", "sensor_id").limit(PREVIEW_ROWS).collect()
        result.preview = [row_dict(r) for r in preview]
    finally:
        written.unpersist()


def count_rejected(spark: SparkSession, start: dt.datetime, end: dt.datetime) -> int:
    """Records of ``iot.rejected_readings`` whose Kafka time lies in ``[start, end)`` (0 before the table has it)."""
    if not spark.catalog.tableExists(tables.REJECTED_READINGS):
        return 0
    rejected = spark.table(tables.REJECTED_READINGS)
    if "kafka_timestamp" not in rejected.columns:
        return 0
    return rejected.where(in_window("kafka_timestamp", start, end)).count()
