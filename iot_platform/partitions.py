"""The hourly partitions of ``hourly_stats``: UTC hours keyed ``%Y-%m-%d-%H:%M`` (e.g. ``2026-11-24-10:00``)."""

from __future__ import annotations

import datetime as dt

from dagster import HourlyPartitionsDefinition

PARTITION_KEY_FORMAT = "%Y-%m-%d-%H:%M"


def hourly_partitions(start: dt.date) -> HourlyPartitionsDefinition:
    """Hourly UTC partitions from midnight of ``start``; the last partition is the last completed hour."""
    return HourlyPartitionsDefinition(
        start_date=dt.datetime(start.year, start.month, start.day, tzinfo=dt.UTC).strftime(PARTITION_KEY_FORMAT),
        timezone="UTC",
        fmt=PARTITION_KEY_FORMAT,
    )


def partition_key(hour: dt.datetime) -> str:
    """The partition key of the UTC hour containing ``hour``."""
    return hour.astimezone(dt.UTC).strftime("%Y-%m-%d-%H:00")


def partition_start(key: str) -> dt.datetime:
    """Start of the UTC hour a partition key names.

    Raises:
        ValueError: the key is not in ``%Y-%m-%d-%H:%M`` form or not on the hour.
    """
    value = dt.datetime.strptime(key, PARTITION_KEY_FORMAT).replace(tzinfo=dt.UTC)
    if value.minute:
        raise ValueError(f"partition key {key!r} is not on the hour")
    return value
