"""The platform's Iceberg tables (namespace ``iot``), declared once and created on first use.

Each table's contract (columns with type, nullability and comment, partitioning, properties, columns added by later
releases) is a :class:`Table`; the Spark DDL, the Spark schema and the pyiceberg schema are derived from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from pyiceberg.partitioning import PartitionSpec
    from pyiceberg.schema import Schema
    from pyiceberg.types import IcebergType
    from pyspark.sql import SparkSession
    from pyspark.sql.types import DataType, StructType

SENSOR_READINGS = "iot.sensor_readings"
REJECTED_READINGS = "iot.rejected_readings"
HOURLY_STATS = "iot.hourly_stats"
SENSOR_ALERTS = "iot.sensor_alerts"
SENSOR_STATE = "iot.sensor_state"
ALERT_NOTIFICATIONS = "iot.alert_notifications"

PROPERTIES: tuple[tuple[str, str], ...] = (
    ("format-version", "2"),
    ("write.parquet.compression-codec", "zstd"),
    ("write.metadata.delete-after-commit.enabled", "true"),
    ("write.metadata.previous-versions-max", "50"),
)
"""Table properties every platform table is created with, in DDL order."""


class ColumnType(StrEnum):
    """A column's type, spelled as in the Spark DDL. ``timestamp`` is an instant (Iceberg ``timestamptz``)."""

    STRING = "string"
    DOUBLE = "double"
    INT = "int"
    BIGINT = "bigint"
    TIMESTAMP = "timestamp"

    @property
    def python_type(self) -> type:
        """The Python type of a value read from the column (and of the API field serving it)."""
        import datetime as dt

        return {"string": str, "double": float, "int": int, "bigint": int, "timestamp": dt.datetime}[self.value]

    @property
    def display_name(self) -> str:
        """The name shown to users in previews: Spark SQL's, except ``timestamptz`` for an instant."""
        return "timestamptz" if self is ColumnType.TIMESTAMP else self.value

    def spark_type(self) -> DataType:
        """The Spark ``DataType`` (``TimestampType`` is an instant in a UTC session)."""
        from pyspark.sql import types as T

        spark_types: dict[str, DataType] = {
            "string": T.StringType(),
            "double": T.DoubleType(),
            "int": T.IntegerType(),
            "bigint": T.LongType(),
            "timestamp": T.TimestampType(),
        }
        return spark_types[self.value]

    def iceberg_type(self) -> IcebergType:
        """The pyiceberg type the Spark DDL creates for this type."""
        from pyiceberg import types as I

        iceberg_types: dict[str, IcebergType] = {
            "string": I.StringType(),
            "double": I.DoubleType(),
            "int": I.IntegerType(),
            "bigint": I.LongType(),
            "timestamp": I.TimestamptzType(),
        }
        return iceberg_types[self.value]


@dataclass(frozen=True)
class Column:
    """One column of a table's contract."""

    name: str
    type: ColumnType
    nullable: bool = False
    comment: str | None = None
    added_later: bool = False
    """Added by a release after the table's first: added to older tables on first use, after the column before it."""

    def sql(self) -> str:
        """The column's definition in a Spark ``CREATE TABLE`` (name, type, ``NOT NULL``, comment)."""
        parts = [self.name, self.type.value]
        if not self.nullable:
            parts.append("NOT NULL")
        if self.comment is not None:
            parts.append(f"COMMENT {_quoted(self.comment)}")
        return " ".join(parts)


@dataclass(frozen=True)
class Partition:
    """One partition field: a column and Iceberg's transform of it."""

    column: str
    transform: Literal["identity", "hours", "days"] = "identity"

    def sql(self) -> str:
        """The field in a Spark ``PARTITIONED BY`` clause."""
        return self.column if self.transform == "identity" else f"{self.transform}({self.column})"

    @property
    def field_name(self) -> str:
        """The name Iceberg gives the partition field (``event_time_hour``, ``window_start_day``, ``sensor_type``)."""
        suffix = {"identity": "", "hours": "_hour", "days": "_day"}[self.transform]
        return f"{self.column}{suffix}"


