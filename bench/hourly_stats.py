"""hourly_stats launch-to-commit times: a 1M-reading hour, a 10M-reading hour, and a 24-hour single-run backfill.

Readings are written straight into `iot.sensor_readings` by Spark (ingestion has its own benchmark), then each
case runs the real `hourly_stats_job` in process (ingestion step off) twice: in the run mode `application` (a Spark
application of the run's own, its start included), with the Spark Connect server stopped since an idle server holds
one core; then in the run mode `connect` on the stack's warm Spark Connect server (session start included), after
one untimed warm-up run on the fresh server. Ratios warm/per-run are printed for each case.
Targets on 2 cores: <= 30 s for the 1M-reading hour; time(10M) / time(1M) <= 4; the warm server no slower.

Run: .venv/bin/python bench/hourly_stats.py [--small 1000000] [--large 10000000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

import dagster as dg
from support import PeakMemory, bench_stack, speed_verdict, warm_server

from iot_platform import tables
from iot_platform.clients.spark import spark_session
from iot_platform.settings import Settings, SparkRunMode

SENSORS = 140
NO_INGEST = {"ops": {"hourly_stats": {"config": {"ingest_first": False}}}}
MEMORY_OF = ("org.apache.spark.executor", "pyspark-shell", "SparkConnectServer", "bench/hourly_stats.py")


def populate(settings, start: dt.datetime, hours: int, per_hour: int) -> None:  # type: ignore[no-untyped-def]
    from pyspark.sql import functions as F

    ticks = per_hour // SENSORS
    step_us = 3_600_000_000 // ticks
    with spark_session(settings, "iot-platform:bench:populate") as spark:
        tables.ensure_tables(spark)
        for hour in range(hours):
            hour_us = int((start + dt.timedelta(hours=hour)).timestamp() * 1_000_000)
            rows = spark.range(ticks * SENSORS, numPartitions=4).select(
                F.concat(F.lit("BENCH-"), F.lpad((F.col("id") % SENSORS).cast("string"), 4, "0")).alias("sensor_id"),
                F.lit("temperature").alias("sensor_type"),
                F.lit("factory-B").alias("location"),
                (F.lit(18.0) + F.rand(hour) * 12.0).alias("value"),
                F.lit("celsius").alias("unit"),
                F.timestamp_micros(F.lit(hour_us) + (F.col("id") / SENSORS).cast("long") * step_us).alias("event_time"),
                F.lit("bench").alias("kafka_topic"),
                F.lit(0).alias("kafka_partition"),
                F.col("id").alias("kafka_offset"),
                F.current_timestamp().alias("ingested_at"),
            )
            rows.writeTo(tables.SENSOR_READINGS).append()


def timed_run(
    settings: Settings, mode: SparkRunMode, partition: str | None = None, tags: dict[str, str] | None = None
) -> tuple[float, dict]:  # type: ignore[type-arg]
    """One in-process hourly_stats run in run mode ``mode``: seconds from launch to success, its metadata."""
    from iot_platform.definitions import build_definitions

    definitions = build_definitions(settings.model_copy(update={"spark_run_mode": mode}))
    job = definitions.resolve_job_def("hourly_stats_job")
    with dg.instance_for_test() as instance:
        began = time.monotonic()
        result = job.execute_in_process(instance=instance, partition_key=partition, tags=tags, run_config=NO_INGEST)
        seconds = time.monotonic() - began
    assert result.success
    meta = {}
    for event in result.get_asset_materialization_events():
        meta = {k: v.value for k, v in event.materialization.metadata.items() if k in ("rows", "readings", "seconds")}
    return seconds, meta


Case = tuple[str | None, dict[str, str] | None]
"""A run's partition key, or its range tags."""


def timed_cases(settings: Settings, mode: SparkRunMode, cases: list[Case]) -> tuple[list[tuple[float, dict]], float]:  # type: ignore[type-arg]
    """Each case run once in ``mode``: (seconds, metadata) per case, and the peak memory (MiB) meanwhile."""
    with PeakMemory(*MEMORY_OF) as memory:
        results = [timed_run(settings, mode, partition, tags) for partition, tags in cases]
    return results, memory.peak_mib


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=1_000_000)
    parser.add_argument("--large", type=int, default=10_000_000)
    parser.add_argument("--backfill-per-hour", type=int, default=100_000)
    args = parser.parse_args()
    small_hour = dt.datetime(2025, 7, 1, 10, tzinfo=dt.UTC)
    large_hour = dt.datetime(2025, 7, 2, 10, tzinfo=dt.UTC)
    day = dt.datetime(2025, 7, 3, 0, tzinfo=dt.UTC)
    with bench_stack("hourly") as settings:
        began = time.monotonic()
        populate(settings, small_hour, 1, args.small)
        populate(settings, large_hour, 1, args.large)
        populate(settings, day, 24, args.backfill_per_hour)
        print(f"populated iot.sensor_readings in {time.monotonic() - began:.1f} s", flush=True)
        range_tags = {
            "dagster/asset_partition_range_start": day.strftime("%Y-%m-%d-%H:00"),
            "dagster/asset_partition_range_end": (day + dt.timedelta(hours=23)).strftime("%Y-%m-%d-%H:00"),
        }
        cases: list[Case] = [
            (small_hour.strftime("%Y-%m-%d-%H:00"), None),
            (large_hour.strftime("%Y-%m-%d-%H:00"), None),
            (None, range_tags),
        ]
        per_run, per_run_peak = timed_cases(settings, SparkRunMode.APPLICATION, cases)
        report("per-run application", per_run, per_run_peak)
        with warm_server(settings):
            first_s, _ = timed_run(settings, SparkRunMode.CONNECT, day.strftime("%Y-%m-%d-%H:00"))
            warm, warm_peak = timed_cases(settings, SparkRunMode.CONNECT, cases)
        print(f"warm-up: first run on the fresh Spark Connect server (one hour of the day): {first_s:.1f} s")
        report("warm server", warm, warm_peak)
        labels = ("1 hour, small", "1 hour, large", "24-hour backfill")
        for label, (warm_s, _), (per_run_s, _) in zip(labels, warm, per_run, strict=True):
            print(f"{label}: warm {warm_s:.1f} s, per-run {per_run_s:.1f} s; {speed_verdict(warm_s, per_run_s)}")


def report(design: str, results: list[tuple[float, dict]], peak_mib: float) -> None:  # type: ignore[type-arg]
    """The figures of one design: the two hours, their ratio, the backfill, the peak memory."""
    (small_s, small_meta), (large_s, large_meta), (day_s, day_meta) = results
    print(f"[{design}]")
    print(f"1 hour, {small_meta['readings']:,} readings: {small_s:.1f} s launch-to-commit (target <= 30 s)")
    print(f"1 hour, {large_meta['readings']:,} readings: {large_s:.1f} s launch-to-commit")
    print(f"time(10M)/time(1M): {large_s / small_s:.2f} (target <= 4)")
    print(f"24-hour single-run backfill, {day_meta['readings']:,} readings, {day_meta['rows']:,} rows: {day_s:.1f} s")
    print(f"peak memory (driver + executors): {peak_mib:,.0f} MiB", flush=True)


if __name__ == "__main__":
    main()
