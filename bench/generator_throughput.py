"""Readings/s of one generator process vs Kafka's own Java producer perf tool, same broker, same records.

The generator runs as the real command (``python -m iot_platform generator backfill --count N``): unique readings
(one per sensor and event time), JSON built per reading, ``acks=all``, idempotent. Its rate is the one it reports
for the whole run (connect, produce and flush: every reading acknowledged), checked against the record count on
the topic. Its peak RSS comes from ``wait4``.

Then ``org.apache.kafka.tools.ProducerPerformance`` (from the jars the stack runs Kafka with) sends the same number
of records to another topic of the same broker with ``acks=all`` and idempotence, its payloads drawn from a file of
the generator's own readings (so the record size and compressibility are the same), twice: with the Java client's
defaults, and with the generator's batching and compression. The ratio is against the faster Java run.

Target: generator >= 150,000 readings/s and >= 0.5 x the Java tool, on 2 cores.

Run against a running stack (settings from ``IOT_*``/``.env``, as every platform command):
    .venv/bin/iot-platform stack up --service kafka
    .venv/bin/python bench/generator_throughput.py [--count 3000000] [--repeat 1]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import statistics
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from iot_platform.clients.kafka import create_topic_if_missing
from iot_platform.generator.cli import backfill_command
from iot_platform.generator.readings import ReadingGenerator, format_timestamp, to_epoch_ms
from iot_platform.generator.sensors_config import load_sensor_set
from iot_platform.generator.service import PRODUCER_CONFIG
from iot_platform.settings import Settings, load_settings
from iot_platform.stack import artifacts
from iot_platform.stack.service import settings_environment

WINDOW_START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
TARGET_RATE = 150_000
TARGET_RATIO = 0.5
SUMMARY = re.compile(r"produced=(\d+) delivered=(\d+) failed=(\d+) unconfirmed=(\d+) in ([\d.]+) s")
JAVA_RESULT = re.compile(r"^(\d+) records sent, ([\d.]+) records/sec", re.MULTILINE)

# The generator's batching and compression, in the Java client's property names.
JAVA_TUNED = {
    "compression.type": PRODUCER_CONFIG["compression.type"],
    "linger.ms": str(PRODUCER_CONFIG["linger.ms"]),
    "batch.size": str(PRODUCER_CONFIG["batch.size"]),
}


@dataclass
class GeneratorRun:
    produced: int
    seconds: float
    wall_seconds: float
    peak_rss_mb: float
    on_topic: int

    @property
    def rate(self) -> float:
        return self.produced / self.seconds


@dataclass
class JavaRun:
    label: str
    records: int
    rate: float


def records_on_topic(settings: Settings, topic: str) -> int:
    consumer = Consumer({"bootstrap.servers": settings.bootstrap_servers, "group.id": f"bench-{uuid.uuid4().hex}"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        total = 0
        for partition in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            total += high - low
        return total
    finally:
        consumer.close()


def run_generator(settings: Settings, topic: str, count: int) -> GeneratorRun:
    """One generator process backfilling ``count`` readings; its own report, wall time and peak RSS."""
    env = {**os.environ, **settings_environment(settings), "IOT_KAFKA_TOPIC": topic}
    sensors = load_sensor_set(settings.sensor_registry).sensor_count
    ticks = -(-count // sensors)
    start_ms = to_epoch_ms(WINDOW_START)
    end_ms = start_ms + int(ticks * settings.generator_interval_s * 1000) + 1000
    command = backfill_command(format_timestamp(start_ms), format_timestamp(end_ms), seed=1, count=count)
    with tempfile.TemporaryFile("w+") as log:
        began = time.monotonic()
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log, text=True)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.monotonic() - began
        process.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        output = log.read()
    if process.returncode != 0:
        raise SystemExit(f"generator failed (exit {process.returncode}):\n{output[-3000:]}")
    found = SUMMARY.findall(output)
    if not found:
        raise SystemExit(f"no summary line from the generator:\n{output[-3000:]}")
    produced, delivered, failed, unconfirmed, seconds = found[-1]
    if int(delivered) != int(produced) or int(failed) or int(unconfirmed):
        raise SystemExit(f"generator lost readings: {found[-1]}")
    return GeneratorRun(
        produced=int(produced),
        seconds=float(seconds),
        wall_seconds=wall,
        peak_rss_mb=usage.ru_maxrss / 1024,  # Linux: KiB
        on_topic=records_on_topic(settings, topic),
    )


def payload_file(folder: Path, settings: Settings) -> tuple[Path, float]:
    """The generator's own readings, one per line, for the Java tool; and their mean size in bytes."""
    generator = ReadingGenerator(load_sensor_set(settings.sensor_registry), seed=2)
    lines = [payload for k in range(1000) for payload in generator.tick(to_epoch_ms(WINDOW_START) + 500 * k)]
    path = folder / "payloads.txt"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path, sum(map(len, lines)) / len(lines)


