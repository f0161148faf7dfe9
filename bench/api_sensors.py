"""Cost of ``GET /api/v1/sensors`` at the seed load: the last hour of ``iot.sensor_readings`` holds 12 sensors x 2
readings/s = 86,400 rows, written as ingestion writes them (one commit every 5 minutes, a file per Kafka partition).

The table lives in a temporary SQLite catalog (no stack needed); the API runs in process on it with the built-in
registry. Reported: the last-hour scan alone (planning + reading ``sensor_id, event_time, value``), a first
request (nothing cached), and requests while the count is reused (within ``RECENT_TTL_S``).
Run: .venv/bin/python bench/api_sensors.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa

from iot_platform.tables import SENSOR_READINGS, SENSOR_READINGS_TABLE

SENSORS = [f"{kind}-00{i}" for kind in ("TEMP", "HUMID", "PRESS") for i in range(1, 5)]
RATE_PER_S = 2
COMMIT_MINUTES = 5
PARTITIONS = 3


def seed(catalog: Any, now: dt.datetime) -> int:
    """Write the hour before ``now`` (and five minutes more) as ingestion would; return the rows in the last hour."""
    table = catalog.create_table(
        SENSOR_READINGS,
        schema=SENSOR_READINGS_TABLE.iceberg_schema(),
        partition_spec=SENSOR_READINGS_TABLE.iceberg_partition_spec(),
    )
    start = now - dt.timedelta(minutes=60 + COMMIT_MINUTES)
    for commit in range(60 // COMMIT_MINUTES + 1):
        rows = []
        for k in range(COMMIT_MINUTES * 60 * RATE_PER_S):
            at = start + dt.timedelta(minutes=COMMIT_MINUTES * commit, seconds=k / RATE_PER_S)
            for j, sensor_id in enumerate(SENSORS):
                rows.append(
                    {
                        "sensor_id": sensor_id,
                        "sensor_type": "temperature",
                        "location": "factory-A",
                        "value": 20.0 + k / 1000,
                        "unit": "celsius",
                        "event_time": at,
                        "kafka_topic": "sensor-raw",
                        "kafka_partition": j % PARTITIONS,
                        "kafka_offset": k,
                        "ingested_at": now,
                    }
                )
        for partition in range(PARTITIONS):
            chunk = [row for row in rows if row["kafka_partition"] == partition]
            table.append(pa.Table.from_pylist(chunk, schema=table.schema().as_arrow()))
    return len(SENSORS) * 3600 * RATE_PER_S


def timed_ms(call: Any) -> float:
    began = time.perf_counter()
    call()
    return (time.perf_counter() - began) * 1000


def main() -> None:
    """Seed the table, time the scan and the endpoint, print the figures."""
    from fastapi.testclient import TestClient
    from pyiceberg.catalog.sql import SqlCatalog

    from iot_platform.api.deps import utc_now
    from iot_platform.api.iceberg_tables import CatalogTables, scan, snapshot_id
    from iot_platform.api.main import create_app
    from iot_platform.api.sensors_reader import RECENT_COLUMNS, recent_readings, recent_window
    from iot_platform.settings import load_settings

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="Timed repetitions of each measurement.")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="iot-bench-sensors-"))
    (folder / "warehouse").mkdir()
    catalog = SqlCatalog("bench", uri=f"sqlite:///{folder / 'catalog.db'}", warehouse=(folder / "warehouse").as_uri())
    catalog.create_namespace("iot")
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    rows = seed(catalog, now)
    table = CatalogTables(lambda: catalog).load(SENSOR_READINGS)
    assert table is not None
    snapshot = snapshot_id(table)
    assert snapshot is not None
    files = len(list(table.scan(row_filter=recent_window(now)).plan_files()))
    print(f"last hour: {rows} readings of {len(SENSORS)} sensors in {files} files")

    def scan_and_count() -> None:
        recent = recent_readings(scan(table, snapshot, recent_window(now), RECENT_COLUMNS))
        assert rows - len(SENSORS) <= sum(r.count for r in recent.values()) <= rows  # the edge reading

    scans = [timed_ms(scan_and_count) for _ in range(args.repeat)]
    print(f"  scan + count: median {statistics.median(scans):.0f} ms, max {max(scans):.0f} ms")

    cold, warm = [], []
    for _ in range(args.repeat):
        app = create_app(load_settings(state_dir=folder / "state"), catalog_factory=lambda: catalog)
        app.dependency_overrides[utc_now] = lambda: now
        with TestClient(app) as client:
            cold.append(timed_ms(lambda c=client: c.get("/api/v1/sensors").raise_for_status()))
            warm += [timed_ms(lambda c=client: c.get("/api/v1/sensors").raise_for_status()) for _ in range(10)]
    print(f"  GET /api/v1/sensors, first request: median {statistics.median(cold):.0f} ms, max {max(cold):.0f} ms")
    print(f"  GET /api/v1/sensors, count reused:  median {statistics.median(warm):.1f} ms")


if __name__ == "__main__":
    main()
