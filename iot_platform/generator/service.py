"""The generator service: publishes the simulated readings to Kafka without losing or duplicating one.

Delivery guarantees come from the idempotent producer (``enable.idempotence=true``, ``acks=all``):
librdkafka retries through broker restarts and the broker discards retried batches it already has. The
service never drops a reading it generated: a full queue (``BufferError``) means poll and try again. It stops
on SIGTERM/SIGINT, a permanently failed delivery or a fatal producer error, flushes with a timeout, and
reports what Kafka did not confirm.

Two modes share one loop: *live* (readings at the sensor cadence, paced by the clock; event time = scheduled
time, so a broker outage delays readings but never skews their timestamps) and *backfill* (a historic window,
as fast as the broker takes it). The Kafka record timestamp is the produce time, so topic retention applies
to when a reading was sent, not to its event time.

Hot path: one ``produce(topic, payload, key)`` per reading, ``poll(0)`` once per tick, success delivery
reports off (``delivery.report.only.error``). The delivery callback counts failures; delivered readings are
those produced minus failed minus still queued (librdkafka's ``len(producer)``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient

from iot_platform.clients.kafka import create_topic_if_missing
from iot_platform.errors import ConfigurationError, PlatformError, ServiceUnavailable
from iot_platform.generator.faults import Fault, fault_plan, load_faults
from iot_platform.generator.readings import (
    ReadingGenerator,
    Schedule,
    interval_us_for,
    interval_us_for_rate,
    to_epoch_ms,
)
from iot_platform.generator.sensors_config import SensorSet, load_sensor_set
from iot_platform.settings import Settings

log = logging.getLogger("iot_platform.generator")

PRODUCER_CONFIG: dict[str, Any] = {
    "enable.idempotence": True,
    "acks": "all",
    # Throughput on 2 cores (see bench/generator_throughput.py): big lz4 batches, success reports off.
    "compression.type": "lz4",
    "linger.ms": 20,
    "batch.size": 1_000_000,
    "batch.num.messages": 10_000,
    # About a second of backfill: keeps the broker busy while bounding memory (BufferError = back-pressure).
    "queue.buffering.max.messages": 200_000,
    "queue.buffering.max.kbytes": 262_144,
    "delivery.report.only.error": True,
    # Same key -> same partition as Kafka's Java clients.
    "partitioner": "murmur2_random",
    "client.id": "iot-generator",
}
"""librdkafka settings of the generator's producer (overridable per service for benchmarks)."""

CONNECT_TIMEOUT_S = 30.0
"""How long the service waits for a broker at start before giving up."""

FLUSH_TIMEOUT_S = 15.0
"""How long the service waits at shutdown for Kafka to confirm the readings still queued (the stack allows
a service 30 s to stop)."""

_WAIT_SLICE_S = 0.1
"""Longest single blocking poll, so that a stop request is seen within this time."""

_FULL_QUEUE_POLL_S = 0.01
"""Wait between retries of a reading the full producer queue refused (short: the broker drains it meanwhile)."""


class DeliveryFailed(PlatformError):
    """Kafka did not confirm every reading the generator produced (failed, or unconfirmed at shutdown)."""


class ProducerLike(Protocol):
    """The part of ``confluent_kafka.Producer`` the service uses (a fake implements it in unit tests)."""

    def produce(self, topic: str, value: bytes, key: bytes) -> None: ...

    def poll(self, timeout: float) -> int: ...

    def flush(self, timeout: float) -> int: ...

    def purge(self) -> None: ...

    def __len__(self) -> int: ...


