"""Sensor-set validation: the default set is the contract's, bad files are refused naming the field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from iot_platform.errors import ConfigurationError
from iot_platform.generator.sensors_config import DEFAULT_SENSORS_FILE, load_sensor_set, parse_sensor_set

VALID: dict[str, Any] = {
    "types": {
        "temperature": {
            "unit": "celsius",
            "min": 18.0,
            "max": 30.0,
            "threshold_min": 15.0,
            "threshold_max": 35.0,
            "step": 0.2,
            "sensors": [{"id": "TEMP-001", "location": "factory-A"}],
        }
    }
}


def with_change(path: str, value: Any) -> dict[str, Any]:
    """VALID with one field (dotted path under types.temperature) set; value None deletes it."""
    data = copy.deepcopy(VALID)
    node = data["types"]["temperature"]
    *parents, last = path.split(".")
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    if value is None:
        del node[last]
    else:
        node[last] = value
    return data


def test_default_set_is_the_contracts() -> None:
    sensor_set = load_sensor_set()
    units = {name: t.unit for name, t in sensor_set.types.items()}
    assert units == {"temperature": "celsius", "humidity": "percent", "pressure": "hPa"}
    prefixes = {"temperature": "TEMP-", "humidity": "HUMID-", "pressure": "PRESS-"}
    locations = set()
    for name, sensor_type in sensor_set.types.items():
        assert len(sensor_type.sensors) >= 3
        for sensor in sensor_type.sensors:
            assert sensor.id.startswith(prefixes[name])
            locations.add(sensor.location)
    assert {"factory-A", "factory-B", "factory-C"} <= locations


def test_default_file_is_the_one_loaded_without_a_path() -> None:
    assert load_sensor_set(None) == load_sensor_set(DEFAULT_SENSORS_FILE)


def test_new_type_is_configuration_only(tmp_path: Path) -> None:
    data = copy.deepcopy(VALID)
    data["types"]["vibration"] = {
        "unit": "mm/s",
        "min": 0.5,
        "max": 4.5,
        "threshold_min": 0.0,
        "threshold_max": 7.1,
        "step": 0.1,
        "sensors": [{"id": "VIB-001", "location": "factory-B"}],
    }
    path = tmp_path / "sensors.yaml"
    path.write_text(yaml.safe_dump(data))
    sensor_set = load_sensor_set(path)
    assert sensor_set.types["vibration"].unit == "mm/s"
    assert sensor_set.sensor_count == 2


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (with_change("colour", "red"), "types.temperature.colour: unknown field"),
        (with_change("sensors.0.room", "1"), "types.temperature.sensors.0.room: unknown field"),
        (with_change("min", 40.0), "min (40.0) must be below max (30.0)"),
        (with_change("threshold_min", 20.0), "threshold_min (20.0) must be at or below min"),
        (with_change("threshold_max", 29.0), "threshold_max (29.0) must be at or above max"),
        (with_change("step", 0), "types.temperature.step: Input should be greater than 0"),
        (with_change("step", 12.0), "step (12.0) must be smaller than max - min"),
        (with_change("unit", None), "types.temperature.unit: Field required"),
        (with_change("excursion_probability", 1.5), "types.temperature.excursion_probability"),
        (with_change("max", float("nan")), "types.temperature"),
        (with_change("sensors", []), "types.temperature.sensors"),
        (with_change("sensors.0.id", "TEMP 001"), "types.temperature.sensors.0.id"),
        ({"types": {}}, "types"),
        ({"sensors": []}, "sensors: unknown field"),
    ],
)
def test_bad_values_are_refused_naming_the_field(data: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_sensor_set(data)
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


def test_duplicate_sensor_ids_across_types_are_refused() -> None:
    data = copy.deepcopy(VALID)
    data["types"]["humidity"] = {
        **data["types"]["temperature"],
        "unit": "percent",
        "sensors": [{"id": "TEMP-001", "location": "factory-B"}],
    }
    with pytest.raises(ConfigurationError, match="TEMP-001.*used twice"):
        parse_sensor_set(data)


def test_missing_file_and_bad_yaml_are_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read it"):
        load_sensor_set(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("types: [unclosed\n")
    with pytest.raises(ConfigurationError, match="not valid YAML"):
        load_sensor_set(bad)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("42\n")
    with pytest.raises(ConfigurationError, match="expected a mapping"):
        load_sensor_set(scalar)