@dataclass(frozen=True)
class Table:
    """A table's contract: everything its Spark DDL, Spark schema and pyiceberg schema are made from."""

    name: str
    comment: str
    columns: tuple[Column, ...]
    partitioning: tuple[Partition, ...]
    properties: tuple[tuple[str, str], ...] = PROPERTIES

    def __post_init__(self) -> None:
        names = self.column_names
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: a column is declared twice")
        for column in self.columns:
            if column.added_later and (not column.nullable or column is self.columns[0]):
                raise ValueError(f"{self.name}.{column.name}: a later column must be nullable and not the first")
        for partition in self.partitioning:
            if partition.column not in names:
                raise ValueError(f"{self.name}: partition column {partition.column} is not a column")

    @property
    def column_names(self) -> tuple[str, ...]:
        """The columns, in table order."""
        return tuple(column.name for column in self.columns)

    def column(self, name: str) -> Column:
        """The column called ``name``.

        Raises:
            KeyError: The table has no such column.
        """
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"{self.name} has no column {name}")

    def create_sql(self) -> str:
        """The Spark ``CREATE TABLE IF NOT EXISTS`` statement of the table as the current release defines it."""
        columns = ",\n    ".join(column.sql() for column in self.columns)
        partitions = ", ".join(partition.sql() for partition in self.partitioning)
        properties = ", ".join(f"{_quoted(key)}={_quoted(value)}" for key, value in self.properties)
        return (
            f"CREATE TABLE IF NOT EXISTS {self.name} (\n    {columns}\n) USING iceberg\n"
            f"PARTITIONED BY ({partitions})\nCOMMENT {_quoted(self.comment)}\nTBLPROPERTIES ({properties})"
        )

    def added_columns(self) -> tuple[Column, ...]:
        """Columns a later release added, in table order."""
        return tuple(column for column in self.columns if column.added_later)

    def add_column_sql(self, name: str) -> str:
        """The Spark ``ALTER TABLE ... ADD COLUMN`` that gives an older table the later column ``name``."""
        column = self.column(name)
        before = self.columns[self.column_names.index(name) - 1].name
        return f"ALTER TABLE {self.name} ADD COLUMN {column.sql()} AFTER {before}"

    def spark_schema(self) -> StructType:
        """The table's columns as a Spark ``StructType``, in order."""
        from pyspark.sql import types as T

        return T.StructType([T.StructField(c.name, c.type.spark_type(), c.nullable) for c in self.columns])

    def iceberg_schema(self) -> Schema:
        """The pyiceberg schema the Spark DDL creates (field ids 1.. in column order, as in a new table)."""
        from pyiceberg.schema import Schema
        from pyiceberg.types import NestedField

        return Schema(
            *(
                NestedField(field_id, c.name, c.type.iceberg_type(), required=not c.nullable)
                for field_id, c in enumerate(self.columns, start=1)
            )
        )

    def iceberg_partition_spec(self) -> PartitionSpec:
        """The pyiceberg partition spec the Spark DDL creates, over :meth:`iceberg_schema`'s field ids."""
        from pyiceberg.partitioning import PartitionField, PartitionSpec
        from pyiceberg.transforms import DayTransform, HourTransform, IdentityTransform, Transform

        transforms: Mapping[str, Transform] = {  # type: ignore[type-arg]
            "identity": IdentityTransform(),
            "hours": HourTransform(),
            "days": DayTransform(),
        }
        return PartitionSpec(
            *(
                PartitionField(
                    source_id=self.column_names.index(p.column) + 1,
                    field_id=1000 + position,
                    transform=transforms[p.transform],
                    name=p.field_name,
                )
                for position, p in enumerate(self.partitioning)
            )
        )


