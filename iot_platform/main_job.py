"""The README's main job: on a running stack, fill the last completed hours and materialize them through Dagster.

1. The generator publishes the readings of the last ``--hours`` completed UTC hours (a fixed seed, so running this
   again publishes the same readings, which ingestion counts once).
2. One ``hourly_stats_job`` run for that range is launched through Dagster's webserver (it shows in the UI), which
   ingests the topic and builds the hours.
3. The rows are printed from ``iot.hourly_stats`` with the places to look next.

Run: ``python -m iot_platform.main_job [--hours N]`` (``make run`` does it after ``iot-platform stack up``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
import time

from iot_platform.errors import PlatformError, ServiceUnavailable
from iot_platform.generator.cli import backfill_command
from iot_platform.jobs import HOURLY_STATS_JOB
from iot_platform.partitions import partition_key
from iot_platform.settings import Settings, load_settings

TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}


def last_completed_hours(now: dt.datetime, hours: int) -> tuple[dt.datetime, dt.datetime]:
    """``[start, end)`` covering the ``hours`` UTC hours before the current one."""
    end = now.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    return end - dt.timedelta(hours=hours), end


def _graphql_client(settings: Settings):  # type: ignore[no-untyped-def]
    from urllib.parse import urlparse

    from dagster_graphql import DagsterGraphQLClient

    url = urlparse(settings.dagster_web_url)
    return DagsterGraphQLClient(url.hostname or "127.0.0.1", port_number=url.port or 80)


def run(settings: Settings, hours: int, timeout_s: float) -> int:
    start, end = last_completed_hours(dt.datetime.now(dt.UTC), hours)
    first, last = partition_key(start), partition_key(end - dt.timedelta(hours=1))
    print(f"1/3 publishing sensor readings for {first} .. {last} (UTC) to {settings.kafka_topic}", flush=True)
    subprocess.run(backfill_command(start.isoformat(), end.isoformat(), seed=42), check=True)

    client = _graphql_client(settings)
    tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
    try:
        run_id = client.submit_job_execution(HOURLY_STATS_JOB, tags=tags)
    except Exception as exc:  # the client raises its own errors for connection problems
        raise ServiceUnavailable("Dagster", f"{settings.dagster_web_url}: {exc}") from exc
    print(
        f"2/3 launched {HOURLY_STATS_JOB} for {first} .. {last}: {settings.dagster_web_url}/runs/{run_id}", flush=True
    )
    deadline = time.monotonic() + timeout_s
    status = "QUEUED"
    while time.monotonic() < deadline:
        status = client.get_run_status(run_id).value
        if status in TERMINAL:
            break
        print(f"    run {run_id[:8]}: {status}", flush=True)
        time.sleep(10)
    if status != "SUCCESS":
        print(f"error: run {run_id} ended {status}; see {settings.dagster_web_url}/runs/{run_id}", file=sys.stderr)
        return 1

    from iot_platform.clients.iceberg import load_catalog

    table = load_catalog(settings).load_table("iot.hourly_stats")
    rows = (
        table.scan(row_filter=f"window_start >= '{start.isoformat()}' and window_start < '{end.isoformat()}'")
        .to_arrow()
        .sort_by([("window_start", "ascending"), ("sensor_id", "ascending")])
        .to_pylist()
    )
    print(f"3/3 iot.hourly_stats has {len(rows)} rows for {first} .. {last}:")
    print(f"    {'window_start':<20} {'sensor_id':<10} {'avg':>9} {'min':>9} {'max':>9} {'stddev':>8} {'count':>6}")
    for row in rows:
        stddev = f"{row['stddev_value']:8.3f}" if row["stddev_value"] is not None else f"{'-':>8}"
        print(
            f"    {row['window_start']:%Y-%m-%d %H:%M}     {row['sensor_id']:<10} {row['avg_value']:9.3f} "
            f"{row['min_value']:9.3f} {row['max_value']:9.3f} {stddev} {row['reading_count']:6d}"
        )
    print("\nWhere to look next:")
    print(f"  Dagster UI      {settings.dagster_web_url}  (assets, runs, schedules, sensors, checks)")
    print(f"  REST API        {settings.api_base_url}/docs")
    print(f"  Spark master    {settings.master_web_url}")
    print("  Status          .venv/bin/iot-platform stack status")
    print("  Stop            .venv/bin/iot-platform stack down")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=int, default=2, help="completed hours to fill and materialize (default 2)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for the run (default 900)")
    args = parser.parse_args()
    try:
        sys.exit(run(load_settings(), args.hours, args.timeout))
    except PlatformError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except subprocess.CalledProcessError as exc:
        print(f"error: the generator backfill failed (exit {exc.returncode})", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
