"""`stack down` / `stack up` in the middle of a day: nothing lost, nothing duplicated, the hour's numbers exact."""

from __future__ import annotations

import datetime as dt
import uuid

import dagster as dg
import pytest

from iot_platform import tables
from iot_platform.clients.iceberg import load_catalog
from iot_platform.clients.kafka import topic_watermarks
from iot_platform.jobs import HOURLY_STATS_JOB, INGEST_JOB
from iot_platform.pipelines.sensor_readings.plan import committed_offsets
from iot_platform.settings import Settings
from iot_platform.stack.stack import Stack
from iot_platform_tests.integration.pipeline_support import (
    distinct_readings,
    fresh_hour,
    hour_key,
    materialization_metadata,
    own_topic,
    produce,
    reading,
    run_job,
    stored_readings,
)
from iot_platform_tests.integration.test_hourly_stats import stored_stats

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


def _counts(settings: Settings, prefix: str) -> dict[tuple[dt.datetime, str], int]:
    """``reading_count`` of each stored (hour, sensor) of the sensors whose id starts with ``prefix``."""
    return {key: row["reading_count"] for key, row in stored_stats(settings, prefix).items()}


def test_stack_down_and_up_mid_day_loses_and_duplicates_nothing(stack_settings: Settings) -> None:
    prefix = f"R{uuid.uuid4().hex[:6].upper()}"
    hour = fresh_hour()
    ingested, pending, after = (_readings(prefix, hour, step) for step in range(3))
    with own_topic(stack_settings, "restart") as settings, dg.instance_for_test() as instance:
        produce(settings, ingested)
        assert run_job(INGEST_JOB, instance).success
        assert run_job(HOURLY_STATS_JOB, instance, partition_key=hour_key(hour)).success
        assert _counts(settings, prefix) == {(hour, f"{prefix}-{s}"): PER_STEP for s in range(1, SENSORS + 1)}
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
        sent = [*ingested, *pending, *after]
        assert len(distinct_readings(sent)) == len(sent)  # every reading sent is its own, so each is stored once
        assert stored_readings(settings, prefix) == distinct_readings(sent)
        table = load_catalog(settings).load_table(tables.SENSOR_READINGS)
        ends = {p: high for p, (_, high) in topic_watermarks(settings.bootstrap_servers, settings.kafka_topic).items()}
        assert committed_offsets(table, settings.kafka_topic)[0] == ends

        assert run_job(HOURLY_STATS_JOB, instance, partition_key=hour_key(hour)).success
        assert _counts(settings, prefix) == {(hour, f"{prefix}-{s}"): 3 * PER_STEP for s in range(1, SENSORS + 1)}
