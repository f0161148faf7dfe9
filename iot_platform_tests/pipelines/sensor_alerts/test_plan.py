"""From where each sensor is evaluated again, and the watermark's round trip."""

from __future__ import annotations

import datetime as dt

from iot_platform.pipelines.sensor_alerts.plan import (
    LOOKBACK_MARGIN,
    EpisodeSpan,
    Watermark,
    evaluation_starts,
    lookback,
    sensor_params,
)
from iot_platform.registry import load_registry

T = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)


def test_without_stored_episodes_evaluation_starts_one_lookback_before_the_first_new_reading() -> None:
    assert evaluation_starts({"S": T}, {"S": 5 * MINUTE}, []) == {"S": T - 5 * MINUTE}


def test_episodes_open_or_resolved_near_the_start_pull_it_back_until_nothing_moves() -> None:
    episodes = [
        EpisodeSpan("S", T - 8 * MINUTE, T - 7 * MINUTE),  # resolved after t0 - L once t0 moved: pulled in
        EpisodeSpan("S", T - 6 * MINUTE, T - 3 * MINUTE),  # overlaps the first look-back
        EpisodeSpan("S", T - 60 * MINUTE, T - 50 * MINUTE),  # long before: untouched
        EpisodeSpan("OTHER", T - 90 * MINUTE, None),
    ]
    assert evaluation_starts({"S": T}, {"S": 2 * MINUTE}, episodes) == {"S": T - 8 * MINUTE}


def test_an_open_episode_pulls_the_start_back_to_its_start() -> None:
    assert evaluation_starts({"S": T}, {"S": MINUTE}, [EpisodeSpan("S", T - 600 * MINUTE, None)]) == {
        "S": T - 600 * MINUTE
    }


def test_lookback_covers_the_longest_window_of_the_sensors_rules() -> None:
    registry = load_registry()
    params = sensor_params(registry, "TEMP-001", "temperature")
    assert params is not None
    # Default set: silent 120 s, stuck 5 min, rejected bursts 2 x 5 min.
    assert lookback(params) == dt.timedelta(minutes=10) + LOOKBACK_MARGIN
    assert sensor_params(registry, "NEW-1", "temperature") == registry.type_params("temperature")
    assert sensor_params(registry, "NEW-1", "vibration") is None


def test_watermark_round_trip_and_advance() -> None:
    mark = Watermark(readings=10, rejected=None)
    assert Watermark.decode(mark.encode()) == mark
    assert Watermark.decode(None) == Watermark()
    assert mark.advanced(5, 7) == Watermark(readings=10, rejected=7)
    assert mark.advanced(None, None) == mark
    assert mark.advanced(12, None) == Watermark(readings=12, rejected=None)
