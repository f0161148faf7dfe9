"""``/api/v1/sensors/{sensor_id}/readings`` over a real (temporary) Iceberg catalog: the latest raw readings
newest first, read from the newest hour partitions back, and 4xx for bad input."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from iot_platform.api.sensors_reader import READINGS_LOOKBACK, reading_slices
from iot_platform.tables import SENSOR_READINGS, SENSOR_STATE
from iot_platform_tests.api.conftest import Api, make_api, unit_settings
from iot_platform_tests.api.monitoring_tables import NOW, append, readings, state

MINUTE = dt.timedelta(minutes=1)
DAY = dt.timedelta(days=1)
URL = "/api/v1/sensors/{}/readings"
# TEMP-001: five readings in the last hour, two a few hours ago, one three days ago, one beyond the lookback and
# one in the future; TEMP-002: one reading.
TEMP_001_TIMES = [NOW - 9 * DAY, NOW - 3 * DAY, NOW - 5 * 60 * MINUTE, NOW - 4 * 60 * MINUTE]
TEMP_001_TIMES += [NOW - m * MINUTE for m in (50, 40, 30, 20, 10)] + [NOW + MINUTE]


@pytest.fixture
def readings_api(tmp_path: Path) -> Any:
    for api in make_api(unit_settings(tmp_path)):
        append(
            api.catalog, SENSOR_READINGS, readings("TEMP-001", TEMP_001_TIMES) + readings("TEMP-002", [NOW - MINUTE])
        )
        append(api.catalog, SENSOR_STATE, [state("ODD-1", NOW - 10 * MINUTE, 7.0)])
        yield api


def get(api: Api, sensor_id: str, **params: Any) -> list[dict[str, Any]]:
    response = api.client.get(URL.format(sensor_id), params=params)
    assert response.status_code == 200, response.text
    body: list[dict[str, Any]] = response.json()
    return body


def test_latest_readings_newest_first_up_to_now(readings_api: Api) -> None:
    rows = get(readings_api, "TEMP-001", limit=3)
    assert [dt.datetime.fromisoformat(row["event_time"]) for row in rows] == [NOW - m * MINUTE for m in (10, 20, 30)]
    assert [row["value"] for row in rows] == [24.0, 23.5, 23.0]
    assert rows[0] == {
        "event_time": rows[0]["event_time"],
        "value": 24.0,
        "unit": "celsius",
        "ingested_at": NOW.isoformat().replace("+00:00", "Z"),
        "kafka_partition": 0,
        "kafka_offset": 8,
    }


def test_older_slices_fill_the_answer_up_to_the_lookback(readings_api: Api) -> None:
    assert len(get(readings_api, "TEMP-001", limit=5)) == 5
    rows = get(readings_api, "TEMP-001")
    times = [dt.datetime.fromisoformat(row["event_time"]) for row in rows]
    assert times[-3:] == [NOW - 4 * 60 * MINUTE, NOW - 5 * 60 * MINUTE, NOW - 3 * DAY]
    assert len(rows) == 8, "nothing older than the lookback, nothing from the future"


def test_slices_cover_the_lookback_newest_first_without_overlap() -> None:
    slices = reading_slices(NOW)
    assert slices[0] == (NOW - dt.timedelta(hours=1), NOW)
    assert slices[-1][0] == NOW - READINGS_LOOKBACK[-1]
    assert all(newer[0] == older[1] for newer, older in zip(slices, slices[1:], strict=False))


def test_a_registered_or_seen_sensor_without_readings_is_an_empty_list(readings_api: Api) -> None:
    assert get(readings_api, "TEMP-003") == []
    assert get(readings_api, "ODD-1") == []


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (URL.format("NOPE-1"), 404),
        (URL.format("TEMP-001") + "?limit=0", 422),
        (URL.format("TEMP-001") + "?limit=1001", 422),
        (URL.format("TEMP-001") + "?limit=abc", 422),
        (URL.format("x" * 201), 422),
    ],
)
def test_bad_input_is_4xx_with_a_message(readings_api: Api, path: str, status: int) -> None:
    response = readings_api.client.get(path)
    assert response.status_code == status
    assert response.json()["detail"]


def test_before_the_table_exists_a_registered_sensor_has_no_readings(tmp_path: Path) -> None:
    for api in make_api(unit_settings(tmp_path)):
        assert get(api, "TEMP-001") == []
        assert api.client.get(URL.format("NOPE-1")).status_code == 404
