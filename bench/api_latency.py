"""Latency of the REST API under 50 concurrent clients: p50/p99 of ``GET /api/v1/cluster/status``, of
``GET /api/v1/stats/hourly`` (one day of one sensor type) and of ``GET /ready``, each for a bounded time, against a
real uvicorn.

The benchmark starts what it needs as its own stack (own state folder and ports, the shared download cache):
the Spark master and a worker, the Iceberg catalog, and the API as the stack runs it (``iot-platform api``).
It writes a week of hourly statistics for 30 sensors into ``iot.hourly_stats`` with pyiceberg first. Clients are
asyncio keep-alive HTTP/1.1 connections (little CPU, so the 2 cores go to the server); latency is measured per
request from send to last byte. Everything it started is stopped at the end.

Target: cluster status p99 <= 50 ms with 0 errors (the master's state is shared for a second, so 50 clients do
not hammer the master). Run: .venv/bin/python bench/api_latency.py [--seconds 10] [--clients 50]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from support import REPO, bench_stack

from iot_platform.settings import Settings
from iot_platform.stack.stack import Stack
from iot_platform.tables import HOURLY_STATS

SERVICES = ["spark-master", "spark-worker", "catalog", "api"]
FIRST_HOUR = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
DAYS, SENSORS = 7, 30
TYPES = ("temperature", "humidity", "pressure")
TARGET_P99_MS = 50.0


@dataclass
class Result:
    """Latencies (ms) of the successful requests and the failures of one endpoint's run."""

    path: str
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    server_cpu_s: float = 0.0
    """CPU time the API process used during the run: per request, a figure other load on the machine cannot skew."""

    def percentile(self, p: float) -> float:
        """The ``p``-th percentile latency in ms (nearest rank)."""
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] if ordered else float("nan")


def seed_hourly_stats(settings: Settings) -> int:
    """Write DAYS x 24 hours x SENSORS rows of hourly statistics, one commit per day; return the row count."""
    import pyarrow as pa

    from iot_platform.clients.iceberg import load_catalog
    from iot_platform.tables import hourly_stats_iceberg_schema

    schema, spec = hourly_stats_iceberg_schema()
    catalog = load_catalog(settings)
    table = catalog.create_table(HOURLY_STATS, schema=schema, partition_spec=spec)
    now = dt.datetime.now(dt.UTC)
    total = 0
    for day in range(DAYS):
        rows = []
        for hour in range(24):
            start = FIRST_HOUR + dt.timedelta(days=day, hours=hour)
            for s in range(SENSORS):
                kind = TYPES[s % len(TYPES)]
                value = 20.0 + s + hour / 10
                rows.append(
                    {
                        "window_start": start,
                        "window_end": start + dt.timedelta(hours=1),
                        "sensor_id": f"{kind[:4].upper()}-{s:03d}",
                        "sensor_type": kind,
                        "location": f"factory-{'ABC'[s % 3]}",
                        "avg_value": value,
                        "min_value": value - 2,
                        "max_value": value + 2,
                        "stddev_value": 0.8,
                        "reading_count": 7200,
                        "processed_at": now,
                    }
                )
        table.append(pa.Table.from_pylist(rows, schema=table.schema().as_arrow()))
        total += len(rows)
    return total


async def _client(
    host: str, port: int, path: str, deadline: float, result: Result, answers: tuple[bytes, ...] = (b"200",)
) -> None:
    """One keep-alive connection sending GET ``path`` back to back until ``deadline``; a status outside
    ``answers`` counts as an error."""
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: application/json\r\n\r\n".encode()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            writer.write(request)
            await writer.drain()
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            elapsed_ms = (time.perf_counter() - began) * 1000
            status = status_line.split(b" ", 2)[1:2]
            if status and status[0] in answers:
                result.latencies_ms.append(elapsed_ms)
            else:
                result.errors.append(status_line.decode(errors="replace").strip())
    finally:
        writer.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def load(
    host: str,
    port: int,
    path: str,
    clients: int,
    seconds: float,
    server_pid: int,
    answers: tuple[bytes, ...] = (b"200",),
) -> Result:
    """``clients`` connections hitting ``path`` for ``seconds``; statuses in ``answers`` are answers."""
    result = Result(path)
    cpu_before = cpu_seconds(server_pid)
    began = time.perf_counter()
    outcomes = await asyncio.gather(
        *(_client(host, port, path, began + seconds, result, answers) for _ in range(clients)),
        return_exceptions=True,
    )
    result.seconds = time.perf_counter() - began
    result.server_cpu_s = cpu_seconds(server_pid) - cpu_before
    result.errors += [f"{type(o).__name__}: {o}" for o in outcomes if isinstance(o, BaseException)]
    return result


