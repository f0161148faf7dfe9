"""Snapshot expiry: drop snapshots older than the kept age beyond the kept count, with the files only they use.

``iot.sensor_readings`` keeps, whatever its age, every snapshot from the current one down to the newest that
carries the Kafka offsets, so the offsets stay readable from the snapshot chain.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from iot_platform import tables
from iot_platform.pipelines.maintenance.files import table_files
from iot_platform.pipelines.maintenance.params import MaintenanceParams
from iot_platform.pipelines.maintenance.procedures import call, first_row, quoted, timestamp_literal
from iot_platform.pipelines.maintenance.result import ExpiryResult
from iot_platform.pipelines.sensor_readings.offsets import offsets_snapshot

if TYPE_CHECKING:
    from pyiceberg.table import Table
    from pyspark.sql import SparkSession


def snapshots_to_retain(keep_count: int, offsets_depth: int | None) -> int:
    """``retain_last`` for the expiry: the kept count, or more to reach the offsets snapshot at ``offsets_depth``."""
    return max(keep_count, offsets_depth + 1 if offsets_depth is not None else 1)


def expire_snapshots(
    spark: SparkSession,
    table: Table,
    params: MaintenanceParams,
    *,
    now: dt.datetime,
    log: Callable[[str], None] = print,
) -> ExpiryResult:
    """Expire the table's snapshots older than ``now - snapshot_keep_age``, keeping at least the kept count.

    Args:
        spark: A session with the platform's catalog.
        table: The table (pyiceberg).
        params: Kept age and count, catalog name, attempts.
        now: The current time.
        log: Progress lines.

    Returns:
        Snapshots and files before and after, and what the expiry deleted.
    """
    began = time.monotonic()
    name = ".".join(table.name()[-2:])
    before = table_files(table)
    carrying, depth = offsets_snapshot(table) if name == tables.SENSOR_READINGS else (None, 0)
    retain = snapshots_to_retain(params.snapshot_keep_count, depth if carrying is not None else None)
    statement = (
        f"CALL {params.catalog_name}.system.expire_snapshots(table => {quoted(name)}, "
        f"older_than => {timestamp_literal(now - params.snapshot_keep_age)}, retain_last => {retain})"
    )
    rows, attempts = call(spark, statement, attempts=params.commit_attempts, log=log)
    out = first_row(rows)
    after = table_files(table)
    expired = max(0, before.snapshots - after.snapshots)
    log(
        f"{name}: expired {expired} snapshots ({before.snapshots} -> {after.snapshots}, last {retain} kept"
        + (f", offsets snapshot {carrying.snapshot_id} kept" if carrying is not None else "")
        + ")"
    )
    return ExpiryResult(
        table=name,
        before=before,
        after=after,
        snapshots_expired=expired,
        retain_last=retain,
        offsets_snapshot_id=carrying.snapshot_id if carrying is not None else None,
        deleted_data_files=int(out.get("deleted_data_files_count", 0) or 0),
        deleted_manifest_files=int(out.get("deleted_manifest_files_count", 0) or 0),
        attempts=attempts,
        seconds=time.monotonic() - began,
    )
