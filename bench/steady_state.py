"""The platform in steady state at the seed load: machine CPU, launch-to-commit of every run, reading-to-table lag.

A private stack runs as the platform does (Kafka, Spark master + worker, catalog, the Spark Connect server in run
mode `connect`, Dagster webserver + daemon, the generator at 12 sensors every 0.5 s) with the schedules on:
ingestion every `--interval-minutes`, hourly_stats at minute 10 of each hour. In run mode `application` (each run
starts its own Spark application, the reference design) the Spark Connect server is not started.

Before the measured window: the stack starts, and with `--hourly seed-hour` (the default) the hour before the window
gets one hour of seed-load readings (`generator backfill`, 86,400 readings), ingested by one ingest_job run; then
`--settle-seconds` pass. The window lasts `--minutes`. Measured:
- machine CPU busy: /proc/stat over the window, the whole machine (every core; other load on the machine counts
  too), and the CPU time of the stack's own processes (each service's process tree, finished children included)
  over the same window, as a share of all cores;
- per run created in the window (ingest_job and hourly_stats_job, scheduled or submitted): launch = the run's
  creation (the schedule tick or submission creates it), start = the run worker's start, commit = the commit time of
  the Iceberg snapshot the run materialized (`snapshot_id` of sensor_readings, `stats_snapshot_id` of hourly_stats),
  success = the run's end; all from the Dagster instance and the Iceberg snapshot log;
- lag: for each `iot.sensor_readings` snapshot committed in the window, its commit time minus the newest and minus
  the oldest event time it added (from the added data files' column bounds); p50 and max over the snapshots.
After the window, with `--hourly`, one hourly_stats run is submitted through Dagster's GraphQL API for that hour
(`seed-hour`) or the latest complete hour (`latest`), timed the same way; its machine CPU is reported apart (it is
outside the window) and as its share of an hour.
Targets on 2 cores: an ingestion of a 5-minute batch <= 8 s launch to commit; a seed-load hour's hourly_stats
<= 10 s; machine CPU busy <= 8 % at a 5-minute interval and <= 15 % at 1 minute.

Run: .venv/bin/python bench/steady_state.py [--minutes 30] [--interval-minutes 5] [--mode connect|application]
     [--hourly seed-hour|latest|none] [--settle-seconds 60] [--compare]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from support import REPO, bench_stack

from iot_platform import tables
from iot_platform.clients.dagster import GraphQLDagsterClient
from iot_platform.clients.iceberg import load_catalog
from iot_platform.generator.command import backfill_command
from iot_platform.partitions import PARTITION_KEY_FORMAT
from iot_platform.runs import HOURLY_STATS_JOB, INGEST_JOB
from iot_platform.settings import Settings, SparkRunMode
from iot_platform.stack.process import process_stats
from iot_platform.stack.stack import Stack

PLATFORM = [
    "kafka",
    "spark-master",
    "spark-worker",
    "catalog",
    "dagster-code",
    "dagster-webserver",
    "dagster-daemon",
    "generator",
]
"""Services of the stack in run mode ``application``; ``connect`` adds the Spark Connect server after the catalog."""

SEED_INTERVAL_S = 0.5
TARGET_INGEST_S = 8.0
TARGET_HOURLY_S = 10.0
TARGET_CPU = {5: 8.0, 1: 15.0}
"""Machine CPU busy target (% of all cores) per ingestion interval (minutes)."""

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def services(mode: SparkRunMode) -> list[str]:
    """The stack's services in start order for a run mode."""
    if mode is SparkRunMode.APPLICATION:
        return list(PLATFORM)
    return [*PLATFORM[:4], "spark-connect", *PLATFORM[4:]]


# --- CPU ---------------------------------------------------------------------------------------------------------
def machine_jiffies() -> tuple[int, int]:
    """(busy, total) clock ticks of the whole machine since boot, from the first line of /proc/stat."""
    user, nice, system, idle, iowait, irq, softirq, steal = (
        int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    )
    busy = user + nice + system + irq + softirq + steal
    return busy, busy + idle + iowait


def busy_percent(before: tuple[int, int], after: tuple[int, int]) -> float:
    """Share of all cores' time that was busy between two :func:`machine_jiffies` samples."""
    return 100.0 * (after[0] - before[0]) / max(1, after[1] - before[1])


