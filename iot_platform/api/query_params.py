"""What the endpoints reading the platform's tables share, declared once: query parameters (validation and OpenAPI
description alike) and the documented error answers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from iot_platform.api.paging import MAX_LIMIT
from iot_platform.api.schemas import ErrorBody, ValidationErrorBody

SensorIdQuery = Annotated[str | None, Query(min_length=1, max_length=200, description="e.g. TEMP-001")]
SensorTypeQuery = Annotated[str | None, Query(min_length=1, max_length=200, description="e.g. temperature")]
LocationQuery = Annotated[str | None, Query(min_length=1, max_length=200, description="e.g. factory-A")]
LimitQuery = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Rows per page.")]
CursorQuery = Annotated[
    str | None, Query(min_length=1, max_length=1000, description="X-Next-Cursor of the previous page.")
]

READ_ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"model": ValidationErrorBody, "description": "Bad filter; `detail` says what to change."},
    503: {"model": ErrorBody, "description": "The Iceberg catalog or warehouse cannot be reached."},
}
"""The error answers of an endpoint reading tables, for its OpenAPI ``responses``."""
