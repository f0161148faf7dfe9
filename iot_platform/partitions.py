"""The hourly partitions of ``hourly_stats``: UTC hours keyed ``%Y-%m-%d-%H:%M`` (e.g. ``2026-11-24-10:00``).

Every hour key and every "last completed hour" of the platform comes from here; Dagster's partitions
definition is built from the same format in ``iot_platform/definitions.py``.
"""

from __future__ import annotations

import datetime as dt

PARTITION_KEY_FORMAT = "%Y-%m-%d-%H:%M"
HOUR = dt.timedelta(hours=1)


def hour_start(instant: dt.datetime) -> dt.datetime:
    """Start of the UTC hour containing ``instant`` (an aware datetime)."""
    return instant.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def partition_key(hour: dt.datetime) -> str:
    """The partition key of the UTC hour containing ``hour``."""
    return hour_start(hour).strftime(PARTITION_KEY_FORMAT)


def partition_start(key: str) -> dt.datetime:
    """Start of the UTC hour a partition key names.

    Raises:
        ValueError: the key is not in ``%Y-%m-%d-%H:%M`` form or not on the hour.
    """
    value = dt.datetime.strptime(key, PARTITION_KEY_FORMAT).replace(tzinfo=dt.UTC)
    if value.minute:
        raise ValueError(f"partition key {key!r} is not on the hour")
    return value


def first_partition(partitions_start: dt.date) -> dt.datetime:
    """Start of the first hourly partition: midnight UTC of ``partitions_start`` (``IOT_PARTITIONS_START``)."""
    return dt.datetime(partitions_start.year, partitions_start.month, partitions_start.day, tzinfo=dt.UTC)


def last_complete_partition(now: dt.datetime) -> dt.datetime:
    """Start of the last completed UTC hour at ``now`` (the hour before the current, incomplete one)."""
    return hour_start(now) - HOUR


def last_completed_hours(now: dt.datetime, hours: int) -> tuple[dt.datetime, dt.datetime]:
    """``[start, end)`` covering the ``hours`` completed UTC hours before the current one."""
    end = hour_start(now)
    return end - hours * HOUR, end


def partition_keys(first: dt.datetime, last: dt.datetime) -> list[str]:
    """Keys of every hour from the hour of ``first`` to the hour of ``last`` (inclusive), oldest first."""
    start = hour_start(first)
    return [partition_key(start + i * HOUR) for i in range(int((hour_start(last) - start) / HOUR) + 1)]
