"""``/api/v1/stats``: rows of ``iot.hourly_stats``, filtered in the Iceberg scan and paged by a cursor."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import TypeAdapter

from iot_platform.api.deps import StatsDep
from iot_platform.api.errors import InvalidQuery
from iot_platform.api.paging import INSTANT_PATTERN, PAGE_HEADERS, Cursor, paged_response
from iot_platform.api.query_params import (
    READ_ERRORS,
    CursorQuery,
    LimitQuery,
    LocationQuery,
    SensorIdQuery,
    SensorTypeQuery,
)
from iot_platform.api.schemas import HourlyStatsRow
from iot_platform.api.stats_reader import DEFAULT_LIMIT, StatsQuery
from iot_platform.instants import parse_instant

router = APIRouter(prefix="/stats", tags=["stats"])
_ROWS = TypeAdapter(list[HourlyStatsRow])


@router.get(
    "/hourly",
    summary="Hourly statistics per sensor",
    response_model=list[HourlyStatsRow],
    responses={200: {"headers": PAGE_HEADERS}, **READ_ERRORS},
)
def hourly_stats(
    reader: StatsDep,
    request: Request,
    sensor_id: SensorIdQuery = None,
    sensor_type: SensorTypeQuery = None,
    location: LocationQuery = None,
    start: Annotated[
        str | None,
        Query(
            pattern=INSTANT_PATTERN,
            description="Earliest window_start (inclusive), ISO-8601 e.g. 2026-11-24T10:00:00Z; no offset means UTC.",
        ),
    ] = None,
    end: Annotated[
        str | None,
        Query(pattern=INSTANT_PATTERN, description="Latest window_start (exclusive), ISO-8601; no offset means UTC."),
    ] = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> Response:
    """Rows of ``iot.hourly_stats`` ordered by window_start, then sensor_id. Filters are pushed into the
    Iceberg scan. When more rows match than ``limit``, the ``X-Next-Cursor`` header (and a ``Link`` with
    rel="next") leads to the next page."""
    query = StatsQuery(
        sensor_id=sensor_id,
        sensor_type=sensor_type,
        location=location,
        start=parse_instant(start, "start", InvalidQuery) if start is not None else None,
        end=parse_instant(end, "end", InvalidQuery) if end is not None else None,
        limit=limit,
        after=Cursor.decode(cursor) if cursor is not None else None,
    )
    return paged_response(_ROWS, reader.read(query), request)
