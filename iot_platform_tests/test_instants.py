"""Instants given as text: ISO-8601 read as aware UTC, errors naming the option or parameter."""

from __future__ import annotations

import datetime as dt

import pytest

from iot_platform.instants import as_utc, parse_instant


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-24T10:00:00Z", dt.datetime(2026, 11, 24, 10, tzinfo=dt.UTC)),
        ("2026-11-24T12:00:00+02:00", dt.datetime(2026, 11, 24, 10, tzinfo=dt.UTC)),
        ("2026-11-24T10:00", dt.datetime(2026, 11, 24, 10, tzinfo=dt.UTC)),
        (" 2026-11-24 ", dt.datetime(2026, 11, 24, tzinfo=dt.UTC)),
    ],
)
def test_parse_instant_is_utc_without_an_offset(text: str, expected: dt.datetime) -> None:
    parsed = parse_instant(text, "--start")
    assert parsed == expected and parsed.tzinfo is dt.UTC


def test_parse_instant_names_the_option() -> None:
    with pytest.raises(ValueError, match="--end: 'yesterday' is not an ISO-8601 time"):
        parse_instant("yesterday", "--end")


def test_an_instant_beyond_utc_datetimes_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="start: 0001-01-01T00:00:00\\+01:00 is outside the years 1..9999"):
        parse_instant("0001-01-01T00:00:00+01:00", "start")


def test_as_utc_takes_naive_values_as_utc() -> None:
    assert as_utc(dt.datetime(2026, 11, 24, 10)) == dt.datetime(2026, 11, 24, 10, tzinfo=dt.UTC)
    assert as_utc(dt.datetime(2026, 11, 24, 11, tzinfo=dt.timezone(dt.timedelta(hours=1)))).hour == 10


def test_the_caller_chooses_the_error_type() -> None:
    from iot_platform.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="--start: '2026-13-01' is not an ISO-8601 time"):
        parse_instant("2026-13-01", "--start", ConfigurationError)
    with pytest.raises(ConfigurationError, match="outside the years 1..9999"):
        as_utc(dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1))), ConfigurationError)
