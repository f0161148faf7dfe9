"""One run's batch: the Spark read of the planned Kafka ranges, judged, counted and searched for copies.

The batch is read from Kafka once and kept (uncompressed: cheaper to build) while the counts, the rejected records,
the search for copies and the commit use it, and dropped at the end. Records the canonical reader proved valid
carry their reading; the others (malformed records, valid ones in another layout) carry their bytes and Kafka time,
and only they take the JSON parse.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from iot_platform import offsets
from iot_platform.clients.spark import default_parallelism
from iot_platform.pipelines.sensor_readings.progress import Progress
from iot_platform.transforms.readings import (
    READING_SCHEMA,
    REJECTED_COLUMNS,
    batch_counts,
    canonical_readings,
    compact_batch,
    expand_batch,
    judge_records,
    judged_valid,
    later_copies,
    non_canonical,
    read_canonical,
    shared_keys,
    without_copies,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

CACHE_COMPRESSION = "spark.sql.inMemoryColumnarStorage.compressed"
"""Spark setting turned off while a run caches its batch (restored afterwards)."""

KAFKA_CONSUMER_OPTIONS = {
    "kafka.max.partition.fetch.bytes": str(8 * 1024 * 1024),
    "kafka.fetch.max.bytes": str(64 * 1024 * 1024),
    "kafka.max.poll.records": "20000",
}
"""Consumer settings for reading a backlog: large fetches and polls (Kafka's defaults poll 500 records at a time,
which makes the read about a third slower)."""

BACKLOG_RECORDS = 200_000
"""Above this many records, the read splits Kafka partitions' offset ranges over more Spark tasks."""


@dataclass
class JudgedBatch:
    """A batch's valid readings (later copies dropped), its rejected records, and what was counted on the way."""

    valid: DataFrame
    """Valid readings, one per (sensor_id, event_time) within the batch, with ``READING_COLUMNS``."""
    rejected: DataFrame | None = None
    """Malformed records with ``REJECTED_COLUMNS`` (None when every record was canonical)."""
    copies: DataFrame | None = None
    """``topic``, ``partition``, ``offset`` of the later copies dropped from ``valid`` (None: no shared key)."""
    records: int = 0
    valid_count: int = 0
    """Valid readings, copies included."""
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    duplicates_in_batch: int = 0
    bounds: tuple[int, int] | None = None
    """Lowest and highest event time of the valid readings, in epoch microseconds (None: no valid reading)."""

    @property
    def rejected_count(self) -> int:
        return sum(self.rejected_by_reason.values())


def read_kafka(spark: SparkSession, bootstrap_servers: str, plan: offsets.Plan) -> DataFrame:
    """Spark's Kafka source over the planned offset ranges with records.

    Args:
        spark: The run's session.
        bootstrap_servers: The brokers.
        plan: The offsets to read (at least one range with records).
    """
    reading = [r for r in plan.ranges if r.count > 0]
    reader = spark.read.format("kafka").option("kafka.bootstrap.servers", bootstrap_servers)
    reader = reader.option("failOnDataLoss", "true")
    reader = reader.option("assign", json.dumps({plan.topic: [r.partition for r in reading]}))
    for key, value in {**plan.spark_options(), **KAFKA_CONSUMER_OPTIONS}.items():
        reader = reader.option(key, value)
    # Kafka partitions map to Spark tasks; on a backlog, split their offset ranges (no shuffle) so every core has
    # work.
    if plan.total > BACKLOG_RECORDS:
        reader = reader.option("minPartitions", str(max(2, default_parallelism(spark) * 2)))
    return reader.load()


@contextmanager
def judged_batch(
    raw: DataFrame,
    topic: str,
    *,
    fast_path: bool = True,
    log: Callable[[str], None] = print,
    expected_records: int = 0,
) -> Iterator[JudgedBatch]:
    """Judge and de-duplicate the records of ``raw``; the frames stay cached for the block and are dropped after it.

    Args:
        raw: Records in the shape of Spark's Kafka source, all from ``topic``.
        topic: Their topic.
        fast_path: Read canonical records with the platform's Java reader (the default); off, every record takes
            Spark's JSON parse. The results are the same.
        log: Progress lines.
        expected_records: How many records ``raw`` holds, as planned: above :data:`BACKLOG_RECORDS`, the shared
            keys are counted in a pass of their own.

    Yields:
        The judged batch.
    """
    kept: list[DataFrame] = []

    def keep(frame: DataFrame) -> DataFrame:
        from pyspark import StorageLevel

        kept.append(frame.persist(StorageLevel.MEMORY_AND_DISK))
        return frame

    try:
        with session_conf(raw.sparkSession, {CACHE_COMPRESSION: "false"}):
            yield _judge(raw, topic, keep, fast_path, Progress(log), expected_records)
    finally:
        for frame in reversed(kept):
            frame.unpersist()


