"""Retention: old raw readings, rejected records and resolved alert episodes leave the tables, and Dagster's
finished runs (with their event logs and captured output) leave the instance, once a day."""

import datetime as dt
import os
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    DagsterInstance,
    DagsterRunStatus,
    MaterializeResult,
    MetadataValue,
    RunsFilter,
    asset,
)

from iot_platform import tables
from iot_platform.assets.sensor_alerts import SENSOR_ALERTS
from iot_platform.assets.sensor_readings import REJECTED_READINGS, SENSOR_READINGS, SPARK_POOL
from iot_platform.pipelines.maintenance.retention import RetentionPolicy, RetentionResult, apply_retention
from iot_platform.resources.iceberg import IcebergResource
from iot_platform.settings import Settings

TABLE_RETENTION = AssetKey("table_retention")
RUN_RETENTION = AssetKey("dagster_run_retention")

FINISHED = [DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED]
"""Run states retention may delete; queued, starting and running runs are never touched."""

RUN_BATCH = 200
"""Runs read and deleted per round."""


def retention_policy(settings: Settings) -> RetentionPolicy:
    """The days each table keeps, from ``IOT_RETENTION_*_DAYS`` (0 keeps everything)."""
    return RetentionPolicy(
        readings_days=settings.retention_readings_days or None,
        rejected_days=settings.retention_rejected_days or None,
        alerts_days=settings.retention_alerts_days or None,
    )


def table_metadata(results: list[RetentionResult], seconds: float) -> dict[str, Any]:
    """Metadata of a retention run: totals the UI plots, and one line per table."""
    per_table = {
        result.table: (
            "kept (no retention set)"
            if result.kept
            else f"before {result.cutoff:%Y-%m-%d %H:%M} UTC: {result.rows} rows, {result.files} files, "
            f"{result.partitions} partitions, {result.bytes} bytes dropped"
            + (f", {result.rewritten_files} files rewritten" if result.rewritten_files else "")
        )
        for result in results
    }
    return {
        "rows_dropped": sum(result.rows for result in results),
        "files_dropped": sum(result.files for result in results),
        "partitions_dropped": sum(result.partitions for result in results),
        "bytes_dropped": sum(result.bytes for result in results),
        "readings_rows_dropped": next((r.rows for r in results if r.table == tables.SENSOR_READINGS), 0),
        "commit_attempts": sum(result.attempts for result in results),
        "seconds": round(seconds, 3),
        "tables": MetadataValue.json(per_table),
    }


def build_table_retention_asset(settings: Settings) -> AssetsDefinition:
    """The ``table_retention`` asset for the settings' policy."""
    policy = retention_policy(settings)

    @asset(
        key=TABLE_RETENTION,
        deps=[SENSOR_READINGS, REJECTED_READINGS, SENSOR_ALERTS],
        group_name="maintenance",
        kinds={"iceberg"},
        # In the pool of ingestion and alert evaluation: their commits and the deletes take turns.
        pool=SPARK_POOL,
    )
    def table_retention(context: AssetExecutionContext, iceberg: IcebergResource) -> MaterializeResult:
        """Drops raw readings older than IOT_RETENTION_READINGS_DAYS by whole hours (default: kept), rejected
        records older than IOT_RETENTION_REJECTED_DAYS by whole days, and resolved alert episodes older than
        IOT_RETENTION_ALERTS_DAYS (open ones never). hourly_stats are kept. Metadata: rows, files, partitions and
        bytes dropped."""
        began = time.monotonic()
        results = apply_retention(iceberg.catalog(), policy, dt.datetime.now(dt.UTC))
        for result in results:
            context.log.info(f"{result.table}: {result}")
        return MaterializeResult(metadata=table_metadata(results, time.monotonic() - began))

    return table_retention


@dataclass(frozen=True)
class DeletedRuns:
    """What run retention removed."""

    runs: int
    seconds: float


def delete_old_runs(instance: DagsterInstance, before: dt.datetime, *, keep: str, limit: int = 100_000) -> DeletedRuns:
    """Delete finished runs last updated before ``before``, with their event logs and captured output.

    Args:
        instance: The Dagster instance.
        before: Runs that ended before this instant go.
        keep: A run id never deleted (the run doing the deleting).
        limit: At most this many runs per call, so one call stays bounded after a long pause.
    """
    began = time.monotonic()
    deleted = 0
    while deleted < limit:
        records = instance.get_run_records(
            filters=RunsFilter(statuses=FINISHED, updated_before=before), limit=RUN_BATCH, ascending=True
        )
        run_ids = [record.dagster_run.run_id for record in records if record.dagster_run.run_id != keep]
        if not run_ids:
            break
        for run_id in run_ids[: limit - deleted]:
            delete_run_everywhere(instance, run_id)
            deleted += 1
    return DeletedRuns(deleted, time.monotonic() - began)


def delete_run_everywhere(instance: DagsterInstance, run_id: str) -> None:
    """Delete a run and its events (``delete_run``) and its captured stdout/stderr; with SQLite storage, also
    shrink the run's own event-log file (emptied, it keeps its pages until vacuumed). The file itself stays:
    Dagster's processes keep using the shard they opened."""
    instance.delete_run(run_id)
    instance.compute_log_manager.delete_logs(prefix=[run_id])
    shard = getattr(instance.event_log_storage, "path_for_shard", None)
    if shard is not None and os.path.isfile(shard(run_id)):
        with closing(sqlite3.connect(shard(run_id))) as db:
            db.execute("VACUUM")


def build_run_retention_asset(settings: Settings) -> AssetsDefinition:
    """The ``dagster_run_retention`` asset for ``IOT_RETENTION_RUNS_DAYS``."""
    days = settings.retention_runs_days or None

    @asset(key=RUN_RETENTION, group_name="maintenance", kinds={"dagster"})
    def dagster_run_retention(context: AssetExecutionContext) -> MaterializeResult:
        """Deletes finished Dagster runs older than IOT_RETENTION_RUNS_DAYS, with their event logs (and the asset
        materializations and checks they recorded) and captured output. Schedule and sensor ticks are purged by
        the daemon (dagster.yaml ``retention``). Metadata: runs deleted, seconds."""
        if days is None:
            return MaterializeResult(metadata={"runs_deleted": 0, "seconds": 0.0, "kept": "all runs"})
        before = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
        result = delete_old_runs(context.instance, before, keep=context.run.run_id)
        context.log.info(f"deleted {result.runs} runs that ended before {before:%Y-%m-%d %H:%M} UTC")
        return MaterializeResult(
            metadata={"runs_deleted": result.runs, "seconds": round(result.seconds, 3), "before": before.isoformat()}
        )

    return dagster_run_retention
