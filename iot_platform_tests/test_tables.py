"""The table contracts: the DDL the platform runs, and every form derived from a contract, agree with it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pyiceberg.types import LongType, StringType, TimestamptzType
from pyspark.sql import types as T

from iot_platform import tables
from iot_platform.api.alerts_reader import ALERT_COLUMNS
from iot_platform.api.schemas import AlertRow, HourlyStatsRow, Sensor, SensorRules
from iot_platform.api.sensors_reader import RULE_FIELDS
from iot_platform.api.stats_reader import COLUMNS as API_COLUMNS
from iot_platform.assets.hourly_stats import PREVIEW_SCHEMA
from iot_platform.registry import RuleParams
from iot_platform.tables import (
    HOURLY_STATS_TABLE,
    REJECTED_READINGS_TABLE,
    SENSOR_ALERTS_TABLE,
    SENSOR_STATE_TABLE,
    TABLES,
    Column,
    ColumnType,
    Table,
)

PROPERTIES = (
    "TBLPROPERTIES ('format-version'='2', 'write.parquet.compression-codec'='zstd', "
    "'write.metadata.delete-after-commit.enabled'='true', 'write.metadata.previous-versions-max'='50')"
)
CREATED_AS = {
    tables.SENSOR_READINGS: "CREATE TABLE IF NOT EXISTS iot.sensor_readings ( "
    "sensor_id string NOT NULL COMMENT 'sensor, e.g. TEMP-001', sensor_type string NOT NULL, "
    "location string NOT NULL, value double NOT NULL, unit string NOT NULL, "
    "event_time timestamp NOT NULL COMMENT 'event time of the reading (UTC)', kafka_topic string NOT NULL, "
    "kafka_partition int NOT NULL, kafka_offset bigint NOT NULL, ingested_at timestamp NOT NULL ) USING iceberg "
    "PARTITIONED BY (hours(event_time)) COMMENT 'Every valid, de-duplicated sensor reading; snapshot summaries "
    f"hold the Kafka offsets consumed' {PROPERTIES}",
    tables.REJECTED_READINGS: "CREATE TABLE IF NOT EXISTS iot.rejected_readings ( "
    "raw_payload string COMMENT 'the record value as received (UTF-8, invalid bytes replaced)', "
    "kafka_topic string NOT NULL, kafka_partition int NOT NULL, kafka_offset bigint NOT NULL, "
    "kafka_timestamp timestamp COMMENT 'time of the Kafka record (places the record in an hour)', "
    "record_key string COMMENT 'the Kafka record key (the sensor id for the platform\\'s producers; UTF-8, invalid "
    "bytes replaced)', "
    "reason string NOT NULL COMMENT 'reason code, see the README', detail string, rejected_at timestamp NOT NULL ) "
    "USING iceberg PARTITIONED BY (days(rejected_at)) "
    f"COMMENT 'Every malformed Kafka record with the reason it was rejected' {PROPERTIES}",
    tables.HOURLY_STATS: "CREATE TABLE IF NOT EXISTS iot.hourly_stats ( "
    "window_start timestamp NOT NULL COMMENT 'start of the UTC hour', window_end timestamp NOT NULL, "
    "sensor_id string NOT NULL, sensor_type string NOT NULL, location string NOT NULL, avg_value double, "
    "min_value double, max_value double, "
    "stddev_value double COMMENT 'sample standard deviation; null for a single reading', "
    "reading_count bigint NOT NULL, processed_at timestamp NOT NULL ) USING iceberg "
    "PARTITIONED BY (days(window_start), sensor_type) "
    f"COMMENT 'Hourly statistics per sensor over valid, de-duplicated readings' {PROPERTIES}",
    tables.SENSOR_ALERTS: "CREATE TABLE IF NOT EXISTS iot.sensor_alerts ( "
    "alert_id string NOT NULL COMMENT 'hash of rule, "
    "sensor_id and started_at', sensor_id string NOT NULL, sensor_type string COMMENT 'null when no "
    "reading named it', location string, rule string NOT NULL COMMENT 'see RuleName in registry.py', "
    "severity string NOT NULL COMMENT 'critical|warning|info', state string NOT NULL COMMENT "
    "'open|resolved', started_at timestamp NOT NULL COMMENT 'event time of the first offending "
    "reading, or of the last reading before a gap', last_seen_at timestamp NOT NULL COMMENT 'event "
    "time of the last offending reading', resolved_at timestamp COMMENT 'when the condition "
    "cleared', peak_value double COMMENT 'most extreme value (or rate) involved', threshold double "
    "COMMENT 'the limit the rule compared with', readings bigint NOT NULL COMMENT 'readings (or "
    "records) involved', detail string COMMENT 'what happened, in words', evaluated_at timestamp NOT "
    "NULL COMMENT 'when the episode was last written' ) USING iceberg PARTITIONED BY "
    "(days(started_at)) COMMENT 'One row per alert episode of a sensor; alert_id is deterministic, "
    f"so re-evaluation never duplicates' {PROPERTIES}",
    tables.SENSOR_STATE: "CREATE TABLE IF NOT EXISTS iot.sensor_state ( "
    "sensor_id string NOT NULL, sensor_type string NOT "
    "NULL, location string NOT NULL, unit string NOT NULL, first_reading_at timestamp NOT NULL, "
    "last_reading_at timestamp NOT NULL, last_value double NOT NULL, updated_at timestamp NOT NULL ) "
    "USING iceberg PARTITIONED BY (sensor_type) COMMENT 'One row per sensor ever seen: its last "
    f"reading, kept by alert evaluation' {PROPERTIES}",
    tables.ALERT_NOTIFICATIONS: "CREATE TABLE IF NOT EXISTS iot.alert_notifications ( "
    "alert_id string NOT NULL, transition "
    "string NOT NULL COMMENT 'opened|resolved', sensor_id string NOT NULL, rule string NOT NULL, "
    "status string NOT NULL COMMENT 'delivered|skipped', attempts int NOT NULL, recorded_at "
    "timestamp NOT NULL ) USING iceberg PARTITIONED BY (days(recorded_at)) COMMENT 'Alert "
    f"transitions handed to the webhook (or skipped): one row per (alert_id, transition)' {PROPERTIES}",
}
"""The statements released tables were created with: existing tables must keep exactly this shape."""

ALL = pytest.mark.parametrize("table", list(TABLES.values()), ids=list(TABLES))


def one_line(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).strip()


@ALL
def test_create_sql_is_the_released_shape(table: Table) -> None:
    assert one_line(table.create_sql()) == CREATED_AS[table.name]


def test_older_rejected_readings_get_kafka_timestamp_and_record_key_after_kafka_offset() -> None:
    assert [c.name for c in REJECTED_READINGS_TABLE.added_columns()] == ["kafka_timestamp", "record_key"]
    assert REJECTED_READINGS_TABLE.add_column_sql("kafka_timestamp") == (
        "ALTER TABLE iot.rejected_readings ADD COLUMN kafka_timestamp timestamp "
        "COMMENT 'time of the Kafka record (places the record in an hour)' AFTER kafka_offset"
    )
    assert REJECTED_READINGS_TABLE.add_column_sql("record_key") == (
        "ALTER TABLE iot.rejected_readings ADD COLUMN record_key string "
        "COMMENT 'the Kafka record key (the sensor id for the platform\\'s producers; UTF-8, invalid bytes "
        "replaced)' AFTER kafka_timestamp"
    )


@ALL
def test_spark_schema_is_the_contract(table: Table) -> None:
    schema = table.spark_schema()

    assert [(f.name, f.dataType, f.nullable) for f in schema] == [
        (c.name, c.type.spark_type(), c.nullable) for c in table.columns
    ]
    assert all(f.dataType != T.TimestampNTZType() for f in schema)


@ALL
def test_iceberg_schema_and_spec_are_the_contract(table: Table) -> None:
    schema, spec = table.iceberg_schema(), table.iceberg_partition_spec()

    assert [(f.field_id, f.name, f.field_type, f.required) for f in schema.fields] == [
        (i, c.name, c.type.iceberg_type(), not c.nullable) for i, c in enumerate(table.columns, start=1)
    ]
    assert [(schema.find_column_name(f.source_id), str(f.transform), f.name) for f in spec.fields] == [
        (p.column, {"identity": "identity", "hours": "hour", "days": "day"}[p.transform], p.field_name)
        for p in table.partitioning
    ]


def test_hourly_stats_iceberg_form_types() -> None:
    schema, spec = tables.hourly_stats_iceberg_schema()

    assert schema.find_field("window_start").field_type == TimestamptzType()
    assert schema.find_field("reading_count").field_type == LongType()
    assert schema.find_field("sensor_type").field_type == StringType()
    assert [(f.name, str(f.transform), f.source_id, f.field_id) for f in spec.fields] == [
        ("window_start_day", "day", 1, 1000),
        ("sensor_type", "identity", 4, 1001),
    ]


def test_hourly_stats_columns_are_the_contract_everywhere() -> None:
    from iot_platform.transforms.hourly_stats import HOURLY_STATS_COLUMNS, HOURLY_STATS_SCHEMA

    assert tables.HOURLY_STATS_COLUMNS == HOURLY_STATS_TABLE.column_names == HOURLY_STATS_COLUMNS == API_COLUMNS
    assert HOURLY_STATS_TABLE.spark_schema() == HOURLY_STATS_SCHEMA


def test_preview_schema_types_come_from_the_contract() -> None:
    assert [(c.name, c.type) for c in PREVIEW_SCHEMA.columns] == [
        ("window_start", "timestamptz"),
        ("sensor_id", "string"),
        ("sensor_type", "string"),
        ("location", "string"),
        ("avg_value", "double"),
        ("min_value", "double"),
        ("max_value", "double"),
        ("stddev_value", "double"),
        ("reading_count", "bigint"),
    ]


def api_fields(model: type[Any]) -> list[tuple[str, Any]]:
    return [(name, field.annotation) for name, field in model.model_fields.items()]


def test_api_hourly_stats_row_matches_the_contract() -> None:
    """Names, order, types and nullability of the API's rows are those of ``iot.hourly_stats``."""
    expected = [
        (c.name, c.type.python_type | None if c.nullable else c.type.python_type) for c in HOURLY_STATS_TABLE.columns
    ]

    assert api_fields(HourlyStatsRow) == expected


