"""The operator dashboard: its pages at ``/dashboard`` (``/`` leads there), and the two reads it needs that the
rest of the API does not offer: ``/api/v1/dashboard/runs`` (recent runs of every job) and
``/api/v1/dashboard/freshness`` (how current the data is), and ``/api/v1/dashboard/thresholds`` (every registered
sensor's alarm band in one answer) and ``/api/v1/dashboard/sparklines`` (the last hours' averages of every sensor
with its band, in one compact answer: the sensors page of 1,000 sensors makes one request, not 1,000).

The pages are static files of the package (``api/static/``): HTML, ES modules and CSS, with the chart library
vendored under ``static/vendor/``. Their scripts call the same endpoints users call; nothing is rendered here.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from iot_platform.api.deps import DagsterDep, NowDep, SensorsDep, SettingsDep
from iot_platform.api.iceberg_tables import SnapshotCache, all_of, iso, predicate, scan, snapshot_id
from iot_platform.api.ingestion_lag import committed_offsets, partition_lags
from iot_platform.api.query_params import READ_ERRORS
from iot_platform.api.routes.jobs import SUBMITTED_BY_TAG
from iot_platform.api.schemas import (
    ErrorBody,
    Freshness,
    IngestionLag,
    RecentRun,
    SensorSparkline,
    SensorThresholds,
    Sparklines,
    ValidationErrorBody,
)
from iot_platform.clients.dagster import RunInfo
from iot_platform.partitions import HOUR, hour_start, last_complete_partition, partition_start
from iot_platform.registry import SensorOverrides, SensorRegistry
from iot_platform.runs import HOURLY_STATS_JOB, INGEST_JOB
from iot_platform.tables import HOURLY_STATS, SENSOR_READINGS

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.table import Table

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
"""The dashboard's files: ``dashboard/`` (the pages) and ``vendor/`` (the chart library)."""
PAGES_PATH = "/dashboard"
FRESHNESS_RUNS = 200
"""Freshness is read from this many latest runs (a day of ingestion every few minutes, plus the hourly runs)."""
IN_PROGRESS = frozenset({"QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING"})

router = APIRouter(prefix="/dashboard", tags=["dashboard"])
_DAGSTER_ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"model": ValidationErrorBody, "description": "Bad input; `detail` says what to change."},
    503: {"model": ErrorBody, "description": "Dagster cannot be reached."},
}


def recent_run(run: RunInfo, dagster_url: str, now: dt.datetime) -> RecentRun:
    """A run as the dashboard lists it; ``duration_s`` runs on to ``now`` while the run has not ended."""
    duration = None
    if run.started_at is not None:
        duration = ((run.ended_at or now) - run.started_at).total_seconds()
    return RecentRun(
        run_id=run.run_id,
        status=run.status,
        job_name=run.job_name,
        partition=run.partition,
        start=run.range_start,
        end=run.range_end,
        created_at=run.created_at,
        started_at=run.started_at,
        ended_at=run.ended_at,
        duration_s=duration,
        submitted_by_api=run.tags.get(SUBMITTED_BY_TAG) == "api",
        dagster_url=f"{dagster_url}/runs/{run.run_id}",
    )


def _last_hour(run: RunInfo) -> str | None:
    return run.partition or run.range_end


def freshness_of(runs: Sequence[RunInfo], dagster_url: str, now: dt.datetime) -> Freshness:
    """Freshness from the latest runs (newest first): pure, so it is tested without Dagster."""
    day_ago = now - dt.timedelta(days=1)
    ingestion = next((run for run in runs if run.job_name == INGEST_JOB and run.status == "SUCCESS"), None)
    built = [run for run in runs if run.job_name == HOURLY_STATS_JOB and run.status == "SUCCESS" and _last_hour(run)]
    hours = [hour for hour in (_last_hour(run) for run in built) if hour is not None]
    last_hour = max(hours) if hours else None
    behind = None
    if last_hour is not None:
        behind = max(0, int((last_complete_partition(now) - partition_start(last_hour)) / HOUR))
    late = 0
    for run in built:
        hour = _last_hour(run)
        if run.started_at is None or run.started_at < day_ago or hour is None:
            continue
        if partition_start(hour) < last_complete_partition(run.started_at) - HOUR:
            late += 1
    return Freshness(
        dagster_url=dagster_url,
        last_ingestion=recent_run(ingestion, dagster_url, now) if ingestion else None,
        ingestion_age_s=(now - ingestion.ended_at).total_seconds() if ingestion and ingestion.ended_at else None,
        last_hour_built=last_hour,
        hours_behind=behind,
        late_updates_last_day=late,
        runs_in_progress=sum(1 for run in runs if run.status in IN_PROGRESS),
        runs_failed_last_day=sum(
            1 for run in runs if run.status == "FAILURE" and (run.ended_at or run.created_at or now) >= day_ago
        ),
    )


