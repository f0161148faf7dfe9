"""Helpers for pipeline tests on the real stack: own topic, known readings, runs of the real Dagster jobs."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import dagster as dg

from iot_platform import tables
from iot_platform.clients.iceberg import load_catalog
from iot_platform.settings import Settings, load_settings
from iot_platform.stack.kafka import ensure_topic
from iot_platform.stack.service import exported_environment, settings_environment


def reading(sensor_id: str, ts: dt.datetime, value: float, sensor_type: str = "temperature") -> dict[str, Any]:
    """A valid reading in the contract's shape."""
    unit = {"temperature": "celsius", "humidity": "percent", "pressure": "hPa"}[sensor_type]
    return {
        "sensor_id": sensor_id,
        "sensor_type": sensor_type,
        "location": "factory-T",
        "value": value,
        "unit": unit,
        "timestamp": ts.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
    }


def produce(
    settings: Settings,
    records: Sequence[dict[str, Any] | str | bytes],
    partition: int | None = None,
    kafka_time: dt.datetime | None = None,
    key: bytes | None = None,
) -> None:
    """Publish records (dicts as JSON, strings and bytes as they are) and wait for every delivery.

    ``kafka_time`` sets the Kafka record time (default: now, set by the producer); ``key`` the record key (default:
    a dict's sensor id, ``malformed`` for the others).
    """
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": settings.bootstrap_servers, "enable.idempotence": True, "acks": "all"})
    for record in records:
        if isinstance(record, dict):
            value = json.dumps(record).encode()
            record_key = str(record.get("sensor_id", "")).encode()
        else:
            value = record.encode() if isinstance(record, str) else record
            record_key = b"malformed"
        extra: dict[str, Any] = {}
        if partition is not None:
            extra["partition"] = partition
        if kafka_time is not None:
            extra["timestamp"] = int(kafka_time.timestamp() * 1000)
        while True:
            try:
                producer.produce(settings.kafka_topic, key=key if key is not None else record_key, value=value, **extra)
                break
            except BufferError:
                producer.poll(1)  # the local queue is full: let deliveries drain it, then send again
        producer.poll(0)
    assert producer.flush(30) == 0


@contextmanager
def own_topic(stack_settings: Settings, name: str, retention_hours: int | None = None) -> Iterator[Settings]:
    """Settings (also exported to the environment) pointing at a fresh topic of the test stack.

    ``retention_hours`` overrides the topic's retention: Kafka deletes records whose record time is older than
    that, so records sent with a record time in a past test hour need a retention reaching back to it.
    """
    topic = f"{name}-{uuid.uuid4().hex[:8]}"
    env = {**settings_environment(stack_settings), "IOT_KAFKA_TOPIC": topic}
    if retention_hours is not None:
        env["IOT_KAFKA_RETENTION_HOURS"] = str(retention_hours)
    with exported_environment(env):
        settings = load_settings()
        ensure_topic(settings)
        yield settings


def run_job(
    job_name: str, instance: dg.DagsterInstance, partition_key: str | None = None, **kwargs: Any
) -> dg.ExecuteInProcessResult:
    """Run one of the platform's jobs in this process, exactly as defined for the UI and schedules."""
    from iot_platform.definitions import build_definitions

    job = build_definitions(load_settings()).resolve_job_def(job_name)
    return job.execute_in_process(instance=instance, partition_key=partition_key, raise_on_error=False, **kwargs)


def materialization_metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, Any]:
    for event in result.get_asset_materialization_events():
        if event.asset_key == dg.AssetKey(asset):
            return {key: value.value for key, value in event.materialization.metadata.items()}
    raise AssertionError(f"no materialization of {asset}")


def stored_readings(settings: Settings, prefix: str) -> list[tuple[str, dt.datetime, float]]:
    """``(sensor_id, event_time, value)`` of the stored readings of the sensors whose id starts with ``prefix``."""
    table = load_catalog(settings).load_table(tables.SENSOR_READINGS)
    rows = table.scan(row_filter=f"sensor_id LIKE '{prefix}%'").to_arrow().to_pylist()
    return sorted((r["sensor_id"], r["event_time"].astimezone(dt.UTC), r["value"]) for r in rows)


def distinct_readings(readings: Sequence[dict[str, Any]]) -> list[tuple[str, dt.datetime, float]]:
    """The distinct readings (first of each (sensor_id, timestamp) wins), as :func:`stored_readings` lists them."""
    first: dict[tuple[str, str], dict[str, Any]] = {}
    for r in readings:
        first.setdefault((r["sensor_id"], r["timestamp"]), r)
    return sorted(
        (r["sensor_id"], dt.datetime.fromisoformat(r["timestamp"].replace("Z", "+00:00")), r["value"])
        for r in first.values()
    )


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)  # type: ignore[misc]


def fresh_hour(hours_after: int = 0) -> dt.datetime:
    """A random UTC hour of 2025 (with room for ``hours_after`` more), so runs on a kept test stack don't meet."""
    import random

    return utc(2025, 1, 1) + dt.timedelta(hours=random.SystemRandom().randrange(0, 8700 - hours_after))


def hour_key(hour: dt.datetime) -> str:
    """The hourly_stats partition key of an hour."""
    return hour.strftime("%Y-%m-%d-%H:00")
