"""Exactly-once ingestion: Kafka offsets -> ``iot.sensor_readings`` and ``iot.rejected_readings`` on Spark.

Each run reads from the offsets recorded in the current ``sensor_readings`` snapshot summary to the end of every
partition, and commits the new valid rows together with the new offsets in one Iceberg snapshot. A run that
fails anywhere before that commit leaves the offsets where they were, so the next run reads the same records
again; rows already stored (same sensor and event time) and rejected records already stored (same topic,
partition and offset) are not written twice.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from iot_platform import offsets, tables
from iot_platform.clients.iceberg import load_catalog
from iot_platform.clients.kafka import topic_watermarks
from iot_platform.errors import IngestionError

if TYPE_CHECKING:
    from pyiceberg.table import Table
    from pyspark.sql import SparkSession

    from iot_platform.settings import Settings

RUN_ID_PROPERTY = "iot.dagster-run-id"
"""Snapshot-summary key naming the Dagster run that committed a snapshot."""

CACHE_COMPRESSION = "spark.sql.inMemoryColumnarStorage.compressed"
"""Spark setting turned off while a run caches its batch (restored afterwards)."""

KAFKA_CONSUMER_OPTIONS = {
    "kafka.max.partition.fetch.bytes": str(8 * 1024 * 1024),
    "kafka.fetch.max.bytes": str(64 * 1024 * 1024),
    "kafka.max.poll.records": "20000",
}
"""Consumer settings for reading a backlog: large fetches and polls (Kafka's defaults poll 500 records at a time,
which makes the read about a third slower)."""


@dataclass
class IngestionResult:
    """What one ingestion run did, for the run's metadata and for the late-data sensor."""

    readings_in: int = 0
    stored: int = 0
    duplicates_in_batch: int = 0
    duplicates_already_stored: int = 0
    rejected: int = 0
    rejected_already_stored: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    ranges: list[dict[str, int]] = field(default_factory=list)
    gaps: list[dict[str, int]] = field(default_factory=list)
    readings_per_hour: dict[str, int] = field(default_factory=dict)
    """Stored readings per event-time hour (``%Y-%m-%d-%H:00`` partition keys)."""
    snapshot_id: int | None = None
    next_offsets: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def hours_touched(self) -> list[str]:
        return sorted(self.readings_per_hour)


def committed_offsets(table: Table, topic: str) -> tuple[dict[int, int], int | None]:
    """Offsets recorded in the newest snapshot (walking back from the current one) that carries them."""
    snapshot = table.current_snapshot()
    current_id = snapshot.snapshot_id if snapshot is not None else None
    while snapshot is not None:
        summary = snapshot.summary
        value = summary.additional_properties.get(offsets.SUMMARY_KEY) if summary is not None else None
        if value:
            return offsets.decode_summary(value, topic), current_id
        parent = snapshot.parent_snapshot_id
        snapshot = table.snapshot_by_id(parent) if parent is not None else None
    return {}, current_id


