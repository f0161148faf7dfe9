"""The simulated sensor set: sensor types (unit, ranges, thresholds, walk behaviour) and their sensors.

A new sensor type such as vibration (mm/s) is a few lines of YAML, never code. The default set ships next to
this module as ``sensors.yaml``; ``IOT_GENERATOR_SENSORS_FILE`` (or ``--sensors-file``) points at another one.

Value model of one sensor type:

- ``min`` .. ``max``: the normal operating band. Each sensor's value is a random walk that never leaves it.
- ``threshold_min`` / ``threshold_max``: alarm limits outside the normal band (``threshold_min <= min`` and
  ``max <= threshold_max``). A reading beyond a threshold is a breach.
- ``excursion_probability``: chance, per reading, that a reading is a breach: a single spike beyond one
  threshold by up to ``excursion_span`` (default: a tenth of the normal band). The walk resumes where it
  was.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from iot_platform.errors import ConfigurationError

DEFAULT_SENSORS_FILE = Path(__file__).with_name("sensors.yaml")
"""The built-in sensor set (the contract's default: temperature, humidity, pressure in several factories)."""

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class SensorSpec(_Strict):
    """One physical sensor: its id (the Kafka record key) and where it is."""

    id: Annotated[str, Field(pattern=_NAME, max_length=100)]
    location: Annotated[str, Field(min_length=1, max_length=200)]


class SensorType(_Strict):
    """A kind of sensor: unit, normal band, alarm thresholds, walk behaviour, and its sensors."""

    unit: Annotated[str, Field(min_length=1, max_length=50)]
    min: float
    max: float
    threshold_min: float
    threshold_max: float
    step: Annotated[float, Field(gt=0)] = Field(
        description="Largest change between two consecutive readings of a sensor (uniform in [-step, step])."
    )
    decimals: Annotated[int, Field(ge=0, le=6)] = 2
    excursion_probability: Annotated[float, Field(ge=0, le=1)] = 0.001
    excursion_span: Annotated[float, Field(gt=0)] | None = None
    sensors: Annotated[list[SensorSpec], Field(min_length=1)]

    @model_validator(mode="after")
    def _check_ranges(self) -> SensorType:
        for name in ("min", "max", "threshold_min", "threshold_max", "step"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"{name} must be a finite number")
        if self.min >= self.max:
            raise ValueError(f"min ({self.min}) must be below max ({self.max})")
        if self.threshold_min > self.min:
            raise ValueError(f"threshold_min ({self.threshold_min}) must be at or below min ({self.min})")
        if self.threshold_max < self.max:
            raise ValueError(f"threshold_max ({self.threshold_max}) must be at or above max ({self.max})")
        if self.step >= self.max - self.min:
            raise ValueError(f"step ({self.step}) must be smaller than max - min ({self.max - self.min})")
        return self

    @property
    def span(self) -> float:
        """How far beyond a threshold an excursion may reach."""
        return self.excursion_span if self.excursion_span is not None else (self.max - self.min) / 10


class SensorSet(_Strict):
    """Every simulated sensor, grouped by type (the type name is the reading's ``sensor_type``)."""

    types: Annotated[dict[Annotated[str, Field(pattern=_NAME, max_length=100)], SensorType], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique_ids(self) -> SensorSet:
        seen: dict[str, str] = {}
        for type_name, sensor_type in self.types.items():
            for sensor in sensor_type.sensors:
                if sensor.id in seen:
                    raise ValueError(f"sensor id {sensor.id!r} is used twice (types {seen[sensor.id]} and {type_name})")
                seen[sensor.id] = type_name
        return self

    @property
    def sensor_count(self) -> int:
        """Number of sensors across all types."""
        return sum(len(sensor_type.sensors) for sensor_type in self.types.values())


def parse_sensor_set(data: Any, source: str = "sensor set") -> SensorSet:
    """Validate a sensor set given as plain data (e.g. parsed YAML).

    Args:
        data: A mapping with a ``types`` key.
        source: Where the data came from, for error messages.

    Returns:
        The validated sensor set.

    Raises:
        ConfigurationError: a field is unknown, missing or has a bad value; the message names the field.
    """
    try:
        return SensorSet.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = ".".join(str(part) for part in err["loc"]) or "(top level)"
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                message = "unknown field"
            problems.append(f"{loc}: {message}")
        raise ConfigurationError(f"{source}: {'; '.join(problems)}") from None


def load_sensor_set(path: Path | None = None) -> SensorSet:
    """Load and validate a sensor set from a YAML file.

    Args:
        path: The YAML file; None for the built-in default set.

    Returns:
        The validated sensor set.

    Raises:
        ConfigurationError: the file is missing, is not YAML, or fails validation (naming the field).
    """
    path = path or DEFAULT_SENSORS_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(
            f"sensor set {path}: cannot read it ({exc.strerror}); check IOT_GENERATOR_SENSORS_FILE or --sensors-file"
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        first_line = re.sub(r"\s+", " ", str(exc)).strip()
        raise ConfigurationError(f"sensor set {path}: not valid YAML ({first_line})") from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"sensor set {path}: expected a mapping with a 'types' key")
    return parse_sensor_set(data, source=f"sensor set {path}")
