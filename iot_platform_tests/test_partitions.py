"""Hour keys and completed-hour arithmetic of the hourly partitions."""

from __future__ import annotations

import datetime as dt

import pytest

from iot_platform.partitions import (
    first_partition,
    hour_start,
    last_complete_partition,
    last_completed_hours,
    partition_key,
    partition_keys,
    partition_start,
)

CET = dt.timezone(dt.timedelta(hours=1))


def test_partition_key_is_the_utc_hour() -> None:
    assert partition_key(dt.datetime(2026, 11, 24, 10, 59, 59, 999_999, tzinfo=dt.UTC)) == "2026-11-24-10:00"
    assert partition_key(dt.datetime(2026, 11, 25, 0, 30, tzinfo=CET)) == "2026-11-24-23:00"


def test_partition_start_reads_back_a_key() -> None:
    hour = dt.datetime(2026, 11, 24, 10, tzinfo=dt.UTC)
    assert partition_start(partition_key(hour)) == hour


@pytest.mark.parametrize("key", ["2026-11-24-10:30", "2026-11-24T10:00", "2026-13-01-10:00"])
def test_partition_start_refuses_what_is_not_an_hour_key(key: str) -> None:
    with pytest.raises(ValueError):
        partition_start(key)


def test_first_partition_is_midnight_utc_of_the_start_day() -> None:
    assert first_partition(dt.date(2025, 1, 1)) == dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def test_last_completed_hours_end_at_the_current_hour() -> None:
    now = dt.datetime(2026, 11, 24, 10, 5, tzinfo=dt.UTC)
    assert hour_start(now) == dt.datetime(2026, 11, 24, 10, tzinfo=dt.UTC)
    assert last_complete_partition(now) == dt.datetime(2026, 11, 24, 9, tzinfo=dt.UTC)
    assert last_completed_hours(now, 2) == (
        dt.datetime(2026, 11, 24, 8, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 24, 10, tzinfo=dt.UTC),
    )


def test_partition_keys_cover_the_range_inclusively() -> None:
    first = dt.datetime(2026, 11, 24, 22, tzinfo=dt.UTC)
    assert partition_keys(first, first + dt.timedelta(hours=2)) == [
        "2026-11-24-22:00",
        "2026-11-24-23:00",
        "2026-11-25-00:00",
    ]
    assert partition_keys(first, first) == ["2026-11-24-22:00"]
