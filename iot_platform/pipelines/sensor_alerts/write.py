"""Writing an evaluation: ``iot.sensor_state`` first (an idempotent MERGE), then the episodes of
``iot.sensor_alerts`` together with the new watermark in one commit."""

from __future__ import annotations

import datetime as dt
import warnings
from typing import TYPE_CHECKING, Any, cast

from iot_platform import tables
from iot_platform.pipelines.sensor_alerts.episodes import Changes
from iot_platform.pipelines.sensor_alerts.plan import WATERMARK_KEY, Watermark, micros
from iot_platform.pipelines.sensor_alerts.read import SensorSummary

if TYPE_CHECKING:
    from pyiceberg.table import Table
    from pyspark.sql import SparkSession

NEW_STATE_VIEW = "iot_new_sensor_state"
"""Temporary view the state MERGE reads from."""

STATE_MERGE = f"""
    MERGE INTO {tables.SENSOR_STATE} t
    USING {NEW_STATE_VIEW} s
    ON t.sensor_id = s.sensor_id
    WHEN MATCHED AND (s.last_reading_at > t.last_reading_at OR s.first_reading_at < t.first_reading_at) THEN UPDATE SET
        t.sensor_type = CASE WHEN s.last_reading_at > t.last_reading_at THEN s.sensor_type ELSE t.sensor_type END,
        t.location = CASE WHEN s.last_reading_at > t.last_reading_at THEN s.location ELSE t.location END,
        t.unit = CASE WHEN s.last_reading_at > t.last_reading_at THEN s.unit ELSE t.unit END,
        t.first_reading_at = least(t.first_reading_at, s.first_reading_at),
        t.last_reading_at = greatest(t.last_reading_at, s.last_reading_at),
        t.last_value = CASE WHEN s.last_reading_at > t.last_reading_at THEN s.last_value ELSE t.last_value END,
        t.updated_at = s.updated_at
    WHEN NOT MATCHED THEN INSERT *
"""
"""Earliest first reading and latest last reading win, so merging the same readings again changes nothing."""


def merge_state(spark: SparkSession, sensors: list[SensorSummary], updated_at: dt.datetime) -> None:
    """Fold the new readings' per-sensor summaries into ``iot.sensor_state``."""
    from pyspark.sql import functions as F

    if not sensors:
        return
    rows = [
        (
            s.sensor_id,
            s.sensor_type,
            s.location,
            s.unit,
            micros(s.first_reading_at),
            micros(s.last_reading_at),
            s.last_value,
        )
        for s in sensors
    ]
    ddl = "sensor_id string, sensor_type string, location string, unit string, first long, last long, value double"
    frame = spark.createDataFrame(rows, ddl).select(
        "sensor_id",
        "sensor_type",
        "location",
        "unit",
        F.timestamp_micros("first").alias("first_reading_at"),
        F.timestamp_micros("last").alias("last_reading_at"),
        F.col("value").alias("last_value"),
        F.timestamp_micros(F.lit(micros(updated_at))).alias("updated_at"),
    )
    frame.createOrReplaceTempView(NEW_STATE_VIEW)
    try:
        spark.sql(STATE_MERGE)
    finally:
        spark.catalog.dropTempView(NEW_STATE_VIEW)


def commit_episodes(table: Table, change: Changes, watermark: Watermark, run_id: str) -> None:
    """Replace the changed and deleted episodes and record ``watermark``, atomically (one catalog commit).

    Without a change a snapshot with no rows still records the watermark, so the next run starts after it.
    """
    import pyarrow as pa
    from pyiceberg.expressions import In

    properties = {WATERMARK_KEY: watermark.encode(), "iot.dagster-run-id": run_id}
    schema = tables.SENSOR_ALERTS_TABLE.iceberg_schema().as_arrow()
    rows = [{name: episode.get(name) for name in schema.names} for episode in change.upserts]
    with table.transaction() as tx:
        if change.replaced_ids:
            replaced = cast(Any, In)("alert_id", sorted(change.replaced_ids))  # positional, as pyiceberg documents
            with warnings.catch_warnings():
                # New episodes' ids are deleted too (a stored row may hold one the run did not read): no match is fine.
                warnings.filterwarnings("ignore", message="Delete operation did not match any records")
                tx.delete(replaced, snapshot_properties=properties)
        tx.append(pa.Table.from_pylist(rows, schema=schema), snapshot_properties=properties)
