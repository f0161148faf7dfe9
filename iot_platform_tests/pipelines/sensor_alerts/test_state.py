"""Folding new readings' summaries into ``iot.sensor_state`` and writing the changed rows through pyiceberg."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pyiceberg.table import Table

from iot_platform import tables
from iot_platform.pipelines.sensor_alerts.read import SensorSummary, as_states, read_states
from iot_platform.pipelines.sensor_alerts.write import folded_states, write_states

T0 = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)
NOW = T0 + dt.timedelta(hours=2)


def summary(sensor_id: str, first: int, last: int, value: float, sensor_type: str = "temperature") -> SensorSummary:
    """New readings of ``sensor_id`` from ``first`` to ``last`` minutes after T0, the last one ``value``."""
    at = [T0 + dt.timedelta(minutes=m) for m in (first, last)]
    return SensorSummary(sensor_id, sensor_type, "hall", "celsius", at[0], at[1], value, 10)


def state_table(folder: Path) -> Table:
    from pyiceberg.catalog.sql import SqlCatalog

    catalog = SqlCatalog("test", uri=f"sqlite:///{folder}/catalog.db", warehouse=f"file://{folder}")
    catalog.create_namespace("iot")
    table = tables.SENSOR_STATE_TABLE
    return catalog.create_table(
        table.name, schema=table.iceberg_schema(), partition_spec=table.iceberg_partition_spec()
    )


def test_the_latest_reading_wins_and_folding_the_same_readings_again_changes_nothing() -> None:
    rows, changed = folded_states([], [summary("T-1", 0, 10, 20.5)], T0)
    assert changed == rows and rows[0]["last_value"] == 20.5 and rows[0]["updated_at"] == T0

    later = [summary("T-1", 5, 30, 22.0, sensor_type="humidity"), summary("T-2", 0, 1, 1.0)]
    rows, changed = folded_states(rows, later, NOW)
    [one] = [row for row in rows if row["sensor_id"] == "T-1"]
    assert (one["first_reading_at"], one["last_reading_at"]) == (T0, T0 + dt.timedelta(minutes=30))
    assert (one["sensor_type"], one["last_value"], one["updated_at"]) == ("humidity", 22.0, NOW)
    assert sorted(row["sensor_id"] for row in changed) == ["T-1", "T-2"]

    earlier = summary("T-1", -20, 3, 99.0, sensor_type="pressure")
    rows, changed = folded_states(rows, [earlier], NOW)
    [one] = changed
    assert one["first_reading_at"] == T0 - dt.timedelta(minutes=20)
    assert (one["sensor_type"], one["last_value"]) == ("humidity", 22.0)
    assert folded_states(rows, [*later, earlier], NOW)[1] == []


def test_only_changed_rows_are_replaced(tmp_path: Path) -> None:
    table = state_table(tmp_path)
    assert read_states(table) == []
    rows, changed = folded_states([], [summary("T-1", 0, 10, 20.5), summary("T-2", 0, 10, 30.0)], T0)
    write_states(table, changed)
    rows, changed = folded_states(read_states(table), [summary("T-2", 5, 40, 31.0)], NOW)
    write_states(table, changed)
    stored = {row["sensor_id"]: row for row in read_states(table)}
    assert (stored["T-1"]["last_value"], stored["T-1"]["updated_at"]) == (20.5, T0)
    assert (stored["T-2"]["last_value"], stored["T-2"]["updated_at"]) == (31.0, NOW)
    assert {state.sensor_id: state.last_reading_at for state in as_states(list(stored.values()))} == {
        "T-1": T0 + dt.timedelta(minutes=10),
        "T-2": T0 + dt.timedelta(minutes=40),
    }
