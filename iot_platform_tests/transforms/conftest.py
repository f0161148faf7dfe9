"""A local Spark session and builders of Kafka-shaped and reading-shaped DataFrames for the transform tests."""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from iot_platform.clients.spark import spark_jars
from iot_platform.pipelines.sensor_readings.batch import session_conf
from iot_platform_tests.conftest import test_settings
from iot_platform_tests.transforms.reference import micros

KAFKA_SOURCE_DDL = (
    "key binary, value binary, topic string, partition int, offset long, timestamp timestamp, timestampType int"
)
"""The columns Spark's Kafka source produces (without headers)."""
TOPIC = "sensor-raw"

Payload = str | bytes | None
KafkaRecord = Payload | tuple[int, int, Payload]
"""A record value, or (partition, offset, value)."""


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """One local Spark for all transform tests: 2 cores, few shuffle partitions, no UI, UTC session, and the jars of
    platform sessions (all of them: the driver JVM keeps its first session's jars for later tests in this process)."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    # Python workers run this interpreter (the platform's environment, with pyarrow), never `python3` on PATH.
    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[2]")
        .appName("iot-platform-transform-tests")
        .config("spark.jars", ",".join(spark_jars(test_settings().cache_dir)))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@contextmanager
def session_time_zone(spark: SparkSession, zone: str) -> Iterator[None]:
    """Run a block with another ``spark.sql.session.timeZone``, then restore it."""
    with session_conf(spark, {"spark.sql.session.timeZone": zone}):
        yield


def kafka_frame(spark: SparkSession, records: Sequence[KafkaRecord]) -> DataFrame:
    """A Kafka-source-shaped DataFrame; plain values get partition 0 and offsets 0, 1, 2..."""
    rows = []
    for index, record in enumerate(records):
        partition, offset, value = record if isinstance(record, tuple) else (0, index, record)
        data = value.encode("utf-8") if isinstance(value, str) else value
        rows.append((b"key", data, TOPIC, partition, offset, dt.datetime(2026, 11, 24, 12, 0), 0))
    return spark.createDataFrame(rows, KAFKA_SOURCE_DDL)


@pytest.fixture
def kafka_batch(spark: SparkSession) -> Callable[[Sequence[KafkaRecord]], DataFrame]:
    """:func:`kafka_frame` bound to the test session."""
    return lambda records: kafka_frame(spark, records)


def readings_frame_from(spark: SparkSession, readings: Sequence[dict[str, Any]]) -> DataFrame:
    """A DataFrame of valid readings (``READING_COLUMNS``) from dicts with an aware ``event_time``.

    Missing keys default to a temperature sensor in factory-A, topic sensor-raw, partition 0, offset = index.
    """
    rows = [
        (
            r["sensor_id"],
            r.get("sensor_type", "temperature"),
            r.get("location", "factory-A"),
            float(r["value"]),
            r.get("unit", "celsius"),
            micros(r["event_time"]),
            r.get("topic", TOPIC),
            r.get("partition", 0),
            r.get("offset", index),
        )
        for index, r in enumerate(readings)
    ]
    ddl = (
        "sensor_id string, sensor_type string, location string, value double, unit string, event_micros long,"
        " topic string, partition int, offset long"
    )
    frame = spark.createDataFrame(rows, ddl)
    return frame.select(
        "sensor_id",
        "sensor_type",
        "location",
        "value",
        "unit",
        F.timestamp_micros("event_micros").alias("event_time"),
        "topic",
        "partition",
        "offset",
    )
