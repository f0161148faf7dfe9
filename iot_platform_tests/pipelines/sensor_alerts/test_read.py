"""What an evaluation learns of the new readings: one summary per sensor, and the records it expects to read."""

from __future__ import annotations

import datetime as dt

from iot_platform.pipelines.sensor_alerts.plan import micros, sensor_params
from iot_platform.pipelines.sensor_alerts.read import NewData, SensorSummary, sensor_summaries
from iot_platform.pipelines.sensor_alerts.run import estimated_records
from iot_platform.registry import load_registry

T = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)


def named_row(sensor_id: str, sensor_type: str, first: dt.datetime, last: dt.datetime, value: float, n: int) -> dict:
    return {
        "sensor_id": sensor_id,
        "sensor_type": sensor_type,
        "location": f"{sensor_type}-hall",
        "unit": "u",
        "first": micros(first),
        "last": micros(last),
        "last_value": value,
        "n": n,
        "through": micros(last),
    }


def test_a_sensor_whose_names_changed_is_one_summary_named_after_its_latest_reading() -> None:
    rows = [
        named_row("S-2", "humidity", T, T + MINUTE, 40.0, 5),
        named_row("S-1", "pressure", T + 2 * MINUTE, T + 3 * MINUTE, 1010.0, 7),  # renamed later
        named_row("S-1", "temperature", T, T + 4 * MINUTE, 21.5, 10),  # and back: the latest reading is this one
        named_row("S-1", "humidity", T - MINUTE, T + MINUTE, 35.0, 2),
    ]
    assert sensor_summaries(rows) == [
        SensorSummary("S-1", "temperature", "temperature-hall", "u", T - MINUTE, T + 4 * MINUTE, 21.5, 19),
        SensorSummary("S-2", "humidity", "humidity-hall", "u", T, T + MINUTE, 40.0, 5),
    ]


def test_the_estimate_counts_new_readings_and_the_look_back_at_each_sensors_cadence() -> None:
    registry = load_registry()  # temperature every 0.5 s
    new = NewData(
        [
            SensorSummary("TEMP-001", "temperature", "factory-A", "celsius", T, T + 5 * MINUTE, 20.0, 600),
            SensorSummary("X-9", "vibration", "roof", "g", T, T + MINUTE, 0.1, 60),  # a type the registry lacks
        ],
        {"TEMP-001": T - MINUTE},  # a rejected record before its first new reading
    )
    starts = {"TEMP-001": T - 11 * MINUTE, "X-9": T - 5 * MINUTE}
    lookbacks = {"TEMP-001": 2 * MINUTE, "X-9": MINUTE}
    # TEMP-001: 600 new + 12 minutes (t0 - 2 min .. first event at T - 1 min) at 2 a second; X-9: 60 + 6 minutes at 1/s.
    params = {s.sensor_id: sensor_params(registry, s.sensor_id, s.sensor_type) for s in new.sensors}
    assert estimated_records(new, starts, lookbacks, params) == 600 + 12 * 60 * 2 + 60 + 6 * 60
