"""Planning an evaluation: the watermark of what was evaluated, and from where each affected sensor is evaluated.

Pure functions but :func:`stored_watermark` (which reads snapshot summaries of a pyiceberg table).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from iot_platform.registry import RuleParams, SensorRegistry

if TYPE_CHECKING:
    from pyiceberg.table import Table

WATERMARK_KEY = "iot.alerts-watermark"
"""Snapshot-summary key of ``iot.sensor_alerts`` holding ``{"readings": <micros>, "rejected": <micros>}``: the
largest ``ingested_at`` of readings and ``rejected_at`` of rejected records already evaluated."""

LOOKBACK_MARGIN = dt.timedelta(seconds=60)
"""Added to every sensor's look-back, so the reading before the longest window is always read too."""
UNKNOWN_TYPE_LOOKBACK = dt.timedelta(minutes=5)
"""Look-back of a sensor whose type the registry does not know (no rule applies to its readings)."""

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Watermark:
    """What earlier runs evaluated: epoch microseconds of the last ``ingested_at`` and ``rejected_at`` (None: never)."""

    readings: int | None = None
    rejected: int | None = None

    def encode(self) -> str:
        return json.dumps({"readings": self.readings, "rejected": self.rejected})

    @classmethod
    def decode(cls, value: str | None) -> Watermark:
        if not value:
            return cls()
        doc = json.loads(value)
        return cls(readings=doc.get("readings"), rejected=doc.get("rejected"))

    def advanced(self, readings: int | None, rejected: int | None) -> Watermark:
        """The watermark once readings up to ``readings`` and rejected records up to ``rejected`` are evaluated."""
        return Watermark(_latest(self.readings, readings), _latest(self.rejected, rejected))


def _latest(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)


def stored_watermark(table: Table) -> Watermark:
    """The watermark in the newest snapshot of ``iot.sensor_alerts`` that carries one (walking back)."""
    snapshot = table.current_snapshot()
    while snapshot is not None:
        summary = snapshot.summary
        value = summary.additional_properties.get(WATERMARK_KEY) if summary is not None else None
        if value:
            return Watermark.decode(value)
        parent = snapshot.parent_snapshot_id
        snapshot = table.snapshot_by_id(parent) if parent is not None else None
    return Watermark()


def sensor_params(registry: SensorRegistry, sensor_id: str, sensor_type: str | None) -> RuleParams | None:
    """The rule settings of a sensor: its own when registered, else its type's, else None (type unknown too)."""
    if registry.sensor(sensor_id) is not None:
        return registry.sensor_params(sensor_id)
    if sensor_type is not None and sensor_type in registry.types:
        return registry.type_params(sensor_type)
    return None


def lookback(params: RuleParams | None) -> dt.timedelta:
    """How far before a change a sensor's evaluation must start to see every window its rules need: the stuck
    window, the silent limit, two rejected-burst windows (the one before the change and the change's own), plus
    :data:`LOOKBACK_MARGIN` for the reading before them."""
    if params is None:
        return UNKNOWN_TYPE_LOOKBACK
    seconds = max(
        params.stuck_seconds or 0.0,
        params.silent_seconds or 0.0,
        2 * (params.rejected_window_seconds or 0.0),
        2 * params.expected_interval_s,
    )
    return dt.timedelta(seconds=seconds) + LOOKBACK_MARGIN


@dataclass(frozen=True)
class EpisodeSpan:
    """When a stored episode of a sensor started and resolved (None: open)."""

    sensor_id: str
    started_at: dt.datetime
    resolved_at: dt.datetime | None


def evaluation_starts(
    first_new: Mapping[str, dt.datetime],
    lookbacks: Mapping[str, dt.timedelta],
    episodes: Iterable[EpisodeSpan],
) -> dict[str, dt.datetime]:
    """From when each sensor's episodes are replaced (``t0``): the sensor's readings from ``t0 - lookback`` are
    evaluated again and its episodes that start at or after ``t0`` are replaced by the result.

    ``t0`` starts at the earliest new reading less the look-back, and moves back to the start of every stored
    episode that is open or resolved after ``t0 - lookback`` (repeated until nothing moves), so a late reading
    extends the episode it falls in instead of opening a second one.

    Args:
        first_new: The earliest event time of each affected sensor's new readings or rejected records.
        lookbacks: Each affected sensor's :func:`lookback`.
        episodes: Stored episodes of the reading rules of the affected sensors.
    """
    by_sensor: dict[str, list[EpisodeSpan]] = {}
    for span in episodes:
        by_sensor.setdefault(span.sensor_id, []).append(span)
    starts = {}
    for sensor_id, first in first_new.items():
        back = lookbacks[sensor_id]
        t0 = first - back
        moved = True
        while moved:
            moved = False
            for span in by_sensor.get(sensor_id, []):
                if span.started_at < t0 and (span.resolved_at is None or span.resolved_at >= t0 - back):
                    t0, moved = span.started_at, True
        starts[sensor_id] = t0
    return starts


def micros(instant: dt.datetime) -> int:
    """An aware instant as epoch microseconds."""
    return (instant - EPOCH) // dt.timedelta(microseconds=1)


def instant(value: int) -> dt.datetime:
    """Epoch microseconds as an aware UTC instant."""
    return EPOCH + dt.timedelta(microseconds=value)
