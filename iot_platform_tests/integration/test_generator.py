"""The generator against the real broker: exact counts, exact backfill timestamps, no loss or duplicate across
a broker restart. Each test publishes to its own topic, through the real ``iot-platform generator`` command."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaException, TopicPartition

from iot_platform.generator.readings import READING_FIELDS
from iot_platform.registry import load_registry
from iot_platform.settings import Settings
from iot_platform.stack.service import settings_environment
from iot_platform.stack.stack import Stack

pytestmark = pytest.mark.integration

SUMMARY = re.compile(r"produced=(\d+) delivered=(\d+) failed=(\d+) unconfirmed=(\d+)")
TYPES = {"sensor_id": str, "sensor_type": str, "location": str, "value": float, "unit": str, "timestamp": str}


def unique_topic(name: str) -> str:
    return f"gen-test-{name}-{uuid.uuid4().hex[:8]}"


def generator_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "iot_platform", "generator", *args]


def generator_env(settings: Settings, topic: str) -> dict[str, str]:
    return {**os.environ, **settings_environment(settings), "IOT_KAFKA_TOPIC": topic}


def run_generator(settings: Settings, topic: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        generator_command(*args), env=generator_env(settings, topic), capture_output=True, text=True, timeout=300
    )


def summary(stderr: str) -> tuple[int, int, int, int]:
    found = SUMMARY.findall(stderr)
    assert found, f"no summary line in the generator's log:\n{stderr[-2000:]}"
    produced, delivered, failed, unconfirmed = (int(v) for v in found[-1])
    return produced, delivered, failed, unconfirmed


def _consumer(settings: Settings) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": settings.bootstrap_servers,
            "group.id": f"gen-test-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        }
    )


def records_on_topic(settings: Settings, topic: str) -> int:
    """Records between the low and high watermarks of every partition (one offset per record: no transactions)."""
    consumer = _consumer(settings)
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        total = 0
        for partition in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            total += high - low
        return total
    finally:
        consumer.close()


def read_topic(settings: Settings, topic: str) -> list[tuple[bytes, dict[str, Any], int]]:
    """Every record of the topic as (key, parsed value, partition)."""
    expected = records_on_topic(settings, topic)
    consumer = _consumer(settings)
    out: list[tuple[bytes, dict[str, Any], int]] = []
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        deadline = time.monotonic() + 120
        while len(out) < expected and time.monotonic() < deadline:
            for message in consumer.consume(10_000, timeout=1.0):
                assert message.error() is None, message.error()
                out.append((message.key(), json.loads(message.value()), message.partition()))
    finally:
        consumer.close()
    assert len(out) == expected
    return out


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll ``condition`` until true; Kafka errors (a broker still electing leaders) count as not yet."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if condition():
                return
        except KafkaException:
            pass
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def test_n_readings_in_exactly_n_records_with_keys_and_schema(stack_settings: Settings) -> None:
    topic = unique_topic("count")
    result = run_generator(stack_settings, topic, "run", "--count", "1000", "--rate", "4000", "--seed", "5")
    assert result.returncode == 0, result.stderr[-2000:]
    assert summary(result.stderr) == (1000, 1000, 0, 0)

    records = read_topic(stack_settings, topic)
    assert len(records) == 1000
    registry = load_registry()
    sensors = {
        sensor.id: (sensor.type, sensor.location, registry.types[sensor.type].unit) for sensor in registry.sensors
    }
    partitions_of: dict[str, set[int]] = defaultdict(set)
    for key, message, partition in records:
        assert tuple(message) == READING_FIELDS
        assert {name: type(message[name]) for name in READING_FIELDS} == TYPES
        assert math.isfinite(message["value"])
        assert key.decode("utf-8") == message["sensor_id"]
        assert (message["sensor_type"], message["location"], message["unit"]) == sensors[message["sensor_id"]]
        assert dt.datetime.fromisoformat(message["timestamp"]).tzinfo == dt.UTC
        partitions_of[message["sensor_id"]].add(partition)
    assert len({(m["sensor_id"], m["timestamp"]) for _k, m, _p in records}) == 1000
    # Every sensor read (1000 readings / 12 sensors) and each sensor's readings stay in one partition (ordered).
    assert set(partitions_of) == set(sensors)
    assert all(len(parts) == 1 for parts in partitions_of.values())


def test_backfill_of_a_window_produces_exactly_the_expected_timestamps(stack_settings: Settings) -> None:
    topic = unique_topic("backfill")
    start = dt.datetime(2026, 11, 24, 9, 59, 59, 750_000, tzinfo=dt.UTC)
    end = dt.datetime(2026, 11, 24, 10, 5, tzinfo=dt.UTC)
    result = run_generator(
        stack_settings, topic, "backfill", "--start", "2026-11-24T09:59:59.750Z", "--end", "2026-11-24T10:05:00Z"
    )
    assert result.returncode == 0, result.stderr[-2000:]

    # Independent oracle: every 0.5 s from start while before end (IOT_GENERATOR_INTERVAL_S default).
    expected: list[str] = []
    at = start
    while at < end:
        expected.append(at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z")
        at += dt.timedelta(milliseconds=500)
    assert len(expected) == 601 and expected[-1] == "2026-11-24T10:04:59.750Z"

    sensors = [sensor.id for sensor in load_registry().sensors]
    assert summary(result.stderr) == (601 * len(sensors), 601 * len(sensors), 0, 0)
    stamps: dict[str, list[str]] = defaultdict(list)
    for _key, message, _partition in read_topic(stack_settings, topic):
        stamps[message["sensor_id"]].append(message["timestamp"])
    assert set(stamps) == set(sensors)
    for sensor_id in sensors:
        assert sorted(stamps[sensor_id]) == expected, sensor_id


@pytest.mark.parametrize("outage", ["stop", "kill"])
def test_broker_restart_mid_run_loses_and_duplicates_nothing(stack_settings: Settings, outage: str) -> None:
    """A clean broker restart (SIGTERM) and a crash (SIGKILL) while producing a few thousand readings/s."""
    topic = unique_topic(f"restart-{outage}")
    kafka = Stack(stack_settings).service("kafka")
    process = subprocess.Popen(
        generator_command("run", "--rate", "3000", "--seed", "9"),
        env=generator_env(stack_settings, topic),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: records_on_topic(stack_settings, topic) >= 6000, 60, "the first 6000 readings")
        before_restart = records_on_topic(stack_settings, topic)
        if outage == "stop":
            assert kafka.stop(), "the broker was not running"
        else:
            record = kafka.record()
            assert record is not None and record.alive(), "the broker was not running"
            # The recorded pid leads the service's process group (the log writer and the broker's JVM): a crash
            # takes the broker down with nothing of it left holding the port.
            os.killpg(record.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):  # reap it when this process started the stack
                os.waitpid(record.pid, 0)
            wait_for(lambda: not kafka.running(), 30, "the broker to die")
        time.sleep(3)  # the generator keeps producing into its queue while the broker is down
        assert process.poll() is None, "the generator exited while the broker was down"
        kafka.start()
        kafka.wait_healthy(stack_settings.stack_start_timeout_s)
        wait_for(
            lambda: records_on_topic(stack_settings, topic) >= before_restart + 15_000, 120, "readings after restart"
        )
    finally:
        if not kafka.running():
            kafka.start()
            kafka.wait_healthy(stack_settings.stack_start_timeout_s)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=120)

    assert process.returncode == 0, stderr[-3000:]
    assert "received SIGTERM" in stderr
    # The outage was real: the producer saw the broker go away.
    assert re.search(r"WARNING iot_platform\.generator(\.kafka)?: .*(refused|down|transport|Disconnected)", stderr)
    produced, delivered, failed, unconfirmed = summary(stderr)
    assert (failed, unconfirmed) == (0, 0) and delivered == produced
    assert records_on_topic(stack_settings, topic) == produced

    pairs = Counter((m["sensor_id"], m["timestamp"]) for _k, m, _p in read_topic(stack_settings, topic))
    assert sum(pairs.values()) == produced
    duplicates = [pair for pair, n in pairs.items() if n > 1]
    assert duplicates == []


def test_interrupted_backfill_flushes_and_exits_non_zero_saying_how_to_resume(stack_settings: Settings) -> None:
    topic = unique_topic("interrupt")
    process = subprocess.Popen(
        generator_command("backfill", "--start", "2026-01-01", "--end", "2026-02-01", "--seed", "4"),
        env=generator_env(stack_settings, topic),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: records_on_topic(stack_settings, topic) >= 10_000, 60, "the backfill to start")
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
    assert process.returncode == 1
    produced, delivered, failed, unconfirmed = summary(stderr)
    assert delivered == produced and (failed, unconfirmed) == (0, 0)
    assert records_on_topic(stack_settings, topic) == produced
    last_line = stderr.strip().splitlines()[-1]
    assert last_line.startswith(f"error: backfill stopped (received SIGINT) after {produced} of 64281600 readings")
    assert "--seed 4" in last_line
