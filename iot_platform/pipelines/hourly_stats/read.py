"""Reading an hour window of ``iot.sensor_readings`` at one snapshot."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from iot_platform import tables

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyspark.sql import Column, DataFrame, SparkSession


def utc_literal(value: dt.datetime) -> str:
    """``value`` as a UTC timestamp literal Spark reads the same in any session time zone."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S+00:00")


def in_window(column: str, start: dt.datetime, end: dt.datetime) -> Column:
    """``start <= column < end``, the bounds as UTC timestamps."""
    from pyspark.sql import functions as F

    return (F.col(column) >= F.lit(utc_literal(start)).cast("timestamp")) & (
        F.col(column) < F.lit(utc_literal(end)).cast("timestamp")
    )


def read_window(
    spark: SparkSession, catalog: Catalog, start: dt.datetime, end: dt.datetime
) -> tuple[DataFrame, int | None]:
    """The readings of ``[start, end)`` as of the table's current snapshot, so every later count sees the same rows.

    Args:
        spark: A session with the platform's catalog as its default catalog.
        catalog: The same catalog through pyiceberg, to pin the snapshot.
        start: Window start (UTC hour).
        end: Window end (exclusive, UTC hour).

    Returns:
        ``(readings, snapshot_id)``; ``snapshot_id`` is None while the table has no snapshot.
    """
    snapshot = catalog.load_table(tables.SENSOR_READINGS).current_snapshot()
    snapshot_id = snapshot.snapshot_id if snapshot is not None else None
    reader = spark.read
    if snapshot_id is not None:
        reader = reader.option("snapshot-id", str(snapshot_id))
    return reader.table(tables.SENSOR_READINGS).where(in_window("event_time", start, end)), snapshot_id