def _processes() -> dict[int, tuple[int, int]]:
    """Every process: pid -> (parent pid, CPU ticks of itself and its reaped children)."""
    return {pid: (int(fields[1]), sum(int(v) for v in fields[11:15])) for pid, fields in process_stats()}


def stack_cpu_seconds(stack: Stack, names: list[str]) -> dict[str, float]:
    """CPU seconds used so far by each service's process tree (children that ended count through their parent)."""
    table = _processes()
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    seconds = {}
    for name in names:
        record = stack.service(name).record()
        todo, ticks = ([record.pid] if record and record.pid in table else []), 0
        while todo:
            pid = todo.pop()
            ticks += table[pid][1]
            todo.extend(children.get(pid, []))
        seconds[name] = ticks / CLOCK_TICKS
    return seconds


@dataclass
class CpuWindow:
    """Machine and stack CPU between two instants."""

    stack: Stack
    names: list[str]
    began: float = 0.0
    machine: tuple[int, int] = (0, 0)
    per_service: dict[str, float] = field(default_factory=dict)

    def start(self) -> None:
        self.began, self.machine = time.monotonic(), machine_jiffies()
        self.per_service = stack_cpu_seconds(self.stack, self.names)

    def stop(self) -> tuple[float, float, dict[str, float]]:
        """Machine busy %, stack %, and each service's % of all cores since :meth:`start`."""
        wall = time.monotonic() - self.began
        machine = busy_percent(self.machine, machine_jiffies())
        now = stack_cpu_seconds(self.stack, self.names)
        cores = os.cpu_count() or 1
        per = {name: 100.0 * (now[name] - self.per_service.get(name, 0.0)) / (wall * cores) for name in self.names}
        return machine, sum(per.values()), per


# --- runs ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunFigures:
    """One Dagster run's timeline, seconds after its launch (its creation)."""

    job: str
    run_id: str
    status: str
    launched: dt.datetime
    readings: int | None
    to_start: float | None
    to_commit: float | None
    to_success: float | None


def _metadata(instance, run_id: str) -> dict[str, dict[str, object]]:  # type: ignore[no-untyped-def]
    """The run's materialization metadata per asset key (the last materialization of each)."""
    from dagster import DagsterEventType

    found: dict[str, dict[str, object]] = {}
    for entry in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION):
        materialization = entry.asset_materialization
        if materialization is not None:
            key = materialization.asset_key.to_user_string()
            found[key] = {name: value.value for name, value in materialization.metadata.items()}
    return found


def commit_time(settings: Settings, table_name: str, snapshot_id: object) -> dt.datetime | None:
    """Commit time of a snapshot of ``table_name`` (None when the run committed nothing)."""
    if not snapshot_id:
        return None
    snapshot = load_catalog(settings).load_table(table_name).snapshot_by_id(int(str(snapshot_id)))
    return None if snapshot is None else dt.datetime.fromtimestamp(snapshot.timestamp_ms / 1000, tz=dt.UTC)


def run_figures(settings: Settings, instance, record) -> RunFigures:  # type: ignore[no-untyped-def]
    """The timeline of one run record: launch, start, commit of what it materialized, success."""
    run = record.dagster_run
    launched = record.create_timestamp.astimezone(dt.UTC)
    meta = _metadata(instance, run.run_id)
    if run.job_name == HOURLY_STATS_JOB:
        stats = meta.get("hourly_stats", {})
        committed = commit_time(settings, tables.HOURLY_STATS, stats.get("stats_snapshot_id"))
        readings = stats.get("readings")
    else:
        ingested = meta.get("sensor_readings", {})
        committed = commit_time(settings, tables.SENSOR_READINGS, ingested.get("snapshot_id"))
        readings = ingested.get("readings_in")

    def after(instant: float | dt.datetime | None) -> float | None:
        if instant is None:
            return None
        moment = instant if isinstance(instant, dt.datetime) else dt.datetime.fromtimestamp(instant, tz=dt.UTC)
        return (moment - launched).total_seconds()

    return RunFigures(
        job=run.job_name,
        run_id=run.run_id,
        status=run.status.value,
        launched=launched,
        readings=int(str(readings)) if readings is not None else None,
        to_start=after(record.start_time),
        to_commit=after(committed),
        to_success=after(record.end_time) if run.status.value == "SUCCESS" else None,
    )


