"""A real pyiceberg catalog (SQLite and local files in a temporary folder) holding an ``iot.sensor_readings``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pyiceberg.table import Table

from iot_platform import offsets, tables


def readings_table(folder: Path) -> Table:
    """An empty ``iot.sensor_readings`` with the platform's columns, partitioned by hour of event time."""
    from pyiceberg.catalog.sql import SqlCatalog
    from pyiceberg.partitioning import PartitionField, PartitionSpec
    from pyiceberg.schema import Schema
    from pyiceberg.transforms import HourTransform
    from pyiceberg.types import DoubleType, IntegerType, LongType, NestedField, StringType, TimestamptzType

    catalog = SqlCatalog("test", uri=f"sqlite:///{folder}/catalog.db", warehouse=f"file://{folder}")
    catalog.create_namespace("iot")
    columns = [
        ("sensor_id", StringType()),
        ("sensor_type", StringType()),
        ("location", StringType()),
        ("value", DoubleType()),
        ("unit", StringType()),
        ("event_time", TimestamptzType()),
        ("kafka_topic", StringType()),
        ("kafka_partition", IntegerType()),
        ("kafka_offset", LongType()),
        ("ingested_at", TimestamptzType()),
    ]
    schema = Schema(*(NestedField(i + 1, name, kind, required=False) for i, (name, kind) in enumerate(columns)))
    spec = PartitionSpec(PartitionField(source_id=6, field_id=1000, transform=HourTransform(), name="event_hour"))
    return catalog.create_table(tables.SENSOR_READINGS, schema=schema, partition_spec=spec)


def append(
    table: Table,
    event_times: list[dt.datetime],
    next_offsets: dict[int, int] | None,
    topic: str,
    run_id: str | None = None,
    first_offset: int = 0,
) -> None:
    """Append one reading per event time in one snapshot; ``next_offsets`` and ``run_id`` (if given) ride in its
    summary. The readings take Kafka offsets ``first_offset``, ``first_offset + 1``, ... of partition 0."""
    import pyarrow as pa

    now = dt.datetime(2026, 11, 24, tzinfo=dt.UTC)
    rows = [
        {
            "sensor_id": f"S-{index}",
            "sensor_type": "temperature",
            "location": "factory-A",
            "value": float(index),
            "unit": "celsius",
            "event_time": event_time,
            "kafka_topic": topic,
            "kafka_partition": 0,
            "kafka_offset": first_offset + index,
            "ingested_at": now,
        }
        for index, event_time in enumerate(event_times)
    ]
    frame = pa.Table.from_pylist(rows, schema=table.schema().as_arrow())
    properties = {} if next_offsets is None else {offsets.SUMMARY_KEY: offsets.encode_summary(topic, next_offsets)}
    if run_id is not None:
        properties["iot.dagster-run-id"] = run_id
    table.append(frame, snapshot_properties=properties)
