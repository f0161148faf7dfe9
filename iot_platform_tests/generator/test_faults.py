"""Injected faults: each kind's effect on its sensor's readings, nothing else changed, seeded and repeatable."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from iot_platform.errors import ConfigurationError
from iot_platform.generator.faults import DEMO_FAULTS, Fault, FaultKind, fault_plan, load_faults
from iot_platform.generator.readings import ReadingGenerator, to_epoch_ms
from iot_platform.generator.sensors_config import SensorSet, load_sensor_set, sensor_set_from_registry
from iot_platform.registry import load_registry

T0 = to_epoch_ms(dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC))
TICKS = 800
"""400 s at one reading per sensor every 0.5 s."""


def run(faults: list[Fault], sensor_set: SensorSet | None = None, seed: int = 42) -> dict[str, list[tuple[int, float]]]:
    """(tick, value) of each sensor's readings over :data:`TICKS` ticks from :data:`T0`."""
    sensor_set = sensor_set or load_sensor_set()
    generator = ReadingGenerator(sensor_set, seed, fault_plan(sensor_set, faults))
    out: dict[str, list[tuple[int, float]]] = {}
    for k in range(TICKS):
        payloads = generator.tick(T0 + 500 * k)
        assert len(payloads) == len(generator.last_keys)
        for key, payload in zip(generator.last_keys, payloads, strict=True):
            message = json.loads(payload)
            assert key.decode() == message["sensor_id"]
            out.setdefault(message["sensor_id"], []).append((k, message["value"]))
    return out


def fault(kind: str, sensor_id: str, start: Any = 10, duration_s: float = 20, **extra: Any) -> Fault:
    return Fault.model_validate(
        {"kind": kind, "sensor_id": sensor_id, "start": start, "duration_s": duration_s, **extra}
    )


def inside(k: int, start_s: float = 10, duration_s: float = 20) -> bool:
    return start_s * 2 <= k < (start_s + duration_s) * 2


@pytest.fixture(scope="module")
def clean() -> dict[str, list[tuple[int, float]]]:
    return run([])


def test_a_frozen_sensor_repeats_one_value_then_walks_on_from_it(clean: dict[str, Any]) -> None:
    readings = run([fault("freeze", "TEMP-003")])
    frozen = [v for k, v in readings["TEMP-003"] if inside(k)]
    assert len(frozen) == 40 and len(set(frozen)) == 1
    assert frozen[0] == readings["TEMP-003"][19][1]  # the value when the fault started
    after = readings["TEMP-003"][60][1]
    assert abs(after - frozen[0]) <= 0.2 + 0.01  # no jump: the walk resumes where it stood
    assert readings["TEMP-003"][:20] == clean["TEMP-003"][:20]
    assert {s: v for s, v in readings.items() if s != "TEMP-003"} == {s: v for s, v in clean.items() if s != "TEMP-003"}


def test_a_silent_sensor_sends_nothing_for_its_duration(clean: dict[str, Any]) -> None:
    readings = run([fault("silent", "PRESS-002")])
    ticks = [k for k, _v in readings["PRESS-002"]]
    assert ticks == [k for k in range(TICKS) if not inside(k)]
    # The walk went on underneath: the readings around the gap are those of a run without the fault.
    assert readings["PRESS-002"] == [(k, v) for k, v in clean["PRESS-002"] if not inside(k)]
    assert readings["PRESS-001"] == clean["PRESS-001"]


@pytest.mark.parametrize(("direction", "expected"), [("up", 35.0 + 5.0), ("down", 15.0 - 5.0)])
def test_a_spike_reads_a_quarter_band_beyond_a_threshold(
    clean: dict[str, Any], direction: str, expected: float
) -> None:
    readings = run([fault("spike", "TEMP-001", start=30, duration_s=2, direction=direction)])
    spiked = [(k, v) for k, v in readings["TEMP-001"] if inside(k, 30, 2)]
    assert spiked == [(k, expected) for k in range(60, 64)]
    assert [r for r in readings["TEMP-001"] if not inside(r[0], 30, 2)] == [
        r for r in clean["TEMP-001"] if not inside(r[0], 30, 2)
    ]


