"""Micro-benchmark: readings/s of ``parse_readings`` + ``split_valid_rejected`` + ``dedupe_readings`` in local Spark.

Synthetic Kafka-shaped rows (binary JSON values, 3 partitions, ~1% duplicates, ~1% malformed) are built inside Spark
and cached first, so the timing covers only the transforms. Each stage is forced with the ``noop`` writer.

    .venv/bin/python bench/transforms_throughput.py --rows 2000000 --master 'local[2]'
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from iot_platform.clients.spark import locate_platform_jar
from iot_platform.settings import load_settings
from iot_platform.transforms.hourly_stats import aggregate_hourly
from iot_platform.transforms.readings import dedupe_readings, parse_readings, split_valid_rejected

SENSOR_TYPES = (("TEMP", "temperature", "celsius"), ("HUMID", "humidity", "percent"), ("PRESS", "pressure", "hPa"))


def synthetic_kafka(spark: SparkSession, rows: int, sensors: int, partitions: int) -> DataFrame:
    """Kafka-source-shaped rows; every 100th is a duplicate of its predecessor, every 97th malformed."""
    n = F.col("id")
    dup = (n % 100) == 99
    reading = F.when(dup, n - 1).otherwise(n)  # a duplicate repeats the previous reading's sensor and time
    sensor = reading % sensors
    kind = sensor % 3
    prefix = F.element_at(F.array(*(F.lit(p) for p, _, _ in SENSOR_TYPES)), (kind + 1).cast("int"))
    stype = F.element_at(F.array(*(F.lit(t) for _, t, _ in SENSOR_TYPES)), (kind + 1).cast("int"))
    unit = F.element_at(F.array(*(F.lit(u) for _, _, u in SENSOR_TYPES)), (kind + 1).cast("int"))
    event_ms = F.lit(1_795_516_200_000) + (reading / sensors).cast("long") * 500
    ts = F.date_format(F.timestamp_millis(event_ms), "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'")
    value = F.round(F.lit(20.0) + (reading % 1000) / 37.0, 3)
    payload = F.format_string(
        '{"sensor_id": "%s-%03d", "sensor_type": "%s", "location": "factory-%s", "value": %s, "unit": "%s", '
        '"timestamp": "%s"}',
        prefix,
        sensor,
        stype,
        F.char(F.lit(65) + sensor % 4),
        value.cast("string"),
        unit,
        ts,
    )
    malformed = F.when((n % 97) == 5, F.regexp_replace(payload, '"value": ([0-9.]+)', '"value": "$1"')).when(
        (n % 97) == 50, F.substring(payload, 1, 40)
    )
    return spark.range(rows, numPartitions=partitions).select(
        F.col("id").cast("string").cast("binary").alias("key"),
        F.coalesce(malformed, payload).cast("binary").alias("value"),
        F.lit("sensor-raw").alias("topic"),
        F.spark_partition_id().alias("partition"),
        n.alias("offset"),
        F.current_timestamp().alias("timestamp"),
    )


class JvmCpu:
    """CPU seconds used by the local-mode JVM (driver and executors), read from /proc: on a shared machine the
    wall clock says more about the neighbours than about the code."""

    def __init__(self, spark: SparkSession) -> None:
        self.pid = spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()  # type: ignore[union-attr]

    def seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(label: str, df: DataFrame, rows: int, cpu: JvmCpu, repeat: int) -> dict[str, float]:
    """Run ``df`` into the noop sink ``repeat`` times (the first warms the JIT up) and report the last run."""
    for _ in range(repeat):
        cpu_start, start = cpu.seconds(), time.perf_counter()
        df.write.format("noop").mode("overwrite").save()
        wall, used = time.perf_counter() - start, cpu.seconds() - cpu_start
    result = {
        "wall_s": round(wall, 2),
        "cpu_s": round(used, 2),
        "readings_per_s": round(rows / wall),
        "readings_per_cpu_s": round(rows / used),
    }
    print(
        f"{label:<44} {wall:7.2f} s {rows / wall:11,.0f}/s   cpu {used:7.2f} s {rows / used:11,.0f}/cpu-s", flush=True
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--sensors", type=int, default=300)
    parser.add_argument("--partitions", type=int, default=3, help="Kafka partitions (input splits)")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--shuffle-partitions", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each stage; the last is reported")
    args = parser.parse_args()

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # Python workers run this interpreter, not `python3`
    spark = (
        SparkSession.builder.master(args.master)
        .appName("bench-transforms-throughput")
        .config("spark.jars", str(locate_platform_jar(load_settings().cache_dir)))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "4g")  # the cached input must fit, or it is rebuilt inside every timing
        .config("spark.sql.shuffle.partitions", str(args.shuffle_partitions))
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    cpu = JvmCpu(spark)
    raw = synthetic_kafka(spark, args.rows, args.sensors, args.partitions).cache()
    raw.count()

    parsed = parse_readings(raw)
    valid, rejected = split_valid_rejected(parsed)
    deduped = dedupe_readings(valid)
    stages = {
        "read cached input only": raw.select(F.length("value")),
        "parse_readings (all columns)": parsed,
        "parse + split: valid": valid,
        "parse + split: rejected": rejected,
        "parse + split + dedupe_readings": deduped,
        "parse + split + dedupe + aggregate_hourly": aggregate_hourly(deduped, F.current_timestamp()),
    }
    results = {label: timed(label, df, args.rows, cpu, args.repeat) for label, df in stages.items()}
    counts = {"rows": args.rows, "valid": valid.count(), "unique": deduped.count(), "rejected": rejected.count()}
    report = {"master": args.master, "load_average": os.getloadavg(), "counts": counts, "stages": results}
    print(json.dumps(report, indent=2))
    spark.stop()


if __name__ == "__main__":
    main()
