"""Ingestion throughput on a Kafka backlog: the platform's exactly-once ingestion vs the old streaming design.

Runs in one process against the same broker and the same backlog, on a private stack:
- platform, Java reader: `run_ingestion` (offsets in the Iceberg snapshot, strict parsing with the platform's
  reader of the canonical layout, rejects, de-duplication);
- platform, JSON only: the same run with Spark's JSON functions parsing every record (`fast_path=False`), on
  emptied readings tables;
- old design: Structured Streaming with the availableNow trigger and a checkpoint folder, `from_json` parsing,
  appending the parsed readings to an Iceberg table.
Each of these runs in a Spark application of its own (the per-run design), with the Spark Connect server stopped
(an idle server holds one core). Then the stack's Spark Connect server starts, and both platform runs repeat in
Connect sessions of that warm server (after one untimed warm-up session, as a server that has served runs before).
Targets: >= 200,000 readings/s and >= 1.0x the old design on 2 cores; the warm server no slower than a per-run
application on the whole backlog (time warm/per-run <= 1).

Run: .venv/bin/python bench/ingestion.py [--readings 10000000] [--old-design-first]
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

from support import REPO, PeakMemory, bench_stack, speed_verdict, warm_server

from iot_platform import tables
from iot_platform.clients.iceberg import load_catalog
from iot_platform.clients.kafka import topic_watermarks
from iot_platform.clients.spark import connect_session, spark_session
from iot_platform.generator.cli import backfill_command
from iot_platform.generator.sensors_config import load_sensor_set
from iot_platform.pipelines.sensor_readings.result import IngestionResult
from iot_platform.pipelines.sensor_readings.run import run_ingestion
from iot_platform.settings import Settings

MEMORY_OF = ("org.apache.spark.executor", "pyspark-shell", "SparkConnectServer", "bench/ingestion.py")
"""Processes whose memory the bench sums: the executors, the driver JVM (the run's own, or the Spark Connect
server) and this Python process."""

Opener = Callable[[str], AbstractContextManager]  # type: ignore[type-arg]
"""Opens the Spark session a run works in, given a label for its application name."""


def publish_backlog(settings: Settings, readings: int) -> float:
    """Backfill ``readings`` readings of the configured sensor set at its cadence; seconds it took."""
    sensors = load_sensor_set(settings.sensor_registry).sensor_count
    start = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    end = start + dt.timedelta(seconds=readings / sensors * settings.generator_interval_s)
    began = time.monotonic()
    subprocess.run(
        backfill_command(start.isoformat(), end.isoformat(), seed=7), check=True, cwd=REPO, stdout=subprocess.DEVNULL
    )
    return time.monotonic() - began


def old_design(spark, settings) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    schema = T.StructType(
        [
            T.StructField("sensor_id", T.StringType()),
            T.StructField("sensor_type", T.StringType()),
            T.StructField("location", T.StringType()),
            T.StructField("value", T.DoubleType()),
            T.StructField("unit", T.StringType()),
            T.StructField("timestamp", T.StringType()),
        ]
    )
    spark.sql("DROP TABLE IF EXISTS iot.bench_old_readings")
    spark.sql(
        "CREATE TABLE iot.bench_old_readings (sensor_id string, sensor_type string, location string, value double, "
        "unit string, event_time timestamp) USING iceberg PARTITIONED BY (hours(event_time))"
    )
    checkpoint = tempfile.mkdtemp(prefix="iot-bench-checkpoint-")
    began = time.monotonic()
    stream = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", settings.bootstrap_servers)
        .option("subscribe", settings.kafka_topic)
        .option("startingOffsets", "earliest")
        .load()
    )
    parsed = stream.select(F.from_json(F.col("value").cast("string"), schema).alias("r")).select(
        "r.sensor_id",
        "r.sensor_type",
        "r.location",
        "r.value",
        "r.unit",
        F.to_timestamp("r.timestamp").alias("event_time"),
    )
    query = (
        parsed.writeStream.format("iceberg")
        .outputMode("append")
        .trigger(availableNow=True)
        .option("checkpointLocation", checkpoint)
        .toTable("iot.bench_old_readings")
    )
    query.awaitTermination()
    seconds = time.monotonic() - began
    rows = spark.table("iot.bench_old_readings").count()
    return seconds, rows


def warm_up(spark, settings) -> None:  # type: ignore[no-untyped-def]
    """Load the driver's Kafka and Iceberg classes once, so neither design pays for it alone."""
    spark.read.format("kafka").option("kafka.bootstrap.servers", settings.bootstrap_servers).option(
        "subscribe", settings.kafka_topic
    ).option("startingOffsets", "earliest").option("endingOffsets", "latest").load().limit(1000).collect()
    spark.sql("CREATE NAMESPACE IF NOT EXISTS iot")
    spark.sql("CREATE TABLE IF NOT EXISTS iot.bench_warm_up (n bigint) USING iceberg")
    spark.sql("INSERT INTO iot.bench_warm_up VALUES (1)")


def per_run_application(settings: Settings) -> Opener:
    """Sessions of a Spark application of their own (the per-run design)."""
    return lambda label: spark_session(settings, f"iot-platform:bench:{label}")


