"""Replacing exactly the rows of an hour window of ``iot.hourly_stats`` in one Iceberg commit."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from iot_platform import tables
from iot_platform.pipelines.hourly_stats.read import utc_literal

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

NEW_ROWS_VIEW = "iot_new_hourly_stats"
"""Temporary view the MERGE reads the new aggregate from."""


def merge_statement(start: dt.datetime, end: dt.datetime) -> str:
    """The MERGE of :data:`NEW_ROWS_VIEW` into ``iot.hourly_stats`` for ``[start, end)``.

    Rows the new aggregate has are updated or inserted; rows of the window it no longer has are deleted, so re-runs
    and backfills never duplicate and nothing outside the window changes.
    """
    low, high = utc_literal(start), utc_literal(end)
    return f"""
        MERGE INTO {tables.HOURLY_STATS} t
        USING {NEW_ROWS_VIEW} s
        ON t.window_start = s.window_start AND t.sensor_id = s.sensor_id
        WHEN MATCHED THEN UPDATE SET *
        WHEN NOT MATCHED THEN INSERT *
        WHEN NOT MATCHED BY SOURCE
            AND t.window_start >= TIMESTAMP '{low}' AND t.window_start < TIMESTAMP '{high}'
            THEN DELETE
        """


def merge_window(spark: SparkSession, stats: DataFrame, start: dt.datetime, end: dt.datetime) -> None:
    """Write ``stats`` (rows of ``[start, end)`` only) over the window's rows, atomically.

    What was written is read back from the table afterwards (:func:`~iot_platform.pipelines.hourly_stats.checks.
    read_written`): the window holds exactly the new aggregate once the MERGE commits.

    Args:
        spark: The session ``stats`` belongs to.
        stats: The new aggregate, in ``HOURLY_STATS_COLUMNS``.
        start: Window start (UTC hour).
        end: Window end (exclusive, UTC hour).
    """
    stats.createOrReplaceTempView(NEW_ROWS_VIEW)
    spark.sql(merge_statement(start, end))
