"""`stack down` / `stack up` in the middle of a day: nothing lost, nothing duplicated, the hour's numbers exact."""

from __future__ import annotations

import datetime as dt
import uuid

import dagster as dg
import pytest

from iot_platform import tables
from iot_platform.clients.iceberg import load_catalog
from iot_platform.jobs import HOURLY_STATS_JOB, INGEST_JOB
from iot_platform.pipelines.sensor_readings.plan import committed_offsets
from iot_platform.settings import Settings
from iot_platform.stack.stack import Stack
from iot_platform_tests.integration.pipeline_support import (
    fresh_hour,
    hour_key,
    materialization_metadata,
    own_topic,
    produce,
    reading,
    run_job,
)

pytestmark = pytest.mark.integration

SENSORS = 3
PER_STEP = 20
"""Readings per sensor in each of the three steps (ingested before, pending across, produced after the restart)."""


def _readings(prefix: str, hour: dt.datetime, step: int) -> list[dict[str, object]]:
    return [
        reading(f"{prefix}-{s}", hour + dt.timedelta(seconds=20 * i), 20.0 + s + i / 10)
        for s in range(1, SENSORS + 1)
        for i in range(step * PER_STEP, (step + 1) * PER_STEP)
    ]


def _stored(settings: Settings, prefix: str) -> list[tuple[str, dt.datetime, float]]:
    table = load_catalog(settings).load_table(tables.SENSOR_READINGS)
    rows = table.scan(row_filter=f"sensor_id LIKE '{prefix}%'").to_arrow().to_pylist()
    return sorted((r["sensor_id"], r["event_time"].astimezone(dt.UTC), r["value"]) for r in rows)


def _counts(settings: Settings, prefix: str) -> dict[str, int]:
    table = load_catalog(settings).load_table(tables.HOURLY_STATS)
    rows = table.scan(row_filter=f"sensor_id LIKE '{prefix}%'").to_arrow().to_pylist()
    assert len({r["sensor_id"] for r in rows}) == len(rows), "two rows of one sensor's hour"
    return {r["sensor_id"]: r["reading_count"] for r in rows}


def _high_watermarks(settings: Settings) -> dict[int, int]:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": settings.bootstrap_servers, "group.id": f"restart-{uuid.uuid4().hex}"})
    try:
        metadata = consumer.list_topics(settings.kafka_topic, timeout=15)
        partitions = sorted(metadata.topics[settings.kafka_topic].partitions)
        return {
            p: consumer.get_watermark_offsets(TopicPartition(settings.kafka_topic, p), timeout=15)[1]
            for p in partitions
        }
    finally:
        consumer.close()


def test_stack_down_and_up_mid_day_loses_and_duplicates_nothing(stack_settings: Settings) -> None:
    prefix = f"R{uuid.uuid4().hex[:6].upper()}"
    hour = fresh_hour()
    ingested, pending, after = (_readings(prefix, hour, step) for step in range(3))
    with own_topic(stack_settings, "restart") as settings, dg.instance_for_test() as instance:
        produce(settings, ingested)
        assert run_job(INGEST_JOB, instance).success
        assert run_job(HOURLY_STATS_JOB, instance, partition_key=hour_key(hour)).success
        assert _counts(settings, prefix) == {f"{prefix}-{s}": PER_STEP for s in range(1, SENSORS + 1)}
        produce(settings, pending)  # on the topic, not yet ingested, when the stack goes down

        stack = Stack(stack_settings)
        stopped = stack.down()
        assert {"kafka", "spark-master", "spark-worker", "spark-connect", "dagster-daemon", "api"} <= set(stopped)
        assert not stack.service("kafka").running()
        stack.up(without=["generator"])

        produce(settings, after)
        result = run_job(INGEST_JOB, instance)
        assert result.success
        meta = materialization_metadata(result, "sensor_readings")
        assert (meta["stored"], meta["duplicates_dropped"], meta["duplicates_already_stored"]) == (
            len(pending) + len(after),
            0,
            0,
        )
        expected = sorted(
            (r["sensor_id"], dt.datetime.fromisoformat(str(r["timestamp"]).replace("Z", "+00:00")), r["value"])
            for r in [*ingested, *pending, *after]
        )
        assert _stored(settings, prefix) == expected
        table = load_catalog(settings).load_table(tables.SENSOR_READINGS)
        assert committed_offsets(table, settings.kafka_topic)[0] == _high_watermarks(settings)

        assert run_job(HOURLY_STATS_JOB, instance, partition_key=hour_key(hour)).success
        assert _counts(settings, prefix) == {f"{prefix}-{s}": 3 * PER_STEP for s in range(1, SENSORS + 1)}
