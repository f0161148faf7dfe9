"""``/api/v1/alerts``: episodes of ``iot.sensor_alerts``, filtered in the Iceberg scan, newest first, paged."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import TypeAdapter

from iot_platform.api.alerts_reader import AlertsQuery
from iot_platform.api.deps import AlertsDep
from iot_platform.api.errors import InvalidQuery
from iot_platform.api.paging import DEFAULT_LIMIT, INSTANT_PATTERN, PAGE_HEADERS, Cursor, paged_response
from iot_platform.api.query_params import (
    READ_ERRORS,
    CursorQuery,
    LimitQuery,
    LocationQuery,
    SensorIdQuery,
    SensorTypeQuery,
)
from iot_platform.api.schemas import AlertRow, AlertStateFilter
from iot_platform.instants import parse_instant
from iot_platform.registry import RuleName, Severity

router = APIRouter(prefix="/alerts", tags=["sensor monitoring"])
_ROWS = TypeAdapter(list[AlertRow])


@router.get(
    "",
    summary="Alert episodes of the platform's sensors",
    response_model=list[AlertRow],
    responses={200: {"headers": PAGE_HEADERS}, **READ_ERRORS},
)
def alerts(
    reader: AlertsDep,
    request: Request,
    state: Annotated[AlertStateFilter, Query(description="open, resolved, or all (default) episodes.")] = (
        AlertStateFilter.ALL
    ),
    sensor_id: SensorIdQuery = None,
    sensor_type: SensorTypeQuery = None,
    location: LocationQuery = None,
    rule: Annotated[RuleName | None, Query(description="Only episodes of this rule.")] = None,
    severity: Annotated[Severity | None, Query(description="Only episodes of this severity.")] = None,
    start: Annotated[
        str | None,
        Query(
            pattern=INSTANT_PATTERN,
            description="Episodes still open at or after this instant (resolved_at >= start, or open), ISO-8601 "
            "e.g. 2026-11-24T10:00:00Z; no offset means UTC.",
        ),
    ] = None,
    end: Annotated[
        str | None,
        Query(pattern=INSTANT_PATTERN, description="Episodes that started before this instant (exclusive), ISO-8601."),
    ] = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> Response:
    """Rows of ``iot.sensor_alerts`` (every column), newest ``started_at`` first, then by ``alert_id``. ``start`` and
    ``end`` select the episodes that overlap [start, end). Filters are pushed into the Iceberg scan; when more rows
    match than ``limit``, the ``X-Next-Cursor`` header (and a ``Link`` with rel="next") leads to the next page.
    Before evaluation has written any alert the answer is an empty list."""
    query = AlertsQuery(
        state=None if state is AlertStateFilter.ALL else state.value,
        sensor_id=sensor_id,
        sensor_type=sensor_type,
        location=location,
        rule=rule.value if rule is not None else None,
        severity=severity.value if severity is not None else None,
        start=parse_instant(start, "start", InvalidQuery) if start is not None else None,
        end=parse_instant(end, "end", InvalidQuery) if end is not None else None,
        limit=limit,
        after=Cursor.decode(cursor) if cursor is not None else None,
    )
    return paged_response(_ROWS, reader.read(query), request)
