"""Compaction: rewrite the small files of closed time partitions (hours of readings, days of stats) into files of
the target size, with Iceberg's ``rewrite_data_files``. Only partitions that need it are rewritten, so a re-run is
cheap; a partition still open (younger than the delay) is left to the writers."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from iot_platform import tables
from iot_platform.pipelines.maintenance.files import PartitionFiles, partition_files, table_files
from iot_platform.pipelines.maintenance.params import MaintenanceParams
from iot_platform.pipelines.maintenance.procedures import call, first_row, quoted, timestamp_literal
from iot_platform.pipelines.maintenance.result import CompactionResult

if TYPE_CHECKING:
    from pyiceberg.table import Table
    from pyspark.sql import SparkSession

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
STEP = {"hours": dt.timedelta(hours=1), "days": dt.timedelta(days=1)}
COMPACTED_TABLES = (tables.SENSOR_READINGS, tables.HOURLY_STATS, tables.REJECTED_READINGS)
"""Tables compacted by default: raw readings by hour, statistics by day, rejected records by day."""


def bucket_start(value: Any, transform: str) -> dt.datetime:
    """The start of a time partition from its stored value (hours or days since the epoch, or a date)."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    return EPOCH + int(value) * STEP[transform]


def partitions_to_compact(
    partitions: Iterable[PartitionFiles], transform: str, *, now: dt.datetime, delay: dt.timedelta
) -> list[dt.datetime]:
    """Starts of the closed time partitions holding two or more small files (pure).

    A time partition is closed when its end is at least ``delay`` before ``now``. A table partitioned by time and
    more (``hourly_stats``: day and sensor type) counts the day as needing it when any of its partitions does.
    """
    step = STEP[transform]
    starts = set()
    for part in partitions:
        if part.small_files < 2 or part.partition[0] is None:
            continue
        start = bucket_start(part.partition[0], transform)
        if start + step <= now - delay:
            starts.add(start)
    return sorted(starts)


def where_clause(column: str, starts: Sequence[dt.datetime], step: dt.timedelta) -> str:
    """A filter selecting the time partitions starting at ``starts``, contiguous ones merged into one range."""
    ranges: list[list[dt.datetime]] = []
    for start in sorted(starts):
        if ranges and ranges[-1][1] == start:
            ranges[-1][1] = start + step
        else:
            ranges.append([start, start + step])
    return " OR ".join(
        f"({column} >= {timestamp_literal(lo)} AND {column} < {timestamp_literal(hi)})" for lo, hi in ranges
    )


def compact_table(
    spark: SparkSession,
    table: Table,
    params: MaintenanceParams,
    *,
    now: dt.datetime,
    log: Callable[[str], None] = print,
) -> CompactionResult:
    """Rewrite the closed time partitions of one platform table that hold several small files.

    Args:
        spark: A session with the platform's catalog.
        table: The table (pyiceberg), one of the platform's time-partitioned tables.
        params: Target file size, delay, catalog name, attempts.
        now: The current time (partitions ending after ``now - delay`` are left alone).
        log: Progress lines.

    Returns:
        The partitions rewritten and the table's files before and after.
    """
    began = time.monotonic()
    name = ".".join(table.name()[-2:])
    time_partition = tables.TABLES[name].partitioning[0]
    before = table_files(table)
    parts = partition_files(table, params.small_file_bytes)
    starts = partitions_to_compact(parts, time_partition.transform, now=now, delay=params.compaction_delay)
    if not starts:
        log(f"{name}: no closed partition needs compaction")
        return CompactionResult(name, (), before, before, 0, 0, 0, time.monotonic() - began)
    where = where_clause(time_partition.column, starts, STEP[time_partition.transform])
    options = {
        "target-file-size-bytes": str(params.target_file_bytes),
        "min-input-files": "2",
    }
    options_sql = ", ".join(f"{quoted(k)}, {quoted(v)}" for k, v in options.items())
    statement = (
        f"CALL {params.catalog_name}.system.rewrite_data_files(table => {quoted(name)}, "
        f"where => {quoted(where)}, options => map({options_sql}))"
    )
    rows, attempts = call(spark, statement, attempts=params.commit_attempts, log=log)
    out = first_row(rows)
    after = table_files(table)
    log(
        f"{name}: compacted {len(starts)} partitions: {before.data_files} -> {after.data_files} data files "
        f"({out.get('rewritten_data_files_count', 0)} rewritten into {out.get('added_data_files_count', 0)})"
    )
    return CompactionResult(
        table=name,
        partitions=tuple(s.isoformat() for s in starts),
        before=before,
        after=after,
        rewritten_files=int(out.get("rewritten_data_files_count", 0) or 0),
        added_files=int(out.get("added_data_files_count", 0) or 0),
        attempts=attempts,
        seconds=time.monotonic() - began,
    )