@dataclass
class RunReport:
    """What one run produced and what Kafka confirmed."""

    produced: int = 0
    expected: int | None = None
    """Readings the run was asked for (window and/or ``count``); None for an open-ended live run."""
    failed: int = 0
    unconfirmed: int = 0
    elapsed_s: float = 0.0
    seed: int = 0
    stop_reason: str = ""
    first_error: str | None = None

    @property
    def delivered(self) -> int:
        """Readings Kafka acknowledged (with ``acks=all``)."""
        return self.produced - self.failed - self.unconfirmed

    @property
    def ok(self) -> bool:
        """Whether every produced reading was acknowledged."""
        return self.failed == 0 and self.unconfirmed == 0

    def summary(self) -> str:
        """One line for logs: counts, duration and average rate."""
        rate = self.produced / self.elapsed_s if self.elapsed_s > 0 else 0.0
        return (
            f"produced={self.produced} delivered={self.delivered} failed={self.failed} "
            f"unconfirmed={self.unconfirmed} in {self.elapsed_s:.1f} s ({rate:,.0f} readings/s), "
            f"seed={self.seed}"
        )

    def raise_for_loss(self) -> None:
        """Raise when a reading was not confirmed, so the process exits non-zero.

        Raises:
            DeliveryFailed: some readings failed or were still unconfirmed at shutdown.
        """
        if self.ok:
            return
        detail = f"; first error: {self.first_error}" if self.first_error else ""
        raise DeliveryFailed(
            f"{self.failed} readings failed and {self.unconfirmed} were unconfirmed at shutdown "
            f"(of {self.produced} produced){detail}; "
            "check the broker (`iot-platform stack status`) and run again"
        )


