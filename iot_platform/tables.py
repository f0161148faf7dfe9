"""The platform's Iceberg tables (namespace ``iot``): names and definitions, created on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyiceberg.partitioning import PartitionSpec
    from pyiceberg.schema import Schema
    from pyspark.sql import SparkSession

SENSOR_READINGS = "iot.sensor_readings"
REJECTED_READINGS = "iot.rejected_readings"
HOURLY_STATS = "iot.hourly_stats"

HOURLY_STATS_COLUMNS: tuple[str, ...] = (
    "window_start",
    "window_end",
    "sensor_id",
    "sensor_type",
    "location",
    "avg_value",
    "min_value",
    "max_value",
    "stddev_value",
    "reading_count",
    "processed_at",
)
"""The contract's columns of ``iot.hourly_stats``, in order (what the aggregation writes and the API serves)."""

_PROPERTIES = (
    "'format-version'='2', 'write.parquet.compression-codec'='zstd', "
    "'write.metadata.delete-after-commit.enabled'='true', 'write.metadata.previous-versions-max'='50'"
)

DDL = {
    SENSOR_READINGS: f"""
        CREATE TABLE IF NOT EXISTS {SENSOR_READINGS} (
            sensor_id string NOT NULL COMMENT 'sensor, e.g. TEMP-001',
            sensor_type string NOT NULL,
            location string NOT NULL,
            value double NOT NULL,
            unit string NOT NULL,
            event_time timestamp NOT NULL COMMENT 'event time of the reading (UTC)',
            kafka_topic string NOT NULL,
            kafka_partition int NOT NULL,
            kafka_offset bigint NOT NULL,
            ingested_at timestamp NOT NULL
        ) USING iceberg
        PARTITIONED BY (hours(event_time))
        COMMENT 'Every valid, de-duplicated sensor reading; snapshot summaries hold the Kafka offsets consumed'
        TBLPROPERTIES ({_PROPERTIES})
    """,
    REJECTED_READINGS: f"""
        CREATE TABLE IF NOT EXISTS {REJECTED_READINGS} (
            raw_payload string COMMENT 'the record value as received (UTF-8, invalid bytes replaced)',
            kafka_topic string NOT NULL,
            kafka_partition int NOT NULL,
            kafka_offset bigint NOT NULL,
            kafka_timestamp timestamp COMMENT 'time of the Kafka record (places the record in an hour)',
            reason string NOT NULL COMMENT 'reason code, see the README',
            detail string,
            rejected_at timestamp NOT NULL
        ) USING iceberg
        PARTITIONED BY (days(rejected_at))
        COMMENT 'Every malformed Kafka record with the reason it was rejected'
        TBLPROPERTIES ({_PROPERTIES})
    """,
    HOURLY_STATS: f"""
        CREATE TABLE IF NOT EXISTS {HOURLY_STATS} (
            window_start timestamp NOT NULL COMMENT 'start of the UTC hour',
            window_end timestamp NOT NULL,
            sensor_id string NOT NULL,
            sensor_type string NOT NULL,
            location string NOT NULL,
            avg_value double,
            min_value double,
            max_value double,
            stddev_value double COMMENT 'sample standard deviation; null for a single reading',
            reading_count bigint NOT NULL,
            processed_at timestamp NOT NULL
        ) USING iceberg
        PARTITIONED BY (days(window_start), sensor_type)
        COMMENT 'Hourly statistics per sensor over valid, de-duplicated readings'
        TBLPROPERTIES ({_PROPERTIES})
    """,
}


def hourly_stats_iceberg_schema() -> tuple[Schema, PartitionSpec]:
    """``iot.hourly_stats`` as pyiceberg objects: the columns and partitioning its Spark DDL creates, for tools that
    create the table without Spark (the API benchmark, the stats reader's tests).

    Returns:
        ``(schema, partition_spec)``; the field ids are pyiceberg's own.
    """
    from pyiceberg.partitioning import PartitionField, PartitionSpec
    from pyiceberg.schema import Schema
    from pyiceberg.transforms import DayTransform, IdentityTransform
    from pyiceberg.types import DoubleType, LongType, NestedField, StringType, TimestamptzType

    types = {
        "window_start": (TimestamptzType(), True),
        "window_end": (TimestamptzType(), True),
        "sensor_id": (StringType(), True),
        "sensor_type": (StringType(), True),
        "location": (StringType(), True),
        "avg_value": (DoubleType(), False),
        "min_value": (DoubleType(), False),
        "max_value": (DoubleType(), False),
        "stddev_value": (DoubleType(), False),
        "reading_count": (LongType(), True),
        "processed_at": (TimestamptzType(), True),
    }
    schema = Schema(
        *(
            NestedField(field_id, name, types[name][0], required=types[name][1])
            for field_id, name in enumerate(HOURLY_STATS_COLUMNS, start=1)
        )
    )
    spec = PartitionSpec(
        PartitionField(source_id=1, field_id=1000, transform=DayTransform(), name="window_start_day"),
        PartitionField(source_id=4, field_id=1001, transform=IdentityTransform(), name="sensor_type"),
    )
    return schema, spec


ADDED_COLUMNS: dict[str, list[tuple[str, str]]] = {
    REJECTED_READINGS: [
        (
            "kafka_timestamp",
            "timestamp COMMENT 'time of the Kafka record (places the record in an hour)' AFTER kafka_offset",
        ),
    ],
}
"""Columns added after a table's first release: (name, definition), added to older tables on first use."""


def ensure_tables(spark: SparkSession, *names: str) -> None:
    """Create the named tables (default: all) if they do not exist yet, and add columns newer releases have."""
    spark.sql("CREATE NAMESPACE IF NOT EXISTS iot")
    for name in names or tuple(DDL):
        spark.sql(DDL[name])
        added = ADDED_COLUMNS.get(name, [])
        if added:
            present = set(spark.table(name).columns)
            for column, definition in added:
                if column not in present:
                    spark.sql(f"ALTER TABLE {name} ADD COLUMN {column} {definition}")
