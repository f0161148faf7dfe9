"""Where the committed Kafka offsets are found: the newest snapshot carrying them, or else the stored rows.

Ingestion records its offsets in the summary of the snapshot that adds its rows. Maintenance snapshots (compaction,
manifest rewrites) carry none, and an expiry run by an operator may drop every snapshot that did: then the offsets
are recovered from the rows themselves (every consumed record is stored as a reading or a rejected record).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from iot_platform import offsets, tables

if TYPE_CHECKING:
    from pyiceberg.table import Table
    from pyiceberg.table.snapshots import Snapshot
    from pyspark.sql import SparkSession


def offsets_snapshot(table: Table) -> tuple[Snapshot | None, int]:
    """The newest ancestor of the current snapshot that carries Kafka offsets, and how many snapshots lie above it.

    Returns:
        The snapshot (None when no retained ancestor carries offsets) and its depth (0: the current snapshot).
    """
    snapshot = table.current_snapshot()
    depth = 0
    while snapshot is not None:
        summary = snapshot.summary
        if summary is not None and summary.additional_properties.get(offsets.SUMMARY_KEY):
            return snapshot, depth
        parent = snapshot.parent_snapshot_id
        snapshot = table.snapshot_by_id(parent) if parent is not None else None
        depth += 1
    return None, depth


def recorded_offsets(table: Table, topic: str) -> dict[int, int] | None:
    """The offsets the newest offsets-carrying snapshot recorded for ``topic`` (None: no snapshot carries any).

    Offsets recorded for another topic count as an empty record: the table followed another topic.
    """
    snapshot, _ = offsets_snapshot(table)
    if snapshot is None or snapshot.summary is None:
        return None
    return offsets.decode_summary(snapshot.summary.additional_properties.get(offsets.SUMMARY_KEY), topic)


def holds_data(table: Table) -> bool:
    """Whether the table's current snapshot holds any row."""
    snapshot = table.current_snapshot()
    if snapshot is None or snapshot.summary is None:
        return False
    return int(snapshot.summary.additional_properties.get("total-records", "0")) > 0


def recovered_offsets(spark: SparkSession, topic: str) -> dict[int, int]:
    """Next offset per partition of ``topic`` from the stored rows: max(kafka_offset) + 1 over both tables.

    Every record of an ingested range is stored either as a reading or as a rejected record, except copies of a
    reading already stored: a trailing copy is read again by the next run and dropped again, never stored twice.
    """
    from pyspark.sql import functions as F

    def consumed(name: str):  # type: ignore[no-untyped-def]
        return (
            spark.table(name)
            .where(F.col("kafka_topic") == topic)
            .groupBy("kafka_partition")
            .agg(F.max("kafka_offset").alias("last"))
        )

    both = consumed(tables.SENSOR_READINGS).unionByName(consumed(tables.REJECTED_READINGS))
    rows = both.groupBy("kafka_partition").agg(F.max("last").alias("last")).collect()
    return {int(row["kafka_partition"]): int(row["last"]) + 1 for row in rows}