def warm_session(settings: Settings) -> Opener:
    """Sessions of the stack's Spark Connect server (what a platform run gets)."""
    return lambda label: connect_session(settings.connect_url, tag=f"iot-platform-bench-{label.replace(' ', '-')}")


def platform_run(settings: Settings, fast_path: bool, opener: Opener) -> tuple[float, IngestionResult, float]:
    """One platform ingestion of the whole backlog into emptied readings tables: seconds, result, peak MiB."""
    label = "java reader" if fast_path else "json only"
    with PeakMemory(*MEMORY_OF) as memory, opener(f"ingestion-{label}") as spark:
        for table in (tables.SENSOR_READINGS, tables.REJECTED_READINGS):
            spark.sql(f"DROP TABLE IF EXISTS {table} PURGE")
        spark.range(1).count()
        began = time.monotonic()
        result = run_ingestion(
            spark,
            load_catalog(settings),
            lambda: topic_watermarks(settings.bootstrap_servers, settings.kafka_topic),
            topic=settings.kafka_topic,
            bootstrap_servers=settings.bootstrap_servers,
            run_id=f"bench-{label.replace(' ', '-')}",
            fast_path=fast_path,
            log=lambda line: print(f"  platform ({label}): {line}", flush=True),
        )
        seconds = time.monotonic() - began
    return seconds, result, memory.peak_mib


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--readings", type=int, default=10_000_000)
    parser.add_argument(
        "--old-design-first", action="store_true", help="Run the old design before the platform (order check)."
    )
    parser.add_argument(
        "--java-reader-only", action="store_true", help="Skip the JSON-only runs (the Java reader's margin over them)."
    )
    args = parser.parse_args()
    with bench_stack("ingestion") as settings:
        produce_s = publish_backlog(settings, args.readings)
        print(f"backlog: {args.readings:,} readings published in {produce_s:.1f} s", flush=True)
        # Each run gets its own Spark application (a fresh executor JVM, as a scheduled run gets), timed from its
        # first read to its last commit; a warm-up application loads the driver's classes first.
        with PeakMemory(*MEMORY_OF) as memory:
            with spark_session(settings, "iot-platform:bench:warm-up") as spark:
                warm_up(spark, settings)

            def run_old() -> tuple[float, int]:
                with spark_session(settings, "iot-platform:bench:old-design") as spark:
                    spark.range(1).count()
                    return old_design(spark, settings)

            if args.old_design_first:
                old_s, old_rows = run_old()
            java_s, java, java_peak = platform_run(settings, True, per_run_application(settings))
            if not args.java_reader_only:
                json_s, json_only, json_peak = platform_run(settings, False, per_run_application(settings))
            if not args.old_design_first:
                old_s, old_rows = run_old()
        with warm_server(settings), PeakMemory(*MEMORY_OF) as warm_memory:
            with warm_session(settings)("warm-up") as spark:
                warm_up(spark, settings)
            warm_java_s, warm_java, warm_java_peak = platform_run(settings, True, warm_session(settings))
            if not args.java_reader_only:
                warm_json_s, warm_json, warm_json_peak = platform_run(settings, False, warm_session(settings))
        java_rate, old_rate = java.readings_in / java_s, old_rows / old_s
        for label, result, seconds in (
            ("java reader", java, java_s),
            *([] if args.java_reader_only else [("json only", json_only, json_s)]),
        ):
            rate = result.readings_in / seconds
            print(
                f"platform ingestion ({label}): {result.readings_in:,} records -> {result.stored:,} stored in "
                f"{seconds:.1f} s = {rate:,.0f} readings/s (target >= 200,000)"
            )
        print(
            f"old design (streaming, availableNow, checkpoint): {old_rows:,} rows in {old_s:.1f} s "
            f"= {old_rate:,.0f} readings/s"
        )
        if not args.java_reader_only:
            print(f"ratio java reader/json only: {java_rate / (json_only.readings_in / json_s):.2f}")
            print(f"peak memory of the json-only run: {json_peak:,.0f} MiB")
        print(f"ratio platform/old: {java_rate / old_rate:.2f} (target >= 1.0)")
        print(
            f"peak memory (driver + executor + python): platform run {java_peak:,.0f} MiB (java reader); "
            f"whole bench: {memory.peak_mib:,.0f} MiB"
        )
        print("warm Spark Connect server (same backlog, a Connect session per run):")
        warm_rows = [("java reader", warm_java, warm_java_s, java_s)]
        if not args.java_reader_only:
            warm_rows.append(("json only", warm_json, warm_json_s, json_s))
        for label, result, seconds, reference_s in warm_rows:
            print(
                f"platform ingestion ({label}, warm server): {result.readings_in:,} records -> {result.stored:,} "
                f"stored in {seconds:.1f} s = {result.readings_in / seconds:,.0f} readings/s; per-run application "
                f"{reference_s:.1f} s; {speed_verdict(seconds, reference_s)}"
            )
        print(
            f"peak memory (server + executors + python): {warm_java_peak:,.0f} MiB (java reader); "
            f"warm part of the bench: {warm_memory.peak_mib:,.0f} MiB"
        )


if __name__ == "__main__":
    main()
