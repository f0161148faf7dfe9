"""Committing episodes with the watermark on a real pyiceberg catalog (SQLite and local files)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pyiceberg.table import Table

from iot_platform import tables
from iot_platform.pipelines.sensor_alerts.episodes import Changes
from iot_platform.pipelines.sensor_alerts.plan import Watermark, stored_watermark
from iot_platform.pipelines.sensor_alerts.read import read_stored_episodes
from iot_platform.pipelines.sensor_alerts.write import commit_episodes
from iot_platform_tests.pipelines.sensor_alerts.test_episodes import NOW, episode


def alerts_table(folder: Path) -> Table:
    from pyiceberg.catalog.sql import SqlCatalog

    catalog = SqlCatalog("test", uri=f"sqlite:///{folder}/catalog.db", warehouse=f"file://{folder}")
    catalog.create_namespace("iot")
    table = tables.SENSOR_ALERTS_TABLE
    return catalog.create_table(
        table.name, schema=table.iceberg_schema(), partition_spec=table.iceberg_partition_spec()
    )


def test_episodes_are_replaced_by_id_and_the_watermark_rides_in_the_same_commit(tmp_path: Path) -> None:
    table = alerts_table(tmp_path)
    assert stored_watermark(table) == Watermark()
    first, second = episode("S", "threshold", 0), episode("S", "silent", 5, state="open")
    commit_episodes(
        table, Changes(upserts=[{**e, "evaluated_at": NOW} for e in (first, second)]), Watermark(10, None), "run-1"
    )
    assert stored_watermark(table) == Watermark(10, None)

    later = NOW + dt.timedelta(minutes=5)
    changed = {**first, "readings": 9, "evaluated_at": later}
    commit_episodes(table, Changes(upserts=[changed], deletes={second["alert_id"]}), Watermark(20, 3), "run-2")

    rows = read_stored_episodes(table, {"S"})
    assert [(r["alert_id"], r["readings"], r["evaluated_at"]) for r in rows] == [(first["alert_id"], 9, later)]
    assert read_stored_episodes(table, set()) == []  # only open episodes without a sensor named
    assert stored_watermark(table) == Watermark(20, 3)
    snapshots_before = len(table.metadata.snapshots)
    commit_episodes(table, Changes(), Watermark(30, 3), "run-3")  # nothing changed: the watermark still moves
    table.refresh()
    assert stored_watermark(table) == Watermark(30, 3)
    assert len(table.metadata.snapshots) == snapshots_before + 1
    assert len(read_stored_episodes(table, {"S"})) == 1
