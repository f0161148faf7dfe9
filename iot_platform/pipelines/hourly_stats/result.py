"""What one hourly_stats run wrote, and the numbers its checks need."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any


@dataclass
class HourlyResult:
    """What one hourly_stats run wrote, and the numbers its checks need."""

    start: dt.datetime
    end: dt.datetime
    rows: int = 0
    readings: int = 0
    sensors: int = 0
    readings_snapshot_id: int | None = None
    stats_snapshot_id: int | None = None
    rejected: int = 0
    stored_readings: int = 0
    """Valid readings stored for the window, counted independently of the aggregate (reconciliation)."""
    duplicate_keys: int = 0
    empty_rows: int = 0
    disordered_rows: list[dict[str, Any]] = field(default_factory=list)
    out_of_range: list[dict[str, Any]] = field(default_factory=list)
    preview: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


def row_dict(row: Any) -> dict[str, Any]:
    """A Spark ``Row`` as a dict fit for JSON metadata: timestamps as ISO strings, naive ones read as UTC."""
    values: dict[str, Any] = row.asDict()
    for key, value in values.items():
        if isinstance(value, dt.datetime):
            values[key] = value.replace(tzinfo=dt.UTC).isoformat() if value.tzinfo is None else value.isoformat()
    return values
