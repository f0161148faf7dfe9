"""The inputs of the hourly_stats checks, read back from the tables as committed."""

from __future__ import annotations

import datetime as dt
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from iot_platform import tables
from iot_platform.pipelines.hourly_stats.read import in_window
from iot_platform.pipelines.hourly_stats.result import HourlyResult, row_dict
from iot_platform.transforms.hourly_stats import disordered_rows, rows_out_of_range, written_counts

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

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
        result.disordered_rows = examples["disordered"]
        result.out_of_range = examples.get("out_of_range", [])
        result.preview = sorted(examples["preview"], key=itemgetter("window_start", "sensor_id"))
    finally:
        written.unpersist()


_PART = "_iot_example_of"
"""Column naming which example list a collected row belongs to."""


def count_rejected(spark: SparkSession, start: dt.datetime, end: dt.datetime) -> int:
    """Records of ``iot.rejected_readings`` whose Kafka time lies in ``[start, end)`` (0 before the table has it)."""
    if not spark.catalog.tableExists(tables.REJECTED_READINGS):
        return 0
    rejected = spark.table(tables.REJECTED_READINGS)
    if "kafka_timestamp" not in rejected.columns:
        return 0
    return rejected.where(in_window("kafka_timestamp", start, end)).count()