def runs_since(settings: Settings, since: dt.datetime, until: dt.datetime | None = None) -> list[RunFigures]:
    """Figures of every platform run created in ``[since, until)``, oldest first, once all of them have ended."""
    from dagster import DagsterInstance, RunsFilter

    with DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        deadline = time.monotonic() + 600
        while True:
            records = instance.get_run_records(RunsFilter(created_before=until, created_after=since))
            if all(record.dagster_run.is_finished for record in records) or time.monotonic() > deadline:
                break
            time.sleep(2)
        platform = [r for r in records if r.dagster_run.job_name in (INGEST_JOB, HOURLY_STATS_JOB)]
        figures = [run_figures(settings, instance, record) for record in platform]
    return sorted(figures, key=lambda run: run.launched)


def wait_for_run(client: GraphQLDagsterClient, run_id: str, timeout_s: float = 900) -> str:
    """Poll a run until it ends; its final status."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run = client.run(run_id)
        if run.finished:
            return run.status
        time.sleep(1)
    raise TimeoutError(f"run {run_id} did not end within {timeout_s:.0f} s")


# --- lag -----------------------------------------------------------------------------------------------------------
def _utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def snapshot_lags(settings: Settings, since: dt.datetime, until: dt.datetime) -> list[tuple[float, float]]:
    """For each ``iot.sensor_readings`` snapshot committed in ``[since, until)`` that added readings: (commit time
    minus the newest event time it added, commit time minus the oldest), in seconds, from the added files' bounds."""
    table = load_catalog(settings).load_table(tables.SENSOR_READINGS)
    lags = []
    for snapshot in table.snapshots():
        committed = dt.datetime.fromtimestamp(snapshot.timestamp_ms / 1000, tz=dt.UTC)
        if not since <= committed < until:
            continue
        entries = table.inspect.entries(snapshot.snapshot_id).to_pylist()
        bounds = [
            entry["readable_metrics"]["event_time"]
            for entry in entries
            if entry["status"] == 1
            and entry["snapshot_id"] == snapshot.snapshot_id
            and entry["data_file"]["content"] == 0
        ]
        if not bounds:
            continue
        newest = max(_utc(b["upper_bound"]) for b in bounds)
        oldest = min(_utc(b["lower_bound"]) for b in bounds)
        lags.append(((committed - newest).total_seconds(), (committed - oldest).total_seconds()))
    return lags


# --- preparation and the triggered hourly run --------------------------------------------------------------------
def fill_seed_hour(settings: Settings, hour: dt.datetime) -> None:
    """Publish one hour of seed-load readings for ``hour`` and ingest them with one ingest_job run."""
    from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError

    end = hour + dt.timedelta(hours=1)
    subprocess.run(
        backfill_command(hour.isoformat(), end.isoformat(), seed=11), check=True, cwd=REPO, stdout=subprocess.DEVNULL
    )
    client = DagsterGraphQLClient(settings.bind_host, port_number=settings.dagster_port)
    deadline = time.monotonic() + 120
    while True:  # the webserver answers before its code location has loaded
        try:
            run_id = client.submit_job_execution(INGEST_JOB)
            break
        except DagsterGraphQLClientError:
            if time.monotonic() > deadline:
                raise
            time.sleep(2)
    status = wait_for_run(GraphQLDagsterClient(settings.dagster_web_url), run_id)
    print(f"seed hour {hour:%Y-%m-%d %H:00} published and ingested (run {run_id[:8]} {status})", flush=True)


def timed_hourly(settings: Settings, hour: dt.datetime) -> tuple[RunFigures | None, float]:
    """Submit hourly_stats for ``hour`` through Dagster's GraphQL API and wait for it: its figures, and the machine
    CPU it cost as a share of all cores over one hour."""
    client = GraphQLDagsterClient(settings.dagster_web_url)
    before, began = machine_jiffies(), dt.datetime.now(dt.UTC)
    run_id = client.submit_partition(HOURLY_STATS_JOB, hour.strftime(PARTITION_KEY_FORMAT), {})
    wait_for_run(client, run_id)
    after = machine_jiffies()
    cores = os.cpu_count() or 1
    hour_share = 100.0 * (after[0] - before[0]) / CLOCK_TICKS / (3600 * cores)
    figures = [run for run in runs_since(settings, began - dt.timedelta(seconds=1)) if run.run_id == run_id]
    return (figures[0] if figures else None), hour_share