def producer_config(settings: Settings, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """librdkafka configuration of the generator's producer.

    Args:
        settings: Supplies the bootstrap servers.
        overrides: librdkafka properties that replace the defaults of :data:`PRODUCER_CONFIG`.

    Returns:
        A configuration dict for ``confluent_kafka.Producer``.
    """
    config = {"bootstrap.servers": settings.bootstrap_servers, **PRODUCER_CONFIG}
    config.update(overrides or {})
    return config


@contextlib.contextmanager
def stop_on_signals(service: GeneratorService) -> Iterator[None]:
    """Make SIGTERM and SIGINT ask ``service`` to stop (and flush) instead of killing the process.

    Only the main thread can install signal handlers; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: object) -> None:
        service.stop(f"received {signal.Signals(signum).name}")

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class GeneratorService:
    """Publishes readings of a sensor set to Kafka in live or backfill mode.

    Args:
        settings: Bootstrap servers, topic, cadence (``IOT_GENERATOR_INTERVAL_S``) and status interval.
        sensor_set: The sensors; default: those of ``IOT_SENSOR_REGISTRY`` (or the built-in registry).
        seed: Seed of the readings; None draws one (logged, so a run can be repeated).
        faults: Faults to inject besides the registry's ``simulation.faults``; default: ``IOT_GENERATOR_FAULTS``.
        topic: Topic to publish to (default ``IOT_KAFKA_TOPIC``).
        connect_timeout_s: How long to wait for a broker at start.
        flush_timeout_s: How long to wait at shutdown for outstanding readings.
        producer_overrides: librdkafka properties replacing :data:`PRODUCER_CONFIG` entries.
        producer_factory: Builds the producer from its config (a fake in unit tests).
        admin_factory: Builds the admin client that waits for the broker and creates the topic (None: skip).
        clock: Monotonic clock (seconds) for pacing and status lines.
        wall_clock: Epoch seconds, for live event times.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        sensor_set: SensorSet | None = None,
        seed: int | None = None,
        faults: Sequence[Fault] | None = None,
        topic: str | None = None,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        flush_timeout_s: float = FLUSH_TIMEOUT_S,
        producer_overrides: dict[str, Any] | None = None,
        producer_factory: Callable[[dict[str, Any]], ProducerLike] = Producer,
        admin_factory: Callable[[dict[str, Any]], AdminClient] | None = AdminClient,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.sensor_set = sensor_set or load_sensor_set(settings.sensor_registry)
        self.faults = fault_plan(self.sensor_set, load_faults(settings.generator_faults) if faults is None else faults)
        self.generator = ReadingGenerator(self.sensor_set, seed, self.faults)
        self.topic = topic or settings.kafka_topic
        self.connect_timeout_s = connect_timeout_s
        self.flush_timeout_s = flush_timeout_s
        self._producer_config = producer_config(settings, producer_overrides)
        self._producer_factory = producer_factory
        self._admin_factory = admin_factory
        self._clock = clock
        self._wall_clock = wall_clock
        self._stop = threading.Event()
        self._stop_reason = ""
        self._report = RunReport(seed=self.generator.seed)

    # --- control ------------------------------------------------------------------------------------------
    def stop(self, reason: str = "stop requested") -> None:
        """Ask the run to stop producing; it then flushes and returns. Safe from signal handlers, threads."""
        if not self._stop.is_set():
            self._stop_reason = reason
            self._stop.set()

    @property
    def stopping(self) -> bool:
        """Whether a stop was requested."""
        return self._stop.is_set()

    # --- modes --------------------------------------------------------------------------------------------
    def run_live(self, *, rate: float | None = None, count: int | None = None) -> RunReport:
        """Publish readings at the sensor cadence until stopped (or ``count`` readings).

        Args:
            rate: Total readings per second across all sensors; None for one reading per sensor each
                ``IOT_GENERATOR_INTERVAL_S``.
            count: Stop after this many readings.

        Returns:
            The run's report (check :meth:`RunReport.raise_for_loss`).

        Raises:
            ConfigurationError: bad rate, interval or count.
            ServiceUnavailable: no broker answered within the connect timeout.
        """
        n = self.generator.sensor_count
        interval_us = (
            interval_us_for_rate(rate, n) if rate is not None else interval_us_for(self.settings.generator_interval_s)
        )
        _check_count(count)
        now_ms = math.floor(self._wall_clock() * 1000)
        if interval_us % 1000 == 0:  # start on a multiple of the interval: .000, .500, ...
            step_ms = interval_us // 1000
            now_ms = -(-now_ms // step_ms) * step_ms
        schedule = Schedule(start_ms=now_ms, interval_us=interval_us)
        log.info(
            "live: %d sensors, one reading each %.3f s (%.1f readings/s) to topic %s, seed=%d",
            n, interval_us / 1e6, n * 1e6 / interval_us, self.topic, self.generator.seed,
        )  # fmt: skip
        return self._run(schedule, paced=True, count=count, label="live")

    def run_backfill(self, start: dt.datetime, end: dt.datetime, *, count: int | None = None) -> RunReport:
        """Publish the readings of ``[start, end)`` at the sensor cadence as fast as the broker takes them.

        Every sensor reads at ``start``, ``start + interval``, ... while before ``end``.

        Args:
            start: First event time (aware datetime).
            end: End of the window, exclusive (aware datetime).
            count: Stop after this many readings.

        Returns:
            The run's report (check :meth:`RunReport.raise_for_loss`).

        Raises:
            ConfigurationError: the window is empty or the interval is too small.
            ServiceUnavailable: no broker answered within the connect timeout.
        """
        _check_count(count)
        schedule = Schedule(
            start_ms=to_epoch_ms(start),
            interval_us=interval_us_for(self.settings.generator_interval_s),
            end_ms=to_epoch_ms(end),
        )
        ticks = schedule.tick_count or 0
        silent = self.faults.silent_readings(ticks, schedule.tick_ms)
        log.info(
            "backfill: %s .. %s, %d sensors x %d ticks%s = %d readings to topic %s, seed=%d",
            start.isoformat(), end.isoformat(), self.generator.sensor_count, ticks,
            f" - {silent} silenced by faults" if silent else "",
            ticks * self.generator.sensor_count - silent, self.topic, self.generator.seed,
        )  # fmt: skip
        return self._run(schedule, paced=False, count=count, label="backfill")

    # --- the loop -----------------------------------------------------------------------------------------
    def _connect(self) -> None:
        """Wait (bounded) until a broker answers, then make sure the topic exists."""
        if self._admin_factory is None:
            return
        bootstrap = self._producer_config["bootstrap.servers"]
        admin = self._admin_factory({"bootstrap.servers": bootstrap})
        deadline = self._clock() + self.connect_timeout_s
        attempt = 0
        while True:
            attempt += 1
            remaining = deadline - self._clock()
            try:
                admin.list_topics(timeout=max(0.5, min(5.0, remaining)))
                break
            except KafkaException as exc:
                if self._stop.is_set():
                    raise ServiceUnavailable(
                        "kafka", f"stopped ({self._stop_reason}) while waiting for a broker at {bootstrap}"
                    ) from None
                if self._clock() >= deadline:
                    raise ServiceUnavailable(
                        "kafka",
                        f"no broker answered at {bootstrap} within {self.connect_timeout_s:g} s "
                        f"({exc.args[0]}); "
                        "start the stack (`iot-platform stack up`) or set IOT_KAFKA_BOOTSTRAP_SERVERS",
                    ) from None
                if attempt == 1:
                    log.warning("waiting up to %g s for Kafka at %s", self.connect_timeout_s, bootstrap)
                self._stop.wait(min(1.0, max(0.0, deadline - self._clock())))
        create_topic_if_missing(admin, self.settings, self.topic, timeout_s=max(5.0, self.connect_timeout_s))

    def _on_delivery(self, err: KafkaError | None, _msg: object) -> None:
        # Only failures are reported (delivery.report.only.error).
        if err is None:
            return
        report = self._report
        report.failed += 1
        if report.first_error is None:
            report.first_error = str(err)
            log.error("delivery failed: %s; stopping", err)
        self.stop(f"delivery failed: {err}")

    def _on_error(self, err: KafkaError) -> None:
        if err.fatal():
            if self._report.first_error is None:
                self._report.first_error = str(err)
            log.error("fatal producer error: %s; stopping", err)
            self.stop(f"fatal producer error: {err}")
        else:
            # Transport errors (broker restart, network): librdkafka reconnects and retries by itself.
            log.warning("kafka: %s", err)

    def _run(self, schedule: Schedule, *, paced: bool, count: int | None, label: str) -> RunReport:
        report = self._report = RunReport(seed=self.generator.seed)
        started = self._clock()
        self._connect()
        config = {
            **self._producer_config,
            "on_delivery": self._on_delivery,
            "error_cb": self._on_error,
            "logger": logging.getLogger("iot_platform.generator.kafka"),
        }
        producer = self._producer_factory(config)
        if self.faults:
            log.info("%s: injecting faults: %s", label, self.faults.describe())
        try:
            self._loop(producer, schedule, paced=paced, count=count, label=label)
        except KafkaException as exc:
            # produce() refused a reading outright (topic deleted, fatal idempotence error, ...).
            report.first_error = report.first_error or str(exc.args[0])
            self.stop(f"producer error: {exc.args[0]}")
            raise DeliveryFailed(
                f"Kafka refused a reading after {report.produced} were produced: {exc.args[0]}"
            ) from None
        finally:
            self._finish(producer, report, started)
        return report

    def _loop(self, producer: ProducerLike, schedule: Schedule, *, paced: bool, count: int | None, label: str) -> None:
        report = self._report
        generator = self.generator
        tick = generator.tick
        tick_ms = schedule.tick_ms
        produce = producer.produce
        poll = producer.poll
        topic = self.topic
        stop = self._stop
        clock = self._clock
        ticks = schedule.tick_count
        total = None
        if ticks is not None:
            total = ticks * generator.sensor_count - self.faults.silent_readings(ticks, tick_ms)
        if count is not None:
            total = count if total is None else min(total, count)
        report.expected = total
        # Monotonic time at which a live tick is due: event time minus (wall - monotonic) at start.
        offset_s = self._wall_clock() - clock()
        status_every = self.settings.generator_status_interval_s
        t0 = clock()
        next_status = t0 + status_every
        last_status = (t0, 0)
        produced = 0
        k = 0
        try:
            while not stop.is_set():
                if (total is not None and produced >= total) or (ticks is not None and k >= ticks):
                    break
                event_ms = tick_ms(k)
                if paced and not self._wait_until(producer, event_ms / 1000 - offset_s):
                    break
                payloads = tick(event_ms)
                if total is not None and produced + len(payloads) > total:
                    payloads = payloads[: total - produced]
                for key, payload in zip(generator.last_keys, payloads, strict=False):
                    try:
                        produce(topic, payload, key)
                    except BufferError:
                        # Queue full: serve delivery reports until there is room; never drop the reading.
                        if not self._produce_when_room(producer, payload, key):
                            break
                    produced += 1
                report.produced = produced
                k += 1
                poll(0)
                now = clock()
                if now >= next_status:
                    lag_s = (now + offset_s) - event_ms / 1000 if paced else None
                    self._status(label, producer, now, last_status, total, lag_s)
                    last_status = (now, produced)
                    next_status = now + status_every
        finally:
            report.produced = produced  # also when produce() raised mid-tick

    def _wait_until(self, producer: ProducerLike, due: float) -> bool:
        """Serve producer events until the monotonic time ``due``; False if a stop was requested meanwhile."""
        while True:
            if self._stop.is_set():
                return False
            wait = due - self._clock()
            if wait <= 0:
                return True
            producer.poll(min(wait, _WAIT_SLICE_S))

    def _produce_when_room(self, producer: ProducerLike, payload: bytes, key: bytes) -> bool:
        """Retry one reading until the queue takes it; False (not produced) only if a stop was requested."""
        waited_since = self._clock()
        warned = False
        while True:
            producer.poll(_FULL_QUEUE_POLL_S)
            try:
                producer.produce(self.topic, payload, key)
                return True
            except BufferError:
                if self._stop.is_set():
                    return False
                if not warned and self._clock() - waited_since > self.settings.generator_status_interval_s:
                    log.warning("producer queue full for %d readings: Kafka is slow or down; waiting", len(producer))
                    warned = True

    def _status(
        self,
        label: str,
        producer: ProducerLike,
        now: float,
        last: tuple[float, int],
        total: int | None,
        lag_s: float | None,
    ) -> None:
        report = self._report
        queued = len(producer)
        since, produced_then = last
        rate = (report.produced - produced_then) / (now - since) if now > since else 0.0
        delivered = report.produced - report.failed - queued
        if label == "backfill" and total:
            left = total - report.produced
            eta = dt.timedelta(seconds=round(left / rate)) if rate > 0 else "unknown"
            log.info(
                "backfill: %d/%d readings (%.1f%%), %.0f readings/s, ETA %s, "
                "delivered=%d failed=%d queued=%d",
                report.produced, total, 100 * report.produced / total, rate, eta,
                delivered, report.failed, queued,
            )  # fmt: skip
        else:
            log.info(
                "%s: %.0f readings/s, produced=%d delivered=%d failed=%d queued=%d%s",
                label, rate, report.produced, delivered, report.failed, queued,
                f" behind={lag_s:.1f}s" if lag_s is not None and lag_s > 1 else "",
            )  # fmt: skip

    def _finish(self, producer: ProducerLike, report: RunReport, started: float) -> None:
        """Flush with a timeout, count what stayed unconfirmed, and log the summary."""
        try:
            report.unconfirmed = producer.flush(self.flush_timeout_s)
            producer.poll(0)  # serve the last failure reports
            report.unconfirmed = len(producer)
        finally:
            if report.unconfirmed:
                log.error(
                    "%d readings still unconfirmed after %g s: they may or may not be on the topic",
                    report.unconfirmed, self.flush_timeout_s,
                )  # fmt: skip
                producer.purge()
            report.elapsed_s = self._clock() - started
            report.stop_reason = self._stop_reason or "done"
            level = logging.INFO if report.ok else logging.ERROR
            log.log(level, "generator stopped (%s): %s", report.stop_reason, report.summary())


def _check_count(count: int | None) -> None:
    if count is not None and count <= 0:
        raise ConfigurationError(f"--count must be a positive number of readings, got {count}")
