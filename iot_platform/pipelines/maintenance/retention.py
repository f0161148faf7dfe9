"""Retention of the platform's tables: old raw readings, rejected records and resolved alert episodes are dropped.

Readings are dropped by whole hour partitions and rejected records by whole day partitions: each cutoff lies on a
partition boundary, so every file of an expired partition matches completely and the delete only drops files from
the table's metadata, never rewriting one. Resolved alert episodes (open ones never) are few and are deleted row by
row. ``iot.hourly_stats`` is kept for ever.

A delete snapshot carries no bookkeeping: ingestion finds its Kafka offsets, and alert evaluation its watermark,
by walking back from the current snapshot to the newest one that records them, past any delete. A delete is an
optimistic commit; when another writer commits first, pyiceberg re-applies the delete on top of that commit (the
delete depends only on the cutoff, not on what else the table holds), and a delete that still loses is re-read and
tried again, a bounded number of times.
"""

from __future__ import annotations

import datetime as dt
import time
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

from iot_platform import tables

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table

CUTOFF_PROPERTY = "iot.retention-cutoff"
"""Snapshot-summary key of a retention delete: the instant before which rows were dropped (ISO 8601, UTC)."""

DEFAULT_ATTEMPTS = 5
"""Commits tried per table before a conflicting writer wins for this run (the next run tries again)."""


@dataclass(frozen=True)
class RetentionPolicy:
    """Days each table keeps; None keeps everything."""

    readings_days: int | None = None
    rejected_days: int | None = 90
    alerts_days: int | None = 365


@dataclass(frozen=True)
class RetentionResult:
    """What retention dropped from one table (all zero when it was kept or nothing was old enough)."""

    table: str
    cutoff: dt.datetime | None
    rows: int = 0
    files: int = 0
    rewritten_files: int = 0
    partitions: int = 0
    bytes: int = 0
    attempts: int = 0
    seconds: float = 0.0

    @property
    def kept(self) -> bool:
        """Whether the policy keeps this table whole."""
        return self.cutoff is None


@dataclass(frozen=True)
class RetentionRule:
    """Which rows of a table retention drops: those the filter matches, given the cutoff."""

    table: str
    cutoff: dt.datetime | None
    delete_filter: str | None
    """A pyiceberg row filter, e.g. ``event_time < '2026-11-23T10:00:00+00:00'``."""


def floor_hour(instant: dt.datetime) -> dt.datetime:
    """The start of the UTC hour holding ``instant``."""
    return instant.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def floor_day(instant: dt.datetime) -> dt.datetime:
    """The start of the UTC day holding ``instant``."""
    return floor_hour(instant).replace(hour=0)


def retention_rules(policy: RetentionPolicy, now: dt.datetime) -> list[RetentionRule]:
    """The rule of each table retention touches, with cutoffs on the tables' partition boundaries.

    Args:
        policy: Days each table keeps.
        now: The current instant (aware).

    Returns:
        One rule per table: ``iot.sensor_readings`` (whole hours before the cutoff), ``iot.rejected_readings``
        (whole days), ``iot.sensor_alerts`` (resolved episodes resolved before the cutoff).
    """

    def cutoff(days: int | None, *, hourly: bool) -> dt.datetime | None:
        if days is None:
            return None
        start = now - dt.timedelta(days=days)
        return floor_hour(start) if hourly else floor_day(start)

    def before(column: str, instant: dt.datetime | None, also: str = "") -> str | None:
        return None if instant is None else f"{also}{column} < '{instant.isoformat()}'"

    readings = cutoff(policy.readings_days, hourly=True)
    rejected = cutoff(policy.rejected_days, hourly=False)
    alerts = cutoff(policy.alerts_days, hourly=False)
    return [
        RetentionRule(tables.SENSOR_READINGS, readings, before("event_time", readings)),
        RetentionRule(tables.REJECTED_READINGS, rejected, before("rejected_at", rejected)),
        RetentionRule(tables.SENSOR_ALERTS, alerts, before("resolved_at", alerts, "state = 'resolved' AND ")),
    ]


def apply_retention(
    catalog: Catalog, policy: RetentionPolicy, now: dt.datetime, *, attempts: int = DEFAULT_ATTEMPTS
) -> list[RetentionResult]:
    """Drop what ``policy`` no longer keeps from each table, one commit per table.

    Args:
        catalog: The platform's catalog (pyiceberg).
        policy: Days each table keeps.
        now: The current instant (aware); cutoffs are counted back from it.
        attempts: Commits tried per table when concurrent writers keep winning.

    Returns:
        One result per table, in the order of :func:`retention_rules`.

    Raises:
        CommitFailedException: another writer won every attempt on a table (nothing of that table was dropped
            in the last attempt; earlier tables keep their drops).
    """
    results = []
    for rule in retention_rules(policy, now):
        if rule.delete_filter is None or not catalog.table_exists(rule.table):
            results.append(RetentionResult(rule.table, rule.cutoff))
            continue
        results.append(delete_with_retry(catalog, rule, attempts))
    return results


def delete_with_retry(catalog: Catalog, rule: RetentionRule, attempts: int) -> RetentionResult:
    """Delete the rule's rows, re-reading the table and trying again when a concurrent commit wins."""
    from pyiceberg.exceptions import CommitFailedException

    assert rule.delete_filter is not None and rule.cutoff is not None
    began = time.monotonic()
    for attempt in range(1, attempts + 1):
        table = catalog.load_table(rule.table)
        before = table.current_snapshot()
        if not table.scan(row_filter=rule.delete_filter).plan_files():
            return RetentionResult(rule.table, rule.cutoff, attempts=attempt, seconds=time.monotonic() - began)
        properties = {CUTOFF_PROPERTY: rule.cutoff.isoformat()}
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Delete operation did not match any records")
                table.delete(rule.delete_filter, snapshot_properties=properties)
        except CommitFailedException:
            if attempt == attempts:
                raise
            time.sleep(min(0.2 * 2**attempt, 5.0))
            continue
        table = catalog.load_table(rule.table)
        figures = dropped_figures(table, before.snapshot_id if before is not None else None)
        return RetentionResult(rule.table, rule.cutoff, **figures, attempts=attempt, seconds=time.monotonic() - began)
    raise AssertionError("unreachable: the last attempt returns or raises")


def dropped_figures(table: Table, before_id: int | None) -> dict[str, int]:
    """Rows, files, partitions and bytes dropped by the retention snapshots committed after ``before_id``."""
    figures = {"rows": 0, "files": 0, "rewritten_files": 0, "partitions": 0, "bytes": 0}
    snapshot = table.current_snapshot()
    while snapshot is not None and snapshot.snapshot_id != before_id:
        summary = snapshot.summary
        if summary is not None and CUTOFF_PROPERTY in summary.additional_properties:
            props = summary.additional_properties
            removed = int(props.get("deleted-records", 0))
            added = int(props.get("added-records", 0))
            figures["rows"] += removed - added
            figures["files"] += int(props.get("deleted-data-files", 0))
            figures["rewritten_files"] += int(props.get("added-data-files", 0))
            figures["partitions"] = max(figures["partitions"], int(props.get("changed-partition-count", 0)))
            figures["bytes"] += int(props.get("removed-files-size", 0)) - int(props.get("added-files-size", 0))
        parent = snapshot.parent_snapshot_id
        snapshot = table.snapshot_by_id(parent) if parent is not None else None
    return figures
