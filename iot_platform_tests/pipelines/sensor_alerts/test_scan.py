"""Reading an evaluation's records from the tables' files, on a real pyiceberg catalog (SQLite and local files)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from pyiceberg.table import Table

from iot_platform import tables
from iot_platform.pipelines.sensor_alerts.plan import Watermark, micros
from iot_platform.pipelines.sensor_alerts.read import SensorSummary
from iot_platform.pipelines.sensor_alerts.scan import add_earlier_records, new_records

T = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
SECOND = dt.timedelta(seconds=1)
FIRST_RUN, SECOND_RUN = T + dt.timedelta(minutes=10), T + dt.timedelta(minutes=15)


def create(folder: Path, *specs: tables.Table) -> list[Table]:
    from pyiceberg.catalog.sql import SqlCatalog

    catalog = SqlCatalog("test", uri=f"sqlite:///{folder}/catalog.db", warehouse=f"file://{folder}")
    catalog.create_namespace("iot")
    return [
        catalog.create_table(spec.name, schema=spec.iceberg_schema(), partition_spec=spec.iceberg_partition_spec())
        for spec in specs
    ]


def append(table: Table, spec: tables.Table, rows: list[dict[str, Any]]) -> None:
    schema = spec.iceberg_schema().as_arrow()
    table.append(pa.Table.from_pylist([{name: row.get(name) for name in schema.names} for row in rows], schema=schema))


def reading(sensor_id: str, second: int, value: float, ingested_at: dt.datetime, location: str = "hall") -> dict:
    return {
        "sensor_id": sensor_id,
        "sensor_type": "temperature",
        "location": location,
        "value": value,
        "unit": "celsius",
        "event_time": T + second * SECOND,
        "kafka_topic": "sensor-raw",
        "kafka_partition": 0,
        "kafka_offset": second,
        "ingested_at": ingested_at,
    }


def rejected(key: str | None, second: int, rejected_at: dt.datetime) -> dict:
    return {
        "raw_payload": "{not json",
        "kafka_topic": "sensor-raw",
        "kafka_partition": 0,
        "kafka_offset": 1000 + second,
        "kafka_timestamp": T + second * SECOND,
        "record_key": key,
        "reason": "invalid_json",
        "rejected_at": rejected_at,
    }


def records(table: pa.Table) -> list[tuple[int, float | None, float, bool]]:
    """(sensor position, value, second after T, rejected) in a stable order."""
    rows = table.to_pylist()
    found = [
        (r["_sensor"], None if r["_rejected"] else r["value"], (r["_us"] - micros(T)) / 1e6, r["_rejected"])
        for r in rows
    ]
    return sorted(found, key=lambda row: (row[0], row[2], row[3]))


def test_new_records_summarise_each_sensor_and_earlier_ones_add_only_the_look_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    readings, rejects = create(tmp_path, tables.SENSOR_READINGS_TABLE, tables.REJECTED_READINGS_TABLE)
    spec, rejected_spec = tables.SENSOR_READINGS_TABLE, tables.REJECTED_READINGS_TABLE
    append(readings, spec, [reading("A", s, 20.0 + s, FIRST_RUN) for s in range(0, 60, 10)])
    append(readings, spec, [reading("B", s, 50.0, FIRST_RUN) for s in range(5, 30, 10)])
    append(rejects, rejected_spec, [rejected("A", 12, FIRST_RUN), rejected(None, 13, FIRST_RUN)])

    found = new_records(readings, rejects, Watermark(), most=100)
    assert found is not None
    new, collected = found
    assert new.sensors == [
        SensorSummary("A", "temperature", "hall", "celsius", T, T + 50 * SECOND, 70.0, 6),
        SensorSummary("B", "temperature", "hall", "celsius", T + 5 * SECOND, T + 25 * SECOND, 50.0, 3),
    ]
    assert (new.readings_through, new.rejected_through) == (micros(FIRST_RUN), micros(FIRST_RUN))
    assert new.rejected_first == {"A": T + 12 * SECOND}  # the record without a key names no sensor
    since = {"A": T + 20 * SECOND, "B": T}
    assert records(collected.indexed(since)) == [
        (0, 40.0, 20.0, False),
        (0, 50.0, 30.0, False),
        (0, 60.0, 40.0, False),
        (0, 70.0, 50.0, False),
        (1, 50.0, 5.0, False),
        (1, 50.0, 15.0, False),
        (1, 50.0, 25.0, False),
    ]
    assert new_records(readings, rejects, Watermark(), most=8) is None  # nine readings in the new files

    # A second ingestion: a late reading of A, a newer one from another place, a rejected record of B.
    watermark = Watermark(micros(FIRST_RUN), micros(FIRST_RUN))
    append(readings, spec, [reading("A", 35, 99.0, SECOND_RUN), reading("A", 70, 10.0, SECOND_RUN, "yard")])
    append(rejects, rejected_spec, [rejected("B", 40, SECOND_RUN)])
    readings.refresh()
    rejects.refresh()
    found = new_records(readings, rejects, watermark, most=100)
    assert found is not None
    new, collected = found
    assert new.sensors == [
        SensorSummary("A", "temperature", "yard", "celsius", T + 35 * SECOND, T + 70 * SECOND, 10.0, 2)
    ]
    assert new.rejected_first == {"B": T + 40 * SECOND}
    assert (new.readings_through, new.rejected_through) == (micros(SECOND_RUN), micros(SECOND_RUN))

    since = {"A": T + 30 * SECOND, "B": T + 20 * SECOND}
    add_earlier_records(collected, readings, rejects, watermark, since)
    assert records(collected.indexed(since)) == [
        (0, 50.0, 30.0, False),  # earlier runs' readings from A's instant on
        (0, 99.0, 35.0, False),
        (0, 60.0, 40.0, False),
        (0, 70.0, 50.0, False),
        (0, 10.0, 70.0, False),
        (1, 50.0, 25.0, False),
        (1, None, 40.0, True),
    ]
    # Reading string columns dictionary-encoded, as asked, leaves no warning per file in the run's log.
    assert not [record for record in caplog.records if "dictionary" in record.getMessage()]