# --- one measurement -----------------------------------------------------------------------------------------------
@dataclass
class Measurement:
    """What one steady-state run of a stack measured."""

    mode: SparkRunMode
    interval_minutes: int
    window: tuple[dt.datetime, dt.datetime]
    machine_cpu: float
    stack_cpu: float
    per_service_cpu: dict[str, float]
    runs: list[RunFigures]
    lags: list[tuple[float, float]]
    hourly: RunFigures | None = None
    hourly_hour_share: float | None = None

    def ingestion_commits(self) -> list[float]:
        return [run.to_commit for run in self.runs if run.job == INGEST_JOB and run.to_commit is not None]

    def hourly_commit(self) -> float | None:
        if self.hourly is not None and self.hourly.to_commit is not None:
            return self.hourly.to_commit
        scheduled = [run.to_commit for run in self.runs if run.job == HOURLY_STATS_JOB and run.to_commit is not None]
        return scheduled[-1] if scheduled else None


def measure(args: argparse.Namespace, mode: SparkRunMode) -> Measurement:
    """Start a stack in ``mode``, prepare it, measure the window, then time the hourly run; stop the stack."""
    names = services(mode)
    overrides = {
        "schedules_enabled": True,
        "generator_enabled": True,
        "generator_interval_s": SEED_INTERVAL_S,
        "ingest_interval_minutes": args.interval_minutes,
        "spark_run_mode": mode,
    }
    print(f"[{mode.value}] starting the stack: {', '.join(names)}", flush=True)
    with bench_stack(f"steady-{mode.value}", names, **overrides) as settings:
        stack = Stack(settings)
        seed_hour = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=1)
        if args.hourly == "seed-hour":
            fill_seed_hour(settings, seed_hour)
        time.sleep(args.settle_seconds)
        cpu = CpuWindow(stack, names)
        cpu.start()
        began = dt.datetime.now(dt.UTC)
        print(f"[{mode.value}] measuring {args.minutes:g} min from {began:%H:%M:%S} UTC", flush=True)
        time.sleep(args.minutes * 60)
        ended = dt.datetime.now(dt.UTC)
        machine, stack_share, per_service = cpu.stop()
        runs = runs_since(settings, began, ended)
        commits = [run.launched + dt.timedelta(seconds=run.to_commit) for run in runs if run.to_commit is not None]
        lags = snapshot_lags(settings, began, max([ended, *commits]) + dt.timedelta(seconds=1))
        result = Measurement(mode, args.interval_minutes, (began, ended), machine, stack_share, per_service, runs, lags)
        if args.hourly != "none":
            hour = seed_hour if args.hourly == "seed-hour" else latest_complete_hour()
            result.hourly, result.hourly_hour_share = timed_hourly(settings, hour)
    return result


def latest_complete_hour() -> dt.datetime:
    """Start of the last UTC hour that has ended."""
    return dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=1)


# --- report --------------------------------------------------------------------------------------------------------
def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def _p50_max(values: list[float]) -> tuple[float | None, float | None]:
    return (statistics.median(values), max(values)) if values else (None, None)


def _verdict(value: float | None, target: float | None) -> str:
    if value is None or target is None:
        return "-"
    return "met" if value <= target else "MISSED"


def print_runs(result: Measurement) -> None:
    """One line per run of the window (and the submitted hourly run)."""
    print(f"{'job':<18}{'launched (UTC)':>16}{'readings':>11}{'->start':>10}{'->commit':>10}{'->success':>11}  status")
    rows = [*result.runs, *([result.hourly] if result.hourly else [])]
    for run in rows:
        readings = "-" if run.readings is None else f"{run.readings:,}"
        submitted = " (submitted after the window)" if run is result.hourly else ""
        print(
            f"{run.job:<18}{run.launched.strftime('%H:%M:%S'):>16}{readings:>11}{_s(run.to_start):>10}{_s(run.to_commit):>10}"
            f"{_s(run.to_success):>11}  {run.status}{submitted}"
        )


