"""Months of operation in compressed time: growth of run times, files and disk, with table maintenance off and on.

For each maintenance setting (off, then on, each on a fresh private stack: Kafka, Spark master + worker, catalog and
the warm Spark Connect server) the bench simulates ``--days`` days of the seed load (12 sensors every 0.5 s, or
``--sensors`` sensors) from 2025-03-01 00:00 UTC in simulated time:
- every simulated batch (5 minutes, the platform's schedule; ``--batch-minutes`` for fewer commits): that batch's
  readings (the generator's reading builder, event times = simulated time) are published to the stack's readings
  topic, then ingested by the real ingestion (`run_ingestion`) in one Connect session of the warm server, in this
  process; each batch must read and store exactly the readings it published (offsets kept through maintenance);
- every simulated hour: the real `hourly_stats` build of the hour that just closed;
- with maintenance on: the platform's table maintenance on its schedule in simulated time, hourly (compaction of
  closed partitions) and daily (manifests, snapshot expiry, orphan files), with its default parameters.
Per simulated period (``--period-hours``, a day by default) it prints: ingestion seconds (p50 of the period's
batches, read to verified commit), hourly_stats seconds (p50), the hourly statistics of one sensor over the last
day read the way `/api/v1/stats/hourly` reads them (`IcebergHourlyStatsReader` in this process, a fresh reader per
request so each pays the table load: p50 of 5), live data files and bytes of each table (its current snapshot),
metadata bytes and whole-folder bytes of each table on disk, snapshots of `iot.sensor_readings`, the Dagster storage
folder (the runs are in process, so Dagster records nothing here) and the whole state folder. At the end: first vs
last period ratios and data files per closed hour partition of `iot.sensor_readings`; the figures go to
`soak.csv` and, when matplotlib is installed, `soak.png` under ``--out``.
Targets with maintenance on: last-day ingestion and hourly_stats times within 1.2x of day 1; <= 3 data files per
closed hour partition of `iot.sensor_readings`; disk growing only with the retained data.

Run: flock /work/bench.lock .venv/bin/python bench/soak.py [--days 30] [--period-hours 24] [--batch-minutes 5]
     [--sensors 12] [--maintenance both|on|off] [--verbose] [--out bench/results/soak]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from support import CORE, REPO, bench_stack

from iot_platform import tables
from iot_platform.clients.iceberg import load_catalog
from iot_platform.clients.kafka import topic_watermarks
from iot_platform.clients.spark import connect_session
from iot_platform.generator.readings import ReadingGenerator, to_epoch_ms
from iot_platform.generator.sensors_config import SensorSet, SensorType, load_sensor_set
from iot_platform.pipelines.hourly_stats import build_hourly_stats
from iot_platform.pipelines.sensor_readings.run import run_ingestion
from iot_platform.settings import Settings

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyspark.sql import SparkSession

START = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
SEED_INTERVAL_MS = 500
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
API_SAMPLES = 5
TABLES = (tables.SENSOR_READINGS, tables.REJECTED_READINGS, tables.HOURLY_STATS)
SHORT = {tables.SENSOR_READINGS: "readings", tables.REJECTED_READINGS: "rejected", tables.HOURLY_STATS: "stats"}
NAN = float("nan")
TARGET_RATIO = 1.2
TARGET_FILES_PER_HOUR = 3


# --- load ----------------------------------------------------------------------------------------------------------
def sensor_set(count: int) -> SensorSet:
    """The built-in sensor set, or ``count`` sensors made from it (its types in turn, numbered ids)."""
    seed = load_sensor_set()
    if count == seed.sensor_count:
        return seed
    specs = [(name, sensor) for name, kind in seed.types.items() for sensor in kind.sensors]
    grouped: dict[str, list[Any]] = {}
    for i in range(count):
        name, sensor = specs[i % len(specs)]
        grouped.setdefault(name, []).append(sensor.model_copy(update={"id": f"{sensor.id}-{i:04d}"}))
    types = {
        name: SensorType(unit=seed.types[name].unit, walk=seed.types[name].walk, sensors=tuple(sensors))
        for name, sensors in grouped.items()
    }
    return SensorSet(types=types)


class Publisher:
    """Publishes the readings of a simulated interval to the readings topic, event times = simulated time."""

    def __init__(self, settings: Settings, sensors: SensorSet) -> None:
        from confluent_kafka import Producer

        self.topic = settings.kafka_topic
        self.generator = ReadingGenerator(sensors, seed=21)
        self.producer = Producer(
            {
                "bootstrap.servers": settings.bootstrap_servers,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 20,
                "compression.type": "lz4",
                "queue.buffering.max.messages": 2_000_000,
            }
        )

    def publish(self, start: dt.datetime, end: dt.datetime) -> int:
        """Every sensor's readings of ``[start, end)`` at the seed cadence, all delivered; how many."""
        produce, poll, topic = self.producer.produce, self.producer.poll, self.topic
        published = 0
        for epoch_ms in range(to_epoch_ms(start), to_epoch_ms(end), SEED_INTERVAL_MS):
            for key, payload in zip(self.generator.keys, self.generator.tick(epoch_ms), strict=True):
                produce(topic, payload, key)
            published += self.generator.sensor_count
            poll(0)
        if self.producer.flush(60) != 0:
            raise RuntimeError("Kafka did not confirm every reading of the batch")
        return published


