"""``/api/v1/sensors``: every sensor of the registry and every unknown one seen, with status and latest reading."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from iot_platform.api.deps import NowDep, SensorsDep
from iot_platform.api.query_params import READ_ERRORS, LocationQuery, SensorTypeQuery
from iot_platform.api.schemas import ErrorBody, Reading, Sensor, SensorDetail, SensorStatus

router = APIRouter(prefix="/sensors", tags=["sensor monitoring"])
MAX_READINGS = 1000
"""Most readings one ``GET /sensors/{sensor_id}/readings`` answers."""


@router.get("", summary="Every sensor with its status", response_model=list[Sensor], responses=READ_ERRORS)
def sensors(
    reader: SensorsDep,
    now: NowDep,
    sensor_type: SensorTypeQuery = None,
    location: LocationQuery = None,
    status: Annotated[SensorStatus | None, Query(description="Only sensors in this status.")] = None,
) -> Response:
    """The registry's sensors in registry order, then sensors seen but not registered (status ``unknown``) by id.
    Status: ``unknown`` when not in the registry; ``silent`` with an open ``silent`` alert, or for a registered
    sensor with no reading on record; ``alerting`` with any other open alert; else ``ok``."""
    wanted = status.value if status is not None else None

    def matches(sensor: dict[str, Any]) -> bool:
        return (
            (sensor_type is None or sensor["sensor_type"] == sensor_type)
            and (location is None or sensor["location"] == location)
            and (wanted is None or sensor["status"] == wanted)
        )

    body = reader.sensors_json(now, matches, (sensor_type, location, wanted))
    return Response(body, media_type="application/json")


@router.get(
    "/{sensor_id}",
    summary="One sensor with its open alerts and rule settings",
    response_model=SensorDetail,
    responses={404: {"model": ErrorBody, "description": "Neither registered nor seen."}, **READ_ERRORS},
)
def sensor(
    reader: SensorsDep, now: NowDep, sensor_id: Annotated[str, Path(min_length=1, max_length=200)]
) -> dict[str, Any]:
    """The sensor as ``GET /sensors`` shows it, plus ``alerts`` (its open episodes, newest first) and ``rules``
    (the thresholds and rule settings that apply to it: its own when registered, its type's when not)."""
    return reader.sensor(sensor_id, now)


@router.get(
    "/{sensor_id}/readings",
    summary="One sensor's latest raw readings, newest first",
    response_model=list[Reading],
    responses={404: {"model": ErrorBody, "description": "Neither registered nor seen."}, **READ_ERRORS},
)
def readings(
    reader: SensorsDep,
    now: NowDep,
    sensor_id: Annotated[str, Path(min_length=1, max_length=200)],
    limit: Annotated[int, Query(ge=1, le=MAX_READINGS, description="How many readings.")] = 50,
) -> list[dict[str, Any]]:
    """The sensor's latest stored readings of ``iot.sensor_readings`` (event time up to now, within the last
    7 days), newest first: the newest hour's partitions are read first, older ones only while fewer than ``limit``
    readings were found. A registered sensor with none answers an empty list."""
    return reader.latest_readings(sensor_id, now, limit)