def summary(result: Measurement) -> list[tuple[str, str, str, str]]:
    """(figure, value, target, verdict) rows."""
    ingest_p50, ingest_max = _p50_max(result.ingestion_commits())
    newest_p50, newest_max = _p50_max([newest for newest, _ in result.lags])
    oldest_p50, oldest_max = _p50_max([oldest for _, oldest in result.lags])
    hourly = result.hourly_commit()
    cpu_target = TARGET_CPU.get(result.interval_minutes)
    rows = [
        ("ingestion launch->commit p50", _s(ingest_p50), f"<= {TARGET_INGEST_S:g} s", "-"),
        (
            "ingestion launch->commit max",
            _s(ingest_max),
            f"<= {TARGET_INGEST_S:g} s",
            _verdict(ingest_max, TARGET_INGEST_S),
        ),
        ("hourly_stats launch->commit", _s(hourly), f"<= {TARGET_HOURLY_S:g} s", _verdict(hourly, TARGET_HOURLY_S)),
        (
            "machine CPU busy (all cores)",
            f"{result.machine_cpu:.1f} %",
            "-" if cpu_target is None else f"<= {cpu_target:g} %",
            _verdict(result.machine_cpu, cpu_target),
        ),
        ("stack processes' CPU (all cores)", f"{result.stack_cpu:.1f} %", "-", "-"),
        ("lag newest reading p50 / max", f"{_s(newest_p50)} / {_s(newest_max)}", "-", "-"),
        ("lag oldest reading p50 / max", f"{_s(oldest_p50)} / {_s(oldest_max)}", "-", "-"),
    ]
    if result.hourly_hour_share is not None:
        rows.append(("submitted hourly run's CPU over 1 h", f"{result.hourly_hour_share:.2f} %", "-", "-"))
    return rows


def print_measurement(result: Measurement) -> None:
    """The runs, the per-service CPU and the summary table of one measurement."""
    began, ended = result.window
    minutes = (ended - began).total_seconds() / 60
    print(
        f"\n=== steady state, run mode {result.mode.value}: ingestion every {result.interval_minutes} min, "
        f"seed load (12 sensors every {SEED_INTERVAL_S:g} s), window {minutes:.1f} min "
        f"{began:%H:%M:%S}..{ended:%H:%M:%S} UTC, {len(result.lags)} readings snapshots"
    )
    print_runs(result)
    print(
        "CPU of the stack's processes, % of all cores: "
        + ", ".join(f"{name} {share:.1f}" for name, share in result.per_service_cpu.items())
    )
    print(f"{'figure':<38}{'value':>20}{'target':>10}  verdict")
    for figure, value, target, verdict in summary(result):
        print(f"{figure:<38}{value:>20}{target:>10}  {verdict}")


def print_comparison(warm: Measurement, reference: Measurement) -> None:
    """Ratios connect/application of the main figures."""
    pairs: list[tuple[str, Callable[[Measurement], float | None]]] = [
        ("ingestion launch->commit p50", lambda m: _p50_max(m.ingestion_commits())[0]),
        ("hourly_stats launch->commit", Measurement.hourly_commit),
        ("machine CPU busy", lambda m: m.machine_cpu),
        ("stack processes' CPU", lambda m: m.stack_cpu),
        ("lag oldest reading max", lambda m: _p50_max([oldest for _, oldest in m.lags])[1]),
    ]
    print("\n=== connect vs application (ratio connect/application; below 1 is better)")
    for name, figure in pairs:
        a, b = figure(warm), figure(reference)
        ratio = f"{a / b:.2f}" if a is not None and b else "-"
        print(f"{name:<38}{'-' if a is None else f'{a:.1f}':>10}{'-' if b is None else f'{b:.1f}':>10}{ratio:>8}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--minutes", type=float, default=30.0, help="Length of the measured window.")
    parser.add_argument("--interval-minutes", type=int, default=5, help="Ingestion schedule interval.")
    parser.add_argument("--mode", choices=[m.value for m in SparkRunMode], default=SparkRunMode.CONNECT.value)
    parser.add_argument(
        "--hourly",
        choices=["seed-hour", "latest", "none"],
        default="seed-hour",
        help="After the window, time one hourly_stats run: of the hour before the window filled with a seed-load "
        "hour (seed-hour), of the latest complete hour as it is (latest), or none.",
    )
    parser.add_argument("--settle-seconds", type=float, default=60.0, help="Pause between start-up and window.")
    parser.add_argument("--compare", action="store_true", help="Also measure run mode application; print ratios.")
    args = parser.parse_args()
    first = measure(args, SparkRunMode(args.mode))
    print_measurement(first)
    if args.compare:
        other = SparkRunMode.APPLICATION if first.mode is SparkRunMode.CONNECT else SparkRunMode.CONNECT
        second = measure(args, other)
        print_measurement(second)
        warm, reference = (first, second) if first.mode is SparkRunMode.CONNECT else (second, first)
        print_comparison(warm, reference)


if __name__ == "__main__":
    main()
