"""Pure reading generation: message shape, walk bounds, excursions, determinism, event times."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iot_platform.errors import ConfigurationError
from iot_platform.generator.readings import (
    READING_FIELDS,
    ReadingGenerator,
    Schedule,
    TimestampFormatter,
    format_timestamp,
    interval_us_for,
    interval_us_for_rate,
    to_epoch_ms,
)
from iot_platform.generator.sensors_config import SensorSet, load_sensor_set, sensor_set_from_registry
from iot_platform.registry import parse_registry

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
T0 = to_epoch_ms(dt.datetime(2026, 11, 24, 10, 30, tzinfo=dt.UTC))


def one_type(sensors: list[dict[str, Any]] | None = None, unit: str = "celsius", **walk: Any) -> SensorSet:
    """A registry of one temperature type (thresholds 15..35) simulated by a walk in 18..30 (step 0.5)."""
    spec = {"unit": unit, "expected_interval_s": 0.5, "threshold_min": 15.0, "threshold_max": 35.0}
    listed = sensors or [{"id": f"TEMP-{i:03d}", "location": "factory-A"} for i in range(1, 5)]
    registry = parse_registry(
        {
            "types": {"temperature": spec},
            "sensors": [{**sensor, "type": "temperature"} for sensor in listed],
            "simulation": {"types": {"temperature": {"min": 18.0, "max": 30.0, "step": 0.5, **walk}}},
        }
    )
    return sensor_set_from_registry(registry)


def readings(generator: ReadingGenerator, ticks: int, start_ms: int = T0) -> list[dict[str, Any]]:
    out = []
    for k in range(ticks):
        out.extend(json.loads(payload) for payload in generator.tick(start_ms + 500 * k))
    return out


def test_payload_is_exactly_the_contract_message() -> None:
    generator = ReadingGenerator(load_sensor_set(), seed=1)
    sensor_set = load_sensor_set()
    expected_sensors = {
        sensor.id: (type_name, sensor.location, sensor_type.unit)
        for type_name, sensor_type in sensor_set.types.items()
        for sensor in sensor_type.sensors
    }
    payloads = generator.tick(T0 + 500)
    assert len(payloads) == len(generator.keys) == len(expected_sensors)
    for key, payload in zip(generator.keys, payloads, strict=True):
        message = json.loads(payload.decode("utf-8"))
        assert tuple(message) == READING_FIELDS
        assert key.decode("utf-8") == message["sensor_id"]
        assert (message["sensor_type"], message["location"], message["unit"]) == expected_sensors[key.decode()]
        assert isinstance(message["value"], float) and math.isfinite(message["value"])
        assert message["timestamp"] == "2026-11-24T10:30:00.500Z"
        # The same spacing as the contract's example (json.dumps defaults).
        assert payload.startswith(b'{"sensor_id": "') and b'", "timestamp": "' in payload


def test_special_characters_in_names_are_escaped() -> None:
    sensor_set = one_type(unit='%d "degrees"', sensors=[{"id": "T-1", "location": 'hall "B" 100%\\east'}])
    message = json.loads(ReadingGenerator(sensor_set, seed=3).tick(T0)[0])
    assert message["location"] == 'hall "B" 100%\\east'
    assert message["unit"] == '%d "degrees"'


def test_walk_stays_in_its_band_and_moves_by_at_most_step() -> None:
    sensor_set = one_type(excursion_probability=0.0)
    generator = ReadingGenerator(sensor_set, seed=7)
    previous = generator.values
    seen_low, seen_high = math.inf, -math.inf
    for k in range(5000):
        for payload in generator.tick(T0 + k):
            value = json.loads(payload)["value"]
            assert 18.0 <= value <= 30.0
        current = generator.values
        for before, after in zip(previous, current, strict=True):
            assert abs(after - before) <= 0.5 + 1e-9
            seen_low, seen_high = min(seen_low, after), max(seen_high, after)
        previous = current
    # A walk, not a constant: it explores most of its band.
    assert seen_high - seen_low > 6.0


def test_excursions_are_rare_spikes_beyond_a_threshold() -> None:
    sensor_set = one_type(excursion_probability=0.02, excursion_span=2.0)
    values = [r["value"] for r in readings(ReadingGenerator(sensor_set, seed=11), 5000)]
    above = [v for v in values if v > 35.0]
    below = [v for v in values if v < 15.0]
    normal = [v for v in values if 18.0 <= v <= 30.0]
    # Every reading is either in the normal band or beyond a threshold: nothing in between.
    assert len(above) + len(below) + len(normal) == len(values) == 20_000
    assert above and below
    assert 0.01 < (len(above) + len(below)) / len(values) < 0.03
    assert max(above) <= 35.0 + 2.0 + 0.005 and min(below) >= 15.0 - 2.0 - 0.005


def test_no_excursions_when_probability_is_zero() -> None:
    values = [r["value"] for r in readings(ReadingGenerator(one_type(excursion_probability=0.0), seed=5), 3000)]
    assert all(18.0 <= v <= 30.0 for v in values)


def test_same_seed_same_readings_other_seed_other_readings() -> None:
    sensor_set = load_sensor_set()
    first = [ReadingGenerator(sensor_set, seed=42).tick(T0 + k * 500) for k in range(1)]
    a, b, c = (ReadingGenerator(sensor_set, seed=s) for s in (42, 42, 43))
    run_a = [a.tick(T0 + k * 500) for k in range(200)]
    run_b = [b.tick(T0 + k * 500) for k in range(200)]
    run_c = [c.tick(T0 + k * 500) for k in range(200)]
    assert run_a == run_b
    assert run_a[0] == first[0]
    assert run_a != run_c


def test_unseeded_generators_draw_and_expose_their_seed() -> None:
    sensor_set = load_sensor_set()
    generator = ReadingGenerator(sensor_set)
    replay = ReadingGenerator(sensor_set, seed=generator.seed)
    assert generator.tick(T0) == replay.tick(T0)


def test_decimals_control_the_printed_digits() -> None:
    payload = ReadingGenerator(one_type(decimals=0), seed=1).tick(T0)[0]
    assert re.search(rb'"value": \d+, ', payload)


@pytest.mark.parametrize(
    ("epoch_ms", "text"),
    [
        (0, "1970-01-01T00:00:00.000Z"),
        (T0 + 500, "2026-11-24T10:30:00.500Z"),
        (to_epoch_ms(dt.datetime(2028, 2, 29, 23, 59, 59, 999_000, tzinfo=dt.UTC)), "2028-02-29T23:59:59.999Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
    ],
)
def test_format_timestamp(epoch_ms: int, text: str) -> None:
    assert format_timestamp(epoch_ms) == text


@given(st.lists(st.integers(min_value=0, max_value=253_402_300_799_999), min_size=1, max_size=50))
def test_cached_formatter_matches_datetime(epochs: list[int]) -> None:
    formatter = TimestampFormatter()  # one instance: exercises the minute cache across arbitrary jumps
    for epoch_ms in sorted(epochs) + epochs:
        expected = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=epoch_ms)
        text = formatter(epoch_ms)
        assert TIMESTAMP.match(text)
        assert dt.datetime.fromisoformat(text) == expected


def test_backfill_window_ticks_are_exact() -> None:
    start = to_epoch_ms(dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC))
    schedule = Schedule(start_ms=start, interval_us=500_000, end_ms=start + 2_250)
    assert schedule.tick_count == 5
    assert [format_timestamp(schedule.tick_ms(k)) for k in range(5)] == [
        "2026-11-24T10:00:00.000Z",
        "2026-11-24T10:00:00.500Z",
        "2026-11-24T10:00:01.000Z",
        "2026-11-24T10:00:01.500Z",
        "2026-11-24T10:00:02.000Z",
    ]


@given(
    start=st.integers(min_value=0, max_value=4_000_000_000_000),
    length=st.integers(min_value=1, max_value=200_000),
    interval_us=st.integers(min_value=1000, max_value=5_000_000),
)
def test_tick_count_is_the_number_of_ticks_before_end(start: int, length: int, interval_us: int) -> None:
    schedule = Schedule(start_ms=start, interval_us=interval_us, end_ms=start + length)
    count = schedule.tick_count
    assert count is not None and count >= 1
    assert schedule.tick_ms(count - 1) < start + length <= schedule.tick_ms(count)
    # Millisecond timestamps of one sensor never repeat.
    assert all(schedule.tick_ms(k) < schedule.tick_ms(k + 1) for k in range(min(count, 50)))


def test_schedule_refuses_sub_millisecond_intervals_and_empty_windows() -> None:
    with pytest.raises(ConfigurationError, match="at least 1 ms"):
        Schedule(start_ms=0, interval_us=999)
    with pytest.raises(ConfigurationError, match="--end must be after --start"):
        Schedule(start_ms=10, interval_us=1000, end_ms=10)


def test_rate_sets_the_per_sensor_interval() -> None:
    assert interval_us_for_rate(24, 12) == 500_000
    assert interval_us_for_rate(12_000, 12) == 1000
    assert interval_us_for(0.5) == 500_000


@pytest.mark.parametrize("rate", [0, -5, float("nan"), float("inf")])
def test_non_positive_rate_is_refused(rate: float) -> None:
    with pytest.raises(ConfigurationError, match="--rate must be a positive number"):
        interval_us_for_rate(rate, 12)


def test_rate_beyond_one_reading_per_ms_per_sensor_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="more than 12 sensors x 1000 readings/s"):
        interval_us_for_rate(12_001, 12)
    with pytest.raises(ConfigurationError, match="IOT_GENERATOR_INTERVAL_S"):
        interval_us_for(0.0001)
