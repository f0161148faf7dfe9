"""Instants given as text (command-line options, query parameters): ISO-8601, read as aware UTC datetimes."""

from __future__ import annotations

import datetime as dt


def as_utc(value: dt.datetime, error: type[Exception] = ValueError) -> dt.datetime:
    """``value`` in UTC; a naive value is taken as UTC.

    Args:
        value: Any datetime.
        error: What to raise when it cannot be converted (the caller's error type, e.g. an HTTP 422 one).

    Raises:
        error: the instant lies outside what a UTC datetime can hold (years 1..9999).
    """
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise error(f"{value.isoformat()} is outside the years 1..9999 in UTC") from None


def parse_instant(text: str, name: str, error: type[Exception] = ValueError) -> dt.datetime:
    """Read an ISO-8601 date or date-time as an aware UTC datetime; a time without offset is UTC.

    Args:
        text: e.g. ``2026-11-24T10:00:00Z``, ``2026-11-24T12:00+02:00``, ``2026-11-24``.
        name: How the value is named to the user (an option or parameter), for the error message.
        error: What to raise for a bad value (the caller's error type, e.g. ``ConfigurationError``).

    Returns:
        An aware UTC datetime.

    Raises:
        error: the text is not an ISO-8601 date or date-time, or lies outside the years 1..9999 in UTC;
            the message names ``name``.
    """
    try:
        instant = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise error(f"{name}: {text!r} is not an ISO-8601 time (example: 2026-11-24T10:00:00Z)") from None
    try:
        return as_utc(instant)
    except ValueError as exc:
        raise error(f"{name}: {exc}") from None
