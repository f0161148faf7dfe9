"""The MERGE that replaces an hour window of ``iot.hourly_stats`` (the statement, without Spark)."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from iot_platform.pipelines.hourly_stats.merge import NEW_ROWS_VIEW, merge_statement
from iot_platform.pipelines.hourly_stats.read import utc_literal

START = dt.datetime(2026, 11, 24, 10, tzinfo=dt.UTC)


def one_line(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).strip()


def test_merge_replaces_only_the_window_by_sensor_and_hour() -> None:
    sql = one_line(merge_statement(START, START + dt.timedelta(hours=3)))

    assert sql.startswith(f"MERGE INTO iot.hourly_stats t USING {NEW_ROWS_VIEW} s ")
    assert "ON t.window_start = s.window_start AND t.sensor_id = s.sensor_id" in sql
    assert "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *" in sql
    assert sql.endswith(
        "WHEN NOT MATCHED BY SOURCE AND t.window_start >= TIMESTAMP '2026-11-24 10:00:00+00:00' "
        "AND t.window_start < TIMESTAMP '2026-11-24 13:00:00+00:00' THEN DELETE"
    )


def test_window_bounds_are_utc_whatever_the_zone_given() -> None:
    berlin = START.astimezone(ZoneInfo("Europe/Berlin"))

    assert utc_literal(berlin) == "2026-11-24 10:00:00+00:00"
    assert merge_statement(berlin, berlin + dt.timedelta(hours=1)) == merge_statement(
        START, START + dt.timedelta(hours=1)
    )
