"""Alert episodes from sensor readings: the rules of the sensor registry over Spark frames.

A run reads the records the rules read from the tables' files into its own process and finds the episodes there
with ``alert_rules.table_episodes`` (``pipelines/sensor_alerts/scan.py``); for an evaluation too large for that, the
valid readings and rejected records are one frame here (:func:`alert_records`), :func:`alert_episodes` groups it by
sensor (one shuffle) and each sensor's records go, as one Arrow table, to ``alert_rules.sensor_frame_episodes`` in
the executors' Python workers, so only episodes come back. Both run the same numpy functions. Each rule gives
episodes in :data:`EPISODE_COLUMNS` (the columns of ``iot.sensor_alerts`` but ``evaluated_at``), one row per
episode, with a deterministic ``alert_id`` (:func:`alert_id`), so evaluating the same readings again gives the same
rows.

Times are UTC instants; the functions give the same result whatever ``spark.sql.session.timeZone`` is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from iot_platform.registry import PARAM_COLUMNS, RuleName
from iot_platform.tables import SENSOR_ALERTS_TABLE
from iot_platform.transforms import alert_rules
from iot_platform.transforms.alert_rules import ALERT_ID_HEX, alert_id

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

EPISODE_COLUMNS: tuple[str, ...] = tuple(name for name in SENSOR_ALERTS_TABLE.column_names if name != "evaluated_at")
"""Columns of an episode, in table order (``evaluated_at`` is added when it is written)."""

READING_RULES: tuple[RuleName, ...] = (
    RuleName.THRESHOLD,
    RuleName.STUCK,
    RuleName.SILENT,
    RuleName.RATE_OF_CHANGE,
    RuleName.REJECTED_BURST,
)
"""Rules whose episodes :func:`alert_episodes` finds in readings and rejected records."""

_ISO_MICROS = "yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'"
_TIMES = ("started_at", "last_seen_at", "resolved_at")
_NUMBERS = {"peak_value": "double", "threshold": "double", "readings": "long", **dict.fromkeys(_TIMES, "long")}
_RULE_OUTPUT = ", ".join(f"{name} {_NUMBERS.get(name, 'string')}" for name in EPISODE_COLUMNS)
"""What the grouped pass gives back: the episode's columns with instants as epoch microseconds."""


def alert_id_column(rule: Column, sensor_id: Column, started_at: Column) -> Column:
    """:func:`alert_id` as a Spark column (the instant is formatted in UTC whatever the session's time zone)."""
    from pyspark.sql import functions as F

    instant = F.date_format(F.to_utc_timestamp(started_at, F.current_timezone()), _ISO_MICROS)
    return F.substring(F.sha2(F.concat_ws("|", rule, sensor_id, instant), 256), 1, ALERT_ID_HEX)


def params_frame(spark: SparkSession, rows: Sequence[dict[str, Any]]) -> DataFrame:
    """The registry's parameter rows (``SensorRegistry.param_rows()``) as a DataFrame with ``PARAM_COLUMNS``."""
    from pyspark.sql import types as T

    kinds = {"registered": T.BooleanType(), "threshold_min_readings": T.IntegerType()}
    kinds["rejected_min_records"] = T.IntegerType()
    fields = []
    for name in PARAM_COLUMNS:
        if name in kinds:
            kind: T.DataType = kinds[name]
        elif name in ("sensor_id", "sensor_type", "location", "unit") or name.endswith("_severity"):
            kind = T.StringType()
        else:
            kind = T.DoubleType()
        fields.append(T.StructField(name, kind, True))
    schema = T.StructType(fields)
    values = [
        tuple(
            float(row[f.name]) if isinstance(f.dataType, T.DoubleType) and row[f.name] is not None else row[f.name]
            for f in fields
        )
        for row in rows
    ]
    return spark.createDataFrame(values, schema)