@router.get("/runs", summary="The latest runs of every platform job, newest first", responses=_DAGSTER_ERRORS)
def runs(
    dagster: DagsterDep,
    now: NowDep,
    limit: Annotated[int, Query(ge=1, le=FRESHNESS_RUNS, description="How many runs.")] = 25,
) -> list[RecentRun]:
    """Runs of any job and status (ingestion, hourly statistics, maintenance), each with its duration and its
    page in the Dagster UI."""
    return [recent_run(run, dagster.web_url.rstrip("/"), now) for run in dagster.recent_runs(limit)]


@router.get("/freshness", summary="How current the platform's data is", responses=_DAGSTER_ERRORS)
def freshness(dagster: DagsterDep, now: NowDep) -> Freshness:
    """The latest successful ingestion and its age, the latest hour of statistics built and how many complete
    hours follow it, late rebuilds and failures of the last day: read from the latest runs in Dagster."""
    return freshness_of(dagster.recent_runs(FRESHNESS_RUNS), dagster.web_url.rstrip("/"), now)


@router.get(
    "/lag",
    summary="How far ingestion is behind the topic",
    responses={503: {"model": ErrorBody, "description": "Kafka or the Iceberg catalog cannot be reached."}},
)
def lag(request: Request, reader: SensorsDep, settings: SettingsDep, now: NowDep) -> IngestionLag:
    """Records published to the topic and not yet in ``iot.sensor_readings`` (Kafka's high watermarks minus the
    offsets the last ingestion committed with its rows), per partition and in all, and the age of the newest
    stored reading. The watermarks are read at most every few seconds."""
    clients = request.app.state.clients
    watermarks = clients.watermarks.get()
    committed, committed_at = committed_offsets(clients.tables.load(SENSOR_READINGS), settings.kafka_topic)
    partitions = partition_lags(watermarks, committed)
    newest = max((s["last_reading_at"] for s in reader.sensors(now) if s["last_reading_at"] is not None), default=None)
    return IngestionLag(
        topic=settings.kafka_topic,
        lag_records=sum(partition.lag for partition in partitions),
        partitions=partitions,
        committed_at=committed_at,
        newest_reading_at=newest,
        newest_reading_age_s=(now - newest).total_seconds() if newest is not None else None,
    )


@router.get("/thresholds", summary="Every registered sensor's thresholds", responses=READ_ERRORS)
def thresholds(reader: SensorsDep) -> list[SensorThresholds]:
    """The alarm band (``threshold_min``..``threshold_max``, null for an open side) of every sensor of the
    registry, in registry order: what ``GET /sensors/{sensor_id}`` shows under ``rules``, for all at once."""
    return [
        SensorThresholds(sensor_id=sensor_id, threshold_min=low, threshold_max=high)
        for sensor_id, (low, high) in bands(reader.registry).items()
    ]


def bands(registry: SensorRegistry) -> dict[str, tuple[float | None, float | None]]:
    """Every registered sensor's (threshold_min, threshold_max): its type's, worked out once per type, unless the
    sensor overrides settings of its own."""
    by_type: dict[str, tuple[float | None, float | None]] = {}
    answer = {}
    for sensor in registry.sensors:
        if sensor.overrides != SensorOverrides():
            params = registry.sensor_params(sensor.id)
            answer[sensor.id] = (params.threshold_min, params.threshold_max)
            continue
        if sensor.type not in by_type:
            params = registry.type_params(sensor.type)
            by_type[sensor.type] = (params.threshold_min, params.threshold_max)
        answer[sensor.id] = by_type[sensor.type]
    return answer


