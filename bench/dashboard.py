"""First load of the dashboard's overview and sensors pages with 1,000 sensors and 30 days of hourly statistics.

``iot.hourly_stats`` (1,000 sensors x 30 days x 24 hours = 720,000 rows, one commit per day as the hourly runs
write them), ``iot.sensor_state`` (1,000 rows) and some open alerts live in a temporary SQLite catalog; the
registry lists the 1,000 sensors. The API serves them over HTTP from this process (Dagster and the Spark master are
the unit tests' in-memory stand-ins and Kafka's watermarks a constant, so only the dashboard's own work is timed)
and Debian's ``chromium`` loads each page in a fresh browser context: the time from navigation until the page has
shown its first answer
(``main[data-state=ready]``; on the sensors page also every sparkline in view drawn). Target: under 1 s.
Run: .venv/bin/python bench/dashboard.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import shutil
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from iot_platform.tables import HOURLY_STATS, SENSOR_ALERTS, SENSOR_STATE, TABLES

SENSORS = 1000
DAYS = 30
TYPES = {
    "temperature": ("TEMP", "celsius", 22.0),
    "humidity": ("HUMID", "percent", 45.0),
    "pressure": ("PRESS", "hPa", 1013.0),
}
LOCATIONS = [f"factory-{letter}" for letter in "ABCDEFGH"]


def registry_file(folder: Path) -> tuple[Path, list[dict[str, str]]]:
    """The built-in registry with 1,000 sensors instead of the default twelve."""
    builtin = yaml.safe_load((Path(__file__).resolve().parent.parent / "iot_platform" / "sensors.yaml").read_text())
    kinds = list(TYPES)
    sensors = []
    for i in range(SENSORS):
        kind = kinds[i % len(kinds)]
        sensors.append({"id": f"{TYPES[kind][0]}-{i:04d}", "type": kind, "location": LOCATIONS[i % len(LOCATIONS)]})
    builtin["sensors"] = sensors
    path = folder / "registry.yaml"
    path.write_text(yaml.safe_dump(builtin))
    return path, sensors


def create(catalog: Any, name: str) -> Any:
    contract = TABLES[name]
    return catalog.create_table(
        name, schema=contract.iceberg_schema(), partition_spec=contract.iceberg_partition_spec()
    )


def seed(catalog: Any, sensors: list[dict[str, str]], now: dt.datetime) -> None:
    """Thirty days of hourly rows up to the last complete hour, the sensors' state, open alerts on every 50th."""
    rng = random.Random(7)
    catalog.create_namespace("iot")
    stats = create(catalog, HOURLY_STATS)
    last = now.replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=1)
    first = last - dt.timedelta(hours=DAYS * 24 - 1)
    schema = stats.schema().as_arrow()
    for day in range(DAYS):
        hours = [first + dt.timedelta(hours=day * 24 + h) for h in range(24)]
        columns: dict[str, list[Any]] = {name: [] for name in schema.names}
        for hour in hours:
            for sensor in sensors:
                base = TYPES[sensor["type"]][2]
                avg = base + rng.uniform(-3, 3)
                columns["window_start"].append(hour)
                columns["window_end"].append(hour + dt.timedelta(hours=1))
                columns["sensor_id"].append(sensor["id"])
                columns["sensor_type"].append(sensor["type"])
                columns["location"].append(sensor["location"])
                columns["avg_value"].append(avg)
                columns["min_value"].append(avg - 1)
                columns["max_value"].append(avg + 1)
                columns["stddev_value"].append(0.4)
                columns["reading_count"].append(7200)
                columns["processed_at"].append(now)
        for name in schema.names:  # columns after the contract's eleven (threshold breach counts) stay null
            if len(columns[name]) == 0:
                columns[name] = [None] * len(hours) * len(sensors)
        stats.append(pa.Table.from_pydict(columns, schema=schema))
    state = create(catalog, SENSOR_STATE)
    state.append(
        pa.Table.from_pylist(
            [
                {
                    "sensor_id": s["id"],
                    "sensor_type": s["type"],
                    "location": s["location"],
                    "unit": TYPES[s["type"]][1],
                    "first_reading_at": first,
                    "last_reading_at": now,
                    "last_value": TYPES[s["type"]][2],
                    "updated_at": now,
                }
                for s in sensors
            ],
            schema=state.schema().as_arrow(),
        )
    )
    alerts = create(catalog, SENSOR_ALERTS)
    alerts.append(
        pa.Table.from_pylist(
            [
                {
                    "alert_id": f"bench-{s['id']}",
                    "sensor_id": s["id"],
                    "sensor_type": s["type"],
                    "location": s["location"],
                    "rule": "threshold",
                    "severity": "warning",
                    "state": "open",
                    "started_at": now - dt.timedelta(hours=2),
                    "last_seen_at": now,
                    "resolved_at": None,
                    "peak_value": 99.0,
                    "threshold": 35.0,
                    "readings": 5,
                    "detail": "bench",
                    "evaluated_at": now,
                }
                for s in sensors[::50]
            ],
            schema=alerts.schema().as_arrow(),
        )
    )