# --- maintenance ---------------------------------------------------------------------------------------------------
Maintain = Callable[["SparkSession", "Catalog", dt.datetime, bool], None]
"""Runs the platform's table maintenance at simulated time ``now``; ``daily`` adds manifests, expiry and orphans."""


@dataclass
class SimulatedClock:
    """Which wall-clock instant each simulated instant was reached at, to translate simulated ages into real ones.

    Snapshots carry real commit times, so "keep 24 hours of snapshots" in simulated time means: keep those committed
    since the wall-clock instant the simulation reached ``now - 24 h``.
    """

    marks: list[tuple[dt.datetime, dt.datetime]] = field(default_factory=list)

    def mark(self, simulated: dt.datetime) -> None:
        self.marks.append((simulated, dt.datetime.now(dt.UTC)))

    def wall_at(self, simulated: dt.datetime) -> dt.datetime:
        """The wall-clock instant of the last mark at or before ``simulated`` (the first mark when none is)."""
        reached = [wall for sim, wall in self.marks if sim <= simulated]
        return reached[-1] if reached else self.marks[0][1]


def platform_maintenance(settings: Settings, clock: SimulatedClock, log: Callable[[str], None]) -> Maintain:
    """The platform's maintenance with its default parameters, as its schedules call it: compaction of closed
    partitions every hour, manifests, snapshot expiry and orphan removal once a day (at the daily maintenance hour,
    03:00 by default), each at the close of the simulated hour. Compaction delays are judged
    in simulated time; the expiry's kept age is translated to wall-clock time through ``clock``; orphan removal
    keeps its real-clock safety age, so it removes nothing within a bench run."""
    from iot_platform.pipelines.maintenance import MaintenanceParams
    from iot_platform.pipelines.maintenance.run import compact, housekeep

    params = MaintenanceParams.from_settings(settings)

    def run(spark: SparkSession, catalog: Catalog, now: dt.datetime, daily: bool) -> None:
        compact(spark, catalog, params, now=now, log=log)
        if daily:
            wall_now = dt.datetime.now(dt.UTC)
            keep = wall_now - clock.wall_at(now - params.snapshot_keep_age)
            housekeep(spark, catalog, replace(params, snapshot_keep_age=keep), now=wall_now, log=log)

    return run


