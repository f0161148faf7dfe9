"""Checks of the partitions a caller asks for, before anything reaches Dagster (pure: unit-tested).

A partition of ``hourly_stats`` is a completed UTC hour keyed ``%Y-%m-%d-%H:%M`` with minutes ``00``, from
midnight of ``IOT_PARTITIONS_START`` up to the last completed hour. Keys are returned in canonical form so
Dagster only ever sees keys of its own partition set.
"""

from __future__ import annotations

import datetime as dt
import re

from iot_platform.errors import InvalidPartition
from iot_platform.partitions import (
    HOUR,
    PARTITION_KEY_FORMAT,
    first_partition,
    last_complete_partition,
    partition_key,
    partition_keys,
)

KEY_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}-[0-9]{2}:[0-9]{2}$"
"""Shape of a partition key (ASCII digits only)."""

YEAR = "([1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])"
DATE = f"{YEAR}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
HOUR_OF_DAY = "([01][0-9]|2[0-3])"
KEY_SCHEMA_PATTERN = f"^{DATE}-{HOUR_OF_DAY}:00$"
"""A partition key as the OpenAPI schema publishes it: a real year, month, day and hour, on the hour. What no
pattern can say (the day of a short month, the partition set's first and last hour) is answered 422."""

KEY_EXAMPLE = "2026-11-24-10:00"
_KEY = re.compile(KEY_PATTERN, re.ASCII)


def parse_partition(key: str, *, partitions_start: dt.date, now: dt.datetime, what: str = "partition") -> dt.datetime:
    """Check one partition key and return the start of its hour.

    Args:
        key: The key as the caller sent it.
        partitions_start: First day of the partition set (``IOT_PARTITIONS_START``).
        now: The current time (aware).
        what: How messages name the key (``partition``, ``start``, ``end``).

    Returns:
        The start of the UTC hour the key names.

    Raises:
        InvalidPartition: the key is malformed, not on the hour, before the partition set or not a completed hour.
    """
    if not isinstance(key, str) or _KEY.fullmatch(key) is None:
        raise InvalidPartition(
            f"{what} {key!r} is not a partition key: use YYYY-MM-DD-HH:00 (a UTC hour), e.g. {KEY_EXAMPLE}"
        )
    try:
        hour = dt.datetime.strptime(key, PARTITION_KEY_FORMAT).replace(tzinfo=dt.UTC)
    except ValueError:
        raise InvalidPartition(
            f"{what} {key!r} is not a valid date and hour: use YYYY-MM-DD-HH:00 (a UTC hour), e.g. {KEY_EXAMPLE}"
        ) from None
    if hour.minute:
        raise InvalidPartition(
            f"{what} {key!r} is not on the hour: partitions are whole UTC hours, e.g. {hour:%Y-%m-%d-%H}:00"
        )
    first = first_partition(partitions_start)
    if hour < first:
        raise InvalidPartition(
            f"{what} {key} is before the first hourly_stats partition {partition_key(first)} (IOT_PARTITIONS_START)"
        )
    last = last_complete_partition(now)
    if hour > last:
        raise InvalidPartition(
            f"{what} {key} is not a completed hour yet: the latest partition is {partition_key(last)} "
            "(an hour can be computed once it has ended)"
        )
    return hour


def validate_partition(key: str, *, partitions_start: dt.date, now: dt.datetime) -> str:
    """Check one partition key and return it in canonical form.

    Raises:
        InvalidPartition: see :func:`parse_partition`.
    """
    return partition_key(parse_partition(key, partitions_start=partitions_start, now=now))


def validate_range(start: str, end: str, *, partitions_start: dt.date, now: dt.datetime, max_hours: int) -> list[str]:
    """Check an inclusive range of partition keys and return every key in it, oldest first.

    Args:
        start: First partition of the range.
        end: Last partition of the range (inclusive).
        partitions_start: First day of the partition set (``IOT_PARTITIONS_START``).
        now: The current time (aware).
        max_hours: Largest number of partitions one request may ask for (``IOT_API_MAX_RANGE_HOURS``).

    Returns:
        The canonical keys from ``start`` to ``end``.

    Raises:
        InvalidPartition: a key is invalid, ``start`` is after ``end`` or the range holds more than ``max_hours`` hours.
    """
    first = parse_partition(start, partitions_start=partitions_start, now=now, what="start")
    last = parse_partition(end, partitions_start=partitions_start, now=now, what="end")
    if first > last:
        raise InvalidPartition(f"start {start} is after end {end}: give the earlier hour as start")
    hours = int((last - first) / HOUR) + 1
    if hours > max_hours:
        raise InvalidPartition(
            f"the range {start}..{end} holds {hours} hours, more than the {max_hours} one request may ask for "
            "(IOT_API_MAX_RANGE_HOURS): split it into smaller ranges"
        )
    return partition_keys(first, last)
