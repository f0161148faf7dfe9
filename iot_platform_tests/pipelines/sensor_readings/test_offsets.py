"""Offsets that survive table maintenance: found below maintenance snapshots, recovered when expiry dropped them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from iot_platform.pipelines.sensor_readings.offsets import holds_data, offsets_snapshot, recorded_offsets
from iot_platform.pipelines.sensor_readings.plan import plan_ingestion
from iot_platform_tests.pipelines.sensor_readings.iceberg_support import append, readings_table

TOPIC = "sensor-raw"
HOUR = dt.datetime(2026, 11, 24, 10, tzinfo=dt.UTC)


def test_the_offsets_snapshot_is_found_below_snapshots_that_carry_none(tmp_path: Path) -> None:
    table = readings_table(tmp_path)
    assert offsets_snapshot(table) == (None, 0) and recorded_offsets(table, TOPIC) is None
    assert not holds_data(table)
    append(table, [HOUR], {0: 1}, TOPIC)
    carrying = table.current_snapshot()
    append(table, [HOUR + dt.timedelta(minutes=1)], None, TOPIC)
    append(table, [HOUR + dt.timedelta(minutes=2)], None, TOPIC)

    snapshot, depth = offsets_snapshot(table)
    assert carrying is not None and snapshot is not None
    assert (snapshot.snapshot_id, depth) == (carrying.snapshot_id, 2)
    assert recorded_offsets(table, TOPIC) == {0: 1}
    assert recorded_offsets(table, "another-topic") == {}
    assert holds_data(table)


def test_offsets_are_recovered_from_the_rows_once_expiry_dropped_every_snapshot_carrying_them(
    tmp_path: Path,
) -> None:
    table = readings_table(tmp_path)
    append(table, [HOUR, HOUR], {0: 2}, TOPIC)
    append(table, [HOUR + dt.timedelta(minutes=1)], None, TOPIC)  # e.g. a compaction's snapshot
    carrying = table.snapshots()[0].snapshot_id
    table.maintenance.expire_snapshots().by_id(carrying).commit()
    assert recorded_offsets(table, TOPIC) is None

    calls: list[str] = []
    lines: list[str] = []

    def recover() -> dict[int, int]:
        calls.append("read")
        return {0: 2}

    plan = plan_ingestion(table, TOPIC, {0: (0, 5)}, recover=recover, log=lines.append)
    assert calls == ["read"] and plan.offsets_recovered
    assert [(r.start, r.end) for r in plan.offsets.ranges] == [(2, 5)]
    assert len(lines) == 1 and "recovered from the stored rows" in lines[0]


def test_offsets_are_not_recovered_while_a_snapshot_carries_them_or_the_table_is_empty(tmp_path: Path) -> None:
    table = readings_table(tmp_path)

    def recover() -> dict[int, int]:
        raise AssertionError("no recovery expected")

    empty = plan_ingestion(table, TOPIC, {0: (0, 3)}, recover=recover)
    assert not empty.offsets_recovered and [(r.start, r.end) for r in empty.offsets.ranges] == [(0, 3)]
    append(table, [HOUR], {0: 3}, TOPIC)
    planned = plan_ingestion(table, TOPIC, {0: (0, 4)}, recover=recover)
    assert not planned.offsets_recovered and [(r.start, r.end) for r in planned.offsets.ranges] == [(3, 4)]
