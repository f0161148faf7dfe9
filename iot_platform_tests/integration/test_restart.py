"""A restart in the middle of the day: ``stack down`` then ``stack up`` of the session's stack loses nothing and
duplicates nothing, and the services' logs (bounded by the rotating writer) still read through ``stack logs``.

The test restarts the shared session stack and waits until every service is healthy again, so the tests after it
find the stack as they expect.
"""

from __future__ import annotations

import datetime as dt
import uuid

import dagster as dg
import pytest

from iot_platform import tables
from iot_platform.clients.iceberg import load_catalog
from iot_platform.jobs import INGEST_JOB
from iot_platform.settings import Settings
from iot_platform.stack.log_writer import tail_lines
from iot_platform.stack.stack import Stack
from iot_platform_tests.integration.pipeline_support import (
    fresh_hour,
    materialization_metadata,
    own_topic,
    produce,
    reading,
    run_job,
)

pytestmark = pytest.mark.integration


def _offsets(settings: Settings, prefix: str) -> list[tuple[int, int]]:
    table = load_catalog(settings).load_table(tables.SENSOR_READINGS)
    rows = table.scan(row_filter=f"sensor_id LIKE '{prefix}%'").to_arrow().to_pylist()
    return sorted((row["kafka_partition"], row["kafka_offset"]) for row in rows)


def test_down_and_up_mid_day_loses_and_duplicates_nothing(stack_settings: Settings) -> None:
    prefix = f"U{uuid.uuid4().hex[:6].upper()}"
    hour = fresh_hour(1)
    before = [reading(f"{prefix}-{i % 3}", hour + dt.timedelta(seconds=i), float(i)) for i in range(60)]
    after = [reading(f"{prefix}-{i % 3}", hour + dt.timedelta(minutes=30, seconds=i), 1.0) for i in range(45)]
    stack = Stack(stack_settings)
    with own_topic(stack_settings, "restart") as settings:
        produce(settings, before)
        with dg.instance_for_test() as instance:
            assert run_job(INGEST_JOB, instance).success
        assert len(_offsets(settings, prefix)) == 60
        produce(settings, after[:15])  # published before the restart, ingested after it

        stack.down()
        try:
            left_running = [service.name for service in stack.services if service.record() is not None]
        finally:
            stack.up(without=["generator"])  # whatever happens, the next tests find the stack up
        assert left_running == []

        produce(settings, after[15:])
        with dg.instance_for_test() as instance:
            result = run_job(INGEST_JOB, instance)
        assert result.success
        meta = materialization_metadata(result, "sensor_readings")
        assert (meta["stored"], meta["duplicates_dropped"]) == (45, 0)
        stored = _offsets(settings, prefix)
        assert len(stored) == len(set(stored)) == 105, "no duplicate"
        for partition in {p for p, _ in stored}:
            offsets = [o for p, o in stored if p == partition]
            assert offsets == list(range(len(offsets))), f"no gap in partition {partition}"

    kafka_log = stack.service("kafka").log_file
    banners = [line for line in tail_lines(kafka_log, 100_000) if line.startswith("=== ") and "starting" in line]
    assert len(banners) >= 2, "the log holds both starts"
    statuses = stack.status_document()["services"]
    assert all(info["state"] in ("healthy", "off") for info in statuses.values()), statuses  # type: ignore[union-attr]
