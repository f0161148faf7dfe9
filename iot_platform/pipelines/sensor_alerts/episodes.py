"""Episodes that follow from a sensor's state rather than its readings (silent now, unknown sensor), and the
comparison of a run's episodes with the stored ones. Pure functions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from iot_platform.pipelines.sensor_alerts.plan import sensor_params
from iot_platform.pipelines.sensor_alerts.read import SensorState
from iot_platform.registry import RuleName, SensorRegistry, Severity
from iot_platform.transforms.alerts import EPISODE_COLUMNS, READING_RULES, alert_id

Episode = dict[str, Any]
"""An episode as a dict of ``EPISODE_COLUMNS`` (plus ``evaluated_at`` once stored)."""


def silent_now(registry: SensorRegistry, state: SensorState, evaluated_at: dt.datetime) -> Episode | None:
    """The open ``silent`` episode of a sensor whose last reading is older than its limit at ``evaluated_at``.

    It starts at the last reading, so it has the id of the gap episode the next reading turns it into.
    """
    params = sensor_params(registry, state.sensor_id, state.sensor_type)
    if params is None or params.silent_seconds is None:
        return None
    if evaluated_at - state.last_reading_at <= dt.timedelta(seconds=params.silent_seconds):
        return None
    return _episode(
        RuleName.SILENT,
        state,
        params.silent_severity,
        started_at=state.last_reading_at,
        last_seen_at=state.last_reading_at,
        threshold=params.silent_seconds,
        detail=f"no reading since {state.last_reading_at.isoformat()} (limit {params.silent_seconds:g} s)",
    )


def unknown_sensor(registry: SensorRegistry, state: SensorState) -> Episode | None:
    """The open ``unknown_sensor`` episode of a sensor absent from the registry (from its first reading on)."""
    if registry.sensor(state.sensor_id) is not None:
        return None
    params = sensor_params(registry, state.sensor_id, state.sensor_type)
    severity = params.unknown_severity if params is not None else Severity.WARNING.value
    if severity is None:
        return None
    known = "a known" if params is not None else "an unknown"
    return _episode(
        RuleName.UNKNOWN_SENSOR,
        state,
        severity,
        started_at=state.first_reading_at,
        last_seen_at=state.last_reading_at,
        threshold=None,
        detail=f"sensor not in the registry ({known} type {state.sensor_type!r})",
    )


def _episode(
    rule: RuleName,
    state: SensorState,
    severity: str,
    *,
    started_at: dt.datetime,
    last_seen_at: dt.datetime,
    threshold: float | None,
    detail: str,
) -> Episode:
    return {
        "alert_id": alert_id(rule.value, state.sensor_id, started_at),
        "sensor_id": state.sensor_id,
        "sensor_type": state.sensor_type,
        "location": state.location,
        "rule": rule.value,
        "severity": severity,
        "state": "open",
        "started_at": started_at,
        "last_seen_at": last_seen_at,
        "resolved_at": None,
        "peak_value": None,
        "threshold": threshold,
        "readings": 0,
        "detail": detail,
    }


def state_episodes(
    registry: SensorRegistry,
    states: Iterable[SensorState],
    stored_open: Iterable[Episode],
    evaluated_at: dt.datetime,
) -> list[Episode]:
    """The state-derived episodes now: silent-now and unknown-sensor episodes of every sensor ever seen, and the
    resolution (at ``evaluated_at``) of stored open ``unknown_sensor`` episodes of sensors the registry now lists.

    A sensor of the registry never seen yet raises nothing: ``silent`` starts counting at its first reading.
    """
    episodes = []
    for state in states:
        for episode in (silent_now(registry, state, evaluated_at), unknown_sensor(registry, state)):
            if episode is not None:
                episodes.append(episode)
    for stored in stored_open:
        if stored["rule"] == RuleName.UNKNOWN_SENSOR and registry.sensor(stored["sensor_id"]) is not None:
            resolved = {name: stored[name] for name in EPISODE_COLUMNS}
            resolved.update(state="resolved", resolved_at=evaluated_at)
            episodes.append(resolved)
    return episodes


def in_scope(episode: Episode, starts: Mapping[str, dt.datetime]) -> bool:
    """Whether a stored episode is one this run decides: a reading rule's episode of an evaluated sensor from its
    ``t0`` on, or an open state-derived episode (``silent`` now or ``unknown_sensor``) of any sensor."""
    start = starts.get(episode["sensor_id"])
    if start is not None and episode["rule"] in READING_RULES and episode["started_at"] >= start:
        return True
    return episode["state"] == "open" and episode["rule"] in (RuleName.SILENT, RuleName.UNKNOWN_SENSOR)


@dataclass
class Changes:
    """What a run changes in ``iot.sensor_alerts``."""

    upserts: list[Episode] = field(default_factory=list)
    """New or changed episodes, with ``evaluated_at``."""
    deletes: set[str] = field(default_factory=set)
    """Ids of stored episodes the run no longer finds."""
    unchanged: int = 0

    @property
    def replaced_ids(self) -> set[str]:
        """Every stored id the commit removes (deleted, or rewritten by an upsert)."""
        return self.deletes | {episode["alert_id"] for episode in self.upserts}

    def __bool__(self) -> bool:
        return bool(self.upserts or self.deletes)


def changes(
    stored: Iterable[Episode], found: Iterable[Episode], starts: Mapping[str, dt.datetime], evaluated_at: dt.datetime
) -> Changes:
    """Compare the run's episodes with the stored ones.

    Args:
        stored: Stored episodes (:func:`~iot_platform.pipelines.sensor_alerts.read.read_stored_episodes`).
        found: The run's episodes: reading rules' from each evaluated sensor's ``t0`` on, and state-derived ones.
        starts: ``t0`` of each evaluated sensor.
        evaluated_at: Written as ``evaluated_at`` of new or changed episodes; unchanged ones keep theirs.
    """
    by_id = {episode["alert_id"]: episode for episode in stored}
    result = Changes()
    seen: set[str] = set()
    for episode in found:
        if episode["alert_id"] in seen:
            continue
        seen.add(episode["alert_id"])
        before = by_id.get(episode["alert_id"])
        if before is not None and all(_same(before[name], episode[name]) for name in EPISODE_COLUMNS):
            result.unchanged += 1
            continue
        result.upserts.append({**{name: episode[name] for name in EPISODE_COLUMNS}, "evaluated_at": evaluated_at})
    result.deletes = {
        alert_id for alert_id, episode in by_id.items() if alert_id not in seen and in_scope(episode, starts)
    }
    return result


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))
    return bool(a == b)


def open_after(stored: Iterable[Episode], change: Changes) -> list[Episode]:
    """The open episodes once ``change`` is committed (``stored`` holds every open one before it)."""
    replaced = change.replaced_ids
    kept = [e for e in stored if e["state"] == "open" and e["alert_id"] not in replaced]
    return kept + [e for e in change.upserts if e["state"] == "open"]
