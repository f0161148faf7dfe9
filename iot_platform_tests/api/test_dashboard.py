"""The dashboard's pages and files as the API serves them, and its reads: recent runs, freshness, thresholds."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from iot_platform.api.routes.dashboard import STATIC_DIR, freshness_of
from iot_platform.clients.dagster import RunInfo
from iot_platform.registry import load_registry
from iot_platform.runs import HOURLY_STATS_JOB, INGEST_JOB
from iot_platform.tables import HOURLY_STATS
from iot_platform_tests.api.conftest import AUTH, NOW, Api
from iot_platform_tests.api.fakes import dagster_down
from iot_platform_tests.api.monitoring_tables import append

MINUTE = dt.timedelta(minutes=1)
DAGSTER = "http://dagster.test:3000"


def run(status: str, job: str, *, ended_ago: dt.timedelta | None = None, partition: str | None = None) -> RunInfo:
    ended = NOW - ended_ago if ended_ago is not None else None
    return RunInfo(
        run_id=f"{job}-{status}-{partition}-{ended_ago}",
        status=status,
        job_name=job,
        partition=partition,
        range_start=None,
        range_end=None,
        backfill_id=None,
        created_at=(ended or NOW) - 2 * MINUTE,
        started_at=(ended or NOW) - MINUTE,
        ended_at=ended,
    )


def test_root_leads_to_the_pages_which_load_only_the_platforms_own_files(api: Api) -> None:
    root = api.client.get("/", follow_redirects=False)
    assert (root.status_code, root.headers["location"]) == (307, "/dashboard")
    page = api.client.get("/dashboard")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    referenced = re.findall(r'(?:src|href)="(/[^"]+)"', page.text)
    assert "/static/vendor/uPlot-1.6.32.min.css" in referenced
    for path in referenced:
        assert api.client.get(path).status_code == 200, path
    for module in (STATIC_DIR / "dashboard").glob("*.js"):
        for target in re.findall(r'from "([^"]+)"', module.read_text()):
            url = target if target.startswith("/") else f"/static/dashboard/{target.removeprefix('./')}"
            assert api.client.get(url).status_code == 200, (module.name, target)
        assert "http://" not in module.read_text() and "https://" not in module.read_text(), module.name


def test_the_chart_library_is_vendored_with_its_licence() -> None:
    vendor = Path(STATIC_DIR / "vendor")
    assert {path.name for path in vendor.iterdir()} >= {
        "uPlot-1.6.32.esm.js",
        "uPlot-1.6.32.min.css",
        "uPlot-1.6.32.LICENSE",
    }
    assert "MIT" in (vendor / "uPlot-1.6.32.LICENSE").read_text()


def test_recent_runs_newest_first_with_duration_and_a_link_into_dagster(api: Api) -> None:
    older = api.dagster.add_run("SUCCESS", job_name=INGEST_JOB, started_at=NOW - 3 * MINUTE, ended_at=NOW - MINUTE)
    newer = api.dagster.add_run(
        "STARTED", partition="2026-11-24-09:00", started_at=NOW - MINUTE, tags={"iot/submitted_by": "api"}
    )
    answer = api.client.get("/api/v1/dashboard/runs", params={"limit": 5})
    assert answer.status_code == 200
    rows = answer.json()
    assert [row["run_id"] for row in rows] == [newer.run_id, older.run_id]
    assert rows[0]["duration_s"] == 60.0 and rows[0]["submitted_by_api"] is True
    assert rows[1]["duration_s"] == 120.0 and rows[1]["submitted_by_api"] is False
    assert rows[1]["dagster_url"] == f"{api.dagster.web_url}/runs/{older.run_id}"
    assert api.client.get("/api/v1/dashboard/runs", params={"limit": 0}).status_code == 422


def test_freshness_reads_the_latest_ingestion_and_hour_built(api: Api) -> None:
    api.dagster.add_run("SUCCESS", job_name=INGEST_JOB, started_at=NOW - 9 * MINUTE, ended_at=NOW - 8 * MINUTE)
    api.dagster.add_run("SUCCESS", partition="2026-11-24-07:00", started_at=NOW - MINUTE, ended_at=NOW)
    body = api.client.get("/api/v1/dashboard/freshness").json()
    assert body["ingestion_age_s"] == 480.0
    assert (body["last_hour_built"], body["hours_behind"]) == ("2026-11-24-07:00", 2)
    api.dagster.down = dagster_down()
    down = api.client.get("/api/v1/dashboard/freshness")
    assert down.status_code == 503 and "Dagster" in down.json()["detail"]


def test_freshness_counts_late_rebuilds_failures_and_runs_in_progress() -> None:
    runs = [
        run("STARTED", HOURLY_STATS_JOB, partition="2026-11-24-09:00"),
        run("FAILURE", INGEST_JOB, ended_ago=3 * MINUTE),
        run("SUCCESS", HOURLY_STATS_JOB, ended_ago=5 * MINUTE, partition="2026-11-24-09:00"),
        run("SUCCESS", HOURLY_STATS_JOB, ended_ago=6 * MINUTE, partition="2026-11-23-20:00"),
        run("FAILURE", INGEST_JOB, ended_ago=dt.timedelta(days=2)),
    ]
    fresh = freshness_of(runs, DAGSTER, NOW)
    assert (fresh.last_hour_built, fresh.hours_behind) == ("2026-11-24-09:00", 0)
    assert fresh.late_updates_last_day == 1
    assert (fresh.runs_in_progress, fresh.runs_failed_last_day) == (1, 1)
    assert fresh.last_ingestion is None and fresh.ingestion_age_s is None
    empty = freshness_of([], DAGSTER, NOW)
    assert (empty.last_hour_built, empty.hours_behind, empty.late_updates_last_day) == (None, None, 0)


def test_thresholds_of_every_registered_sensor_in_one_answer(api: Api) -> None:
    registry = load_registry(api.settings.sensor_registry)
    rows = api.client.get("/api/v1/dashboard/thresholds").json()
    assert [row["sensor_id"] for row in rows] == [sensor.id for sensor in registry.sensors]
    for row in rows:
        params = registry.sensor_params(row["sensor_id"])
        assert (row["threshold_min"], row["threshold_max"]) == (params.threshold_min, params.threshold_max)


def test_reads_need_no_token_and_actions_still_do(api: Api) -> None:
    for path in ("/dashboard", "/api/v1/dashboard/runs", "/api/v1/dashboard/thresholds"):
        assert api.client.get(path).status_code == 200, path
    body = {"job": "hourly_stats", "partition": "2026-11-24-08:00"}
    assert api.client.post("/api/v1/jobs/submit", json=body).status_code == 401
    assert api.client.post("/api/v1/jobs/submit", json=body, headers=AUTH).status_code == 202


def stats_row(hour: dt.datetime, sensor_id: str, avg: float) -> dict[str, object]:
    return {
        "window_start": hour,
        "window_end": hour + dt.timedelta(hours=1),
        "sensor_id": sensor_id,
        "sensor_type": "temperature",
        "location": "factory-A",
        "avg_value": avg,
        "min_value": avg - 1,
        "max_value": avg + 1,
        "stddev_value": 0.5,
        "reading_count": 2,
        "processed_at": NOW,
    }


def test_sparklines_give_every_sensor_its_hourly_averages_and_band_in_one_answer(api: Api) -> None:
    hour = dt.datetime(2026, 11, 24, 8, tzinfo=dt.UTC)
    append(
        api.catalog,
        HOURLY_STATS,
        [
            stats_row(hour - dt.timedelta(hours=1), "TEMP-001", 99.0),  # before the window
            stats_row(hour, "TEMP-001", 20.0),
            stats_row(hour + dt.timedelta(hours=2), "TEMP-001", 22.0),  # the current hour, 10:00
            stats_row(hour + dt.timedelta(hours=1), "ODD-1", 5.0),
        ],
    )
    body = api.client.get("/api/v1/dashboard/sparklines", params={"hours": 3}).json()
    assert (body["start"], body["hours"]) == ("2026-11-24T08:00:00Z", 3)
    lines = {line["sensor_id"]: line for line in body["sensors"]}
    registry = load_registry(api.settings.sensor_registry)
    assert list(lines) == [sensor.id for sensor in registry.sensors] + ["ODD-1"]
    params = registry.sensor_params("TEMP-001")
    assert lines["TEMP-001"] == {
        "sensor_id": "TEMP-001",
        "threshold_min": params.threshold_min,
        "threshold_max": params.threshold_max,
        "avg": [20.0, None, 22.0],
    }
    assert lines["ODD-1"]["avg"] == [None, 5.0, None] and lines["ODD-1"]["threshold_min"] is None
    assert lines["TEMP-002"]["avg"] == [None, None, None]
    assert api.client.get("/api/v1/dashboard/sparklines", params={"hours": 0}).status_code == 422
