"""hourly_stats on the real stack: equal to an independent computation, idempotent, range backfills, crash-safe."""

from __future__ import annotations

import datetime as dt
import math
import os
import random
import statistics
import subprocess
import sys
import textwrap
import uuid
from collections import defaultdict
from typing import Any

import dagster as dg
import pytest

from iot_platform import tables
from iot_platform.clients.iceberg import load_catalog
from iot_platform.jobs import HOURLY_STATS_JOB
from iot_platform.settings import Settings
from iot_platform.stack.service import settings_environment
from iot_platform_tests.conftest import REPO_ROOT
from iot_platform_tests.integration.pipeline_support import (
    fresh_hour,
    hour_key,
    materialization_metadata,
    own_topic,
    produce,
    reading,
    run_job,
)

pytestmark = pytest.mark.integration


def expected_stats(readings: list[dict[str, Any]]) -> dict[tuple[dt.datetime, str], dict[str, Any]]:
    """Independent computation: first of each (sensor_id, timestamp), grouped by UTC hour, exact sums."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for r in readings:
        seen.setdefault((r["sensor_id"], r["timestamp"]), r)
    groups: dict[tuple[dt.datetime, str], list[float]] = defaultdict(list)
    for r in seen.values():
        ts = dt.datetime.fromisoformat(r["timestamp"].replace("Z", "+00:00"))
        groups[(ts.replace(minute=0, second=0, microsecond=0), r["sensor_id"])].append(r["value"])
    return {
        key: {
            "avg_value": math.fsum(values) / len(values),
            "min_value": min(values),
            "max_value": max(values),
            "stddev_value": statistics.stdev(values) if len(values) > 1 else None,
            "reading_count": len(values),
        }
        for key, values in groups.items()
    }


def stored_stats(settings: Settings, prefix: str) -> dict[tuple[dt.datetime, str], dict[str, Any]]:
    table = load_catalog(settings).load_table(tables.HOURLY_STATS)
    rows = table.scan(row_filter=f"sensor_id LIKE '{prefix}%'").to_arrow().to_pylist()
    result: dict[tuple[dt.datetime, str], dict[str, Any]] = {}
    for row in rows:
        key = (row["window_start"].astimezone(dt.UTC), row["sensor_id"])
        assert key not in result, f"two rows for {key}"
        assert row["window_end"] - row["window_start"] == dt.timedelta(hours=1)
        result[key] = row
    return result


def assert_matches(actual: dict[Any, dict[str, Any]], expected: dict[Any, dict[str, Any]]) -> None:
    assert sorted(actual) == sorted(expected)
    for key, want in expected.items():
        got = actual[key]
        assert got["reading_count"] == want["reading_count"], key
        for column in ("avg_value", "min_value", "max_value"):
            assert math.isclose(got[column], want[column], rel_tol=1e-9, abs_tol=1e-12), (key, column)
        if want["stddev_value"] is None:
            assert got["stddev_value"] is None, key
        else:
            assert math.isclose(got["stddev_value"], want["stddev_value"], rel_tol=1e-9, abs_tol=1e-12), key


def _range_tags(start: str, end: str) -> dict[str, str]:
    return {"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end}


def test_hourly_stats_equal_an_independent_computation_and_reruns_change_nothing(stack_settings: Settings) -> None:
    prefix = f"H{uuid.uuid4().hex[:6].upper()}"
    rng = random.Random(7)
    h10 = fresh_hour(hours_after=3)
    readings: list[dict[str, Any]] = []
    for sensor in range(3):
        for _ in range(200):
            ts = h10 + dt.timedelta(milliseconds=rng.randrange(0, 3_600_000))
            readings.append(reading(f"{prefix}-{sensor}", ts, round(rng.uniform(15.0, 35.0), 3)))
    # Hour boundaries: the last millisecond of 10:00 and the first of 11:00.
    readings.append(reading(f"{prefix}-0", h10 + dt.timedelta(minutes=59, seconds=59, milliseconds=999), 21.5))
    readings.append(reading(f"{prefix}-0", h10 + dt.timedelta(hours=1), 22.5))
    # A temperature no sensor can read: the range check must flag it (and the statistics still count it).
    readings.append(reading(f"{prefix}-1", h10 + dt.timedelta(hours=1, minutes=30), 500.0))
    # A one-reading hour.
    readings.append(reading(f"{prefix}-2", h10 + dt.timedelta(hours=2, minutes=5), 24.25))
    duplicates = [dict(readings[5], value=-999.0), readings[17]]
    expected = expected_stats(readings)

    # Malformed records sent during the first hour (a 2025 hour) count as that hour's rejected records; the topic
    # keeps records of that age.
    with (
        own_topic(stack_settings, "hourly", retention_hours=5 * 365 * 24) as settings,
        dg.instance_for_test() as instance,
    ):
        produce(settings, readings + duplicates)
        produce(settings, ["{broken", '{"sensor_id": 5}'], kafka_time=h10 + dt.timedelta(minutes=20))

        backfill = run_job(
            HOURLY_STATS_JOB, instance, tags=_range_tags(hour_key(h10), hour_key(h10 + dt.timedelta(hours=2)))
        )
        assert backfill.success
        meta = materialization_metadata(backfill, "hourly_stats")
        assert meta["readings"] == sum(v["reading_count"] for v in expected.values())
        assert meta["rows"] == len(expected)
        assert meta["rejected"] == 2
        assert meta["spark_app_id"].startswith("app-")
        checks = {check.check_name: check for check in backfill.get_asset_check_evaluations()}
        assert {name for name, check in checks.items() if not check.passed} == {"values_in_physical_range"}
        flagged = checks["values_in_physical_range"].metadata["rows_out_of_range"].value
        assert [row["sensor_id"] for row in flagged] == [f"{prefix}-1"]  # type: ignore[union-attr]
        assert {
            event.partition
            for event in backfill.get_asset_materialization_events()
            if event.asset_key == dg.AssetKey("hourly_stats")
        } == {hour_key(h10 + dt.timedelta(hours=n)) for n in range(3)}

        first = stored_stats(settings, prefix)
        assert_matches(first, expected)
        assert first[(h10 + dt.timedelta(hours=2), f"{prefix}-2")]["stddev_value"] is None

        for _ in range(3):  # the same partition again: identical rows, never duplicated
            again = run_job(HOURLY_STATS_JOB, instance, partition_key=hour_key(h10))
            assert again.success
        after = stored_stats(settings, prefix)
        assert_matches(after, expected)
        for key, row in first.items():
            assert {k: v for k, v in row.items() if k != "processed_at"} == {
                k: v for k, v in after[key].items() if k != "processed_at"
            }


CRASH_DURING_MERGE = textwrap.dedent(
    """
    import os, sys, threading, time
    from pyspark.sql import SparkSession
    original_sql = SparkSession.sql

    def dying_sql(self, statement, *args, **kwargs):
        if "MERGE INTO" in statement:
            tracker = self.sparkContext.statusTracker()
            def kill_when_running():
                while not tracker.getActiveJobsIds():
                    time.sleep(0.01)
                os._exit(17)  # the driver dies in the middle of the MERGE
            threading.Thread(target=kill_when_running, daemon=True).start()
        return original_sql(self, statement, *args, **kwargs)

    SparkSession.sql = dying_sql
    import datetime as dt
    from iot_platform.settings import load_settings
    from iot_platform.clients.spark import spark_session
    from iot_platform.clients.iceberg import load_catalog
    from iot_platform.pipelines.hourly_stats import build_hourly_stats
    settings = load_settings()
    start = dt.datetime.fromisoformat(sys.argv[1])
    with spark_session(settings, "iot-platform:hourly_stats:crash-test") as spark:
        build_hourly_stats(spark, load_catalog(settings), start, start + dt.timedelta(hours=1))
    sys.exit(0)
    """
)


def test_a_run_killed_mid_write_leaves_the_table_unchanged_and_the_next_run_is_exact(
    stack_settings: Settings,
) -> None:
    prefix = f"C{uuid.uuid4().hex[:6].upper()}"
    hour = fresh_hour()
    first_batch = [reading(f"{prefix}-1", hour + dt.timedelta(seconds=10 * i), float(i)) for i in range(100)]
    more = [reading(f"{prefix}-1", hour + dt.timedelta(seconds=10 * i + 5), 1000.0 + i) for i in range(100)]
    with own_topic(stack_settings, "hourcrash") as settings, dg.instance_for_test() as instance:
        produce(settings, first_batch)
        assert run_job(HOURLY_STATS_JOB, instance, partition_key=hour_key(hour)).success
        before_rows = stored_stats(settings, prefix)
        stats_table = load_catalog(settings).load_table(tables.HOURLY_STATS)
        before_snapshot = stats_table.current_snapshot().snapshot_id  # type: ignore[union-attr]

        produce(settings, more)
        assert run_job("ingest_job", instance).success
        env = {**os.environ, **settings_environment(settings)}
        crashed = subprocess.run(
            [sys.executable, "-c", CRASH_DURING_MERGE, hour.isoformat()],
            env=env,
            cwd=REPO_ROOT,
            capture_output=True,
            timeout=600,
        )
        assert crashed.returncode == 17, crashed.stderr.decode()[-2000:]
        stats_table.refresh()
        assert stats_table.current_snapshot().snapshot_id == before_snapshot  # type: ignore[union-attr]
        assert stored_stats(settings, prefix) == before_rows

        assert run_job(HOURLY_STATS_JOB, instance, partition_key=hour_key(hour)).success
        assert_matches(stored_stats(settings, prefix), expected_stats(first_batch + more))
