"""Orphan-file removal: delete files under a table's location that no snapshot references (left by failed writes
or by expiries that stopped half-way). Only files older than a safe minimum age are considered, never younger
than 24 hours, so a write still in progress keeps its files."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from iot_platform.pipelines.maintenance.params import MaintenanceParams
from iot_platform.pipelines.maintenance.procedures import call, quoted, timestamp_literal
from iot_platform.pipelines.maintenance.result import OrphanResult

if TYPE_CHECKING:
    from pyiceberg.table import Table
    from pyspark.sql import SparkSession


def orphan_cutoff(now: dt.datetime, wall_clock: dt.datetime, min_age: dt.timedelta) -> dt.datetime:
    """Files older than this instant may be removed: ``min_age`` before ``now``, and never after the real clock
    allows (a simulated ``now`` ahead of the real time must not reach files being written right now)."""
    return min(now, wall_clock) - min_age


def remove_orphan_files(
    spark: SparkSession,
    table: Table,
    params: MaintenanceParams,
    *,
    now: dt.datetime,
    log: Callable[[str], None] = print,
) -> OrphanResult:
    """Remove the table's orphan files older than ``params.orphan_min_age``.

    Args:
        spark: A session with the platform's catalog.
        table: The table (pyiceberg).
        params: Minimum age (at least 24 hours), catalog name.
        now: The current time.
        log: Progress lines.

    Returns:
        How many orphan files were removed.
    """
    began = time.monotonic()
    name = ".".join(table.name()[-2:])
    cutoff = orphan_cutoff(now, dt.datetime.now(dt.UTC), params.orphan_min_age)
    statement = (
        f"CALL {params.catalog_name}.system.remove_orphan_files(table => {quoted(name)}, "
        f"older_than => {timestamp_literal(cutoff)})"
    )
    rows, _ = call(spark, statement, attempts=1, log=log)
    log(f"{name}: removed {len(rows)} orphan files older than {cutoff:%Y-%m-%d %H:%M} UTC")
    return OrphanResult(name, cutoff.isoformat(), len(rows), time.monotonic() - began)
