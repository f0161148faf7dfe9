"""Service logic with a fake producer: pacing, counts, BufferError retry, stop, failure accounting.

Kafka itself (idempotence, broker restarts) is exercised in ``iot_platform_tests/integration/test_generator.py``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import signal
import socket
import time
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from iot_platform.errors import ConfigurationError, ServiceUnavailable
from iot_platform.generator.faults import Fault, FaultKind
from iot_platform.generator.readings import format_timestamp, to_epoch_ms
from iot_platform.generator.sensors_config import load_sensor_set
from iot_platform.generator.service import (
    PRODUCER_CONFIG,
    DeliveryFailed,
    GeneratorService,
    producer_config,
    stop_on_signals,
)
from iot_platform.settings import Settings, load_settings

WALL_START = dt.datetime(2026, 11, 24, 10, 30, 0, 123_000, tzinfo=dt.UTC).timestamp()


class FakeClock:
    """Monotonic time that moves only when something waits (or by ``step`` per reading of the clock)."""

    def __init__(self, step: float = 0.0) -> None:
        self.now = 1000.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


class FakeProducer:
    """Queues records; ``poll`` delivers them (or fails chosen ones) and lets the fake clock advance."""

    def __init__(
        self,
        config: dict[str, Any],
        clock: FakeClock,
        *,
        capacity: int | None = None,
        stalled: bool = False,
        fail_at: int | None = None,
        refuse_at: int | None = None,
        on_produce: Callable[[int], None] | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.capacity = capacity
        self.stalled = stalled
        self.fail_at = fail_at
        self.refuse_at = refuse_at
        self.on_produce = on_produce
        self.queue: list[tuple[str, bytes, bytes]] = []
        self.delivered: list[tuple[str, bytes, bytes]] = []
        self.accepted = 0
        self.buffer_errors = 0
        self.purged = 0

    def produce(self, topic: str, value: bytes, key: bytes) -> None:
        if self.capacity is not None and len(self.queue) >= self.capacity:
            self.buffer_errors += 1
            raise BufferError("Local: Queue full")
        if self.refuse_at is not None and self.accepted + 1 == self.refuse_at:
            raise KafkaException(KafkaError(KafkaError._UNKNOWN_TOPIC))
        self.queue.append((topic, key, value))
        self.accepted += 1
        if self.on_produce is not None:
            self.on_produce(self.accepted)

    def poll(self, timeout: float = 0) -> int:
        self.clock.now += timeout
        if self.stalled:
            return 0
        served = 0
        for record in self.queue:
            served += 1
            if self.fail_at is not None and len(self.delivered) + served == self.fail_at:
                self.config["on_delivery"](KafkaError(KafkaError._MSG_TIMED_OUT), None)
            else:
                self.delivered.append(record)
        self.queue.clear()
        return served

    def flush(self, timeout: float = 0) -> int:
        self.poll(0)
        return len(self.queue)

    def purge(self) -> None:
        self.purged += len(self.queue)
        self.queue.clear()

    def __len__(self) -> int:
        return len(self.queue)


def make_service(
    clock: FakeClock | None = None,
    *,
    settings: Settings | None = None,
    faults: list[Fault] | None = None,
    **producer_kwargs: Any,
) -> tuple[GeneratorService, list[FakeProducer]]:
    clock = clock or FakeClock()
    made: list[FakeProducer] = []

    def factory(config: dict[str, Any]) -> FakeProducer:
        producer = FakeProducer(config, clock, **producer_kwargs)
        made.append(producer)
        return producer

    service = GeneratorService(
        settings or load_settings(kafka_topic="test-topic"),
        sensor_set=load_sensor_set(),
        seed=1,
        faults=faults,
        producer_factory=factory,
        admin_factory=None,
        clock=clock,
        wall_clock=lambda: WALL_START,
    )
    return service, made


def messages(producer: FakeProducer) -> list[dict[str, Any]]:
    return [json.loads(value) for _topic, _key, value in producer.delivered]


def test_producer_is_idempotent_with_acks_all() -> None:
    config = producer_config(load_settings(kafka_bootstrap_servers="broker:9092"))
    assert config["enable.idempotence"] is True
    assert config["acks"] == "all"
    assert config["bootstrap.servers"] == "broker:9092"
    assert producer_config(load_settings(), {"linger.ms": 5})["linger.ms"] == 5
    assert PRODUCER_CONFIG["linger.ms"] != 5  # overrides do not leak into the defaults


def test_live_run_paces_at_the_interval_with_aligned_event_times() -> None:
    clock = FakeClock()
    service, made = make_service(clock)
    began = clock.now
    report = service.run_live(count=36)
    producer = made[0]
    assert report.ok and report.produced == report.delivered == 36
    stamps = sorted({m["timestamp"] for m in messages(producer)})
    # 10:30:00.123 -> first tick on the next multiple of 0.5 s, then every 0.5 s.
    assert stamps == ["2026-11-24T10:30:00.500Z", "2026-11-24T10:30:01.000Z", "2026-11-24T10:30:01.500Z"]
    assert all(topic == "test-topic" for topic, _k, _v in producer.delivered)
    # Waited for each tick: 0.377 s to the first, 0.5 s to each next.
    assert clock.now - began == pytest.approx(1.377, abs=0.01)


def test_rate_sets_total_readings_per_second() -> None:
    clock = FakeClock()
    service, made = make_service(clock)
    began = clock.now
    service.run_live(rate=120, count=120)  # 12 sensors -> each every 0.1 s
    stamps = sorted({m["timestamp"] for m in messages(made[0])})
    assert len(stamps) == 10
    assert stamps[:2] == ["2026-11-24T10:30:00.200Z", "2026-11-24T10:30:00.300Z"]
    assert clock.now - began == pytest.approx(0.077 + 0.9, abs=0.01)


def test_count_stops_mid_tick_with_exactly_that_many_readings() -> None:
    service, made = make_service()
    report = service.run_live(rate=12_000, count=50)
    assert report.produced == 50 and len(made[0].delivered) == 50
    keys = [key for _t, key, _v in made[0].delivered]
    assert keys[48:] == [b"TEMP-001", b"TEMP-002"]


def test_backfill_publishes_every_tick_of_the_window_once() -> None:
    service, made = make_service()
    start = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)
    report = service.run_backfill(start, start + dt.timedelta(seconds=10))
    assert report.ok and report.expected == report.produced == 20 * 12
    pairs = [(m["sensor_id"], m["timestamp"]) for m in messages(made[0])]
    assert len(pairs) == len(set(pairs))
    expected_stamps = [format_timestamp(to_epoch_ms(start) + 500 * k) for k in range(20)]
    assert sorted({ts for _s, ts in pairs}) == expected_stamps
    assert all(key.decode() == json.loads(value)["sensor_id"] for _t, key, value in made[0].delivered)


def test_a_backfill_with_a_silent_sensor_expects_and_publishes_the_rest(caplog: pytest.LogCaptureFixture) -> None:
    start = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)
    silent = Fault(sensor_id="HUMID-003", kind=FaultKind.SILENT, start=start + dt.timedelta(seconds=2), duration_s=5)
    service, made = make_service(faults=[silent])
    with caplog.at_level(logging.INFO, logger="iot_platform"):
        report = service.run_backfill(start, start + dt.timedelta(seconds=10))

    assert report.ok and report.expected == report.produced == 20 * 12 - 10
    stamps = sorted(m["timestamp"] for m in messages(made[0]) if m["sensor_id"] == "HUMID-003")
    assert stamps == [format_timestamp(to_epoch_ms(start) + 500 * k) for k in range(20) if not 4 <= k < 14]
    logged = [r.getMessage() for r in caplog.records]
    assert any("20 ticks - 10 silenced by faults = 230 readings" in m for m in logged)
    assert "backfill: injecting faults: silent HUMID-003 at 2026-11-24T10:00:02+00:00 for 5 s" in logged
    assert any(m.startswith("fault started: silent on HUMID-003 at 2026-11-24T10:00:02.000Z") for m in logged)


def test_faults_default_to_the_setting() -> None:
    service, _made = make_service(settings=load_settings(kafka_topic="t", generator_faults="demo"))
    assert service.faults.describe().startswith("freeze TEMP-004 at +20 s for 330 s; spike TEMP-002")
    quiet, _made = make_service()
    assert not quiet.faults


def test_full_queue_is_retried_never_dropped() -> None:
    service, made = make_service(capacity=5)
    start = dt.datetime(2026, 11, 24, tzinfo=dt.UTC)
    report = service.run_backfill(start, start + dt.timedelta(seconds=5))
    producer = made[0]
    assert producer.buffer_errors > 0
    assert report.ok and len(producer.delivered) == report.produced == 120
    assert len({(k, v) for _t, k, v in producer.delivered}) == 120


def test_stop_request_ends_the_run_at_a_tick_boundary_and_flushes() -> None:
    holder: list[GeneratorService] = []

    def stop_after(accepted: int) -> None:
        if accepted == 30:
            holder[0].stop("test stop")

    service, made = make_service(on_produce=stop_after)
    holder.append(service)
    report = service.run_live(rate=1200)
    assert report.stop_reason == "test stop"
    assert report.ok and report.produced == len(made[0].delivered) == 36


def test_failed_delivery_stops_and_is_reported_as_loss() -> None:
    service, made = make_service(fail_at=7)
    start = dt.datetime(2026, 11, 24, tzinfo=dt.UTC)
    report = service.run_backfill(start, start + dt.timedelta(hours=1))
    assert report.failed == 1 and not report.ok
    assert "delivery failed" in report.stop_reason
    assert report.produced < report.expected  # type: ignore[operator]
    with pytest.raises(DeliveryFailed, match=r"1 readings failed .*Message timed out"):
        report.raise_for_loss()


def test_producer_refusing_a_reading_is_a_one_line_error_after_flushing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="iot_platform.generator")
    service, made = make_service(refuse_at=20)
    with pytest.raises(DeliveryFailed, match="Kafka refused a reading after 19 were produced: .*Unknown topic"):
        service.run_live(rate=1200)
    assert len(made[0].delivered) == 19  # flushed
    summary = caplog.records[-1].getMessage()
    assert "generator stopped (producer error" in summary and "produced=19 delivered=19" in summary


def test_unconfirmed_readings_at_shutdown_are_counted_and_raise() -> None:
    service, made = make_service(stalled=True)
    report = service.run_live(rate=1200, count=24)
    assert report.unconfirmed == 24 and report.delivered == 0
    assert made[0].purged == 24
    with pytest.raises(DeliveryFailed, match="24 were unconfirmed at shutdown"):
        report.raise_for_loss()


def test_status_lines_report_rate_delivered_failed_and_queue(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="iot_platform.generator")
    settings = load_settings(kafka_topic="t", generator_status_interval_s=0.05)
    service, _made = make_service(FakeClock(step=0.001), settings=settings)
    start = dt.datetime(2026, 11, 24, tzinfo=dt.UTC)
    service.run_backfill(start, start + dt.timedelta(minutes=1))
    progress = [r.getMessage() for r in caplog.records if r.getMessage().startswith("backfill: ")]
    assert any(re.search(r"\d+/1440 readings \(\d+\.\d%\), \d+ readings/s, ETA", line) for line in progress)
    assert all("delivered=" in line and "failed=0" in line and "queued=" in line for line in progress[1:])
    summary = caplog.records[-1].getMessage()
    assert "produced=1440 delivered=1440 failed=0 unconfirmed=0" in summary


def test_bad_rate_or_count_is_refused_before_connecting() -> None:
    service, made = make_service()
    with pytest.raises(ConfigurationError, match="--rate"):
        service.run_live(rate=0)
    with pytest.raises(ConfigurationError, match="--count"):
        service.run_live(count=0)
    assert made == []


def test_signals_request_a_stop_and_handlers_are_restored() -> None:
    service, _made = make_service()
    before = signal.getsignal(signal.SIGTERM)
    with stop_on_signals(service):
        os.kill(os.getpid(), signal.SIGTERM)
        deadline = time.monotonic() + 5
        while not service.stopping and time.monotonic() < deadline:
            time.sleep(0.01)
    assert service.stopping
    assert signal.getsignal(signal.SIGTERM) is before


def test_unreachable_broker_fails_after_the_connect_timeout() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = load_settings(kafka_bootstrap_servers=f"127.0.0.1:{port}")
    service = GeneratorService(settings, seed=1, connect_timeout_s=2.0)
    began = time.monotonic()
    with pytest.raises(ServiceUnavailable, match=rf"kafka unavailable: no broker answered at 127.0.0.1:{port}"):
        service.run_live(count=10)
    assert 1.5 <= time.monotonic() - began < 15
