"""``iot-platform demo`` (``make run``): on a running stack, fill the last completed hours and materialize them.

1. The generator publishes the readings of the last ``--hours`` completed UTC hours (a fixed seed, so running this
   again publishes the same readings, which ingestion counts once), with the ``demo`` faults injected in the first
   minutes of the window: a frozen, a silent, a spiking and a drifting sensor, each of which recovers.
2. One ``hourly_stats_job`` run for that range is launched through Dagster's webserver (it shows in the UI), which
   ingests the topic and builds the hours; then one ``ingest_job`` run evaluates the alert rules.
3. The rows are printed from ``iot.hourly_stats``, then the open alerts and the alerts resolved within the window
   from ``iot.sensor_alerts``, with the places to look next.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import click
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError

from iot_platform.clients.dagster import DagsterClient, GraphQLDagsterClient
from iot_platform.clients.iceberg import load_catalog
from iot_platform.errors import PlatformError
from iot_platform.generator.command import backfill_command
from iot_platform.partitions import HOUR, last_completed_hours, partition_key
from iot_platform.runs import HOURLY_STATS_JOB, INGEST_JOB
from iot_platform.settings import Settings, load_settings
from iot_platform.tables import HOURLY_STATS, SENSOR_ALERTS

DEMO_FAULTS = "demo"
"""The faults the demo's readings carry (``IOT_GENERATOR_FAULTS`` values: the built-in schedule)."""

DEMO_SEED = 42
"""Seed of the demo's readings: the same hours get the same readings on every run."""

POLL_INTERVAL_S = 10.0
"""Seconds between two looks at the run's status."""

Echo = Callable[[str], None]


class DemoFailed(PlatformError):
    """The demo's backfill or Dagster run did not succeed."""


@dataclass(frozen=True)
class DemoWindow:
    """The completed UTC hours the demo fills: ``[start, end)``, partitions ``first`` to ``last``."""

    start: dt.datetime
    end: dt.datetime

    @classmethod
    def last_hours(cls, now: dt.datetime, hours: int) -> DemoWindow:
        """The ``hours`` completed UTC hours before the one holding ``now``."""
        start, end = last_completed_hours(now, hours)
        return cls(start, end)

    @property
    def first(self) -> str:
        """Partition key of the first hour."""
        return partition_key(self.start)

    @property
    def last(self) -> str:
        """Partition key of the last hour."""
        return partition_key(self.end - HOUR)

    @property
    def row_filter(self) -> str:
        """The pyiceberg filter selecting the window's rows of ``iot.hourly_stats``."""
        return f"window_start >= '{self.start.isoformat()}' and window_start < '{self.end.isoformat()}'"


