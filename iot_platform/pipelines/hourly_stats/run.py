"""One hourly_stats run: read the window at one snapshot, aggregate it, MERGE it, read the checks' inputs back."""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING

from iot_platform import tables
from iot_platform.pipelines.hourly_stats.checks import count_rejected, read_written
from iot_platform.pipelines.hourly_stats.merge import merge_window
from iot_platform.pipelines.hourly_stats.read import read_window
from iot_platform.pipelines.hourly_stats.result import HourlyResult

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyspark.sql import SparkSession

    from iot_platform.registry import PlausibleRanges


def build_hourly_stats(
    spark: SparkSession,
    catalog: Catalog,
    start: dt.datetime,
    end: dt.datetime,
    physical_ranges: PlausibleRanges | None = None,
) -> HourlyResult:
    """Aggregate ``iot.sensor_readings`` of ``[start, end)`` into ``iot.hourly_stats``, replacing those hours.

    Args:
        spark: A session on the platform's master with the catalog mounted (session time zone UTC).
        catalog: The same catalog through pyiceberg (snapshot ids).
        start: Window start (UTC hour).
        end: Window end (exclusive, UTC hour).
        physical_ranges: Plausible (min, max) value per sensor and sensor type, for the range check.

    Returns:
        Counts, snapshot ids, check inputs and a preview of the rows written.
    """
    from iot_platform.transforms.hourly_stats import aggregate_hourly

    began = time.monotonic()
    tables.ensure_tables(spark)
    result = HourlyResult(start=start, end=end)
    readings, result.readings_snapshot_id = read_window(spark, catalog, start, end)
    stats = aggregate_hourly(readings, dt.datetime.now(dt.UTC))
    merge_window(spark, stats, start, end)
    read_written(spark, result, physical_ranges)
    result.stored_readings = readings.count()
    result.rejected = count_rejected(spark, start, end)
    current = catalog.load_table(tables.HOURLY_STATS).current_snapshot()
    result.stats_snapshot_id = current.snapshot_id if current is not None else None
    result.seconds = time.monotonic() - began
    return result
