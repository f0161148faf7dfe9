"""``/api/v1/sensors``: every sensor of the registry and every unknown one seen, with status and latest reading."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from iot_platform.api.deps import NowDep, SensorsDep
from iot_platform.api.query_params import READ_ERRORS, LocationQuery, SensorTypeQuery
from iot_platform.api.schemas import ErrorBody, Sensor, SensorDetail, SensorStatus

router = APIRouter(prefix="/sensors", tags=["sensor monitoring"])


@router.get("", summary="Every sensor with its status", response_model=list[Sensor], responses=READ_ERRORS)
def sensors(
    reader: SensorsDep,
    now: NowDep,
    sensor_type: SensorTypeQuery = None,
    location: LocationQuery = None,
    status: Annotated[SensorStatus | None, Query(description="Only sensors in this status.")] = None,
) -> list[dict[str, Any]]:
    """The registry's sensors in registry order, then sensors seen but not registered (status ``unknown``) by id.
    Status: ``unknown`` when not in the registry; ``silent`` with an open ``silent`` alert, or for a registered
    sensor with no reading on record; ``alerting`` with any other open alert; else ``ok``."""
    return [
        sensor
        for sensor in reader.sensors(now)
        if (sensor_type is None or sensor["sensor_type"] == sensor_type)
        and (location is None or sensor["location"] == location)
        and (status is None or sensor["status"] == status.value)
    ]


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
