"""The simulated sensor set comes from the sensor registry: its sensors, the simulation section's walks (or walks
derived from the thresholds), and bad simulation sections refused naming the field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from iot_platform.errors import ConfigurationError
from iot_platform.generator.readings import ReadingGenerator
from iot_platform.generator.sensors_config import (
    DEFAULT_EXCURSION_PROBABILITY,
    derived_walk,
    load_sensor_set,
    sensor_set_from_registry,
)
from iot_platform.registry import DEFAULT_REGISTRY_FILE, load_registry, parse_registry

BUILT_IN: dict[str, Any] = yaml.safe_load(DEFAULT_REGISTRY_FILE.read_text())


def changed(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(BUILT_IN)
    change(data)
    return data


def test_the_default_set_is_the_registrys_in_its_order() -> None:
    sensor_set = load_sensor_set()
    registry = load_registry()

    assert {name: t.unit for name, t in sensor_set.types.items()} == {
        "temperature": "celsius", "humidity": "percent", "pressure": "hPa",
    }  # fmt: skip
    listed = [(s.id, s.location) for t in sensor_set.types.values() for s in t.sensors]
    assert listed == [(s.id, s.location) for s in registry.sensors]
    temperature = sensor_set.types["temperature"]
    assert (temperature.walk.min, temperature.walk.max, temperature.walk.step) == (18.0, 30.0, 0.2)
    assert temperature.walk.excursion_probability == DEFAULT_EXCURSION_PROBABILITY
    assert (temperature.sensors[0].threshold_min, temperature.sensors[0].threshold_max) == (15.0, 35.0)
    assert load_sensor_set(None) == load_sensor_set(DEFAULT_REGISTRY_FILE)


def test_a_type_without_a_simulation_entry_gets_a_walk_derived_from_its_thresholds() -> None:
    data = changed(lambda d: d["simulation"]["types"].pop("humidity"))
    humidity = sensor_set_from_registry(parse_registry(data)).types["humidity"]

    # Thresholds 20..70: the band is narrowed by a fifth of 50 on each side, the step is a sixtieth of the band.
    assert humidity.walk == derived_walk(20.0, 70.0)
    assert (humidity.walk.min, humidity.walk.max, humidity.walk.step) == (30.0, 60.0, 0.5)
    generator = ReadingGenerator(sensor_set_from_registry(parse_registry(data)), seed=3)
    humidity_values = generator.values[4:8]
    assert all(30.0 <= value <= 60.0 for value in humidity_values)


def test_a_registry_without_a_simulation_section_is_simulated_from_thresholds_alone() -> None:
    data = changed(lambda d: d.pop("simulation"))
    sensor_set = sensor_set_from_registry(parse_registry(data))
    assert sensor_set.sensor_count == 12
    assert sensor_set.faults == ()
    assert sensor_set.types["pressure"].walk == derived_walk(990.0, 1035.0)


def test_per_sensor_threshold_overrides_reach_the_simulation() -> None:
    data = changed(lambda d: d["sensors"][1].update(overrides={"threshold_max": 32.0}))
    sensors = sensor_set_from_registry(parse_registry(data)).types["temperature"].sensors
    assert [(s.id, s.threshold_max) for s in sensors[:2]] == [("TEMP-001", 35.0), ("TEMP-002", 32.0)]


def test_a_new_type_is_configuration_only(tmp_path: Path) -> None:
    def add_vibration(d: dict[str, Any]) -> None:
        d["types"]["vibration"] = {"unit": "mm/s", "expected_interval_s": 1, "threshold_min": 0.0, "threshold_max": 7.1}
        d["sensors"].append({"id": "VIB-001", "type": "vibration", "location": "factory-B"})
        d["simulation"]["types"]["vibration"] = {"min": 0.5, "max": 4.5, "step": 0.1, "decimals": 3}

    path = tmp_path / "sensors.yaml"
    path.write_text(yaml.safe_dump(changed(add_vibration)))
    sensor_set = load_sensor_set(path)
    assert sensor_set.types["vibration"].unit == "mm/s"
    assert sensor_set.types["vibration"].walk.decimals == 3
    assert sensor_set.sensor_count == 13


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            changed(lambda d: d["simulation"]["types"]["temperature"].update(colour="red")),
            "temperature.colour: unknown",
        ),
        (changed(lambda d: d["simulation"]["types"]["humidity"].update(min=80.0)), "min (80.0) must be below max"),
        (changed(lambda d: d["simulation"]["types"]["pressure"].update(step=0)), "simulation.types.pressure.step"),
        (changed(lambda d: d["simulation"]["types"]["pressure"].update(step=30)), "step (30.0) must be smaller"),
        (
            changed(lambda d: d["simulation"]["types"]["temperature"].update(excursion_probability=1.5)),
            "simulation.types.temperature.excursion_probability",
        ),
        (changed(lambda d: d["simulation"]["types"].update(vibration={"min": 0, "max": 1, "step": 0.1})), "vibration"),
        (changed(lambda d: d["simulation"].update(weather="rain")), "simulation.weather: unknown field"),
        (changed(lambda d: d.update(sensors=[])), "lists no sensors to simulate"),
    ],
)
def test_a_bad_simulation_section_is_refused_naming_the_field(data: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        sensor_set_from_registry(parse_registry(data))
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)