def _hour_key(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d-%H:00")


def run_ingestion(
    spark: SparkSession,
    settings: Settings,
    run_id: str,
    *,
    allow_retention_gap: bool = False,
    log: Callable[[str], None] = print,
) -> IngestionResult:
    """Ingest everything new on the topic. See the module docstring for the guarantees.

    Args:
        spark: A session on the platform's master with the catalog mounted.
        settings: Platform settings (Kafka, topic, catalog).
        run_id: The Dagster run id, recorded in the snapshot summary.
        allow_retention_gap: Proceed when Kafka already deleted offsets the platform never read (recorded in the
            result); without it such a gap stops the run.
        log: Progress lines.

    Returns:
        Counts, offsets and hours touched.

    Raises:
        IngestionError: offsets were lost to retention (and not allowed), or another run committed meanwhile.
        ServiceUnavailable: Kafka or the catalog cannot be reached.
    """
    from pyspark.sql import functions as F

    from iot_platform.transforms.readings import (
        CANONICAL_STRINGS,
        READING_COLUMNS,
        judge_records,
        later_copies,
        read_canonical,
        shared_keys,
        split_valid_rejected,
    )

    began = time.monotonic()
    topic = settings.kafka_topic
    tables.ensure_tables(spark, tables.SENSOR_READINGS, tables.REJECTED_READINGS)
    catalog = load_catalog(settings)
    readings_table = catalog.load_table(tables.SENSOR_READINGS)
    committed, snapshot_before = committed_offsets(readings_table, topic)
    the_plan = offsets.plan(topic, committed, topic_watermarks(settings.bootstrap_servers, topic))
    result = IngestionResult(
        ranges=[{"partition": r.partition, "start": r.start, "end": r.end} for r in the_plan.ranges],
        gaps=[{"partition": g.partition, "from": g.expected, "to": g.available, "lost": g.lost} for g in the_plan.gaps],
        next_offsets=offsets.merged_offsets(committed, the_plan.ranges),
        snapshot_id=snapshot_before,
    )
    if the_plan.gaps:
        described = "; ".join(
            f"partition {g.partition}: offsets {g.expected}..{g.available - 1} ({g.lost} records)"
            for g in the_plan.gaps
        )
        message = f"Kafka deleted records of {topic} before they were ingested (retention): {described}"
        if not allow_retention_gap:
            raise IngestionError(
                f"{message}. Nothing was written. To accept the loss and continue from the oldest record Kafka "
                "still has, run ingestion with config allow_retention_gap: true"
            )
        log(f"WARNING {message}; continuing as allowed")
    if the_plan.total == 0 and not the_plan.gaps:
        log(f"no new records on {topic} since the last ingestion")
        result.seconds = time.monotonic() - began
        return result

    log(
        f"reading {the_plan.total} records of {topic}: "
        + ", ".join(f"p{r.partition} [{r.start},{r.end})" for r in the_plan.ranges)
    )
    reading = [r for r in the_plan.ranges if r.count > 0]
    raw = _kafka_source(spark, settings, the_plan, reading)
    now = dt.datetime.now(dt.UTC)
    from pyspark import StorageLevel
    from pyspark.sql import Observation

    # One read of Kafka, kept while the counts, the rejected records, the search for copies and the commit use it,
    # and dropped at the end (uncompressed: cheaper to build). Records the canonical reader proved valid carry their
    # reading; the others (malformed records, valid ones in another layout) carry their bytes and Kafka time, and
    # only they take the JSON parse. The topic is the same for every record, so it is not kept.
    compressed = spark.conf.get(CACHE_COMPRESSION, "true") or "true"
    spark.conf.set(CACHE_COMPRESSION, "false")
    canonical = F.col("canonical")
    counted = Observation("batch")
    batch = (
        read_canonical(raw)
        .select(
            "canonical",
            # The reading's strings are kept as bytes: Spark's cache computes no per-value bounds for binary
            # columns, and the casts between bytes and strings copy nothing.
            *(F.col(name).cast("binary") if name in CANONICAL_STRINGS else F.col(name) for name in READING_COLUMNS[:6]),
            "partition",
            "offset",
            F.when(~canonical, F.col("kafka_timestamp")).alias("kafka_timestamp"),
            "record_value",
        )
        .observe(
            counted,
            F.count(F.lit(1)).alias("records"),
            F.count(F.when(canonical, F.lit(1))).alias("canonical"),
            # Event-time bounds as epoch microseconds: collected datetimes would be in the driver's time zone.
            F.min(F.unix_micros("event_time")).alias("lo"),
            F.max(F.unix_micros("event_time")).alias("hi"),
        )
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    records = batch.withColumns({name: F.col(name).cast("string") for name in CANONICAL_STRINGS}).withColumn(
        "topic", F.lit(topic)
    )
    readings = records.where(canonical).select(*READING_COLUMNS)
    kept: list[Any] = [batch]
    try:
        step = time.monotonic()

        def progress(what: str) -> None:
            nonlocal step
            log(f"{what} in {time.monotonic() - step:.1f}s")
            step = time.monotonic()

        def keep(frame: Any) -> Any:
            kept.append(frame.persist(StorageLevel.MEMORY_AND_DISK))
            return frame

        # The first pass reads Kafka, keeps the batch, counts it and finds the keys of readings with copies (one
        # hash aggregation; only the readings with such a key are sorted, below).
        keys = keep(shared_keys(readings))
        shared = keys.count()
        # (Nothing to read after a retention gap: Spark may report no metrics for an empty plan.)
        seen: dict[str, Any] = counted.get if reading else {"records": 0, "canonical": 0, "lo": None, "hi": None}
        valid_count = int(seen["canonical"])
        other_count = int(seen["records"]) - valid_count
        span: list[tuple[int, int]] = [(seen["lo"], seen["hi"])] if valid_count else []
        other_valid_count = 0
        others = None
        if other_count:
            others = keep(judge_records(records.where(~canonical)))
            for row in (
                others.groupBy("reason")
                .agg(
                    F.count(F.lit(1)).alias("n"),
                    F.min(F.unix_micros("event_time")).alias("lo"),
                    F.max(F.unix_micros("event_time")).alias("hi"),
                )
                .collect()
            ):
                if row["reason"] is None:
                    other_valid_count = int(row["n"])
                    span.append((row["lo"], row["hi"]))
                else:
                    result.rejected_by_reason[row["reason"]] = int(row["n"])
        valid_count += other_valid_count
        bounds = (min(lo for lo, _ in span), max(hi for _, hi in span)) if span else None
        result.rejected_by_reason = dict(sorted(result.rejected_by_reason.items()))
        result.rejected = sum(result.rejected_by_reason.values())
        result.readings_in = valid_count + result.rejected
        progress(
            f"read and parsed {result.readings_in} records ({other_count} not in the canonical layout, "
            f"{result.rejected} malformed)"
        )

        # 1. Rejected records first: keyed by (topic, partition, offset), so a retried run stores each once.
        if result.rejected and others is not None:
            _, rejected = split_valid_rejected(others, rejected_at=now)
            stored_rejects = spark.table(tables.REJECTED_READINGS).where(
                _offset_filter(topic, reading, prefix="kafka_")
            )
            new_rejects = (
                rejected.withColumnRenamed("topic", "kafka_topic")
                .withColumnRenamed("partition", "kafka_partition")
                .withColumnRenamed("offset", "kafka_offset")
                .join(
                    stored_rejects.select("kafka_topic", "kafka_partition", "kafka_offset"),
                    ["kafka_topic", "kafka_partition", "kafka_offset"],
                    "left_anti",
                )
                .select(
                    "raw_payload",
                    "kafka_topic",
                    "kafka_partition",
                    "kafka_offset",
                    "kafka_timestamp",
                    "reason",
                    "detail",
                    "rejected_at",
                )
            )
            written = Observation("rejects")
            (
                new_rejects.observe(written, F.count(F.lit(1)).alias("n"))
                .writeTo(tables.REJECTED_READINGS)
                .option(f"snapshot-property.{RUN_ID_PROPERTY}", run_id)
                .append()
            )
            result.rejected_already_stored = result.rejected - int(written.get["n"])
            progress(f"stored {result.rejected - result.rejected_already_stored} rejected records")

        # 2. Valid readings: one per (sensor_id, event_time), in the batch and against the stored hours. Readings
        #    in another layout join the search for copies; the later copies of each reading are dropped.
        if other_valid_count and others is not None:
            readings = readings.unionByName(others.where(F.col("reason").isNull()).select(*READING_COLUMNS))
            keys = keep(shared_keys(readings))
            shared = keys.count()
        valid = readings
        if shared:
            copies = keep(later_copies(readings, keys))
            result.duplicates_in_batch = copies.count()
            if result.duplicates_in_batch:
                valid = readings.join(copies, ["topic", "partition", "offset"], "left_anti")
        progress(f"found {result.duplicates_in_batch} duplicates in the batch ({shared} shared keys)")
        new_seen = Observation("new")
        new_rows = valid
        if bounds is not None:
            stored = (
                spark.table(tables.SENSOR_READINGS)
                .where(
                    (F.col("event_time") >= F.timestamp_micros(F.lit(bounds[0])))
                    & (F.col("event_time") <= F.timestamp_micros(F.lit(bounds[1])))
                )
                .select("sensor_id", "event_time")
            )
            new_rows = new_rows.join(stored, ["sensor_id", "event_time"], "left_anti")
        new_rows = new_rows.select(
            "sensor_id",
            "sensor_type",
            "location",
            "value",
            "unit",
            "event_time",
            F.col("topic").alias("kafka_topic"),
            F.col("partition").alias("kafka_partition"),
            F.col("offset").alias("kafka_offset"),
            F.lit(now).cast("timestamp").alias("ingested_at"),
        ).observe(new_seen, F.count(F.lit(1)).alias("n"))

        # 3. Offsets and rows in one snapshot; refuse if another run committed since this one planned.
        readings_table.refresh()
        current = readings_table.current_snapshot()
        if (current.snapshot_id if current is not None else None) != snapshot_before:
            raise IngestionError(
                f"another run committed to {tables.SENSOR_READINGS} while this one ran; nothing was written "
                "by this run's readings step; run ingestion again"
            )
        summary = offsets.encode_summary(topic, result.next_offsets)
        (
            new_rows.writeTo(tables.SENSOR_READINGS)
            # Rows arrive in Kafka order, which is nearly event-time order: each task keeps one writer open per
            # hour it meets instead of asking for a shuffle by hour.
            .option("distribution-mode", "none")
            .option("fanout-enabled", "true")
            .option(f"snapshot-property.{offsets.SUMMARY_KEY}", summary)
            .option(f"snapshot-property.{RUN_ID_PROPERTY}", run_id)
            .append()
        )
        result.stored = int(new_seen.get["n"])
        result.duplicates_already_stored = valid_count - result.duplicates_in_batch - result.stored
        progress(
            f"committed {result.stored} readings with offsets ({result.duplicates_in_batch} duplicates in the "
            f"batch, {result.duplicates_already_stored} already stored)"
        )
    except Exception as exc:
        if "OffsetOutOfRangeException" in str(exc):
            raise IngestionError(
                f"Kafka deleted records of {topic} while this run read them (retention); nothing was written. "
                "Run ingestion again: it reports the records lost"
            ) from exc
        raise
    finally:
        for frame in reversed(kept):
            frame.unpersist()
        spark.conf.set(CACHE_COMPRESSION, compressed)

    readings_table.refresh()
    after, result.snapshot_id = committed_offsets(readings_table, topic)
    if after != result.next_offsets:
        raise IngestionError(
            f"{tables.SENSOR_READINGS}: the commit did not record the offsets (found {after}, expected "
            f"{result.next_offsets}); check the table's snapshots"
        )
    if result.snapshot_id is not None and result.snapshot_id != snapshot_before:
        result.readings_per_hour = added_rows_per_hour(readings_table, result.snapshot_id)
        if sum(result.readings_per_hour.values()) != result.stored:
            raise IngestionError(
                f"{tables.SENSOR_READINGS}: snapshot {result.snapshot_id} added "
                f"{sum(result.readings_per_hour.values())} rows but the run wrote {result.stored}; check the table"
            )
    result.seconds = time.monotonic() - began
    log(
        f"ingested {result.readings_in} records in {result.seconds:.1f}s: {result.stored} stored, "
        f"{result.duplicates_in_batch + result.duplicates_already_stored} duplicates, {result.rejected} rejected"
    )
    return result


def _kafka_source(
    spark: SparkSession, settings: Settings, the_plan: offsets.Plan, reading: list[offsets.PartitionRange]
) -> Any:
    """Spark's Kafka source over the planned offset ranges (an empty frame of its shape when there are none)."""
    if not reading:
        return spark.createDataFrame(
            [], "key binary, value binary, topic string, partition int, offset long, timestamp timestamp"
        )
    reader = spark.read.format("kafka").option("kafka.bootstrap.servers", settings.bootstrap_servers)
    reader = reader.option("failOnDataLoss", "true")
    reader = reader.option("assign", json.dumps({settings.kafka_topic: [r.partition for r in reading]}))
    for key, value in {**the_plan.spark_options(), **KAFKA_CONSUMER_OPTIONS}.items():
        reader = reader.option(key, value)
    # Kafka partitions map to Spark tasks; on a backlog, split their offset ranges (no shuffle) so every core has
    # work.
    if the_plan.total > 200_000:
        reader = reader.option("minPartitions", str(max(2, spark.sparkContext.defaultParallelism * 2)))
    return reader.load()


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
            key = _hour_key(dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(hours=hours_since_epoch))
            per_hour[key] = per_hour.get(key, 0) + entry.data_file.record_count
    return dict(sorted(per_hour.items()))


def _offset_filter(topic: str, ranges: list[offsets.PartitionRange], prefix: str = "") -> Any:
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


def result_metadata(result: IngestionResult) -> dict[str, Any]:
    """Numbers the Dagster UI shows (and plots) for an ingestion run."""
    return {
        "readings_in": result.readings_in,
        "stored": result.stored,
        "duplicates_dropped": result.duplicates_in_batch + result.duplicates_already_stored,
        "duplicates_in_batch": result.duplicates_in_batch,
        "duplicates_already_stored": result.duplicates_already_stored,
        "rejected": result.rejected,
        "rejected_by_reason": result.rejected_by_reason,
        "offset_ranges": result.ranges,
        "next_offsets": {str(p): o for p, o in sorted(result.next_offsets.items())},
        "retention_gaps": result.gaps,
        "hours_touched": result.hours_touched,
        "readings_per_hour": result.readings_per_hour,
        "snapshot_id": str(result.snapshot_id) if result.snapshot_id is not None else "",
        "seconds": round(result.seconds, 2),
    }