# --- figures -------------------------------------------------------------------------------------------------------
def folder_bytes(path: Path) -> int:
    """Bytes of the regular files under ``path`` (0 when it does not exist)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name), follow_symlinks=False).st_size
            except FileNotFoundError:
                continue
    return total


def local_path(location: str) -> Path:
    """The local folder of a ``file:`` table location."""
    return Path(location.removeprefix("file://").removeprefix("file:"))


@dataclass
class DayFigures:
    """What one simulated period (a day by default) measured (seconds, counts, bytes)."""

    maintenance: str
    hours: int
    """Simulated hours since the start, at the end of the period."""
    ingest_p50_s: float
    ingest_max_s: float
    hourly_p50_s: float
    api_p50_ms: float
    maintenance_s: float
    files: dict[str, int] = field(default_factory=dict)
    data_bytes: dict[str, int] = field(default_factory=dict)
    metadata_bytes: dict[str, int] = field(default_factory=dict)
    disk_bytes: dict[str, int] = field(default_factory=dict)
    snapshots: int = 0
    dagster_bytes: int = 0
    state_bytes: int = 0
    wall_s: float = 0.0

    def row(self) -> dict[str, Any]:
        """A flat CSV row."""
        flat = {k: v for k, v in asdict(self).items() if not isinstance(v, dict)}
        for name in ("files", "data_bytes", "metadata_bytes", "disk_bytes"):
            for table, value in getattr(self, name).items():
                flat[f"{SHORT[table]}_{name}"] = value
        return flat


def table_figures(catalog: Catalog, figures: DayFigures) -> None:
    """Live data files and bytes (current snapshot), metadata and whole-table bytes on disk, of each table."""
    for name in TABLES:
        table = catalog.load_table(name)
        snapshot = table.current_snapshot()
        summary = snapshot.summary if snapshot is not None and snapshot.summary is not None else None
        figures.files[name] = int(summary.get("total-data-files", 0)) if summary else 0
        figures.data_bytes[name] = int(summary.get("total-files-size", 0)) if summary else 0
        folder = local_path(table.location())
        figures.metadata_bytes[name] = folder_bytes(folder / "metadata")
        figures.disk_bytes[name] = folder_bytes(folder)
        if name == tables.SENSOR_READINGS:
            figures.snapshots = len(table.snapshots())


def api_p50_ms(settings: Settings, sensor_id: str, end: dt.datetime) -> float:
    """p50 of reading one sensor's hourly statistics of the day before ``end`` (since the start when it is less
    than a day) as the API does, a fresh reader per request."""
    from iot_platform.api.stats_reader import IcebergHourlyStatsReader, StatsQuery

    start = max(START, end - DAY)
    query = StatsQuery(sensor_id=sensor_id, start=start, end=end, limit=100)
    hours = (end - start) // HOUR
    samples = []
    for _ in range(API_SAMPLES):
        began = time.perf_counter()
        page = IcebergHourlyStatsReader(settings).read(query)
        samples.append((time.perf_counter() - began) * 1000)
        if len(page.rows) != hours:
            raise AssertionError(f"{len(page.rows)} hourly rows of {sensor_id} before {end}, expected {hours}")
    return statistics.median(samples)


def files_per_closed_hour(catalog: Catalog, closed_before: dt.datetime) -> tuple[float, int, int]:
    """Data files per hour partition of ``iot.sensor_readings`` that ended before ``closed_before``: mean, max,
    and the number of such partitions."""
    rows = catalog.load_table(tables.SENSOR_READINGS).inspect.partitions().to_pylist()
    counts = []
    for row in rows:
        hours = next(iter(row["partition"].values()))
        if EPOCH + dt.timedelta(hours=hours + 1) <= closed_before:
            counts.append(int(row["file_count"]))
    return (statistics.mean(counts) if counts else 0.0), max(counts, default=0), len(counts)


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else NAN


# --- simulation ----------------------------------------------------------------------------------------------------
@dataclass
class Simulation:
    """One table set's simulated months: the stack, its session, the load, and what each period measured."""

    settings: Settings
    spark: SparkSession
    catalog: Catalog
    publisher: Publisher
    maintain: Maintain | None
    label: str
    sensor_id: str
    clock: SimulatedClock
    batch_length: dt.timedelta
    periods: list[DayFigures] = field(default_factory=list)
    ingest_s: list[float] = field(default_factory=list)
    hourly_s: list[float] = field(default_factory=list)
    maintenance_s: float = 0.0
    warm_up: dict[str, float] = field(default_factory=dict)
    """Seconds of the first ingestion and the first hourly_stats build on the fresh server (class loading, JIT),
    printed apart and left out of the first period's p50."""

    def timed(self, kind: str, seconds: float, into: list[float]) -> None:
        """Record one run's seconds, the first of each kind as the warm-up."""
        if kind in self.warm_up:
            into.append(seconds)
        else:
            self.warm_up[kind] = seconds
            print(f"  [{self.label}] warm-up: first {kind} on the fresh server {seconds:.1f} s", flush=True)

    def batch(self, start: dt.datetime) -> None:
        """Publish and ingest one simulated batch (5 minutes by default); time the ingestion."""
        self.publisher.publish(start, start + self.batch_length)
        self.clock.mark(start)
        settings = self.settings
        began = time.monotonic()
        result = run_ingestion(
            self.spark,
            self.catalog,
            lambda: topic_watermarks(settings.bootstrap_servers, settings.kafka_topic),
            topic=settings.kafka_topic,
            bootstrap_servers=settings.bootstrap_servers,
            run_id=f"soak-{start:%Y%m%d%H%M}",
            log=lambda line: None,
        )
        self.timed("ingestion", time.monotonic() - began, self.ingest_s)
        expected = self.publisher.generator.sensor_count * (self.batch_length // dt.timedelta(milliseconds=500))
        if result.readings_in != expected or result.stored != expected:
            # Offsets lost to maintenance would show here: a re-read batch reads more than it publishes.
            raise AssertionError(
                f"batch {start:%Y-%m-%d %H:%M}: {expected} readings published, {result.readings_in} read, "
                f"{result.stored} stored"
            )

    def hour_closed(self, hour: dt.datetime) -> None:
        """Build the statistics of the hour that just closed; run the maintenance due at its end."""
        began = time.monotonic()
        build_hourly_stats(self.spark, self.catalog, hour, hour + HOUR)
        self.timed("hourly_stats", time.monotonic() - began, self.hourly_s)
        if self.maintain is not None:
            now = hour + HOUR
            began = time.monotonic()
            self.maintain(self.spark, self.catalog, now, now.hour == self.settings.maintenance_daily_hour)
            self.maintenance_s += time.monotonic() - began
        if (hour + HOUR).hour % 6 == 0 and self.ingest_s and self.hourly_s:
            recent = self.ingest_s[-72:]
            print(
                f"  [{self.label}] {hour + HOUR:%Y-%m-%d %H:%M} simulated: ingestion mean "
                f"{statistics.mean(recent):.2f} s over the last {len(recent)} batches, "
                f"hourly_stats {self.hourly_s[-1]:.2f} s, maintenance {self.maintenance_s:.0f} s so far in the period; "
                f"{dt.datetime.now(dt.UTC):%H:%M:%S} UTC",
                flush=True,
            )

    def period(self, start: dt.datetime, end: dt.datetime) -> DayFigures:
        """Simulate ``[start, end)`` batch by batch; its figures."""
        began = time.monotonic()
        self.ingest_s, self.hourly_s, self.maintenance_s = [], [], 0.0
        moment = start
        while moment < end:
            self.batch(moment)
            moment += self.batch_length
            if moment.minute == 0:
                self.hour_closed(moment - HOUR)
        figures = DayFigures(
            maintenance=self.label,
            hours=(end - START) // HOUR,
            ingest_p50_s=_median(self.ingest_s),
            ingest_max_s=max(self.ingest_s, default=NAN),
            hourly_p50_s=_median(self.hourly_s),
            api_p50_ms=api_p50_ms(self.settings, self.sensor_id, end),
            maintenance_s=self.maintenance_s,
        )
        table_figures(self.catalog, figures)
        figures.dagster_bytes = folder_bytes(self.settings.dagster_home)
        figures.state_bytes = folder_bytes(self.settings.state_dir)
        figures.wall_s = time.monotonic() - began
        self.periods.append(figures)
        return figures


@contextmanager
def simulation(
    label: str, sensors: SensorSet, batch_length: dt.timedelta, log: Callable[[str], None]
) -> Iterator[Simulation]:
    """A fresh private stack with the warm Spark Connect server, its readings topic, and one Connect session; the
    platform's maintenance on its schedule when ``label`` is ``on``."""
    from iot_platform.stack.kafka import ensure_topic

    with bench_stack(f"soak-{label}", services=[*CORE, "spark-connect"]) as settings:
        ensure_topic(settings)
        with connect_session(settings.connect_url, tag=f"iot-platform-bench-soak-{label}") as spark:
            catalog = load_catalog(settings)
            first = next(iter(sensors.types.values())).sensors[0].id
            clock = SimulatedClock()
            maintain = platform_maintenance(settings, clock, log) if label == "on" else None
            publisher = Publisher(settings, sensors)
            yield Simulation(settings, spark, catalog, publisher, maintain, label, first, clock, batch_length)


# --- report --------------------------------------------------------------------------------------------------------
def _kib(value: int) -> str:
    return f"{value / 2**10:.0f}"


def _mib(value: int) -> str:
    return f"{value / 2**20:.1f}"


HEADER = (
    f"{'maint':<6}{'sim h':>6}{'ingest p50':>11}{'max':>6}{'hourly p50':>11}{'api p50':>9}{'maint':>7}"
    f"{'files r/rej/st':>16}{'data MiB r':>11}{'meta KiB r/st':>14}{'disk MiB r':>11}{'snaps':>7}"
    f"{'dagster':>8}{'state MiB':>10}{'wall':>7}"
)


def day_line(f: DayFigures) -> str:
    """One period's figures on one line (seconds, ms, MiB)."""
    r, rej, st = tables.SENSOR_READINGS, tables.REJECTED_READINGS, tables.HOURLY_STATS
    return (
        f"{f.maintenance:<6}{f.hours:>6}{f.ingest_p50_s:>10.2f}s{f.ingest_max_s:>5.1f}s{f.hourly_p50_s:>10.2f}s"
        f"{f.api_p50_ms:>7.1f}ms{f.maintenance_s:>6.0f}s"
        f"{f'{f.files[r]}/{f.files[rej]}/{f.files[st]}':>16}{_mib(f.data_bytes[r]):>11}"
        f"{f'{_kib(f.metadata_bytes[r])}/{_kib(f.metadata_bytes[st])}':>14}{_mib(f.disk_bytes[r]):>11}"
        f"{f.snapshots:>7}{_mib(f.dagster_bytes):>8}{_mib(f.state_bytes):>10}{f.wall_s:>6.0f}s"
    )


def ratio_lines(run: Simulation) -> list[str]:
    """First vs last period ratios and files per closed hour partition, with the targets."""
    first, last = run.periods[0], run.periods[-1]
    from iot_platform.pipelines.maintenance import MaintenanceParams

    delay = MaintenanceParams.from_settings(run.settings).compaction_delay
    mean, most, count = files_per_closed_hour(run.catalog, START + last.hours * HOUR - delay)
    lines = []
    for name, a, b, target in (
        ("ingestion p50", first.ingest_p50_s, last.ingest_p50_s, TARGET_RATIO),
        ("hourly_stats p50", first.hourly_p50_s, last.hourly_p50_s, TARGET_RATIO),
        ("stats read p50", first.api_p50_ms, last.api_p50_ms, None),
        (
            "readings metadata bytes",
            first.metadata_bytes[tables.SENSOR_READINGS],
            last.metadata_bytes[tables.SENSOR_READINGS],
            None,
        ),
        ("state folder bytes", first.state_bytes, last.state_bytes, None),
    ):
        ratio = b / a if a else float("nan")
        verdict = "" if target is None else (" (target <= 1.2: met)" if ratio <= target else " (target <= 1.2: MISSED)")
        lines.append(f"[{run.label}] {name} at hour {last.hours} / at hour {first.hours}: {ratio:.2f}{verdict}")
    lines.append(
        f"[{run.label}] data files per closed hour partition of iot.sensor_readings (ended {delay} before the "
        f"simulated end): mean {mean:.1f}, max {most} over {count} hours (target <= {TARGET_FILES_PER_HOUR})"
    )
    return lines


def write_outputs(out: Path, runs: list[Simulation], *, plot: bool = True) -> None:
    """``soak.csv`` with every period's figures, and ``soak.png`` (the curves) when matplotlib is installed."""
    out.mkdir(parents=True, exist_ok=True)
    rows = [figures.row() for run in runs for figures in run.periods]
    with (out / "soak.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    if not plot:
        return
    print(f"figures written to {out / 'soak.csv'}")
    try:
        import matplotlib
    except ImportError:
        print("matplotlib is not installed: no plot")
        return
    matplotlib.use("Agg")
    draw(out / "soak.png", runs)
    print(f"plot written to {out / 'soak.png'}")


def draw(path: Path, runs: list[Simulation]) -> None:
    """Four panels (run times, API read, readings data files, disk), one curve per maintenance setting."""
    import matplotlib.pyplot as plt

    panels: list[tuple[str, Callable[[DayFigures], float]]] = [
        ("ingestion p50 (s)", lambda f: f.ingest_p50_s),
        ("hourly_stats p50 (s)", lambda f: f.hourly_p50_s),
        ("stats read p50 (ms)", lambda f: f.api_p50_ms),
        ("sensor_readings data files", lambda f: f.files[tables.SENSOR_READINGS]),
        ("sensor_readings metadata (MiB)", lambda f: f.metadata_bytes[tables.SENSOR_READINGS] / 2**20),
        ("state folder (MiB)", lambda f: f.state_bytes / 2**20),
    ]
    figure, axes = plt.subplots(2, 3, figsize=(14, 7))
    for axis, (title, value) in zip(axes.flat, panels, strict=True):
        for run in runs:
            axis.plot(
                [f.hours for f in run.periods],
                [value(f) for f in run.periods],
                marker="o",
                label=f"maintenance {run.label}",
            )
        axis.set_title(title)
        axis.set_xlabel("simulated hours")
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def maintenance_log(verbose: bool) -> Callable[[str], None]:
    """Where the maintenance's progress lines go: indented on stdout, or nowhere."""
    return (lambda line: print(f"    maintenance: {line}", flush=True)) if verbose else (lambda line: None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--days", type=float, default=30, help="Simulated days per maintenance setting (whole hours).")
    parser.add_argument("--period-hours", type=int, default=24, help="Simulated hours per row of figures.")
    parser.add_argument("--sensors", type=int, default=12, help="Simulated sensors, each reading every 0.5 s.")
    parser.add_argument("--maintenance", choices=["both", "off", "on"], default="both")
    parser.add_argument(
        "--batch-minutes",
        type=int,
        default=5,
        choices=[5, 10, 15, 20, 30, 60],
        help="Simulated minutes per ingestion (the platform's schedule: 5); longer batches mean fewer commits a day.",
    )
    parser.add_argument("--verbose", action="store_true", help="Print the maintenance's progress lines.")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "soak")
    args = parser.parse_args()
    sensors = sensor_set(args.sensors)
    batch_length = dt.timedelta(minutes=args.batch_minutes)
    labels = ["off", "on"] if args.maintenance == "both" else [args.maintenance]
    print(
        f"soak: {args.days} simulated days of {sensors.sensor_count} sensors every 0.5 s from {START:%Y-%m-%d}, "
        f"{args.batch_minutes}-minute batches, maintenance {' then '.join(labels)}; "
        f"started {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        flush=True,
    )
    runs = []
    for label in labels:
        with simulation(label, sensors, batch_length, maintenance_log(args.verbose)) as run:
            print(HEADER, flush=True)
            runs.append(run)
            end, period = START + HOUR * round(args.days * 24), dt.timedelta(hours=args.period_hours)
            moment = START
            while moment < end:
                print(day_line(run.period(moment, min(moment + period, end))), flush=True)
                moment += period
                write_outputs(args.out, runs, plot=moment >= end)
            print("\n".join(ratio_lines(run)), flush=True)


if __name__ == "__main__":
    main()
