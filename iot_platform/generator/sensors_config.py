"""The simulated sensor set: the sensor registry's sensors, each with the random walk that simulates it.

The sensors (ids, types, locations, units, thresholds, per-sensor overrides included) come from the platform's
sensor registry (``IOT_SENSOR_REGISTRY``, default: the built-in one). Only how values move comes from the
registry's ``simulation`` section, which the platform itself ignores:

- ``simulation.types.<type>``: ``min`` .. ``max`` (the normal band: each sensor's value is a random walk that
  never leaves it), ``step`` (largest change between two consecutive readings), ``decimals`` (digits printed,
  default 2), ``excursion_probability`` (chance per reading of a single spike beyond one threshold, default
  :data:`DEFAULT_EXCURSION_PROBABILITY`) and ``excursion_span`` (how far beyond the threshold a spike may reach,
  default a tenth of the band).
- A type without such an entry gets a walk derived from its thresholds (:func:`derived_walk`): the band is the
  alarm band narrowed by a fifth of its width on each side, the step a sixtieth of the band.
- ``simulation.faults``: faults to inject (see :mod:`iot_platform.generator.faults`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from iot_platform.errors import ConfigurationError
from iot_platform.registry import DEFAULT_REGISTRY_FILE, SensorRegistry, load_registry, validation_problems

DEFAULT_EXCURSION_PROBABILITY = 0.0001
"""Chance per reading of a spike beyond a threshold: about one spike every 7 minutes across the default set (24
readings/s), so the ``rate_of_change`` warnings each spike raises stay occasional."""

DERIVED_BAND_MARGIN = 0.2
"""A derived walk's band is the alarm band narrowed by this share of its width on each side."""

DERIVED_STEPS_PER_BAND = 60
"""A derived walk's step is its band divided by this."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class Walk(_Strict):
    """How one type's simulated values move (the registry's ``simulation.types.<type>``)."""

    min: float
    max: float
    step: Annotated[float, Field(gt=0)]
    decimals: Annotated[int, Field(ge=0, le=6)] = 2
    excursion_probability: Annotated[float, Field(ge=0, le=1)] = DEFAULT_EXCURSION_PROBABILITY
    excursion_span: Annotated[float, Field(gt=0)] | None = None

    @model_validator(mode="after")
    def _check_band(self) -> Walk:
        for name in ("min", "max", "step"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"{name} must be a finite number")
        if self.min >= self.max:
            raise ValueError(f"min ({self.min}) must be below max ({self.max})")
        if self.step >= self.max - self.min:
            raise ValueError(f"step ({self.step}) must be smaller than max - min ({self.max - self.min})")
        return self


class Simulation(_Strict):
    """The registry's ``simulation`` section: walks per type and faults (validated by the fault module)."""

    types: dict[str, Walk] = Field(default_factory=dict)
    faults: list[dict[str, Any]] = Field(default_factory=list)


class SensorSpec(_Strict):
    """One simulated sensor: its id (the Kafka record key), where it is, and its effective alarm thresholds."""

    id: str
    location: str
    threshold_min: float
    threshold_max: float


class SensorType(_Strict):
    """A kind of sensor: unit, the walk that simulates it, and its sensors."""

    unit: str
    walk: Walk
    sensors: tuple[SensorSpec, ...]

    @property
    def span(self) -> float:
        """How far beyond a threshold an excursion may reach."""
        walk = self.walk
        return walk.excursion_span if walk.excursion_span is not None else (walk.max - walk.min) / 10


class SensorSet(_Strict):
    """Every simulated sensor, grouped by type (in the registry's type order, then its sensor order)."""

    types: dict[str, SensorType]
    faults: tuple[dict[str, Any], ...] = ()
    """The registry's ``simulation.faults`` entries (validated against the sensors by the fault module)."""

    @property
    def sensor_count(self) -> int:
        """Number of sensors across all types."""
        return sum(len(sensor_type.sensors) for sensor_type in self.types.values())

    def sensor(self, sensor_id: str) -> SensorSpec | None:
        """The simulated sensor ``sensor_id``, or None."""
        return next((s for t in self.types.values() for s in t.sensors if s.id == sensor_id), None)


def derived_walk(threshold_min: float, threshold_max: float) -> Walk:
    """The walk of a type the ``simulation`` section does not describe, from its alarm thresholds."""
    margin = (threshold_max - threshold_min) * DERIVED_BAND_MARGIN
    low, high = threshold_min + margin, threshold_max - margin
    return Walk(min=low, max=high, step=(high - low) / DERIVED_STEPS_PER_BAND)


def sensor_set_from_registry(registry: SensorRegistry, source: str = "sensor registry") -> SensorSet:
    """The simulated sensor set of a registry: its sensors, with walks from ``simulation`` or derived.

    Raises:
        ConfigurationError: the ``simulation`` section is invalid (naming the field), or no sensor is registered.
    """
    try:
        simulation = Simulation.model_validate(registry.simulation or {})
    except ValidationError as exc:
        raise ConfigurationError(f"{source}: {validation_problems(exc, 'simulation.')}") from None
    unknown = sorted(set(simulation.types) - set(registry.types))
    if unknown:
        raise ConfigurationError(f"{source}: simulation.types: {', '.join(unknown)} is not a type of the registry")
    types = {}
    for name, spec in registry.types.items():
        walk = simulation.types.get(name) or derived_walk(spec.threshold_min, spec.threshold_max)
        sensors = []
        for entry in (s for s in registry.sensors if s.type == name):
            low, high = entry.overrides.threshold_min, entry.overrides.threshold_max
            sensors.append(
                SensorSpec(
                    id=entry.id,
                    location=entry.location,
                    threshold_min=spec.threshold_min if low is None else low,
                    threshold_max=spec.threshold_max if high is None else high,
                )
            )
        if sensors:
            types[name] = SensorType(unit=spec.unit, walk=walk, sensors=tuple(sensors))
    if not types:
        raise ConfigurationError(f"{source}: lists no sensors to simulate")
    return SensorSet(types=types, faults=tuple(simulation.faults))


def load_sensor_set(path: Path | None = None) -> SensorSet:
    """Load a registry (None: the built-in one) and make its simulated sensor set.

    Raises:
        ConfigurationError: the file is missing, not YAML, or invalid (naming the field).
    """
    source = f"sensor registry {path or DEFAULT_REGISTRY_FILE}"
    return sensor_set_from_registry(load_registry(path), source=source)
