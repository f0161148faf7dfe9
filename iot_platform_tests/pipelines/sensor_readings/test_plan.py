"""Planning a run from the offsets a real Iceberg table recorded: resume exactly, report retention gaps."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from iot_platform.errors import IngestionError
from iot_platform.pipelines.sensor_readings.plan import committed_offsets, plan_ingestion
from iot_platform_tests.pipelines.sensor_readings.iceberg_support import append, readings_table

TOPIC = "sensor-raw"
HOUR = dt.datetime(2026, 11, 24, 10, tzinfo=dt.UTC)


def test_an_empty_table_has_no_offsets_and_a_first_run_reads_everything(tmp_path: Path) -> None:
    table = readings_table(tmp_path)
    assert committed_offsets(table, TOPIC) == ({}, None)
    plan = plan_ingestion(table, TOPIC, {0: (0, 4), 1: (2, 2)})
    assert [(r.partition, r.start, r.end) for r in plan.offsets.ranges] == [(0, 0, 4), (1, 2, 2)]
    assert [r.partition for r in plan.reading] == [0]
    assert plan.next_offsets == {0: 4, 1: 2}
    assert plan.snapshot_id is None and not plan.nothing_to_do


def test_offsets_come_from_the_newest_snapshot_that_carries_them(tmp_path: Path) -> None:
    table = readings_table(tmp_path)
    append(table, [HOUR], {0: 3, 1: 1}, TOPIC)
    append(table, [HOUR + dt.timedelta(minutes=1)], {0: 5, 1: 1}, TOPIC)
    append(table, [HOUR + dt.timedelta(minutes=2)], None, TOPIC)  # a write that carries no offsets
    current = table.current_snapshot()
    assert current is not None
    assert committed_offsets(table, TOPIC) == ({0: 5, 1: 1}, current.snapshot_id)
    assert committed_offsets(table, "another-topic") == ({}, current.snapshot_id)

    plan = plan_ingestion(table, TOPIC, {0: (0, 5), 1: (0, 4)})
    assert [(r.partition, r.start, r.end) for r in plan.offsets.ranges] == [(0, 5, 5), (1, 1, 4)]
    assert plan.snapshot_id == current.snapshot_id
    assert plan_ingestion(table, TOPIC, {0: (0, 5), 1: (0, 1)}).nothing_to_do


def test_records_lost_to_retention_stop_the_plan_unless_allowed(tmp_path: Path) -> None:
    table = readings_table(tmp_path)
    append(table, [HOUR], {0: 5}, TOPIC)
    with pytest.raises(IngestionError, match=r"partition 0: offsets 5\.\.7 \(3 records\)"):
        plan_ingestion(table, TOPIC, {0: (8, 10)})

    warnings: list[str] = []
    plan = plan_ingestion(table, TOPIC, {0: (8, 10)}, allow_retention_gap=True, log=warnings.append)
    assert [(g.partition, g.expected, g.available) for g in plan.offsets.gaps] == [(0, 5, 8)]
    assert [(r.start, r.end) for r in plan.offsets.ranges] == [(8, 10)]
    assert plan.next_offsets == {0: 10}
    assert len(warnings) == 1 and "retention" in warnings[0]

    # Everything new already deleted: nothing to read, but the offsets still move past the gap.
    emptied = plan_ingestion(table, TOPIC, {0: (10, 10)}, allow_retention_gap=True, log=warnings.append)
    assert emptied.reading == [] and not emptied.nothing_to_do and emptied.next_offsets == {0: 10}