def test_readings_transform_columns_are_the_stored_reading_columns() -> None:
    """What the readings transform yields for each reading field is what ``iot.sensor_readings`` stores."""
    from iot_platform.transforms.readings import READING_SCHEMA

    reading_fields = READING_SCHEMA.fields[:6]
    assert [(f.name, f.dataType) for f in reading_fields] == [
        (c.name, c.type.spark_type()) for c in tables.SENSOR_READINGS_TABLE.columns[:6]
    ]


class RecordingSpark:
    """Records the SQL ``ensure_tables`` runs; tables already hold ``existing`` columns."""

    def __init__(self, existing: dict[str, list[str]]) -> None:
        self.existing = existing
        self.statements: list[str] = []

    def sql(self, statement: str) -> None:
        self.statements.append(one_line(statement))

    def table(self, name: str) -> Any:
        return type("Frame", (), {"columns": self.existing.get(name, TABLES[name].column_names)})()


def test_ensure_tables_creates_every_table_and_upgrades_older_ones() -> None:
    old_rejected = [c for c in REJECTED_READINGS_TABLE.column_names if c not in ("kafka_timestamp", "record_key")]
    spark = RecordingSpark({tables.REJECTED_READINGS: old_rejected})

    tables.ensure_tables(spark)  # type: ignore[arg-type]

    assert spark.statements == [
        "CREATE NAMESPACE IF NOT EXISTS iot",
        CREATED_AS[tables.SENSOR_READINGS],
        CREATED_AS[tables.REJECTED_READINGS],
        REJECTED_READINGS_TABLE.add_column_sql("kafka_timestamp"),
        REJECTED_READINGS_TABLE.add_column_sql("record_key"),
        CREATED_AS[tables.HOURLY_STATS],
        CREATED_AS[tables.SENSOR_ALERTS],
        CREATED_AS[tables.SENSOR_STATE],
        CREATED_AS[tables.ALERT_NOTIFICATIONS],
    ]


