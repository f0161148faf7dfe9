"""``/api/v1/stats``: rows of ``iot.hourly_stats``, filtered in the Iceberg scan and paged by a cursor."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import TypeAdapter
from starlette.datastructures import URL

from iot_platform.api.deps import StatsDep
from iot_platform.api.errors import InvalidQuery
from iot_platform.api.schemas import ErrorBody, HourlyStatsRow, ValidationErrorBody
from iot_platform.api.stats_reader import (
    DEFAULT_LIMIT,
    INSTANT_PATTERN,
    MAX_LIMIT,
    Cursor,
    StatsQuery,
)
from iot_platform.api.stats_reader import (
    MAX_SENSOR_ID_LENGTH as MAX_ID,
)
from iot_platform.instants import parse_instant

NEXT_CURSOR_HEADER = "X-Next-Cursor"

router = APIRouter(prefix="/stats", tags=["stats"])
_ROWS = TypeAdapter(list[HourlyStatsRow])


@router.get(
    "/hourly",
    summary="Hourly statistics per sensor",
    response_model=list[HourlyStatsRow],
    responses={
        200: {
            "headers": {
                NEXT_CURSOR_HEADER: {
                    "description": "Present when more rows match: pass it as `cursor` for the next page.",
                    "schema": {"type": "string"},
                },
                "Link": {
                    "description": 'The next page\'s URL with rel="next", when there is one.',
                    "schema": {"type": "string"},
                },
            }
        },
        422: {"model": ValidationErrorBody, "description": "Bad filter; `detail` says what to change."},
        503: {"model": ErrorBody, "description": "The Iceberg catalog or warehouse cannot be reached."},
    },
)
def hourly_stats(
    reader: StatsDep,
    request: Request,
    sensor_id: Annotated[str | None, Query(min_length=1, max_length=MAX_ID, description="e.g. TEMP-001")] = None,
    sensor_type: Annotated[str | None, Query(min_length=1, max_length=MAX_ID, description="e.g. temperature")] = None,
    location: Annotated[str | None, Query(min_length=1, max_length=MAX_ID, description="e.g. factory-A")] = None,
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
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Rows per page.")] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None, Query(min_length=1, max_length=1000, description="X-Next-Cursor of the previous page.")
    ] = None,
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
    page = reader.read(query)
    headers = {}
    if page.next_cursor is not None:
        token = page.next_cursor.encode()
        headers[NEXT_CURSOR_HEADER] = token
        here = URL(f"{request.url.path}?{request.url.query}")  # a path: the Host a request claims is not echoed
        headers["Link"] = f'<{here.include_query_params(cursor=token)}>; rel="next"'
    return Response(_ROWS.dump_json(_ROWS.validate_python(page.rows)), media_type="application/json", headers=headers)
