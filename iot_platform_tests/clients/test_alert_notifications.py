"""The notification log as pyiceberg creates and reads it, on a real SQLite catalog (the local profile's kind)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pyiceberg.catalog import Catalog

from iot_platform.clients.alert_notifications import append_log, logged_transitions, notifications_table
from iot_platform.clients.iceberg import catalog_from_properties
from iot_platform.tables import ALERT_NOTIFICATIONS_TABLE

T0 = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    (tmp_path / "warehouse").mkdir()
    return catalog_from_properties(
        "iot_test",
        {"type": "sql", "uri": f"sqlite:///{tmp_path}/catalog.db", "warehouse": f"file://{tmp_path}/warehouse"},
    )


def row(alert_id: str, transition: str, recorded_at: dt.datetime) -> dict[str, object]:
    return {
        "alert_id": alert_id,
        "transition": transition,
        "sensor_id": "TEMP-001",
        "rule": "threshold",
        "status": "delivered",
        "attempts": 1,
        "recorded_at": recorded_at,
    }


def test_the_log_is_created_once_with_the_contracts_schema_and_partitioning(catalog: Catalog) -> None:
    log = notifications_table(catalog)
    assert log.schema() == ALERT_NOTIFICATIONS_TABLE.iceberg_schema()
    assert log.spec() == ALERT_NOTIFICATIONS_TABLE.iceberg_partition_spec()
    assert log.metadata.format_version == 2
    assert log.properties["comment"] == ALERT_NOTIFICATIONS_TABLE.comment
    append_log(log, [row("a", "opened", T0)])
    assert len(notifications_table(catalog).scan().to_arrow()) == 1  # the second call finds it, data and all


def test_logged_transitions_are_those_of_the_given_alerts(catalog: Catalog) -> None:
    log = notifications_table(catalog)
    assert append_log(log, []) == 0 and log.current_snapshot() is None  # nothing to log: no commit
    append_log(log, [row("a", "opened", T0), row("a", "resolved", T0), row("b", "opened", T0)])
    alerts = [{"alert_id": "a", "started_at": T0 - dt.timedelta(minutes=5)}]
    assert logged_transitions(log, alerts) == {("a", "opened"), ("a", "resolved")}
    assert logged_transitions(log, []) == set()
