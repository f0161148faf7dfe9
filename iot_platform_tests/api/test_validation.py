"""Partition keys and ranges a caller may submit: format, inside the partition set, completed, range size."""

from __future__ import annotations

import datetime as dt

import pytest

from iot_platform.api.validation import validate_partition, validate_range
from iot_platform.errors import InvalidPartition

START = dt.date(2025, 1, 1)
NOW = dt.datetime(2026, 11, 24, 10, 30, tzinfo=dt.UTC)


def check(key: str) -> str:
    return validate_partition(key, partitions_start=START, now=NOW)


def check_range(start: str, end: str, max_hours: int = 48) -> list[str]:
    return validate_range(start, end, partitions_start=START, now=NOW, max_hours=max_hours)


@pytest.mark.parametrize("key", ["2025-01-01-00:00", "2025-04-01-10:00", "2026-11-24-09:00"])
def test_completed_hours_inside_the_partition_set_are_accepted(key: str) -> None:
    assert check(key) == key


@pytest.mark.parametrize(
    "key",
    [
        "",
        "2025-04-01",
        "2025-04-01T10:00",
        "2025-04-01 10:00",
        "2025-4-1-10:00",
        "2025-04-01-10:00:00",
        " 2025-04-01-10:00",
        "2025-04-01-10:00\n",
        "２０２５-04-01-10:00",  # full-width digits match \d but are not a key
        "٢٠٢٥-٠٤-٠١-١٠:٠٠",  # Arabic-Indic digits
        "latest",
    ],
)
def test_malformed_keys_are_refused_with_the_expected_form(key: str) -> None:
    with pytest.raises(InvalidPartition, match=r"is not a partition key: use YYYY-MM-DD-HH:00"):
        check(key)


@pytest.mark.parametrize("key", ["2025-02-30-10:00", "2025-04-01-24:00", "2025-13-01-00:00", "0000-01-01-00:00"])
def test_impossible_dates_are_refused(key: str) -> None:
    with pytest.raises(InvalidPartition, match="is not a valid date and hour"):
        check(key)


def test_keys_off_the_hour_are_refused() -> None:
    with pytest.raises(InvalidPartition, match="not on the hour"):
        check("2025-04-01-10:30")


def test_hours_before_the_partition_set_are_refused_naming_the_setting() -> None:
    with pytest.raises(
        InvalidPartition, match=r"before the first hourly_stats partition 2025-01-01-00:00 .*PARTITIONS_START"
    ):
        check("2024-12-31-23:00")


@pytest.mark.parametrize("key", ["2026-11-24-10:00", "2026-11-24-11:00", "2030-01-01-00:00"])
def test_the_running_hour_and_future_hours_are_refused(key: str) -> None:
    with pytest.raises(InvalidPartition, match="not a completed hour yet: the latest partition is 2026-11-24-09:00"):
        check(key)


def test_a_range_lists_every_hour_inclusive_across_midnight() -> None:
    assert check_range("2025-04-01-22:00", "2025-04-02-01:00") == [
        "2025-04-01-22:00",
        "2025-04-01-23:00",
        "2025-04-02-00:00",
        "2025-04-02-01:00",
    ]


def test_a_range_of_one_hour_is_that_hour() -> None:
    assert check_range("2025-04-01-10:00", "2025-04-01-10:00") == ["2025-04-01-10:00"]


def test_a_range_with_start_after_end_is_refused() -> None:
    with pytest.raises(InvalidPartition, match="start 2025-04-01-11:00 is after end 2025-04-01-10:00"):
        check_range("2025-04-01-11:00", "2025-04-01-10:00")


def test_the_range_limit_is_inclusive() -> None:
    assert len(check_range("2025-04-01-00:00", "2025-04-02-23:00", max_hours=48)) == 48
    with pytest.raises(InvalidPartition, match="holds 49 hours, more than the 48 .*IOT_API_MAX_RANGE_HOURS"):
        check_range("2025-04-01-00:00", "2025-04-03-00:00", max_hours=48)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2024-12-31-23:00", "2025-01-01-01:00", "start 2024-12-31-23:00 is before"),
        ("2026-11-24-08:00", "2026-11-24-10:00", "end 2026-11-24-10:00 is not a completed hour"),
        ("2025-04-01-10:00", "soon", "end 'soon' is not a partition key"),
    ],
)
def test_each_end_of_a_range_is_checked_and_named(start: str, end: str, message: str) -> None:
    with pytest.raises(InvalidPartition, match=message):
        check_range(start, end)
