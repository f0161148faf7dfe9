"""The topic observation: totals, retained messages, rate between two looks, offsets as the data version."""

from __future__ import annotations

from iot_platform.sensors.sensor_raw_observer import observation_from_watermarks


def test_first_look_has_totals_and_no_rate() -> None:
    observation, cursor = observation_from_watermarks({0: (0, 10), 1: (2, 5)}, None, now=1000.0)
    meta = {key: value.value for key, value in observation.metadata.items()}
    assert meta["messages_total"] == 15
    assert meta["retained_messages"] == 13
    assert meta["messages_per_second"] == 0.0
    assert observation.tags["dagster/data_version"] == "0:10,1:5"
    assert cursor == {"total": 15, "at": 1000.0}


def test_rate_is_new_messages_over_elapsed_seconds() -> None:
    observation, _ = observation_from_watermarks({0: (0, 75)}, {"total": 15, "at": 1000.0}, now=1030.0)
    assert observation.metadata["messages_per_second"].value == 2.0
