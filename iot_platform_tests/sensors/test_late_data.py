"""Which hours the late-data sensor re-opens: exactly those built before their readings arrived."""

from __future__ import annotations

import datetime as dt

from iot_platform.sensors.late_data import late_hours

NOW = dt.datetime(2026, 11, 24, 12, 30, tzinfo=dt.UTC)


def test_hours_built_before_new_readings_are_late_with_their_counts() -> None:
    events = [(100, {"2026-11-24-10:00": 3, "2026-11-24-12:00": 50}), (105, {"2026-11-24-10:00": 2})]
    built = {"2026-11-24-10:00": 90}
    assert late_hours(events, built, NOW, horizon_hours=48) == {"2026-11-24-10:00": 5}


def test_readings_ingested_before_the_hour_was_built_are_not_late() -> None:
    # A run that ingests first and then aggregates records the ingestion before its own materialization.
    assert late_hours([(100, {"2026-11-24-10:00": 3})], {"2026-11-24-10:00": 101}, NOW, 48) == {}


def test_hours_beyond_the_horizon_are_left_alone() -> None:
    events = [(200, {"2026-11-20-10:00": 3, "2026-11-24-09:00": 1})]
    built = {"2026-11-20-10:00": 10, "2026-11-24-09:00": 10}
    assert late_hours(events, built, NOW, horizon_hours=24) == {"2026-11-24-09:00": 1}