def serve(app: Any) -> tuple[str, Any]:
    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server


def first_load_ms(browser: Any, url: str, sensors_page: bool) -> float:
    """Milliseconds from navigation until the page shows its first answer, in a fresh context (empty cache)."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    began = time.perf_counter()
    page.goto(url)
    page.wait_for_selector("main[data-state=ready]", timeout=60_000)
    if sensors_page:
        page.wait_for_function(
            "[...document.querySelectorAll('.tile')].slice(0, 40).every(t => t.querySelector('canvas'))",
            timeout=60_000,
        )
    elapsed = (time.perf_counter() - began) * 1000
    context.close()
    return elapsed


def main() -> None:
    """Seed, serve, load each page ``--repeat`` times, print the figures."""
    from playwright.sync_api import sync_playwright
    from pyiceberg.catalog.sql import SqlCatalog

    from iot_platform.api.cluster_cache import TimedReading
    from iot_platform.api.main import create_app
    from iot_platform.settings import load_settings
    from iot_platform_tests.api.fakes import FakeConnectServer, FakeDagster, FakeMaster

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="Loads of each page.")
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("error: no chromium on PATH: `make browser` installs it")

    folder = Path(tempfile.mkdtemp(prefix="iot-bench-dashboard-"))
    (folder / "warehouse").mkdir()
    catalog = SqlCatalog("bench", uri=f"sqlite:///{folder / 'catalog.db'}", warehouse=(folder / "warehouse").as_uri())
    registry, sensors = registry_file(folder)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    began = time.perf_counter()
    seed(catalog, sensors, now)
    print(f"seeded {SENSORS} sensors x {DAYS} days of hourly rows in {time.perf_counter() - began:.0f} s")
    settings = load_settings(state_dir=folder / "state", sensor_registry=registry)
    app = create_app(
        settings,
        dagster=FakeDagster(),
        spark_master=FakeMaster(),
        connect_server_id=FakeConnectServer(),
        catalog_factory=lambda: catalog,
    )
    app.state.clients.watermarks = TimedReading(lambda: {0: (0, 0)})  # no Kafka here: the overview's lag is zero
    base, server = serve(app)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            for name, sensors_page in (("overview", False), ("sensors", True)):
                times = [first_load_ms(browser, f"{base}/dashboard#/{name}", sensors_page) for _ in range(args.repeat)]
                print(
                    f"  {name}: first load {times[0]:.0f} ms (API cold), then median "
                    f"{statistics.median(times[1:] or times):.0f} ms, max {max(times):.0f} ms (target < 1000 ms)"
                )
            browser.close()
    finally:
        server.should_exit = True


if __name__ == "__main__":
    main()
