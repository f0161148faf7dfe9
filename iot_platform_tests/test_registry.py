"""The sensor registry: built-in file, defaults, layering, derived limits, rules off, and bad files named precisely."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from iot_platform.errors import ConfigurationError
from iot_platform.registry import (
    DEFAULT_REGISTRY_FILE,
    PARAM_COLUMNS,
    PLAUSIBLE_MARGIN,
    RuleName,
    load_registry,
    parse_registry,
)


def minimal(**type_fields: Any) -> dict[str, Any]:
    """A registry of one type (``vibration``) and one sensor, with no rule settings of its own."""
    spec = {"unit": "mm/s", "expected_interval_s": 1.0, "threshold_min": 0.0, "threshold_max": 7.0, **type_fields}
    return {"types": {"vibration": spec}, "sensors": [{"id": "VIB-1", "type": "vibration", "location": "hall"}]}


def built_in() -> dict[str, Any]:
    return dict(yaml.safe_load(DEFAULT_REGISTRY_FILE.read_text()))


def test_the_built_in_registry_describes_the_default_set() -> None:
    registry = load_registry()

    assert load_registry(None) == load_registry(DEFAULT_REGISTRY_FILE)
    assert list(registry.types) == ["temperature", "humidity", "pressure"]
    assert len(registry.sensors) == 12
    assert {(s.type, s.location) for s in registry.sensors if s.id == "HUMID-003"} == {("humidity", "factory-B")}
    temp = registry.sensor_params("TEMP-001")
    assert (temp.unit, temp.threshold_min, temp.threshold_max, temp.rate_max_per_second) == ("celsius", 15.0, 35.0, 4.0)
    assert registry.type_params("pressure").rate_max_per_second == 6.0
    assert registry.simulation is not None and set(registry.simulation["types"]) == set(registry.types)


def test_built_in_defaults_apply_when_a_registry_sets_no_rules() -> None:
    params = parse_registry(minimal()).sensor_params("VIB-1")

    assert (params.threshold_min_readings, params.threshold_severity) == (3, "critical")
    assert (params.stuck_seconds, params.stuck_epsilon, params.stuck_severity) == (300.0, 0.0, "warning")
    assert params.rate_max_per_second is None  # no default rate: the rule is off until a type sets one
    assert (params.rejected_window_seconds, params.rejected_max_share, params.rejected_min_records) == (300.0, 0.2, 10)
    assert params.unknown_severity == "warning"
    assert params.registered and params.location == "hall"


def test_settings_layer_defaults_then_type_then_sensor() -> None:
    data = minimal(rules={"stuck": {"minutes": 10}, "threshold": {"min_readings": 5}})
    data["defaults"] = {"stuck": {"minutes": 2, "epsilon": 0.01}, "threshold": {"severity": "warning"}}
    data["sensors"].append(
        {
            "id": "VIB-2",
            "type": "vibration",
            "location": "hall",
            "overrides": {"threshold_max": 9.0, "expected_interval_s": 4.0, "rules": {"stuck": {"epsilon": 0.5}}},
        }
    )
    registry = parse_registry(data)
    one, two, by_type = (
        registry.sensor_params("VIB-1"),
        registry.sensor_params("VIB-2"),
        registry.type_params("vibration"),
    )

    # defaults' epsilon and severity survive, the type's minutes and min_readings replace the defaults'.
    assert (one.stuck_seconds, one.stuck_epsilon, one.threshold_min_readings, one.threshold_severity) == (
        600.0, 0.01, 5, "warning",
    )  # fmt: skip
    # The sensor's override replaces one key and keeps the rest of the rule.
    assert (two.stuck_seconds, two.stuck_epsilon) == (600.0, 0.5)
    assert (two.threshold_min, two.threshold_max, two.expected_interval_s) == (0.0, 9.0, 4.0)
    assert (by_type.sensor_id, by_type.location, by_type.registered, by_type.threshold_max) == (
        None, None, False, 7.0,
    )  # fmt: skip


def test_the_silent_limit_is_derived_from_the_cadence_unless_set() -> None:
    assert parse_registry(minimal(expected_interval_s=0.5)).sensor_params("VIB-1").silent_seconds == 120.0  # floor
    assert parse_registry(minimal(expected_interval_s=10.0)).sensor_params("VIB-1").silent_seconds == 600.0  # 60 x
    tuned = minimal(expected_interval_s=10.0, rules={"silent": {"factor": 3, "floor_s": 5}})
    assert parse_registry(tuned).sensor_params("VIB-1").silent_seconds == 30.0
    fixed = minimal(rules={"silent": {"seconds": 42}})
    assert parse_registry(fixed).sensor_params("VIB-1").silent_seconds == 42.0
    # A sensor with a slower cadence gets its own derived limit.
    data = minimal()
    data["sensors"][0]["overrides"] = {"expected_interval_s": 5.0}
    assert parse_registry(data).sensor_params("VIB-1").silent_seconds == 300.0


def test_a_disabled_rule_has_no_numbers() -> None:
    data = minimal(rules={"rate_of_change": {"max_per_second": 2.0}})
    off = {name: {"enabled": False} for name in ("threshold", "stuck", "silent", "rate_of_change", "rejected_burst")}
    data["sensors"].append(
        {"id": "VIB-2", "type": "vibration", "location": "hall", "overrides": {"rules": off | {"unknown_sensor": {}}}}
    )
    registry = parse_registry(data)
    on, muted = registry.sensor_params("VIB-1"), registry.sensor_params("VIB-2")

    assert on.rate_max_per_second == 2.0 and on.threshold_max == 7.0
    assert (muted.threshold_min, muted.threshold_max, muted.stuck_seconds, muted.silent_seconds) == (None,) * 4
    assert (muted.rate_max_per_second, muted.rejected_window_seconds) == (None, None)
    unknown_off = minimal(rules={"unknown_sensor": {"enabled": False}})
    assert parse_registry(unknown_off).type_params("vibration").unknown_severity is None


def test_param_rows_list_every_sensor_then_every_type() -> None:
    registry = load_registry()
    rows = registry.param_rows()

    assert [row["sensor_id"] for row in rows] == [s.id for s in registry.sensors] + [None, None, None]
    assert [row["sensor_type"] for row in rows[-3:]] == ["temperature", "humidity", "pressure"]
    assert all(tuple(row) == PARAM_COLUMNS for row in rows)
    assert registry.sensor("TEMP-003") is not None and registry.sensor("NOPE") is None
    with pytest.raises(KeyError):
        registry.sensor_params("NOPE")
    assert {rule.value for rule in RuleName} == {
        "threshold", "stuck", "silent", "rate_of_change", "unknown_sensor", "rejected_burst",
    }  # fmt: skip


def test_plausible_ranges_widen_each_sensors_thresholds() -> None:
    data = minimal()
    data["sensors"].append({"id": "VIB-2", "type": "vibration", "location": "x", "overrides": {"threshold_max": 9.0}})
    ranges = parse_registry(data).plausible_ranges()

    assert PLAUSIBLE_MARGIN == 0.5
    assert ranges.by_type == {"vibration": (-3.5, 10.5)}
    assert ranges.by_sensor == {"VIB-1": (-3.5, 10.5), "VIB-2": (-4.5, 13.5)}
    assert load_registry().plausible_ranges().by_type["temperature"] == (5.0, 45.0)


def _with(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(built_in())
    change(data)
    return data


@pytest.mark.parametrize(
    ("data", "named"),
    [
        (_with(lambda d: d["types"]["humidity"].pop("unit")), "types.humidity.unit: Field required"),
        (_with(lambda d: d["types"]["humidity"].update(colour="red")), "types.humidity.colour: unknown field"),
        (_with(lambda d: d["types"]["pressure"].update(threshold_min=2000)), "types.pressure: threshold_min (2000.0)"),
        (_with(lambda d: d["types"]["pressure"].update(expected_interval_s=0)), "types.pressure.expected_interval_s"),
        (_with(lambda d: d["defaults"].update(noisy={})), "defaults.noisy: unknown field"),
        (_with(lambda d: d["defaults"]["stuck"].update(minutes=0)), "defaults.stuck.minutes: Input should be greater"),
        (
            _with(lambda d: d["types"]["temperature"]["rules"].update(threshold={"min_readings": 0})),
            "types.temperature.rules.threshold.min_readings",
        ),
        (
            _with(lambda d: d["sensors"][2].update(overrides={"rules": {"silent": {"factor": 0.5}}})),
            "sensors.2 (TEMP-003).overrides.rules.silent.factor",
        ),
        (
            _with(lambda d: d["sensors"][0].update(overrides={"threshold_min": float("nan")})),
            "sensors.0.overrides: threshold_min must be a finite number",
        ),
        (
            _with(lambda d: d["sensors"][0].update(overrides={"threshold_min": 40})),
            "sensor TEMP-001: threshold_min (40.0) must be below threshold_max (35.0)",
        ),
        (_with(lambda d: d["sensors"][1].update(type="vibration")), "sensor TEMP-002: unknown type 'vibration'"),
        (_with(lambda d: d["sensors"].append(dict(d["sensors"][4]))), "sensor id 'HUMID-001' is listed twice"),
        (_with(lambda d: d["sensors"][0].update(id="bad id")), "sensors.0.id: String should match pattern"),
        (_with(lambda d: d.update(types={})), "types: Dictionary should have at least 1 item"),
    ],
)
def test_a_bad_registry_is_refused_naming_the_field(data: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigurationError, match="^sensor registry: ") as refused:
        parse_registry(data)
    assert named in str(refused.value)


def test_bad_files_are_refused_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="absent.yaml: cannot read it .*IOT_SENSOR_REGISTRY"):
        load_registry(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("types: [unclosed\n")
    with pytest.raises(ConfigurationError, match="broken.yaml: not valid YAML"):
        load_registry(broken)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("42\n")
    with pytest.raises(ConfigurationError, match="scalar.yaml: expected a mapping"):
        load_registry(scalar)


def test_a_registry_of_real_sensors_needs_no_simulation_section(tmp_path: Path) -> None:
    path = tmp_path / "plant.yaml"
    path.write_text(yaml.safe_dump(minimal()))

    registry = load_registry(path)
    assert registry.simulation is None
    assert registry.sensor_params("VIB-1").threshold_max == 7.0
