"""Plain-Python computations that the Spark transforms are checked against (not part of the package).

Written for obviousness, not speed: exact sums (``math.fsum``) and ``statistics.stdev`` (computed with exact
fractions), so a mismatch points at the Spark code.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import defaultdict
from typing import Any

HOUR = dt.timedelta(hours=1)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def micros(instant: dt.datetime) -> int:
    """Epoch microseconds of a timezone-aware datetime."""
    return (instant - EPOCH) // dt.timedelta(microseconds=1)


def from_micros(value: int) -> dt.datetime:
    """The UTC datetime of epoch microseconds (how tests read Spark timestamps, whatever the local zone)."""
    return EPOCH + dt.timedelta(microseconds=value)


def hour_start(instant: dt.datetime) -> dt.datetime:
    """Start of the UTC hour holding a timezone-aware instant."""
    utc = instant.astimezone(dt.UTC)
    return utc.replace(minute=0, second=0, microsecond=0)


def reference_hourly_stats(readings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The contract's hourly statistics of de-duplicated readings, sorted by (window_start, sensor_id).

    Args:
        readings: Dicts with ``sensor_id``, ``sensor_type``, ``location``, ``value`` (float) and ``event_time``
            (timezone-aware datetime), one per (sensor_id, event_time).

    Returns:
        Dicts with the ``iot.hourly_stats`` columns except ``processed_at``. ``sensor_type`` and ``location`` are
        those of the latest reading of the hour (ties: the greatest sensor_type, then location).
    """
    groups: dict[tuple[dt.datetime, str], list[dict[str, Any]]] = defaultdict(list)
    for reading in readings:
        groups[(hour_start(reading["event_time"]), reading["sensor_id"])].append(reading)
    rows = []
    for (start, sensor_id), group in sorted(groups.items()):
        values = [float(r["value"]) for r in group]
        latest = max(group, key=lambda r: (r["event_time"], r["sensor_type"], r["location"]))
        rows.append(
            {
                "window_start": start,
                "window_end": start + HOUR,
                "sensor_id": sensor_id,
                "sensor_type": latest["sensor_type"],
                "location": latest["location"],
                "avg_value": math.fsum(values) / len(values),
                "min_value": min(values),
                "max_value": max(values),
                "stddev_value": statistics.stdev(values) if len(values) > 1 else None,
                "reading_count": len(values),
            }
        )
    return rows
