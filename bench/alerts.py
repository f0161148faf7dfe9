"""Alert evaluation's extra time per ingestion run, as a ratio to ingestion alone in the same invocation.

On a private stack with the warm Spark Connect server, in Connect sessions as platform runs get them:
- 5-minute batches of the default sensor set (12 sensors every 0.5 s = 7,200 readings): an untimed first batch
  (tables, sensor state and the server's classes warm), then ``--batches`` batches, each published, ingested
  (timed) and evaluated (timed);
- a backlog of ``--readings`` readings (default 10M) ingested into emptied tables in one run, then evaluated in
  one run, both timed.
Each evaluation is the asset's work: ``run_evaluation`` over what ingestion just committed, with the default
registry. Target: evaluation adds <= 10% to ingestion on the backlog.

Run: .venv/bin/python bench/alerts.py [--readings 10000000] [--batches 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import subprocess
import time

from support import CORE, REPO, PeakMemory, bench_stack

from iot_platform import tables
from iot_platform.clients.iceberg import load_catalog
from iot_platform.clients.kafka import topic_watermarks
from iot_platform.clients.spark import connect_session
from iot_platform.generator.command import backfill_command
from iot_platform.pipelines.sensor_alerts.run import AlertsResult, run_evaluation
from iot_platform.pipelines.sensor_readings.result import IngestionResult
from iot_platform.pipelines.sensor_readings.run import run_ingestion
from iot_platform.registry import SensorRegistry, load_registry
from iot_platform.settings import Settings

MEMORY_OF = ("org.apache.spark.executor", "SparkConnectServer", "bench/alerts.py")
BATCH = dt.timedelta(minutes=5)
BEGIN = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)


def publish(start: dt.datetime, end: dt.datetime, seed: int) -> None:
    """Backfill the default set's readings of ``[start, end)`` at their cadence onto the topic."""
    subprocess.run(
        backfill_command(start.isoformat(), end.isoformat(), seed=seed),
        check=True,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
    )


def ingest(settings: Settings, label: str) -> tuple[float, IngestionResult]:
    """One ingestion of everything new on the topic in a Connect session: seconds (work only), result."""
    with connect_session(settings.connect_url, tag=f"iot-platform-bench-ingest-{label}") as spark:
        began = time.monotonic()
        result = run_ingestion(
            spark,
            load_catalog(settings),
            lambda: topic_watermarks(settings.bootstrap_servers, settings.kafka_topic),
            topic=settings.kafka_topic,
            bootstrap_servers=settings.bootstrap_servers,
            run_id=f"bench-ingest-{label}",
            log=lambda line: None,
        )
        return time.monotonic() - began, result


def evaluate(settings: Settings, registry: SensorRegistry, label: str) -> tuple[float, AlertsResult]:
    """One evaluation of what ingestion committed since the last one, in a Connect session: seconds, result."""
    with connect_session(settings.connect_url, tag=f"iot-platform-bench-alerts-{label}") as spark:
        began = time.monotonic()
        result = run_evaluation(
            spark,
            load_catalog(settings),
            registry,
            evaluated_at=dt.datetime.now(dt.UTC),
            run_id=f"bench-alerts-{label}",
            log=lambda line: print(f"  alerts ({label}): {line}", flush=True),
        )
        return time.monotonic() - began, result


def batches(settings: Settings, registry: SensorRegistry, count: int) -> list[tuple[float, float, int]]:
    """``count`` 5-minute batches after an untimed first one: (ingest s, evaluate s, readings) each."""
    figures = []
    for number in range(count + 1):
        start = BEGIN + number * BATCH
        publish(start, start + BATCH, seed=100 + number)
        ingest_s, ingested = ingest(settings, f"batch-{number}")
        evaluate_s, evaluated = evaluate(settings, registry, f"batch-{number}")
        label = "warm-up" if number == 0 else f"batch {number}"
        print(
            f"{label}: {ingested.stored:,} readings ingested in {ingest_s:.2f} s, evaluated in {evaluate_s:.2f} s "
            f"({evaluated.episodes_written} episodes written, {len(evaluated.open_alerts)} open)",
            flush=True,
        )
        if number:
            figures.append((ingest_s, evaluate_s, ingested.stored))
    return figures


def backlog(settings: Settings, registry: SensorRegistry, readings: int) -> tuple[float, float, int, float]:
    """The backlog into emptied tables: (ingest s, evaluate s, readings stored, peak MiB)."""
    with connect_session(settings.connect_url, tag="iot-platform-bench-reset") as spark:
        for name in tables.TABLES:
            spark.sql(f"DROP TABLE IF EXISTS {name} PURGE")
    sensors = len(registry.sensors)
    start = BEGIN + dt.timedelta(days=30)
    end = start + dt.timedelta(seconds=readings / sensors * settings.generator_interval_s)
    began = time.monotonic()
    publish(start, end, seed=7)
    print(f"backlog: {readings:,} readings published in {time.monotonic() - began:.1f} s", flush=True)
    with PeakMemory(*MEMORY_OF) as memory:
        ingest_s, ingested = ingest(settings, "backlog")
        evaluate_s, evaluated = evaluate(settings, registry, "backlog")
    print(
        f"backlog: {ingested.stored:,} readings ingested in {ingest_s:.1f} s, evaluated in {evaluate_s:.1f} s "
        f"({evaluated.episodes_written} episodes, {len(evaluated.open_alerts)} open; "
        f"read/evaluate/write {evaluated.seconds})",
        flush=True,
    )
    return ingest_s, evaluate_s, ingested.stored, memory.peak_mib


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--readings", type=int, default=10_000_000)
    parser.add_argument("--batches", type=int, default=3)
    args = parser.parse_args()
    with bench_stack("alerts", services=[*CORE, "spark-connect"]) as settings:
        registry = load_registry(settings.sensor_registry)
        figures = batches(settings, registry, args.batches)
        large_ingest, large_evaluate, stored, peak = backlog(settings, registry, args.readings)
    ingest_p50 = statistics.median(f[0] for f in figures)
    evaluate_p50 = statistics.median(f[1] for f in figures)
    print("figure                                          ingestion   evaluation   added")
    print(
        f"5-minute batch ({figures[0][2]:,} readings), p50 of {len(figures)}   {ingest_p50:7.2f} s   "
        f"{evaluate_p50:8.2f} s   {evaluate_p50 / ingest_p50:6.1%}"
    )
    verdict = "met" if large_evaluate / large_ingest <= 0.10 else "MISSED"
    print(
        f"backlog ({stored:,} readings)                   {large_ingest:7.1f} s   {large_evaluate:8.1f} s   "
        f"{large_evaluate / large_ingest:6.1%}  (target <= 10%: {verdict}); peak memory {peak:,.0f} MiB"
    )


if __name__ == "__main__":
    main()