def test_a_drift_moves_steadily_beyond_its_threshold_and_back(clean: dict[str, Any]) -> None:
    readings = run([fault("drift", "HUMID-004", start=20, duration_s=200)])
    values = [v for k, v in readings["HUMID-004"] if inside(k, 20, 200)]
    # Thresholds 20..70: the drift peaks a tenth of the band (5) above threshold_max and holds there.
    assert max(values) == 75.0
    assert sum(v == 75.0 for v in values) >= 70  # the middle fifth (80 readings), less rounding at its edges
    above = [k for k, v in readings["HUMID-004"] if v > 70.0]
    assert above == list(range(above[0], above[-1] + 1))  # one contiguous breach
    steps = [abs(b - a) for a, b in zip(values, values[1:], strict=False)]
    assert max(steps) < 1.0  # steady: no jump (humidity's rate limit is 10/s)
    assert readings["HUMID-004"][440:] == clean["HUMID-004"][440:]  # recovered onto the walk


def test_same_seed_and_faults_same_readings() -> None:
    faults = list(DEMO_FAULTS)
    assert run(faults) == run(faults)
    assert run(faults) != run(faults, seed=43)


def test_an_instant_start_places_a_fault_in_a_backfill_window() -> None:
    start = dt.datetime(2026, 11, 24, 10, 1, tzinfo=dt.UTC)
    readings = run([fault("silent", "TEMP-002", start=start.isoformat(), duration_s=30)])
    missing = {k for k in range(TICKS)} - {k for k, _v in readings["TEMP-002"]}
    assert missing == set(range(120, 180))


def test_demo_faults_show_every_kind_over_the_default_set_within_six_minutes() -> None:
    assert {f.kind for f in DEMO_FAULTS} == set(FaultKind)
    sensors = {s.id for s in load_registry().sensors}
    assert all(f.sensor_id in sensors for f in DEMO_FAULTS)
    assert max(float(f.start) + f.duration_s for f in DEMO_FAULTS) <= 360  # type: ignore[arg-type]
    # Longer than the default rules need to fire: stuck after 5 min, silent after 2 min, threshold after 3 readings.
    by_kind = {f.kind: f for f in DEMO_FAULTS}
    assert by_kind[FaultKind.FREEZE].duration_s > 300
    assert by_kind[FaultKind.SILENT].duration_s > 120
    assert by_kind[FaultKind.SPIKE].duration_s * 2 >= 3


def test_silent_readings_count_what_a_window_omits() -> None:
    sensor_set = load_sensor_set()
    plan = fault_plan(sensor_set, [fault("silent", "TEMP-002", start=10, duration_s=20), *DEMO_FAULTS])
    assert plan.silent_readings(TICKS, lambda k: T0 + 500 * k) == 40 + 360
    assert plan.silent_readings(10, lambda k: T0 + 500 * k) == 0


def test_each_fault_start_and_end_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="iot_platform.generator.faults"):
        run([fault("spike", "TEMP-001", start=30, duration_s=2)])
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "fault started: spike up on TEMP-001 at 2026-11-24T10:00:30.000Z (for 2 s)",
        "fault ended: spike up on TEMP-001 at 2026-11-24T10:00:32.000Z (for 2 s)",
    ]


def test_faults_come_from_the_registry_and_the_setting(tmp_path: Path) -> None:
    data = load_registry().model_dump()
    data["simulation"]["faults"] = [{"kind": "freeze", "sensor_id": "TEMP-001", "start": 0, "duration_s": 5}]
    sensor_set = sensor_set_from_registry(type(load_registry()).model_validate(data))
    assert run([], sensor_set)["TEMP-001"][0][1] == run([], sensor_set)["TEMP-001"][9][1]

    path = tmp_path / "faults.yaml"
    path.write_text("- {kind: spike, sensor_id: HUMID-001, start: 3, duration_s: 1, direction: down}\n")
    assert load_faults(str(path)) == [fault("spike", "HUMID-001", start=3, duration_s=1, direction="down")]
    assert load_faults("off") == [] and load_faults("demo") == list(DEMO_FAULTS)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- {kind: melt, sensor_id: TEMP-001, start: 0, duration_s: 1}\n", "fault 0: kind: Input should be"),
        ("- {kind: spike, sensor_id: TEMP-001, start: 0, duration_s: 0}\n", "fault 0: duration_s: Input should be"),
        ("- {kind: spike, sensor_id: TEMP-001, start: 0, duration_s: 1, size: 3}\n", "fault 0: size: unknown field"),
        ("kind: spike\n", "expected a list of faults"),
    ],
)
def test_bad_fault_files_are_refused_naming_the_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "faults.yaml"
    path.write_text(text)
    with pytest.raises(ConfigurationError, match=message):
        load_faults(str(path))
    with pytest.raises(ConfigurationError, match="cannot read it"):
        load_faults(str(tmp_path / "absent.yaml"))


def test_a_fault_on_an_unregistered_sensor_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="names sensor 'VIB-9', which the sensor registry does not list"):
        fault_plan(load_sensor_set(), [fault("freeze", "VIB-9")])