def report(result: Result, target_ms: float | None) -> bool:
    """Print one endpoint's figures; return whether it met its target (if any)."""
    n = len(result.latencies_ms)
    p50, p99 = result.percentile(50), result.percentile(99)
    mean = statistics.fmean(result.latencies_ms) if n else float("nan")
    rate = n / result.seconds
    slowest = max(result.latencies_ms, default=0.0)
    print(f"{result.path}\n  requests {n} in {result.seconds:.1f} s ({rate:.0f}/s), errors {len(result.errors)}")
    print(f"  p50 {p50:.1f} ms  p99 {p99:.1f} ms  mean {mean:.1f} ms  max {slowest:.1f} ms")
    if n:
        share = result.server_cpu_s / result.seconds
        print(f"  API process CPU: {result.server_cpu_s * 1e6 / n:.0f} us per request ({share:.0%} of one core)")
    if result.errors:
        print(f"  first errors: {result.errors[:3]}")
    if target_ms is None:
        return True
    met = p99 <= target_ms and not result.errors
    print(f"  target p99 <= {target_ms:.0f} ms, 0 errors: {'met' if met else 'MISSED'}")
    return met


def main() -> None:
    """Start the stack, seed the table, load each endpoint, print the figures, stop the stack."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="Load time per endpoint.")
    parser.add_argument("--clients", type=int, default=50, help="Concurrent connections.")
    args = parser.parse_args()

    os.chdir(REPO)
    began = time.monotonic()
    with bench_stack("api", services=SERVICES[:-1], api_token="bench") as settings:
        stack = Stack(settings)
        rows = seed_hourly_stats(settings)
        stack.up(only=SERVICES[-1:])
        print(f"stack ({', '.join(SERVICES)}) up and {rows} rows written in {time.monotonic() - began:.0f} s")
        base = settings.api_base_url
        day = FIRST_HOUR + dt.timedelta(days=3)
        stats_path = (
            "/api/v1/stats/hourly?sensor_type=temperature"
            f"&start={day:%Y-%m-%dT%H:%M:%SZ}&end={day + dt.timedelta(days=1):%Y-%m-%dT%H:%M:%SZ}&limit=1000"
        )
        expected = len([s for s in range(SENSORS) if s % len(TYPES) == 0]) * 24
        answered = httpx.get(base + stats_path, timeout=30).json()
        assert len(answered) == expected, f"stats answered {len(answered)} rows, expected {expected}"
        assert httpx.get(base + "/api/v1/cluster/status", timeout=30).json()["worker_count"] == 1
        print(f"{args.clients} concurrent keep-alive clients, {args.seconds:.0f} s per endpoint, loopback")
        print(f"machine load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
        host, port = settings.bind_host, settings.api_port
        record = stack.service("api").record()
        assert record is not None
        status = asyncio.run(load(host, port, "/api/v1/cluster/status", args.clients, args.seconds, record.pid))
        met = report(status, TARGET_P99_MS)
        stats = asyncio.run(load(host, port, stats_path, args.clients, args.seconds, record.pid))
        report(stats, None)
        print(f"  ({expected} rows per answer)")
        # No Dagster in this stack: /ready answers 503 naming it, from a reading shared for a second.
        readiness = asyncio.run(load(host, port, "/ready", args.clients, args.seconds, record.pid, (b"200", b"503")))
        report(readiness, None)
        print(f"\ncluster status target: {'met' if met else 'MISSED'}")


if __name__ == "__main__":
    main()
