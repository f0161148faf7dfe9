"""Retention on a real pyiceberg catalog (SQLite and local files): whole partitions dropped, open alerts kept,
bookkeeping carried forward, a concurrent commit retried."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.table import Table

from iot_platform import offsets, tables
from iot_platform.pipelines.maintenance.retention import (
    CUTOFF_PROPERTY,
    RetentionPolicy,
    apply_retention,
    retention_rules,
)
from iot_platform.pipelines.sensor_alerts.plan import WATERMARK_KEY, Watermark, stored_watermark
from iot_platform.pipelines.sensor_readings.plan import committed_offsets

NOW = dt.datetime(2026, 11, 24, 10, 37, tzinfo=dt.UTC)
TOPIC = "sensor-raw"


def make_catalog(folder: Path) -> SqlCatalog:
    catalog = SqlCatalog("test", uri=f"sqlite:///{folder}/catalog.db", warehouse=f"file://{folder}")
    catalog.create_namespace("iot")
    for name in (tables.SENSOR_READINGS, tables.REJECTED_READINGS, tables.SENSOR_ALERTS):
        table = tables.TABLES[name]
        catalog.create_table(name, schema=table.iceberg_schema(), partition_spec=table.iceberg_partition_spec())
    return catalog


def append_readings(table: Table, event_times: list[dt.datetime], first_offset: int) -> None:
    """One reading per event time (offsets from ``first_offset``) and the next offset in the summary."""
    rows = [
        {
            "sensor_id": "TEMP-001",
            "sensor_type": "temperature",
            "location": "factory-A",
            "value": 20.0,
            "unit": "celsius",
            "event_time": event_time,
            "kafka_topic": TOPIC,
            "kafka_partition": 0,
            "kafka_offset": first_offset + index,
            "ingested_at": NOW,
        }
        for index, event_time in enumerate(event_times)
    ]
    next_offsets = offsets.encode_summary(TOPIC, {0: first_offset + len(rows)})
    table.append(
        pa.Table.from_pylist(rows, schema=table.schema().as_arrow()),
        snapshot_properties={offsets.SUMMARY_KEY: next_offsets},
    )


def append_rows(table: Table, rows: list[dict[str, Any]], properties: dict[str, str] | None = None) -> None:
    schema = table.schema().as_arrow()
    full = [{name: row.get(name) for name in schema.names} for row in rows]
    table.append(pa.Table.from_pylist(full, schema=schema), snapshot_properties=properties or {})


def data_files(table: Table) -> set[str]:
    return {task.file.file_path for task in table.scan().plan_files()}


def hours_ago(hours: float) -> dt.datetime:
    return NOW - dt.timedelta(hours=hours)


def test_cutoffs_lie_on_the_partition_boundaries_and_a_kept_table_has_none() -> None:
    rules = retention_rules(RetentionPolicy(readings_days=2, rejected_days=3, alerts_days=None), NOW)
    assert [(rule.table, rule.cutoff) for rule in rules] == [
        (tables.SENSOR_READINGS, dt.datetime(2026, 11, 22, 10, tzinfo=dt.UTC)),
        (tables.REJECTED_READINGS, dt.datetime(2026, 11, 21, tzinfo=dt.UTC)),
        (tables.SENSOR_ALERTS, None),
    ]
    assert rules[2].delete_filter is None


def test_old_reading_hours_are_dropped_whole_and_the_offsets_stay_in_the_current_snapshot(tmp_path: Path) -> None:
    catalog = make_catalog(tmp_path)
    table = catalog.load_table(tables.SENSOR_READINGS)
    old = [hours_ago(30 + h) + dt.timedelta(minutes=m) for h in range(3) for m in (1, 30)]
    append_readings(table, old, 0)
    append_readings(table, [hours_ago(30), hours_ago(29)], 6)  # a second file in the oldest hours
    recent = [hours_ago(2), hours_ago(1)]
    append_readings(table, recent, 8)
    table.refresh()
    kept_files = {
        task.file.file_path for task in table.scan(row_filter="event_time >= '2026-11-23T10:00:00+00:00'").plan_files()
    }

    [readings, rejected, alerts] = apply_retention(catalog, RetentionPolicy(readings_days=1), NOW)

    table.refresh()
    assert readings.cutoff == dt.datetime(2026, 11, 23, 10, tzinfo=dt.UTC)
    assert (readings.rows, readings.files, readings.rewritten_files, readings.partitions) == (8, 6, 0, 4)
    assert readings.bytes > 0
    assert data_files(table) == kept_files, "the kept hours' files are untouched, nothing is rewritten"
    assert sorted(row["kafka_offset"] for row in table.scan().to_arrow().to_pylist()) == [8, 9]
    current = table.current_snapshot()
    assert current is not None and current.summary is not None
    assert current.summary[CUTOFF_PROPERTY] == readings.cutoff.isoformat()
    assert committed_offsets(table, TOPIC)[0] == {0: 10}, "ingestion finds its offsets past the delete"
    assert (rejected.rows, alerts.rows) == (0, 0)

    snapshots = len(table.metadata.snapshots)
    [again, _, _] = apply_retention(catalog, RetentionPolicy(readings_days=1), NOW)
    table.refresh()
    assert again.rows == 0 and len(table.metadata.snapshots) == snapshots, "nothing old: no commit"


def test_rejected_days_and_resolved_alerts_go_open_alerts_and_the_watermark_stay(tmp_path: Path) -> None:
    catalog = make_catalog(tmp_path)
    rejected = catalog.load_table(tables.REJECTED_READINGS)
    record = {"kafka_topic": TOPIC, "kafka_partition": 0, "reason": "malformed_json"}
    append_rows(
        rejected,
        [
            {**record, "kafka_offset": i, "rejected_at": NOW - dt.timedelta(days=days)}
            for i, days in enumerate((5, 4, 1))
        ],
    )
    alerts = catalog.load_table(tables.SENSOR_ALERTS)
    old = NOW - dt.timedelta(days=10)
    episode = {
        "sensor_id": "TEMP-001",
        "rule": "threshold",
        "severity": "warning",
        "readings": 3,
        "last_seen_at": old,
        "evaluated_at": NOW,
    }
    append_rows(
        alerts,
        [
            {**episode, "alert_id": "resolved-old", "state": "resolved", "started_at": old, "resolved_at": old},
            {**episode, "alert_id": "open-old", "state": "open", "started_at": old},
            {
                **episode,
                "alert_id": "resolved-new",
                "state": "resolved",
                "started_at": old,
                "resolved_at": hours_ago(5),
            },
        ],
        {WATERMARK_KEY: Watermark(123, 45).encode()},
    )

    results = apply_retention(catalog, RetentionPolicy(readings_days=None, rejected_days=3, alerts_days=2), NOW)

    assert [result.kept for result in results] == [True, False, False]
    rejected.refresh()
    alerts.refresh()
    assert sorted(row["kafka_offset"] for row in rejected.scan().to_arrow().to_pylist()) == [2]
    assert results[1].rows == 2
    assert sorted(row["alert_id"] for row in alerts.scan().to_arrow().to_pylist()) == ["open-old", "resolved-new"]
    assert results[2].rows == 1
    assert stored_watermark(alerts) == Watermark(123, 45)


class InterleavingCatalog:
    """The real catalog; right after retention first reads the table, another writer commits to it (once): the
    delete's first commit conflicts with that one."""

    def __init__(self, catalog: SqlCatalog) -> None:
        self.catalog = catalog
        self.interleaved = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.catalog, name)

    def load_table(self, name: str) -> Table:
        table = self.catalog.load_table(name)
        if not self.interleaved:
            self.interleaved = True
            append_readings(self.catalog.load_table(name), [hours_ago(0.5)], 100)
        return table


