"""Reading what an evaluation needs: the sensors' state and the stored episodes (through pyiceberg); and, for an
evaluation too large for the run's process (``scan.py`` reads the others), the new readings and rejected records per
sensor and the records to evaluate again, on Spark."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from iot_platform import tables
from iot_platform.pipelines.sensor_alerts.plan import Watermark, instant, micros
from iot_platform.transforms.alerts import EPISODE_COLUMNS

if TYPE_CHECKING:
    from pyiceberg.table import Table
    from pyspark.sql import DataFrame, SparkSession


@dataclass(frozen=True)
class SensorSummary:
    """One sensor's new readings: what ``iot.sensor_state`` learns from them."""

    sensor_id: str
    sensor_type: str
    location: str
    unit: str
    first_reading_at: dt.datetime
    last_reading_at: dt.datetime
    last_value: float
    readings: int


@dataclass
class NewData:
    """The readings and rejected records ingested since the watermark, per sensor."""

    sensors: list[SensorSummary]
    rejected_first: dict[str, dt.datetime]
    """Earliest Kafka time of each sensor's new rejected records (by record key)."""
    readings_through: int | None = None
    """Largest ``ingested_at`` among them (epoch microseconds)."""
    rejected_through: int | None = None
    """Largest ``rejected_at`` among them."""

    @property
    def readings(self) -> int:
        return sum(s.readings for s in self.sensors)

    def first_new(self) -> dict[str, dt.datetime]:
        """The earliest new event (reading or rejected record) of every affected sensor."""
        first = {s.sensor_id: s.first_reading_at for s in self.sensors}
        for sensor_id, at in self.rejected_first.items():
            first[sensor_id] = min(at, first.get(sensor_id, at))
        return first


def read_new_data(spark: SparkSession, watermark: Watermark) -> NewData:
    """Summarize, per sensor, what was ingested after ``watermark`` (two aggregations, one row per sensor back).

    Args:
        spark: The run's session.
        watermark: What earlier runs evaluated.
    """
    from pyspark.sql import functions as F

    readings = spark.table(tables.SENSOR_READINGS)
    if watermark.readings is not None:
        readings = readings.where(F.col("ingested_at") > F.timestamp_micros(F.lit(watermark.readings)))
    # Grouped by the names too, not picked with max_by: a string in the aggregation buffer would make Spark sort every
    # new reading (a sort aggregation); string keys keep it a hash aggregation. A sensor whose type, location or unit
    # changed has one row per name and is folded below.
    rows = (
        readings.groupBy("sensor_id", "sensor_type", "location", "unit")
        .agg(
            F.min(F.unix_micros("event_time")).alias("first"),
            F.max(F.unix_micros("event_time")).alias("last"),
            F.max_by("value", "event_time").alias("last_value"),
            F.count(F.lit(1)).alias("n"),
            F.max(F.unix_micros("ingested_at")).alias("through"),
        )
        .collect()
    )
    sensors = sensor_summaries([row.asDict() for row in rows])
    new = NewData(sensors, {}, readings_through=max((r["through"] for r in rows), default=None))
    rejected = spark.table(tables.REJECTED_READINGS)
    if watermark.rejected is not None:
        rejected = rejected.where(F.col("rejected_at") > F.timestamp_micros(F.lit(watermark.rejected)))
    by_key = (
        rejected.groupBy("record_key")
        .agg(
            F.min(F.unix_micros("kafka_timestamp")).alias("first"), F.max(F.unix_micros("rejected_at")).alias("through")
        )
        .collect()
    )
    new.rejected_through = max((r["through"] for r in by_key), default=None)
    new.rejected_first = {
        r["record_key"]: instant(r["first"]) for r in by_key if r["record_key"] is not None and r["first"] is not None
    }
    return new


def sensor_summaries(rows: list[dict[str, Any]]) -> list[SensorSummary]:
    """One summary per sensor from rows per (sensor, type, location, unit): counts and bounds over all of its rows,
    names and last value from the row holding its latest reading."""
    by_sensor: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_sensor.setdefault(row["sensor_id"], []).append(row)
    summaries = []
    for sensor_id, named in sorted(by_sensor.items()):
        latest = max(named, key=lambda row: row["last"])
        summaries.append(
            SensorSummary(
                sensor_id,
                latest["sensor_type"],
                latest["location"],
                latest["unit"],
                instant(min(row["first"] for row in named)),
                instant(latest["last"]),
                float(latest["last_value"]),
                sum(int(row["n"]) for row in named),
            )
        )
    return summaries


