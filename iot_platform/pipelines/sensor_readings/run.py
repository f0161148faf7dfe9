"""One ingestion run: plan the offsets, judge the batch, write rejects, commit readings with offsets, verify."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from iot_platform import tables
from iot_platform.errors import IngestionError
from iot_platform.pipelines.sensor_readings.batch import JudgedBatch, empty_batch, judged_batch, read_kafka
from iot_platform.pipelines.sensor_readings.commit import commit_readings, verify_commit, write_rejects
from iot_platform.pipelines.sensor_readings.offsets import recovered_offsets
from iot_platform.pipelines.sensor_readings.plan import IngestionPlan, plan_ingestion
from iot_platform.pipelines.sensor_readings.progress import Progress
from iot_platform.pipelines.sensor_readings.result import IngestionResult

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table
    from pyspark.sql import SparkSession


def run_ingestion(
    spark: SparkSession,
    catalog: Catalog,
    watermarks: Callable[[], Mapping[int, tuple[int, int]]],
    *,
    topic: str,
    bootstrap_servers: str,
    run_id: str,
    allow_retention_gap: bool = False,
    fast_path: bool = True,
    log: Callable[[str], None] = print,
) -> IngestionResult:
    """Ingest everything new on the topic, exactly once (see the package docstring for the guarantees).

    Args:
        spark: A session on the platform's master with the catalog mounted.
        catalog: The same catalog, through pyiceberg (offsets live in its snapshot summaries).
        watermarks: Returns ``(low, high)`` offsets per partition of the topic now.
        topic: The readings topic.
        bootstrap_servers: Its brokers.
        run_id: The Dagster run id, recorded in the snapshot summary.
        allow_retention_gap: Proceed when Kafka already deleted offsets the platform never read (recorded in the
            result); without it such a gap stops the run.
        fast_path: Read canonical records with the platform's Java reader (the default); off, Spark's JSON parse
            reads every record.
        log: Progress lines.

    Returns:
        Counts, offsets and hours touched.

    Raises:
        IngestionError: offsets were lost to retention (and not allowed), or another ingestion run committed
            offsets meanwhile (maintenance commits meanwhile are fine).
        ServiceUnavailable: Kafka or the catalog cannot be reached.
    """
    began = time.monotonic()
    tables.ensure_tables(spark, tables.SENSOR_READINGS, tables.REJECTED_READINGS)
    table = catalog.load_table(tables.SENSOR_READINGS)
    plan = plan_ingestion(
        table,
        topic,
        watermarks(),
        allow_retention_gap=allow_retention_gap,
        recover=lambda: recovered_offsets(spark, topic),
        log=log,
    )
    result = IngestionResult.planned(plan)
    if plan.nothing_to_do:
        log(f"no new records on {topic} since the last ingestion")
        result.seconds = time.monotonic() - began
        return result
    log(
        f"reading {plan.offsets.total} records of {topic}: "
        + ", ".join(f"p{r.partition} [{r.start},{r.end})" for r in plan.offsets.ranges)
    )
    try:
        with _judged(spark, plan, bootstrap_servers, fast_path, log) as batch:
            _store(spark, table, batch, plan, result, run_id, log)
    except Exception as exc:
        if "OffsetOutOfRangeException" in str(exc):
            raise IngestionError(
                f"Kafka deleted records of {topic} while this run read them (retention); nothing was written. "
                "Run ingestion again: it reports the records lost"
            ) from exc
        raise
    result.snapshot_id, result.readings_per_hour = verify_commit(table, plan, result.stored, run_id)
    result.seconds = time.monotonic() - began
    log(
        f"ingested {result.readings_in} records in {result.seconds:.1f}s: {result.stored} stored, "
        f"{result.duplicates_in_batch + result.duplicates_already_stored} duplicates, {result.rejected} rejected"
    )
    return result


def _judged(
    spark: SparkSession, plan: IngestionPlan, bootstrap_servers: str, fast_path: bool, log: Callable[[str], None]
) -> AbstractContextManager[JudgedBatch]:
    """The run's judged batch (empty when a retention gap left nothing to read: only the offsets move)."""
    if not plan.reading:
        return empty_batch(spark)
    raw = read_kafka(spark, bootstrap_servers, plan.offsets)
    return judged_batch(raw, plan.topic, fast_path=fast_path, log=log, expected_records=plan.offsets.total)


def _store(
    spark: SparkSession,
    table: Table,
    batch: JudgedBatch,
    plan: IngestionPlan,
    result: IngestionResult,
    run_id: str,
    log: Callable[[str], None],
) -> None:
    """Write the batch's new rejected records, then its new readings with the offsets; count both in ``result``."""
    now = dt.datetime.now(dt.UTC)
    progress = Progress(log)
    result.readings_in = batch.valid_count + batch.rejected_count
    result.rejected, result.rejected_by_reason = batch.rejected_count, batch.rejected_by_reason
    result.duplicates_in_batch = batch.duplicates_in_batch
    # Rejected records first: keyed by (topic, partition, offset), so a retried run stores each once.
    if batch.rejected is not None and result.rejected:
        new = write_rejects(spark, batch.rejected, plan, rejected_at=now, run_id=run_id)
        result.rejected_already_stored = result.rejected - new
        progress(f"stored {new} rejected records")
    result.stored = commit_readings(
        spark, table, batch.valid, plan, bounds=batch.bounds, ingested_at=now, run_id=run_id
    )
    result.duplicates_already_stored = batch.valid_count - batch.duplicates_in_batch - result.stored
    progress(
        f"committed {result.stored} readings with offsets ({result.duplicates_in_batch} duplicates in the batch, "
        f"{result.duplicates_already_stored} already stored)"
    )