def test_a_commit_that_lands_first_is_kept_and_the_delete_retried_on_top_of_it(tmp_path: Path) -> None:
    catalog = make_catalog(tmp_path)
    append_readings(catalog.load_table(tables.SENSOR_READINGS), [hours_ago(50), hours_ago(1)], 0)
    interleaving = InterleavingCatalog(catalog)

    [readings, _, _] = apply_retention(
        interleaving, RetentionPolicy(readings_days=1, rejected_days=None, alerts_days=None), NOW
    )  # type: ignore[arg-type]

    assert interleaving.interleaved
    assert (readings.rows, readings.files) == (1, 1)
    table = catalog.load_table(tables.SENSOR_READINGS)
    assert sorted(row["kafka_offset"] for row in table.scan().to_arrow().to_pylist()) == [1, 100]
    assert committed_offsets(table, TOPIC)[0] == {0: 101}, "the concurrent commit's offsets are the current ones"
    current = table.current_snapshot()
    assert (
        current is not None and current.summary is not None and CUTOFF_PROPERTY in current.summary.additional_properties
    )
    parent = table.snapshot_by_id(current.parent_snapshot_id or -1)
    assert parent is not None and parent.summary is not None
    assert offsets.SUMMARY_KEY in parent.summary.additional_properties, "the delete landed on top of the other commit"


def test_a_missing_table_is_skipped(tmp_path: Path) -> None:
    catalog: Catalog = SqlCatalog("test", uri=f"sqlite:///{tmp_path}/catalog.db", warehouse=f"file://{tmp_path}")
    catalog.create_namespace("iot")
    results = apply_retention(catalog, RetentionPolicy(readings_days=1), NOW)
    assert [(result.rows, result.attempts) for result in results] == [(0, 0)] * 3


@pytest.mark.parametrize("days", [1, 7])
def test_readings_cutoff_keeps_whole_days_of_hours(days: int) -> None:
    [rule, _, _] = retention_rules(RetentionPolicy(readings_days=days), NOW)
    assert rule.cutoff is not None
    assert NOW - rule.cutoff >= dt.timedelta(days=days)
    assert NOW - rule.cutoff < dt.timedelta(days=days, hours=1)
