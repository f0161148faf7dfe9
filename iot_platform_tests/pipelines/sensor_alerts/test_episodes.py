"""Silent-now and unknown-sensor episodes from a sensor's state, and what a run changes in the stored episodes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from iot_platform.pipelines.sensor_alerts.episodes import changes, open_after, state_episodes
from iot_platform.pipelines.sensor_alerts.read import SensorState
from iot_platform.registry import load_registry
from iot_platform.transforms.alerts import alert_id

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
REGISTRY = load_registry()


def state(sensor_id: str, last_seconds_ago: float, sensor_type: str = "temperature") -> SensorState:
    last = NOW - dt.timedelta(seconds=last_seconds_ago)
    return SensorState(sensor_id, sensor_type, "factory-A", last - dt.timedelta(hours=1), last)


def test_a_sensor_silent_longer_than_its_limit_has_an_open_episode_from_its_last_reading() -> None:
    [episode] = state_episodes(REGISTRY, [state("TEMP-001", 121), state("TEMP-002", 119)], [], NOW)
    last = NOW - dt.timedelta(seconds=121)
    assert (episode["sensor_id"], episode["rule"], episode["state"]) == ("TEMP-001", "silent", "open")
    assert (episode["started_at"], episode["last_seen_at"], episode["resolved_at"]) == (last, last, None)
    assert (episode["threshold"], episode["severity"], episode["readings"]) == (120.0, "critical", 0)
    # The id of the gap episode the next reading turns it into.
    assert episode["alert_id"] == alert_id("silent", "TEMP-001", last)


def test_an_unregistered_sensor_is_unknown_from_its_first_reading_and_resolves_once_registered() -> None:
    stranger = state("TEMP-099", 1)
    [episode] = state_episodes(REGISTRY, [stranger], [], NOW)
    assert (episode["rule"], episode["state"], episode["started_at"]) == (
        "unknown_sensor",
        "open",
        stranger.first_reading_at,
    )
    assert episode["sensor_type"] == "temperature" and episode["severity"] == "warning"
    [unknown_type] = state_episodes(REGISTRY, [state("VIB-1", 1, sensor_type="vibration")], [], NOW)
    assert unknown_type["rule"] == "unknown_sensor"
    # A stored open unknown_sensor episode of a sensor the registry now lists resolves at the evaluation time.
    stored = {**episode, "sensor_id": "TEMP-001", "evaluated_at": NOW}
    [resolved] = state_episodes(REGISTRY, [state("TEMP-001", 1)], [stored], NOW)
    assert (resolved["alert_id"], resolved["state"], resolved["resolved_at"]) == (episode["alert_id"], "resolved", NOW)


def episode(sensor_id: str, rule: str, started_min: int, state: str = "resolved", **extra: Any) -> dict[str, Any]:
    started = NOW + dt.timedelta(minutes=started_min)
    return {
        "alert_id": alert_id(rule, sensor_id, started),
        "sensor_id": sensor_id,
        "sensor_type": "temperature",
        "location": "factory-A",
        "rule": rule,
        "severity": "critical",
        "state": state,
        "started_at": started,
        "last_seen_at": started,
        "resolved_at": None if state == "open" else started + dt.timedelta(minutes=1),
        "peak_value": 40.0,
        "threshold": 35.0,
        "readings": 3,
        "detail": None,
        **extra,
    }


def test_changes_keep_unchanged_rows_rewrite_changed_ones_and_delete_only_in_scope() -> None:
    before = NOW - dt.timedelta(days=1)
    same = episode("S", "threshold", 0)
    changed = episode("S", "threshold", 10)
    gone = episode("S", "stuck", 20)
    too_old = episode("S", "stuck", -60)
    other_sensor = episode("X", "stuck", 20)
    other_open_silent = episode("X", "silent", 30, state="open")
    stored = [{**e, "evaluated_at": before} for e in (same, changed, gone, too_old, other_sensor, other_open_silent)]
    found = [same, {**changed, "readings": 4, "peak_value": 41.0}, episode("S", "rate_of_change", 5)]

    result = changes(stored, found, {"S": NOW - dt.timedelta(minutes=5)}, NOW)

    assert result.unchanged == 1
    assert {e["alert_id"]: e["evaluated_at"] for e in result.upserts} == {
        changed["alert_id"]: NOW,
        episode("S", "rate_of_change", 5)["alert_id"]: NOW,
    }
    # The stuck episode is no longer found; the open silent episode of X is no longer silent; the rest is out of scope.
    assert result.deletes == {gone["alert_id"], other_open_silent["alert_id"]}
    assert open_after(stored, result) == []
    assert changes(stored, [e for e in stored if e is not stored[2]], {"S": NOW}, NOW).upserts == []