def _since_frame(spark: SparkSession, since: Mapping[str, dt.datetime]) -> DataFrame:
    """One row per sensor: ``sensor_id``, ``_since_us`` (epoch microseconds) and ``_sensor``, the sensor's position
    in ``sorted(since)``."""
    rows = [(sensor_id, micros(since[sensor_id]), k) for k, sensor_id in enumerate(sorted(since))]
    return spark.createDataFrame(rows, "sensor_id string, _since_us long, _sensor int")


def readings_since(spark: SparkSession, since: Mapping[str, dt.datetime]) -> DataFrame:
    """Each sensor's stored readings from its instant in ``since`` on (``sensor_id``, ``sensor_type``,
    ``location``, ``value``, ``event_time``, and ``_sensor``: the sensor's position in ``sorted(since)``)."""
    from pyspark.sql import functions as F

    earliest = micros(min(since.values()))
    stored = spark.table(tables.SENSOR_READINGS).where(F.col("event_time") >= F.timestamp_micros(F.lit(earliest)))
    return (
        stored.join(F.broadcast(_since_frame(spark, since)), "sensor_id")
        .where(F.unix_micros("event_time") >= F.col("_since_us"))
        .select("sensor_id", "sensor_type", "location", "value", "event_time", "_sensor")
    )


def rejected_since(spark: SparkSession, since: Mapping[str, dt.datetime]) -> DataFrame:
    """Each sensor's rejected records (by record key) from its instant in ``since`` on (``record_key``,
    ``kafka_timestamp``, ``_sensor``)."""
    from pyspark.sql import functions as F

    earliest = micros(min(since.values()))
    stored = spark.table(tables.REJECTED_READINGS).where(
        F.col("kafka_timestamp") >= F.timestamp_micros(F.lit(earliest))
    )
    keyed = _since_frame(spark, since).withColumnRenamed("sensor_id", "record_key")
    return (
        stored.join(F.broadcast(keyed), "record_key")
        .where(F.unix_micros("kafka_timestamp") >= F.col("_since_us"))
        .select("record_key", "kafka_timestamp", "_sensor")
    )


@dataclass(frozen=True)
class SensorState:
    """A row of ``iot.sensor_state``."""

    sensor_id: str
    sensor_type: str
    location: str
    first_reading_at: dt.datetime
    last_reading_at: dt.datetime


def read_states(table: Table) -> list[dict[str, Any]]:
    """Every row of ``iot.sensor_state`` (one per sensor ever seen) as dicts with aware instants."""
    table.refresh()
    if table.current_snapshot() is None:
        return []
    return list(table.scan().to_arrow().to_pylist())


def as_states(rows: list[dict[str, Any]]) -> list[SensorState]:
    """Rows of ``iot.sensor_state`` as :class:`SensorState`."""
    return [
        SensorState(r["sensor_id"], r["sensor_type"], r["location"], r["first_reading_at"], r["last_reading_at"])
        for r in rows
    ]


def read_stored_episodes(table: Table, sensors: set[str]) -> list[dict[str, Any]]:
    """Stored episodes of ``sensors`` and every open episode, as dicts of the table's columns (aware instants).

    Args:
        table: ``iot.sensor_alerts`` (pyiceberg).
        sensors: The sensors evaluated again.
    """
    from pyiceberg import expressions as E

    # Positional construction, as documented by pyiceberg (its pydantic models confuse the type checker).
    condition: Any = cast(Any, E.EqualTo)("state", "open")
    if sensors:
        condition = E.Or(condition, cast(Any, E.In)("sensor_id", sorted(sensors)))
    table.refresh()
    if table.current_snapshot() is None:
        return []
    return list(table.scan(row_filter=condition).to_arrow().to_pylist())


def collect_episodes(episodes: DataFrame) -> list[dict[str, Any]]:
    """Episodes (``EPISODE_COLUMNS``) as dicts with aware UTC instants (collected as epoch microseconds, since
    collected timestamps would be naive local times)."""
    from pyspark.sql import functions as F

    rows = episodes.select(
        *(F.unix_micros(name).alias(name) if name in _TIMES else F.col(name) for name in EPISODE_COLUMNS)
    ).collect()
    return [as_instants(row.asDict()) for row in rows]


_TIMES = ("started_at", "last_seen_at", "resolved_at")


def as_instants(episode: dict[str, Any]) -> dict[str, Any]:
    """An episode (``EPISODE_COLUMNS``) with its epoch-microsecond times as aware UTC instants."""
    return {
        name: instant(value) if name in _TIMES and value is not None else value
        for name, value in ((name, episode[name]) for name in EPISODE_COLUMNS)
    }
