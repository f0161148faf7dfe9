"""Ingestion on the real stack: exactly the valid unique readings stored, every malformed one rejected once."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
import uuid

import dagster as dg
import pytest

from iot_platform import offsets, tables
from iot_platform.clients.iceberg import load_catalog
from iot_platform.jobs import INGEST_JOB
from iot_platform.pipelines.sensor_readings.plan import committed_offsets
from iot_platform.settings import Settings
from iot_platform.stack.service import settings_environment
from iot_platform_tests.conftest import REPO_ROOT
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

pytestmark = pytest.mark.integration

MALFORMED: list[tuple[bytes, str]] = [
    (b"", "empty_payload"),
    (b"\xff\xfe not utf-8", "invalid_utf8"),
    (b"{not json", "not_json"),
    (b"[1, 2, 3]", "not_object"),
    (b'{"sensor_id": "TEMP-001", "value": 1.0}', "missing_field"),
    (
        b'{"sensor_id": "X-1", "sensor_type": "temperature", "location": "a", "value": "25.5", "unit": "celsius",'
        b' "timestamp": "2025-02-01T10:00:00Z"}',
        "wrong_type",
    ),
    (
        b'{"sensor_id": "X-1", "sensor_type": "temperature", "location": "a", "value": NaN, "unit": "celsius",'
        b' "timestamp": "2025-02-01T10:00:00Z"}',
        "non_finite_value",
    ),
    (
        b'{"sensor_id": "X-1", "sensor_type": "temperature", "location": "a", "value": 1.0, "unit": "celsius",'
        b' "timestamp": "2025-02-30T10:00:00Z"}',
        "bad_timestamp",
    ),
]


def _rejected(settings: Settings) -> list[tuple[int, int, str]]:
    table = load_catalog(settings).load_table(tables.REJECTED_READINGS)
    rows = table.scan(row_filter=f"kafka_topic == '{settings.kafka_topic}'").to_arrow().to_pylist()
    return sorted((r["kafka_partition"], r["kafka_offset"], r["reason"]) for r in rows)


def test_ingestion_keeps_valid_unique_readings_and_rejects_malformed_with_reasons(stack_settings: Settings) -> None:
    prefix = f"T{uuid.uuid4().hex[:6].upper()}"
    base = fresh_hour()
    valid = [
        reading(f"{prefix}-{s}", base + dt.timedelta(seconds=30 * i), 20.0 + i + s) for s in (1, 2) for i in range(5)
    ]
    duplicates = [dict(valid[0], value=99.0), valid[3]]  # same (sensor_id, timestamp): the same reading
    # Valid JSON in another layout (keys reordered, indented) takes the JSON parse; the same reading in both
    # layouts is still one reading.
    extra = reading(f"{prefix}-3", base, 7.5)
    other_layout = [
        json.dumps(dict(reversed(list(extra.items()))), indent=1),
        json.dumps(dict(reversed(list(dict(valid[2], value=77.0).items())))),
    ]
    with own_topic(stack_settings, "ingest") as settings, dg.instance_for_test() as instance:
        produce(settings, valid[:5], partition=0)
        produce(settings, valid[5:] + duplicates + other_layout, partition=1)
        produce(settings, [payload for payload, _ in MALFORMED], partition=2)

        result = run_job(INGEST_JOB, instance)
        assert result.success
        meta = materialization_metadata(result, "sensor_readings")
        assert meta["readings_in"] == len(valid) + len(duplicates) + len(other_layout) + len(MALFORMED)
        assert meta["stored"] == len(valid) + 1
        assert meta["duplicates_dropped"] == 3
        assert meta["rejected"] == len(MALFORMED)
        assert meta["rejected_by_reason"] == {reason: 1 for _, reason in MALFORMED}
        assert meta["hours_touched"] == [hour_key(base)]
        assert meta["spark_app_id"].startswith("app-")

        expected = distinct_readings([*valid, extra])
        assert stored_readings(settings, prefix) == expected  # the first of each duplicate pair wins (lowest offset)
        assert _rejected(settings) == sorted((2, offset, reason) for offset, (_, reason) in enumerate(MALFORMED))

        table = load_catalog(settings).load_table(tables.SENSOR_READINGS)
        recorded, snapshot_id = committed_offsets(table, settings.kafka_topic)
        assert recorded == {0: 5, 1: 9, 2: len(MALFORMED)}
        summary = table.current_snapshot().summary.additional_properties  # type: ignore[union-attr]
        assert offsets.decode_summary(summary[offsets.SUMMARY_KEY], settings.kafka_topic) == recorded

        again = run_job(INGEST_JOB, instance)  # nothing new: nothing changes
        assert again.success
        assert materialization_metadata(again, "sensor_readings")["readings_in"] == 0
        table.refresh()
        assert table.current_snapshot().snapshot_id == snapshot_id  # type: ignore[union-attr]

        # Readings already stored arriving again (a producer retry, a replay) are dropped; offsets still advance.
        produce(settings, [valid[1], valid[6]], partition=0)
        replay = run_job(INGEST_JOB, instance)
        assert replay.success
        replay_meta = materialization_metadata(replay, "sensor_readings")
        assert (replay_meta["stored"], replay_meta["duplicates_already_stored"]) == (0, 2)
        table.refresh()
        assert committed_offsets(table, settings.kafka_topic)[0] == {0: 7, 1: 9, 2: len(MALFORMED)}
        assert stored_readings(settings, prefix) == expected


CRASH_BEFORE_READINGS_COMMIT = textwrap.dedent(
    """
    import os, sys
    from pyspark.sql.readwriter import DataFrameWriterV2
    from iot_platform import offsets
    original_option, original_append = DataFrameWriterV2.option, DataFrameWriterV2.append

    def recording_option(self, key, value):
        if key == "snapshot-property." + offsets.SUMMARY_KEY:
            self._carries_offsets = True
        return original_option(self, key, value)

    def crashing_append(self):
        if getattr(self, "_carries_offsets", False):
            os._exit(17)  # the process dies: the commit of readings and offsets never happens
        return original_append(self)

    DataFrameWriterV2.option = recording_option
    DataFrameWriterV2.append = crashing_append
    from iot_platform.settings import load_settings
    from iot_platform.clients.iceberg import load_catalog
    from iot_platform.clients.kafka import topic_watermarks
    from iot_platform.clients.spark import spark_session
    from iot_platform.pipelines.sensor_readings.run import run_ingestion
    settings = load_settings()
    with spark_session(settings, "iot-platform:ingest:crash-test") as spark:
        run_ingestion(
            spark,
            load_catalog(settings),
            lambda: topic_watermarks(settings.bootstrap_servers, settings.kafka_topic),
            topic=settings.kafka_topic,
            bootstrap_servers=settings.bootstrap_servers,
            run_id="crash-test",
        )
    sys.exit(0)
    """
)


def test_a_run_that_dies_before_its_commit_leaves_nothing_partial_and_the_next_run_is_exact(
    stack_settings: Settings,
) -> None:
    prefix = f"K{uuid.uuid4().hex[:6].upper()}"
    base = fresh_hour()
    valid = [reading(f"{prefix}-1", base + dt.timedelta(seconds=i), float(i)) for i in range(50)]
    with own_topic(stack_settings, "crash") as settings, dg.instance_for_test() as instance:
        produce(settings, valid, partition=0)
        produce(settings, [b"garbage", b"[]"], partition=1)
        table = load_catalog(settings).load_table(tables.SENSOR_READINGS)
        before = table.current_snapshot()

        env = {**os.environ, **settings_environment(settings)}
        crashed = subprocess.run(
            [sys.executable, "-c", CRASH_BEFORE_READINGS_COMMIT],
            env=env,
            cwd=REPO_ROOT,
            capture_output=True,
            timeout=600,
        )
        assert crashed.returncode == 17, crashed.stderr.decode()[-2000:]
        table.refresh()
        after = table.current_snapshot()
        assert (after.snapshot_id if after else None) == (before.snapshot_id if before else None)
        assert stored_readings(settings, prefix) == []
        assert len(_rejected(settings)) == 2  # rejected records were committed before the crash

        result = run_job(INGEST_JOB, instance)
        assert result.success
        meta = materialization_metadata(result, "sensor_readings")
        assert meta["stored"] == 50
        assert materialization_metadata(result, "rejected_readings")["rejected_new"] == 0
        assert len(stored_readings(settings, prefix)) == 50
        assert _rejected(settings) == [(1, 0, "not_json"), (1, 1, "not_object")]


def _delete_before(settings: Settings, partition: int, offset: int) -> None:
    """Delete a partition's records below ``offset``, as retention does."""
    from confluent_kafka import TopicPartition
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers})
    futures = admin.delete_records([TopicPartition(settings.kafka_topic, partition, offset)])
    for future in futures.values():
        future.result(timeout=30)