def sparklines_of(registry: SensorRegistry, arrow: pa.Table, first: dt.datetime, hours: int) -> Sparklines:
    """Per sensor, the average of each hour from ``first`` (null where no row): the registry's sensors in its
    order, then the others with rows by id. Pure, so it is tested without a catalog."""
    import pyarrow as pa

    first_us = int(first.timestamp()) * 1_000_000
    starts = arrow.column("window_start").cast(pa.timestamp("us", tz="UTC")).cast(pa.int64()).to_pylist()
    series: dict[str, list[float | None]] = {}
    for sensor_id, start, value in zip(
        arrow.column("sensor_id").to_pylist(), starts, arrow.column("avg_value").to_pylist(), strict=True
    ):
        slot = (start - first_us) // 3_600_000_000
        if 0 <= slot < hours:
            series.setdefault(sensor_id, [None] * hours)[slot] = value if math.isfinite(value or 0.0) else None
    band = bands(registry)
    ids = list(band) + sorted(set(series) - set(band))
    return Sparklines(
        start=first,
        hours=hours,
        sensors=[
            SensorSparkline(
                sensor_id=sensor_id,
                threshold_min=band.get(sensor_id, (None, None))[0],
                threshold_max=band.get(sensor_id, (None, None))[1],
                avg=series.get(sensor_id, [None] * hours),
            )
            for sensor_id in ids
        ],
    )


@router.get(
    "/sparklines",
    summary="Every sensor's hourly averages of the last hours",
    response_model=Sparklines,
    responses=READ_ERRORS,
)
def sparklines(
    request: Request,
    reader: SensorsDep,
    now: NowDep,
    hours: Annotated[int, Query(ge=1, le=168, description="How many hours, up to the current one.")] = 24,
) -> Response:
    """``avg_value`` of ``iot.hourly_stats`` for each of the last ``hours`` hours (the current one last) of every
    sensor, with its thresholds: what ``GET /stats/hourly`` serves for those hours, three columns only. The answer
    is rendered once per snapshot of the table and hour: the sensors page of every viewer polls it."""
    first = hour_start(now) - (hours - 1) * HOUR
    table = request.app.state.clients.tables.load(HOURLY_STATS)
    snapshot = snapshot_id(table)
    rendered: SnapshotCache[bytes] = request.app.state.clients.answers
    key = ("sparklines", snapshot, first, hours)
    body = rendered.get(key)
    if body is None:
        answer = sparklines_of(reader.registry, _averages(table, snapshot, first, hours), first, hours)
        body = answer.model_dump_json().encode()
        rendered.put(key, body)
    return Response(body, media_type="application/json")


def _averages(table: Table | None, snapshot: int | None, first: dt.datetime, hours: int) -> pa.Table:
    """``window_start``, ``sensor_id`` and ``avg_value`` of the rows of the ``hours`` hours from ``first``
    (Iceberg keeps only those days' partitions)."""
    columns = ("window_start", "sensor_id", "avg_value")
    if table is None or snapshot is None:
        import pyarrow as pa

        return pa.table({column: [] for column in columns})
    from pyiceberg.expressions import GreaterThanOrEqual, LessThan

    window = all_of(
        [
            predicate(GreaterThanOrEqual, "window_start", iso(first)),
            predicate(LessThan, "window_start", iso(first + hours * HOUR)),
        ]
    )
    return scan(table, snapshot, window, columns)


def mount_pages(app: FastAPI) -> None:
    """Serve the pages at ``/dashboard`` and their files under ``/static``; ``/`` redirects to the pages."""

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse(PAGES_PATH, status_code=307)

    @app.get(PAGES_PATH, include_in_schema=False)
    async def pages() -> FileResponse:
        return FileResponse(STATIC_DIR / "dashboard" / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