def test_ensure_tables_leaves_current_tables_alone() -> None:
    spark = RecordingSpark({})

    tables.ensure_tables(spark, tables.REJECTED_READINGS)  # type: ignore[arg-type]

    assert spark.statements == ["CREATE NAMESPACE IF NOT EXISTS iot", CREATED_AS[tables.REJECTED_READINGS]]


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ((Column("a", ColumnType.INT), Column("a", ColumnType.INT)), "declared twice"),
        ((Column("a", ColumnType.INT), Column("b", ColumnType.INT, added_later=True)), "must be nullable"),
        ((Column("b", ColumnType.INT),), "partition column a"),
    ],
)
def test_a_contract_that_cannot_be_created_is_refused(columns: tuple[Column, ...], message: str) -> None:
    from iot_platform.tables import Partition

    with pytest.raises(ValueError, match=message):
        Table("iot.t", "t", columns, (Partition("a"),))


def test_comments_are_quoted_for_spark() -> None:
    column = Column("note", ColumnType.STRING, nullable=True, comment="it's a \\ path")

    assert column.sql() == "note string COMMENT 'it\\'s a \\\\ path'"


def test_api_alert_row_matches_the_contract() -> None:
    """``GET /alerts`` serves every column of ``iot.sensor_alerts`` with its type and nullability, in order."""
    expected = [
        (c.name, c.type.python_type | None if c.nullable else c.type.python_type) for c in SENSOR_ALERTS_TABLE.columns
    ]

    assert api_fields(AlertRow) == expected
    assert SENSOR_ALERTS_TABLE.column_names == ALERT_COLUMNS


def test_api_sensor_fields_from_the_state_table_have_its_types() -> None:
    """What ``GET /sensors`` takes from ``iot.sensor_state`` keeps the column's type (null: never seen)."""
    fields = dict(api_fields(Sensor))

    for name in ("sensor_type", "location", "unit", "last_reading_at", "last_value"):
        assert fields[name] == SENSOR_STATE_TABLE.column(name).type.python_type | None, name


def test_api_sensor_rules_are_the_registry_parameters() -> None:
    """A sensor's ``rules`` are the registry's effective parameters, less the sensor's identity."""
    import typing

    hints = typing.get_type_hints(RuleParams)

    assert list(SensorRules.model_fields) == list(RULE_FIELDS)
    assert set(RuleParams.__dataclass_fields__) - set(RULE_FIELDS) == {"sensor_id", "sensor_type", "location", "unit"}
    assert {name: field.annotation for name, field in SensorRules.model_fields.items()} == {
        name: hints[name] for name in RULE_FIELDS
    }
