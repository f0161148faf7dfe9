"""Writing a judged batch: rejected records, then readings and offsets in one snapshot, then checking the commit."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from iot_platform import offsets, tables
from iot_platform.errors import IngestionError
from iot_platform.partitions import partition_key
from iot_platform.pipelines.sensor_readings.offsets import recorded_offsets
from iot_platform.pipelines.sensor_readings.plan import IngestionPlan
from iot_platform.transforms.readings import new_rejected_records, not_stored, stored_readings

if TYPE_CHECKING:
    from pyiceberg.table import Table
    from pyiceberg.table.snapshots import Snapshot
    from pyspark.sql import Column, DataFrame, Observation, SparkSession

RUN_ID_PROPERTY = "iot.dagster-run-id"
"""Snapshot-summary key naming the Dagster run that committed a snapshot."""


def write_rejects(
    spark: SparkSession, rejected: DataFrame, plan: IngestionPlan, *, rejected_at: dt.datetime, run_id: str
) -> int:
    """Append the rejected records ``iot.rejected_readings`` does not hold yet (keyed by topic, partition, offset).

    Args:
        spark: The run's session.
        rejected: Rejected records of the batch, with ``REJECTED_COLUMNS``.
        plan: The run's plan (its ranges bound the search for records already stored).
        rejected_at: When the run rejected them.
        run_id: Recorded in the snapshot summary.

    Returns:
        How many were written.
    """
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    stored = spark.table(tables.REJECTED_READINGS).where(_offset_filter(plan.topic, plan.reading, prefix="kafka_"))
    written = Observation("rejects")
    (
        new_rejected_records(rejected, stored, rejected_at)
        .observe(written, F.count(F.lit(1)).alias("n"))
        .writeTo(tables.REJECTED_READINGS)
        .option(f"snapshot-property.{RUN_ID_PROPERTY}", run_id)
        .append()
    )
    return observed_count(written)


def commit_readings(
    spark: SparkSession,
    table: Table,
    valid: DataFrame,
    plan: IngestionPlan,
    *,
    bounds: tuple[int, int] | None,
    ingested_at: dt.datetime,
    run_id: str,
) -> int:
    """Append the readings not stored yet together with the run's offsets, in one snapshot.

    Args:
        spark: The run's session.
        table: ``iot.sensor_readings`` (pyiceberg), to check no other ingestion committed offsets since the plan.
        valid: The batch's valid readings, without copies.
        plan: The run's plan.
        bounds: The readings' event-time bounds (epoch microseconds): the stored readings searched for copies.
        ingested_at: When the run read them.
        run_id: Recorded in the snapshot summary.

    Returns:
        How many readings were written.

    Raises:
        IngestionError: another ingestion run committed offsets since this one planned. (Maintenance commits
            such as compactions and expiries do not change the offsets and do not stop the run.)
    """
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    new_rows = valid
    if bounds is not None:
        stored = spark.table(tables.SENSOR_READINGS).where(
            (F.col("event_time") >= F.timestamp_micros(F.lit(bounds[0])))
            & (F.col("event_time") <= F.timestamp_micros(F.lit(bounds[1])))
        )
        new_rows = not_stored(new_rows, stored)
    written = Observation("new")
    table.refresh()
    recorded = recorded_offsets(table, plan.topic)
    if recorded is not None and recorded != plan.committed:
        raise IngestionError(
            f"another ingestion run committed offsets {recorded} to {tables.SENSOR_READINGS} while this one ran "
            f"(planned from {plan.committed}); nothing was written by this run's readings step; run ingestion again"
        )
    (
        stored_readings(new_rows, ingested_at)
        .observe(written, F.count(F.lit(1)).alias("n"))
        .writeTo(tables.SENSOR_READINGS)
        # Rows arrive in Kafka order, which is nearly event-time order: each task keeps one writer open per hour it
        # meets instead of asking for a shuffle by hour.
        .option("distribution-mode", "none")
        .option("fanout-enabled", "true")
        .option(f"snapshot-property.{offsets.SUMMARY_KEY}", offsets.encode_summary(plan.topic, plan.next_offsets))
        .option(f"snapshot-property.{RUN_ID_PROPERTY}", run_id)
        .append()
    )
    return observed_count(written)


def verify_commit(table: Table, plan: IngestionPlan, stored: int, run_id: str) -> tuple[int, dict[str, int]]:
    """Check that the run's own snapshot holds the run's offsets and exactly the rows it wrote.

    The run's snapshot is found by its ``iot.dagster-run-id`` among the current snapshot's ancestors: a compaction
    or expiry may have committed on top of it meanwhile.

    Args:
        table: ``iot.sensor_readings``.
        plan: The run's plan.
        stored: How many readings the run wrote.
        run_id: The run id the commit recorded.

    Returns:
        The run's snapshot id and the readings it added per event-time hour.

    Raises:
        IngestionError: no snapshot of the run is found, or its offsets or row count differ from the run's.
    """
    table.refresh()
    own = run_snapshot(table, run_id)
    if own is None or own.summary is None:
        raise IngestionError(
            f"{tables.SENSOR_READINGS}: no snapshot of run {run_id} carrying offsets was found after its commit; "
            "check the table's snapshots"
        )
    after = offsets.decode_summary(own.summary.additional_properties.get(offsets.SUMMARY_KEY), plan.topic)
    if after != plan.next_offsets:
        raise IngestionError(
            f"{tables.SENSOR_READINGS}: the commit did not record the offsets (found {after}, expected "
            f"{plan.next_offsets}); check the table's snapshots"
        )
    per_hour = added_rows_per_hour(table, own.snapshot_id)
    if sum(per_hour.values()) != stored:
        raise IngestionError(
            f"{tables.SENSOR_READINGS}: snapshot {own.snapshot_id} added {sum(per_hour.values())} rows but the run "
            f"wrote {stored}; check the table"
        )
    return own.snapshot_id, per_hour


def run_snapshot(table: Table, run_id: str) -> Snapshot | None:
    """The newest ancestor of the current snapshot committed by ``run_id`` with offsets (None: none is left)."""
    snapshot = table.current_snapshot()
    while snapshot is not None:
        props = snapshot.summary.additional_properties if snapshot.summary is not None else {}
        if props.get(RUN_ID_PROPERTY) == run_id and props.get(offsets.SUMMARY_KEY):
            return snapshot
        parent = snapshot.parent_snapshot_id
        snapshot = table.snapshot_by_id(parent) if parent is not None else None
    return None


def added_rows_per_hour(table: Table, snapshot_id: int) -> dict[str, int]:
    """Rows a snapshot of ``iot.sensor_readings`` added, per event-time hour (``%Y-%m-%d-%H:00``).

    Read from the record counts of the data files it added (the table is partitioned by hour), so the run needs
    no extra pass over its rows.
    """
    snapshot = table.snapshot_by_id(snapshot_id)
    if snapshot is None:
        return {}
    per_hour: dict[str, int] = {}
    for manifest in snapshot.manifests(table.io):
        if manifest.added_snapshot_id != snapshot_id or not manifest.has_added_files():
            continue
        for entry in manifest.fetch_manifest_entry(table.io):
            if entry.snapshot_id != snapshot_id or entry.status.name != "ADDED":
                continue
            hours_since_epoch = entry.data_file.partition[0]
            key = partition_key(dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(hours=hours_since_epoch))
            per_hour[key] = per_hour.get(key, 0) + entry.data_file.record_count
    return dict(sorted(per_hour.items()))


def _offset_filter(topic: str, ranges: list[offsets.PartitionRange], prefix: str = "") -> Column:
    """Rows whose ``topic``, ``partition`` and ``offset`` columns (after ``prefix``) fall in one of ``ranges``."""
    from pyspark.sql import functions as F

    condition = F.lit(False)
    for r in ranges:
        condition = condition | (
            (F.col(f"{prefix}topic") == topic)
            & (F.col(f"{prefix}partition") == r.partition)
            & (F.col(f"{prefix}offset") >= r.start)
            & (F.col(f"{prefix}offset") < r.end)
        )
    return condition


def observed_count(observation: Observation) -> int:
    """The row count an observed write recorded.

    An input the adaptive optimizer proves empty is planned away together with its observed metrics; over Spark
    Connect the observation then holds no value, and nothing was written. (Were rows written with the count lost,
    :func:`verify_commit` would find the snapshot's added rows disagreeing and fail the run.)
    """
    return int(observation.get.get("n", 0))