@contextmanager
def session_conf(spark: SparkSession, values: dict[str, str]) -> Iterator[None]:
    """Run a block with runtime settings of ``spark`` changed, then restore them (unset if they were unset)."""
    before = {key: spark.conf.get(key, None) for key in values}
    for key, value in values.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, previous in before.items():
            if previous is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, previous)


@contextmanager
def empty_batch(spark: SparkSession) -> Iterator[JudgedBatch]:
    """The batch of a run with nothing to read (every new record was lost to retention)."""
    yield JudgedBatch(valid=spark.createDataFrame([], READING_SCHEMA))


def _judge(
    raw: DataFrame,
    topic: str,
    keep: Callable[[DataFrame], DataFrame],
    fast_path: bool,
    progress: Progress,
    expected_records: int,
) -> JudgedBatch:
    """The composition :func:`judged_batch` runs: one read, kept and counted, then copies found by hash key."""
    from pyspark.sql import functions as F

    batch = keep(compact_batch(read_canonical(raw, fast_path=fast_path)))
    records = expand_batch(batch, topic)
    readings = canonical_readings(records)
    # The first pass reads Kafka, keeps the batch and counts it. (An aggregate, not an observation: plans that union
    # two frames observed under one name fail over Spark Connect in Spark 4.0.0.) On a scheduled run's batch it also
    # counts the keys its canonical readings share, so a batch without copies or other layouts takes no other pass
    # before its commit. On a backlog it stays a plain count and the keys are found in a second pass over the kept
    # batch: aggregating millions of keys in the pass that reads Kafka was slower on the warm server's one-core
    # executors in the backlog benchmark.
    count_keys = expected_records <= BACKLOG_RECORDS
    seen = batch_counts(records, shared=count_keys).first()
    assert seen is not None
    # How many keys the readings share; None until counted.
    shared: int | None = int(seen["shared"]) if count_keys else None
    result = JudgedBatch(valid=readings, records=int(seen["records"]), valid_count=int(seen["canonical"]))
    span: list[tuple[int, int]] = [(seen["lo"], seen["hi"])] if result.valid_count else []
    other_count = result.records - result.valid_count
    if other_count:
        judged = keep(judge_records(non_canonical(records)))
        result.rejected = judged.where(F.col("reason").isNotNull()).select(*REJECTED_COLUMNS)
        if _count_judged(judged, result, span):
            # Readings in another layout join the search for copies: the first pass's count no longer holds.
            readings = readings.unionByName(judged_valid(judged))
            shared = None
    keys: DataFrame | None = None
    if shared is None:
        keys = keep(shared_keys(readings))
        shared = keys.count()
    result.bounds = (min(lo for lo, _ in span), max(hi for _, hi in span)) if span else None
    progress(
        f"read and parsed {result.records} records ({other_count} not in the canonical layout, "
        f"{result.rejected_count} malformed)"
    )
    # The later copies of each reading are dropped.
    result.valid = readings
    if shared:
        if keys is None:
            keys = keep(shared_keys(readings))
        result.copies = keep(later_copies(readings, keys))
        result.duplicates_in_batch = result.copies.count()
        if result.duplicates_in_batch:
            result.valid = without_copies(readings, result.copies)
    progress(f"found {result.duplicates_in_batch} duplicates in the batch ({shared} shared keys)")
    return result


def _count_judged(judged: DataFrame, result: JudgedBatch, span: list[tuple[int, int]]) -> int:
    """Count the judged records per reason into ``result`` and add the valid ones' event-time bounds to ``span``.

    Returns:
        How many of them are valid.
    """
    from pyspark.sql import functions as F

    valid = 0
    by_reason: dict[str, int] = {}
    counts = judged.groupBy("reason").agg(
        F.count(F.lit(1)).alias("n"),
        F.min(F.unix_micros("event_time")).alias("lo"),
        F.max(F.unix_micros("event_time")).alias("hi"),
    )
    for row in counts.collect():
        if row["reason"] is None:
            valid = int(row["n"])
            span.append((row["lo"], row["hi"]))
        else:
            by_reason[row["reason"]] = int(row["n"])
    result.rejected_by_reason = dict(sorted(by_reason.items()))
    result.valid_count += valid
    return valid