def run_java(settings: Settings, topic: str, count: int, payloads: Path, label: str, props: dict[str, str]) -> JavaRun:
    """Kafka's ProducerPerformance with acks=all and idempotence (plus ``props``)."""
    command = [
        artifacts.java_executable(settings.java_home),
        "-Xmx1g",
        "-cp",
        artifacts.kafka_classpath(settings.cache_dir),
        "org.apache.kafka.tools.ProducerPerformance",
        "--topic",
        topic,
        "--num-records",
        str(count),
        "--throughput",
        "-1",
        "--payload-file",
        str(payloads),
        "--producer-props",
        f"bootstrap.servers={settings.bootstrap_servers}",
        "acks=all",
        "enable.idempotence=true",
        *(f"{key}={value}" for key, value in props.items()),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    matches = JAVA_RESULT.findall(result.stdout)
    if result.returncode != 0 or not matches:
        raise SystemExit(f"ProducerPerformance failed (exit {result.returncode}):\n{result.stdout[-2000:]}")
    records, rate = matches[-1]  # the last line is the whole run's summary
    return JavaRun(label, int(records), float(rate))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=3_000_000, help="Readings (records) per run.")
    parser.add_argument("--repeat", type=int, default=1, help="Rounds; the order of the contenders rotates.")
    parser.add_argument("--bootstrap-servers", default=None, help="Broker (default: the stack's from settings).")
    parser.add_argument("--keep-topics", action="store_true", help="Do not delete the benchmark topics.")
    args = parser.parse_args()

    settings = load_settings(**({"kafka_bootstrap_servers": args.bootstrap_servers} if args.bootstrap_servers else {}))
    admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers})
    topics: list[str] = []
    rounds: list[tuple[GeneratorRun, list[JavaRun]]] = []
    java_configs: list[tuple[str, dict[str, str]]] = [("java defaults", {}), ("java tuned like generator", JAVA_TUNED)]
    try:
        with tempfile.TemporaryDirectory(prefix="bench-generator-") as folder:
            payloads, mean_size = payload_file(Path(folder), settings)
            print(f"broker {settings.bootstrap_servers}; {args.count:,} records per run, mean value {mean_size:.0f} B")
            for number in range(1, args.repeat + 1):
                contenders: list[tuple[str, dict[str, str] | None]] = [("generator", None), *java_configs]
                shift = (number - 1) % len(contenders)  # rotate, so no contender always runs first
                generator_run: GeneratorRun | None = None
                java_round: list[JavaRun] = []
                for label, props in contenders[shift:] + contenders[:shift]:
                    topic = f"bench-{uuid.uuid4().hex[:8]}"
                    topics.append(topic)
                    if props is None:
                        generator_run = run_generator(settings, topic, args.count)
                        run = generator_run
                        print(
                            f"[{number}] generator: {run.produced:,} readings in {run.seconds:.2f} s "
                            f"= {run.rate:,.0f}/s (process wall {run.wall_seconds:.2f} s), "
                            f"{run.on_topic:,} on topic, peak RSS {run.peak_rss_mb:.0f} MiB"
                        )
                        if run.on_topic != run.produced:
                            raise SystemExit(f"topic holds {run.on_topic} records, generator produced {run.produced}")
                    else:
                        create_topic_if_missing(admin, settings, topic, timeout_s=30)
                        java = run_java(settings, topic, args.count, payloads, label, props)
                        java_round.append(java)
                        print(f"[{number}] {label}: {java.records:,} records at {java.rate:,.0f}/s")
                assert generator_run is not None
                rounds.append((generator_run, java_round))
                print(f"[{number}] ratio: {generator_run.rate / max(j.rate for j in java_round):.2f}")
    finally:
        if topics and not args.keep_topics:
            for future in admin.delete_topics(topics, operation_timeout=30).values():
                try:
                    future.result(timeout=60)
                except Exception as exc:  # report, but never hide the benchmark's own result
                    print(f"warning: could not delete a benchmark topic: {exc}")

    generator_rates = [g.rate for g, _ in rounds]
    java_rates = {label: [j.rate for _, js in rounds for j in js if j.label == label] for label, _ in java_configs}
    round_ratios = [g.rate / max(j.rate for j in js) for g, js in rounds]
    best_java = max(max(rates) for rates in java_rates.values())
    ratio = max(generator_rates) / best_java
    print()
    print(f"{'':<38}{'best':>12}{'median':>12}")
    print(f"{'generator (readings/s)':<38}{max(generator_rates):>12,.0f}{statistics.median(generator_rates):>12,.0f}")
    for label, rates in java_rates.items():
        print(f"{label + ' (records/s)':<38}{max(rates):>12,.0f}{statistics.median(rates):>12,.0f}")
    print(f"generator peak RSS: {max(g.peak_rss_mb for g, _ in rounds):.0f} MiB")
    print(
        f"ratio best generator / best java: {ratio:.2f}; median of per-round ratios: "
        f"{statistics.median(round_ratios):.2f}"
    )
    verdict = "met" if max(generator_rates) >= TARGET_RATE and ratio >= TARGET_RATIO else "NOT met"
    print(f"target (>= {TARGET_RATE:,}/s and ratio >= {TARGET_RATIO}): {verdict}")


if __name__ == "__main__":
    main()