def alert_records(readings: DataFrame, rejected: DataFrame | None) -> DataFrame:
    """The records the rules read, valid and rejected, in one frame: ``sensor_id``, ``sensor_type``, ``location``,
    ``value``, ``_us`` (event time, or Kafka time of a rejected record, as epoch microseconds) and ``_rejected``.

    Args:
        readings: Valid readings with ``sensor_id``, ``sensor_type``, ``location``, ``value`` and ``event_time``, at
            most one per (sensor, event time).
        rejected: Rejected records with ``record_key`` (the sensor id) and ``kafka_timestamp`` (None: none).
    """
    from pyspark.sql import functions as F

    records = readings.select(
        "sensor_id",
        "sensor_type",
        "location",
        "value",
        F.unix_micros("event_time").alias("_us"),
        F.lit(False).alias("_rejected"),
    )
    if rejected is None:
        return records
    return records.unionByName(
        rejected.where(F.col("record_key").isNotNull() & F.col("kafka_timestamp").isNotNull()).select(
            F.col("record_key").alias("sensor_id"),
            F.lit(None).cast("string").alias("sensor_type"),
            F.lit(None).cast("string").alias("location"),
            F.lit(None).cast("double").alias("value"),
            F.unix_micros("kafka_timestamp").alias("_us"),
            F.lit(True).alias("_rejected"),
        )
    )


def alert_episodes(readings: DataFrame, rejected: DataFrame | None, params: Sequence[dict[str, Any]]) -> DataFrame:
    """Every episode of the reading rules (``threshold``, ``stuck``, ``silent`` gaps, ``rate_of_change``) and of
    ``rejected_burst`` in one grouped pass over each sensor's records, in the executors.

    Args:
        readings: Valid readings (see :func:`alert_records`).
        rejected: Rejected records (see :func:`alert_records`; None: none).
        params: The registry's parameter rows (``SensorRegistry.param_rows()``).

    Returns:
        Episodes with ``EPISODE_COLUMNS``.
    """
    from pyspark.sql import functions as F

    rows = [dict(row) for row in params]
    records = alert_records(readings, rejected)
    found = records.groupBy("sensor_id").applyInArrow(_sensor_rules(rows), _RULE_OUTPUT)
    return found.select(*(F.timestamp_micros(name).alias(name) if name in _TIMES else name for name in EPISODE_COLUMNS))


def _sensor_rules(rows: list[dict[str, Any]]) -> Any:
    """The function each sensor's Arrow table goes through. :mod:`~iot_platform.transforms.alert_rules` travels with
    it by value, so the workers run this version of the rules whatever version of the platform they have installed."""
    import pyarrow as pa
    from pyspark import cloudpickle

    cloudpickle.register_pickle_by_value(alert_rules)
    kinds = {"string": pa.string(), "double": pa.float64(), "long": pa.int64()}
    schema = pa.schema([(name, kinds[_NUMBERS.get(name, "string")]) for name in EPISODE_COLUMNS])

    def rules(table: pa.Table) -> pa.Table:
        return pa.Table.from_pylist(alert_rules.sensor_frame_episodes(table, rows), schema=schema)

    return rules


def reading_episodes(readings: DataFrame, params: DataFrame) -> DataFrame:
    """The ``threshold``, ``stuck``, ``silent`` (gap) and ``rate_of_change`` episodes of ``readings`` under
    ``params`` (:func:`params_frame`'s output; see :func:`alert_episodes`)."""
    from pyspark.sql import functions as F

    rows = [row.asDict() for row in params.collect()]
    return alert_episodes(readings, None, rows).where(F.col("rule") != F.lit(RuleName.REJECTED_BURST.value))


def rejected_burst_episodes(readings: DataFrame, rejected: DataFrame, params: DataFrame) -> DataFrame:
    """The ``rejected_burst`` episodes of valid ``readings`` and ``rejected`` records (see :func:`alert_episodes`)."""
    from pyspark.sql import functions as F

    rows = [row.asDict() for row in params.collect()]
    return alert_episodes(readings, rejected, rows).where(F.col("rule") == F.lit(RuleName.REJECTED_BURST.value))


__all__ = [
    "ALERT_ID_HEX",
    "EPISODE_COLUMNS",
    "READING_RULES",
    "alert_episodes",
    "alert_id",
    "alert_id_column",
    "alert_records",
    "params_frame",
    "reading_episodes",
    "rejected_burst_episodes",
]
