"""Real Iceberg tables of sensor monitoring in a temporary SQLite catalog, written with pyiceberg as evaluation and
ingestion write them: ``iot.sensor_alerts``, ``iot.sensor_state`` and ``iot.sensor_readings``."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import NamespaceAlreadyExistsError, NoSuchTableError

from iot_platform.tables import TABLES

NOW = dt.datetime(2026, 11, 24, 10, 30, tzinfo=dt.UTC)
"""The fixed current time of the API under unit test."""


def make_catalog(folder: Path) -> SqlCatalog:
    """An empty SQLite catalog with its warehouse under ``folder``."""
    (folder / "warehouse").mkdir(parents=True, exist_ok=True)
    return SqlCatalog("unit", uri=f"sqlite:///{folder / 'catalog.db'}", warehouse=(folder / "warehouse").as_uri())


def append(catalog: Catalog, name: str, rows: Sequence[dict[str, Any]]) -> None:
    """Append ``rows`` to the platform table ``name`` (created as the Spark DDL would on first use)."""
    with contextlib.suppress(NamespaceAlreadyExistsError):
        catalog.create_namespace("iot")
    contract = TABLES[name]
    try:
        table = catalog.load_table(name)
    except NoSuchTableError:
        table = catalog.create_table(
            name, schema=contract.iceberg_schema(), partition_spec=contract.iceberg_partition_spec()
        )
    table.append(pa.Table.from_pylist(list(rows), schema=table.schema().as_arrow()))


def alert(
    sensor_id: str,
    rule: str,
    started_at: dt.datetime,
    *,
    resolved_at: dt.datetime | None = None,
    severity: str = "warning",
    sensor_type: str | None = "temperature",
    location: str | None = "factory-A",
) -> dict[str, Any]:
    """An episode of ``iot.sensor_alerts`` with the id evaluation gives it; open unless ``resolved_at``."""
    alert_id = hashlib.sha256(f"{rule}|{sensor_id}|{started_at.isoformat()}".encode()).hexdigest()[:32]
    return {
        "alert_id": alert_id,
        "sensor_id": sensor_id,
        "sensor_type": sensor_type,
        "location": location,
        "rule": rule,
        "severity": severity,
        "state": "open" if resolved_at is None else "resolved",
        "started_at": started_at,
        "last_seen_at": resolved_at or started_at + dt.timedelta(minutes=1),
        "resolved_at": resolved_at,
        "peak_value": 41.5,
        "threshold": 35.0,
        "readings": 3,
        "detail": f"{rule} on {sensor_id}",
        "evaluated_at": NOW,
    }


def state(
    sensor_id: str, last_reading_at: dt.datetime, last_value: float, *, sensor_type: str = "temperature"
) -> dict[str, Any]:
    """A row of ``iot.sensor_state``."""
    return {
        "sensor_id": sensor_id,
        "sensor_type": sensor_type,
        "location": "factory-X",
        "unit": {"temperature": "celsius", "humidity": "percent", "pressure": "hPa"}.get(sensor_type, "mm/s"),
        "first_reading_at": last_reading_at - dt.timedelta(days=1),
        "last_reading_at": last_reading_at,
        "last_value": last_value,
        "updated_at": NOW,
    }


def readings(sensor_id: str, times: Sequence[dt.datetime], start_value: float = 20.0) -> list[dict[str, Any]]:
    """Rows of ``iot.sensor_readings`` of one sensor at ``times`` (values rising by 0.5)."""
    return [
        {
            "sensor_id": sensor_id,
            "sensor_type": "temperature",
            "location": "factory-A",
            "value": start_value + 0.5 * i,
            "unit": "celsius",
            "event_time": at,
            "kafka_topic": "sensor-raw",
            "kafka_partition": 0,
            "kafka_offset": i,
            "ingested_at": NOW,
        }
        for i, at in enumerate(times)
    ]