def _quoted(text: str) -> str:
    """``text`` as a Spark SQL string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


SENSOR_READINGS_TABLE = Table(
    name=SENSOR_READINGS,
    comment="Every valid, de-duplicated sensor reading; snapshot summaries hold the Kafka offsets consumed",
    columns=(
        Column("sensor_id", ColumnType.STRING, comment="sensor, e.g. TEMP-001"),
        Column("sensor_type", ColumnType.STRING),
        Column("location", ColumnType.STRING),
        Column("value", ColumnType.DOUBLE),
        Column("unit", ColumnType.STRING),
        Column("event_time", ColumnType.TIMESTAMP, comment="event time of the reading (UTC)"),
        Column("kafka_topic", ColumnType.STRING),
        Column("kafka_partition", ColumnType.INT),
        Column("kafka_offset", ColumnType.BIGINT),
        Column("ingested_at", ColumnType.TIMESTAMP),
    ),
    partitioning=(Partition("event_time", "hours"),),
)

REJECTED_READINGS_TABLE = Table(
    name=REJECTED_READINGS,
    comment="Every malformed Kafka record with the reason it was rejected",
    columns=(
        Column(
            "raw_payload",
            ColumnType.STRING,
            nullable=True,
            comment="the record value as received (UTF-8, invalid bytes replaced)",
        ),
        Column("kafka_topic", ColumnType.STRING),
        Column("kafka_partition", ColumnType.INT),
        Column("kafka_offset", ColumnType.BIGINT),
        Column(
            "kafka_timestamp",
            ColumnType.TIMESTAMP,
            nullable=True,
            comment="time of the Kafka record (places the record in an hour)",
            added_later=True,
        ),
        Column(
            "record_key",
            ColumnType.STRING,
            nullable=True,
            comment="the Kafka record key (the sensor id for the platform's producers; UTF-8, invalid bytes replaced)",
            added_later=True,
        ),
        Column("reason", ColumnType.STRING, comment="reason code, see the README"),
        Column("detail", ColumnType.STRING, nullable=True),
        Column("rejected_at", ColumnType.TIMESTAMP),
    ),
    partitioning=(Partition("rejected_at", "days"),),
)

HOURLY_STATS_TABLE = Table(
    name=HOURLY_STATS,
    comment="Hourly statistics per sensor over valid, de-duplicated readings",
    columns=(
        Column("window_start", ColumnType.TIMESTAMP, comment="start of the UTC hour"),
        Column("window_end", ColumnType.TIMESTAMP),
        Column("sensor_id", ColumnType.STRING),
        Column("sensor_type", ColumnType.STRING),
        Column("location", ColumnType.STRING),
        Column("avg_value", ColumnType.DOUBLE, nullable=True),
        Column("min_value", ColumnType.DOUBLE, nullable=True),
        Column("max_value", ColumnType.DOUBLE, nullable=True),
        Column(
            "stddev_value",
            ColumnType.DOUBLE,
            nullable=True,
            comment="sample standard deviation; null for a single reading",
        ),
        Column("reading_count", ColumnType.BIGINT),
        Column("processed_at", ColumnType.TIMESTAMP),
    ),
    partitioning=(Partition("window_start", "days"), Partition("sensor_type")),
)

SENSOR_ALERTS_TABLE = Table(
    name=SENSOR_ALERTS,
    comment="One row per alert episode of a sensor; alert_id is deterministic, so re-evaluation never duplicates",
    columns=(
        Column("alert_id", ColumnType.STRING, comment="hash of rule, sensor_id and started_at"),
        Column("sensor_id", ColumnType.STRING),
        Column("sensor_type", ColumnType.STRING, nullable=True, comment="null when no reading named it"),
        Column("location", ColumnType.STRING, nullable=True),
        Column("rule", ColumnType.STRING, comment="see RuleName in registry.py"),
        Column("severity", ColumnType.STRING, comment="critical|warning|info"),
        Column("state", ColumnType.STRING, comment="open|resolved"),
        Column(
            "started_at",
            ColumnType.TIMESTAMP,
            comment="event time of the first offending reading, or of the last reading before a gap",
        ),
        Column("last_seen_at", ColumnType.TIMESTAMP, comment="event time of the last offending reading"),
        Column("resolved_at", ColumnType.TIMESTAMP, nullable=True, comment="when the condition cleared"),
        Column("peak_value", ColumnType.DOUBLE, nullable=True, comment="most extreme value (or rate) involved"),
        Column("threshold", ColumnType.DOUBLE, nullable=True, comment="the limit the rule compared with"),
        Column("readings", ColumnType.BIGINT, comment="readings (or records) involved"),
        Column("detail", ColumnType.STRING, nullable=True, comment="what happened, in words"),
        Column("evaluated_at", ColumnType.TIMESTAMP, comment="when the episode was last written"),
    ),
    partitioning=(Partition("started_at", "days"),),
)

SENSOR_STATE_TABLE = Table(
    name=SENSOR_STATE,
    comment="One row per sensor ever seen: its last reading, kept by alert evaluation",
    columns=(
        Column("sensor_id", ColumnType.STRING),
        Column("sensor_type", ColumnType.STRING),
        Column("location", ColumnType.STRING),
        Column("unit", ColumnType.STRING),
        Column("first_reading_at", ColumnType.TIMESTAMP),
        Column("last_reading_at", ColumnType.TIMESTAMP),
        Column("last_value", ColumnType.DOUBLE),
        Column("updated_at", ColumnType.TIMESTAMP),
    ),
    partitioning=(Partition("sensor_type"),),
)

ALERT_NOTIFICATIONS_TABLE = Table(
    name=ALERT_NOTIFICATIONS,
    comment="Alert transitions handed to the webhook (or skipped): one row per (alert_id, transition)",
    columns=(
        Column("alert_id", ColumnType.STRING),
        Column("transition", ColumnType.STRING, comment="opened|resolved"),
        Column("sensor_id", ColumnType.STRING),
        Column("rule", ColumnType.STRING),
        Column("status", ColumnType.STRING, comment="delivered|skipped"),
        Column("attempts", ColumnType.INT),
        Column("recorded_at", ColumnType.TIMESTAMP),
    ),
    partitioning=(Partition("recorded_at", "days"),),
)

TABLES: dict[str, Table] = {
    table.name: table
    for table in (
        SENSOR_READINGS_TABLE,
        REJECTED_READINGS_TABLE,
        HOURLY_STATS_TABLE,
        SENSOR_ALERTS_TABLE,
        SENSOR_STATE_TABLE,
        ALERT_NOTIFICATIONS_TABLE,
    )
}
"""Every platform table by name, in creation order."""

HOURLY_STATS_COLUMNS: tuple[str, ...] = HOURLY_STATS_TABLE.column_names
"""The contract's columns of ``iot.hourly_stats``, in order (what the aggregation writes and the API serves)."""


def hourly_stats_iceberg_schema() -> tuple[Schema, PartitionSpec]:
    """``iot.hourly_stats`` as pyiceberg objects, for tools that create the table without Spark (the API benchmark,
    the stats reader's tests).

    Returns:
        ``(schema, partition_spec)``, as the Spark DDL creates them.
    """
    return HOURLY_STATS_TABLE.iceberg_schema(), HOURLY_STATS_TABLE.iceberg_partition_spec()


def ensure_tables(spark: SparkSession, *names: str) -> None:
    """Create the named tables (default: all) if they do not exist yet, and add columns newer releases have.

    Args:
        spark: A session with the platform's catalog as its default catalog.
        names: Table names such as :data:`SENSOR_READINGS`; none means every table.
    """
    spark.sql("CREATE NAMESPACE IF NOT EXISTS iot")
    for name in names or tuple(TABLES):
        table = TABLES[name]
        spark.sql(table.create_sql())
        added = table.added_columns()
        if added:
            present = set(spark.table(name).columns)
            for column in added:
                if column.name not in present:
                    spark.sql(table.add_column_sql(column.name))
