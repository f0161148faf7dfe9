"""Plain-Python computations that the Spark transforms are checked against (not part of the package).

Written for obviousness, not speed: exact sums (``math.fsum``) and ``statistics.stdev`` (computed with exact
fractions), so a mismatch points at the Spark code.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
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


READING_FIELDS = ("sensor_id", "sensor_type", "location", "value", "unit", "timestamp")
_ACCEPTED_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
"""The accepted timestamp form, less the ``+hhmm`` and ``+hh`` offsets this reference does not read."""


def reference_judge(value: bytes | None) -> tuple[dict[str, Any] | None, str | None]:
    """A Kafka record value judged by the contract: ``(reading, None)`` or ``(None, reason code)``.

    Covers records without a key repeated inside a field's object, without integers too large for a double, and
    with timestamps ending in ``Z`` or ``+hh:mm``.
    """
    if value is None or not value.strip(b" \t\r\n"):
        return None, "empty_payload"
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return None, "invalid_utf8"
    try:
        doc = json.loads(text)
    except ValueError:
        return None, "not_json"
    if not isinstance(doc, dict):
        return None, "not_object"
    if any(name not in doc for name in READING_FIELDS):
        return None, "missing_field"
    number = doc["value"]
    strings = [doc[name] for name in READING_FIELDS if name != "value"]
    if isinstance(number, bool) or not isinstance(number, int | float) or not all(isinstance(s, str) for s in strings):
        return None, "wrong_type"
    if not math.isfinite(float(number)):
        return None, "non_finite_value"
    event_time = _instant(doc["timestamp"])
    if event_time is None:
        return None, "bad_timestamp"
    reading = {name: doc[name] for name in READING_FIELDS if name != "timestamp"}
    return {**reading, "value": float(number), "event_time": event_time}, None


def _instant(text: str) -> dt.datetime | None:
    match = _ACCEPTED_TIMESTAMP.match(text)
    if match is None:
        return None
    fraction = match.group(1) or ""
    zone = "+00:00" if match.group(2) == "Z" else match.group(2)
    try:
        return dt.datetime.fromisoformat(text[:19] + fraction[:7] + zone).astimezone(dt.UTC)
    except ValueError:
        return None


def reference_batch(
    records: list[tuple[int, int, bytes | None]],
) -> tuple[list[dict[str, Any]], list[tuple[int, int, str]], list[tuple[int, int]]]:
    """A batch of ``(partition, offset, value)`` records judged and de-duplicated.

    Returns:
        The valid readings kept (the copy read first, lowest partition then offset, of each sensor and event time)
        with their ``partition`` and ``offset``; the rejected records as ``(partition, offset, reason)``; the later
        copies dropped as ``(partition, offset)``. Each sorted by partition and offset.
    """
    kept: dict[tuple[str, dt.datetime], dict[str, Any]] = {}
    rejected = []
    copies = []
    for partition, offset, value in sorted(records, key=lambda r: (r[0], r[1])):
        reading, reason = reference_judge(value)
        if reading is None:
            rejected.append((partition, offset, str(reason)))
            continue
        key = (reading["sensor_id"], reading["event_time"])
        if key in kept:
            copies.append((partition, offset))
        else:
            kept[key] = {**reading, "partition": partition, "offset": offset}
    valid = sorted(kept.values(), key=lambda r: (r["partition"], r["offset"]))
    return valid, rejected, copies