def format_rows(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """``iot.hourly_stats`` rows as an aligned table, header first (a missing stddev shows as ``-``)."""
    lines = [f"    {'window_start':<20} {'sensor_id':<10} {'avg':>9} {'min':>9} {'max':>9} {'stddev':>8} {'count':>6}"]
    for row in rows:
        stddev = f"{row['stddev_value']:8.3f}" if row["stddev_value"] is not None else f"{'-':>8}"
        lines.append(
            f"    {row['window_start']:%Y-%m-%d %H:%M}     {row['sensor_id']:<10} {row['avg_value']:9.3f} "
            f"{row['min_value']:9.3f} {row['max_value']:9.3f} {stddev} {row['reading_count']:6d}"
        )
    return lines


@dataclass(frozen=True)
class AlertsSeen:
    """The open alerts and the alerts resolved within the demo's window, in start order."""

    open: list[dict[str, Any]]
    resolved: list[dict[str, Any]]


def format_alerts(rows: Sequence[Mapping[str, Any]], *, resolved: bool = False) -> list[str]:
    """``iot.sensor_alerts`` rows as an aligned table, header first (with ``resolved`` a column for when)."""
    when = f" {'resolved':<19}" if resolved else ""
    lines = [f"    {'sensor_id':<12} {'rule':<15} {'severity':<9} {'started':<19}{when} {'peak':>10}"]
    for row in rows:
        peak = f"{row['peak_value']:10.3f}" if row["peak_value"] is not None else f"{'-':>10}"
        ended = f" {row['resolved_at']:%Y-%m-%d %H:%M:%S}" if resolved else ""
        lines.append(
            f"    {row['sensor_id']:<12} {row['rule']:<15} {row['severity']:<9} "
            f"{row['started_at']:%Y-%m-%d %H:%M:%S}{ended} {peak}"
        )
    return lines


def alert_lines(alerts: AlertsSeen | None) -> list[str]:
    """What the demo prints about alerts: the open ones, then those resolved in its window."""
    if alerts is None:
        return [f"    no {SENSOR_ALERTS} table yet: alert evaluation has not run on this stack"]
    lines = [f"    open alerts: {len(alerts.open)}"]
    if alerts.open:
        lines += format_alerts(alerts.open)
    lines.append(f"    alerts resolved within the window: {len(alerts.resolved)}")
    if alerts.resolved:
        lines += format_alerts(alerts.resolved, resolved=True)
    return lines


def read_alerts(catalog: Catalog, window: DemoWindow) -> AlertsSeen | None:
    """The open alerts and those resolved within ``window`` from ``iot.sensor_alerts`` (None: no table yet)."""
    try:
        table = catalog.load_table(SENSOR_ALERTS)
    except NoSuchTableError:
        return None
    in_window = f"resolved_at >= '{window.start.isoformat()}' and resolved_at < '{window.end.isoformat()}'"
    order = [("started_at", "ascending"), ("sensor_id", "ascending"), ("rule", "ascending")]
    found = [
        table.scan(row_filter=row_filter).to_arrow().sort_by(order).to_pylist()
        for row_filter in ("state == 'open'", f"state == 'resolved' and {in_window}")
    ]
    return AlertsSeen(open=found[0], resolved=found[1])


def where_to_look(settings: Settings) -> list[str]:
    """The closing lines: the UIs of the running stack and the commands to check or stop it."""
    return [
        "",
        "Where to look next:",
        f"  Dagster UI      {settings.dagster_web_url}  (assets, runs, schedules, sensors, checks)",
        f"  REST API        {settings.api_base_url}/docs",
        f"  Spark master    {settings.master_web_url}",
        "  Status          .venv/bin/iot-platform stack status",
        "  Stop            .venv/bin/iot-platform stack down",
    ]


def wait_for_run(
    client: DagsterClient,
    run_id: str,
    timeout_s: float,
    echo: Echo,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Poll the run until it finishes or ``timeout_s`` passes, echoing its status; return the last status seen."""
    deadline = clock() + timeout_s
    status = "QUEUED"
    while clock() < deadline:
        run = client.run(run_id)
        status = run.status
        if run.finished:
            break
        echo(f"    run {run_id[:8]}: {status}")
        sleep(POLL_INTERVAL_S)
    return status


def publish_readings(window: DemoWindow) -> None:
    """Run the generator's backfill of the window in a child process.

    Raises:
        DemoFailed: the backfill exited with an error.
    """
    try:
        command = backfill_command(window.start.isoformat(), window.end.isoformat(), seed=DEMO_SEED, faults=DEMO_FAULTS)
        subprocess.run(command, check=True)
    except subprocess.CalledProcessError as exc:
        raise DemoFailed(f"the generator backfill failed (exit {exc.returncode})") from None


def materialize(client: DagsterClient, window: DemoWindow, timeout_s: float, echo: Echo) -> None:
    """Launch one ``hourly_stats_job`` run over the window and wait for it to succeed.

    Raises:
        DemoFailed: the run ended otherwise, or was still going after ``timeout_s``.
    """
    run_id = client.submit_partition_range(HOURLY_STATS_JOB, window.first, window.last, tags={})
    echo(f"2/3 launched {HOURLY_STATS_JOB} for {window.first} .. {window.last}: {client.web_url}/runs/{run_id}")
    status = wait_for_run(client, run_id, timeout_s, echo)
    if status != "SUCCESS":
        raise DemoFailed(f"run {run_id} ended {status}; see {client.web_url}/runs/{run_id}")


def evaluate_alerts(client: DagsterClient, timeout_s: float, echo: Echo) -> None:
    """Launch one ``ingest_job`` run (its last step evaluates the alert rules over what was ingested) and wait.

    The hourly run ingests the topic but does not evaluate alerts; the scheduled ingestion would within its interval,
    this run does it now so the demo can print the alerts.

    Raises:
        DemoFailed: the run ended otherwise, or was still going after ``timeout_s``.
    """
    run_id = client.submit_run(INGEST_JOB, tags={})
    echo(f"    launched {INGEST_JOB} to evaluate the alert rules: {client.web_url}/runs/{run_id}")
    status = wait_for_run(client, run_id, timeout_s, echo)
    if status != "SUCCESS":
        raise DemoFailed(f"run {run_id} ended {status}; see {client.web_url}/runs/{run_id}")


def run_demo(settings: Settings, hours: int, timeout_s: float, echo: Echo = click.echo) -> None:
    """Publish, materialize and print the last ``hours`` completed hours on the running stack.

    Raises:
        PlatformError: an engine cannot be reached, or the backfill or the run failed.
    """
    window = DemoWindow.last_hours(dt.datetime.now(dt.UTC), hours)
    echo(f"1/3 publishing sensor readings for {window.first} .. {window.last} (UTC) to {settings.kafka_topic}")
    publish_readings(window)
    client = GraphQLDagsterClient(settings.dagster_web_url)
    try:
        materialize(client, window, timeout_s, echo)
        evaluate_alerts(client, timeout_s, echo)
    finally:
        client.close()
    catalog = load_catalog(settings)
    rows = (
        catalog.load_table(HOURLY_STATS)
        .scan(row_filter=window.row_filter)
        .to_arrow()
        .sort_by([("window_start", "ascending"), ("sensor_id", "ascending")])
        .to_pylist()
    )
    echo(f"3/3 {HOURLY_STATS} has {len(rows)} rows for {window.first} .. {window.last}:")
    lines = [*format_rows(rows), "", f"{SENSOR_ALERTS}:", *alert_lines(read_alerts(catalog, window))]
    for line in [*lines, *where_to_look(settings)]:
        echo(line)


@click.command()
@click.option("--hours", type=int, default=2, show_default=True, help="Completed hours to fill and materialize.")
@click.option("--timeout", "timeout_s", type=float, default=900, show_default=True, help="Seconds to wait for the run.")
def demo(hours: int, timeout_s: float) -> None:
    """Fill the last completed hours on the running stack and materialize them through Dagster."""
    run_demo(load_settings(), hours, timeout_s)