def test_records_lost_to_retention_stop_the_run_until_the_gap_is_accepted(stack_settings: Settings) -> None:
    prefix = f"G{uuid.uuid4().hex[:6].upper()}"
    base = fresh_hour()
    readings = [reading(f"{prefix}-1", base + dt.timedelta(seconds=i), float(i)) for i in range(20)]
    ingest = "ingest_readings"
    allow = {"ops": {ingest: {"config": {"allow_retention_gap": True}}}}
    with own_topic(stack_settings, "gap") as settings, dg.instance_for_test() as instance:
        produce(settings, readings[:5], partition=0)
        assert run_job(INGEST_JOB, instance).success

        produce(settings, readings[5:10], partition=0)
        _delete_before(settings, 0, 8)  # offsets 5, 6, 7 were never ingested
        stopped = run_job(INGEST_JOB, instance)
        assert not stopped.success
        failure = stopped.get_step_failure_events()[0].event_specific_data.error  # type: ignore[union-attr]
        assert "partition 0: offsets 5..7 (3 records)" in failure.to_string()
        table = load_catalog(settings).load_table(tables.SENSOR_READINGS)
        assert committed_offsets(table, settings.kafka_topic)[0] == {0: 5, 1: 0, 2: 0}  # nothing written

        accepted = run_job(INGEST_JOB, instance, run_config=allow)
        assert accepted.success
        meta = materialization_metadata(accepted, "sensor_readings")
        assert meta["retention_gaps"] == [{"partition": 0, "from": 5, "to": 8, "lost": 3}]
        assert meta["stored"] == 2
        assert [value for _, _, value in stored_readings(settings, prefix)] == [0.0, 1.0, 2.0, 3.0, 4.0, 8.0, 9.0]

        # Everything new already deleted: nothing left to read, the offsets still move past the gap.
        produce(settings, readings[10:], partition=0)
        _delete_before(settings, 0, 20)
        emptied = run_job(INGEST_JOB, instance, run_config=allow)
        assert emptied.success
        assert materialization_metadata(emptied, "sensor_readings")["stored"] == 0
        table.refresh()
        assert committed_offsets(table, settings.kafka_topic)[0] == {0: 20, 1: 0, 2: 0}
