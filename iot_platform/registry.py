"""The platform's sensor registry: what the platform knows about real sensors, independent of any simulator.

A registry is a YAML file (``IOT_SENSOR_REGISTRY``; default: the built-in ``sensors.yaml`` describing the default
simulated set) with these top-level sections:

- ``defaults``: rule settings every type starts from (optional; built-in defaults otherwise).
- ``types``: per sensor type: ``unit``, ``expected_interval_s`` (seconds between two readings of one sensor),
  ``threshold_min`` / ``threshold_max`` (alarm limits) and ``rules`` (partial rule settings over ``defaults``).
- ``sensors``: ``id``, ``type``, ``location`` and optional ``overrides`` (``threshold_min``, ``threshold_max``,
  ``expected_interval_s``, ``rules``) of each sensor.
- ``simulation``: read only by the generator (random walk, excursions, faults); the platform ignores it, so a
  registry without it is complete for the platform.

A new sensor type stays configuration only. Rule names are part of the contract (:class:`RuleName`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from iot_platform.errors import ConfigurationError

DEFAULT_REGISTRY_FILE = Path(__file__).with_name("sensors.yaml")
"""The built-in registry: the default simulated set (temperature, humidity, pressure in several factories)."""

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"


class RuleName(StrEnum):
    """The alert rules (their names are part of the contract)."""

    THRESHOLD = "threshold"
    STUCK = "stuck"
    SILENT = "silent"
    RATE_OF_CHANGE = "rate_of_change"
    UNKNOWN_SENSOR = "unknown_sensor"
    REJECTED_BURST = "rejected_burst"


class Severity(StrEnum):
    """How urgent an alert is."""

    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ThresholdRule(_Strict):
    """Value outside [threshold_min, threshold_max] for ``min_readings`` consecutive readings or ``min_seconds``.

    It resolves at the first reading back inside the limits narrowed by ``hysteresis`` on each side.
    """

    enabled: bool = True
    min_readings: Annotated[int, Field(ge=1)] = 3
    min_seconds: Annotated[float, Field(ge=0)] = 0.0
    """0: only ``min_readings`` counts."""
    hysteresis: Annotated[float, Field(ge=0)] = 0.0
    severity: Severity = Severity.CRITICAL


class StuckRule(_Strict):
    """For ``minutes``, each reading differs from the one before by at most ``epsilon`` (0: the value does not
    change) while readings keep arriving."""

    enabled: bool = True
    minutes: Annotated[float, Field(gt=0)] = 5.0
    epsilon: Annotated[float, Field(ge=0)] = 0.0
    severity: Severity = Severity.WARNING


class SilentRule(_Strict):
    """No reading for ``seconds`` (default: ``silent_factor`` times the expected interval, at least
    ``silent_floor_s``)."""

    enabled: bool = True
    seconds: Annotated[float, Field(gt=0)] | None = None
    factor: Annotated[float, Field(gt=1)] = 60.0
    floor_s: Annotated[float, Field(gt=0)] = 120.0
    severity: Severity = Severity.CRITICAL


class RateOfChangeRule(_Strict):
    """|delta value| / delta t between two consecutive readings above ``max_per_second`` (none: rule off)."""

    enabled: bool = True
    max_per_second: Annotated[float, Field(gt=0)] | None = None
    severity: Severity = Severity.WARNING


class RejectedBurstRule(_Strict):
    """More than ``max_share`` of a sensor's records rejected within ``window_minutes`` (with at least
    ``min_records`` rejected records in that window)."""

    enabled: bool = True
    window_minutes: Annotated[float, Field(gt=0)] = 5.0
    max_share: Annotated[float, Field(gt=0, le=1)] = 0.2
    min_records: Annotated[int, Field(ge=1)] = 10
    severity: Severity = Severity.WARNING


class UnknownSensorRule(_Strict):
    """A sensor seen on the topic but absent from the registry (one alert per sensor, resolved once registered)."""

    enabled: bool = True
    severity: Severity = Severity.WARNING


class Rules(_Strict):
    """Every rule's settings."""

    threshold: ThresholdRule = ThresholdRule()
    stuck: StuckRule = StuckRule()
    silent: SilentRule = SilentRule()
    rate_of_change: RateOfChangeRule = RateOfChangeRule()
    rejected_burst: RejectedBurstRule = RejectedBurstRule()
    unknown_sensor: UnknownSensorRule = UnknownSensorRule()


class SensorTypeSpec(_Strict):
    """A kind of sensor as the platform knows it."""

    unit: Annotated[str, Field(min_length=1, max_length=50)]
    expected_interval_s: Annotated[float, Field(gt=0)]
    threshold_min: float
    threshold_max: float
    rules: dict[str, Any] = Field(default_factory=dict)
    """Partial rule settings over the registry's ``defaults``."""

    @model_validator(mode="after")
    def _check_limits(self) -> SensorTypeSpec:
        if not (math.isfinite(self.threshold_min) and math.isfinite(self.threshold_max)):
            raise ValueError("threshold_min and threshold_max must be finite numbers")
        if self.threshold_min >= self.threshold_max:
            raise ValueError(f"threshold_min ({self.threshold_min}) must be below threshold_max ({self.threshold_max})")
        return self


class SensorOverrides(_Strict):
    """Per-sensor settings that replace its type's."""

    threshold_min: float | None = None
    threshold_max: float | None = None
    expected_interval_s: Annotated[float, Field(gt=0)] | None = None
    rules: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_limits(self) -> SensorOverrides:
        for name in ("threshold_min", "threshold_max"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number")
        return self


class SensorEntry(_Strict):
    """One physical sensor: id (the Kafka record key), type, location, optional overrides."""

    id: Annotated[str, Field(pattern=_NAME, max_length=100)]
    type: Annotated[str, Field(pattern=_NAME, max_length=100)]
    location: Annotated[str, Field(min_length=1, max_length=200)]
    overrides: SensorOverrides = SensorOverrides()


@dataclass(frozen=True)
class RuleParams:
    """The effective rule settings of one sensor (or of a type, for sensors absent from the registry), flat.

    A ``None`` number turns its rule off. :meth:`row` gives the columns of the evaluation's parameter table.
    """

    sensor_id: str | None
    """None: the type's parameters, applied to readings of sensors absent from the registry."""
    sensor_type: str
    location: str | None
    unit: str
    registered: bool
    expected_interval_s: float
    threshold_min: float | None
    threshold_max: float | None
    threshold_min_readings: int
    threshold_min_seconds: float
    threshold_hysteresis: float
    threshold_severity: str
    stuck_seconds: float | None
    stuck_epsilon: float
    stuck_severity: str
    silent_seconds: float | None
    silent_severity: str
    rate_max_per_second: float | None
    rate_severity: str
    rejected_window_seconds: float | None
    rejected_max_share: float
    rejected_min_records: int
    rejected_severity: str
    unknown_severity: str | None

    def row(self) -> dict[str, Any]:
        """The parameters as one row (column name -> value)."""
        return dict(self.__dict__)


PARAM_COLUMNS: tuple[str, ...] = tuple(RuleParams.__dataclass_fields__)
"""Column names of the evaluation's parameter table, in order."""


PLAUSIBLE_MARGIN = 0.5
"""How far beyond its thresholds a value stays plausible, as a share of the alarm band (max - min)."""


@dataclass(frozen=True)
class PlausibleRanges:
    """``(low, high)`` plausible values per registered sensor and per sensor type (for unregistered sensors)."""

    by_sensor: dict[str, tuple[float, float]]
    by_type: dict[str, tuple[float, float]]


def _widened(low: float, high: float) -> tuple[float, float]:
    margin = (high - low) * PLAUSIBLE_MARGIN
    return (low - margin, high + margin)


class SensorRegistry(_Strict):
    """The registry: rule defaults, sensor types and sensors (the ``simulation`` section is the generator's)."""

    defaults: dict[str, Any] = Field(default_factory=dict)
    types: Annotated[dict[Annotated[str, Field(pattern=_NAME, max_length=100)], SensorTypeSpec], Field(min_length=1)]
    sensors: list[SensorEntry] = Field(default_factory=list)
    simulation: dict[str, Any] | None = None
    """The generator's section, kept as plain data and not validated here."""
    _by_id: dict[str, SensorEntry] | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _check(self) -> SensorRegistry:
        seen: set[str] = set()
        for sensor in self.sensors:
            if sensor.id in seen:
                raise ValueError(f"sensor id {sensor.id!r} is listed twice")
            seen.add(sensor.id)
            if sensor.type not in self.types:
                raise ValueError(f"sensor {sensor.id}: unknown type {sensor.type!r} (types: {', '.join(self.types)})")
        # Validate layer by layer so that a bad rule setting is reported where it is written.
        _validated_rules([self.defaults], "defaults")
        for type_name, spec in self.types.items():
            _validated_rules([self.defaults, spec.rules], f"types.{type_name}.rules")
            self.type_params(type_name)
        for index, sensor in enumerate(self.sensors):
            where = f"sensors.{index} ({sensor.id}).overrides.rules"
            _validated_rules([self.defaults, self.types[sensor.type].rules, sensor.overrides.rules], where)
            self.sensor_params(sensor.id)
        self._by_id = {sensor.id: sensor for sensor in self.sensors}
        return self

    def sensor(self, sensor_id: str) -> SensorEntry | None:
        """The registry entry of ``sensor_id``, or None for a sensor absent from the registry."""
        by_id = self._by_id if self._by_id is not None else {sensor.id: sensor for sensor in self.sensors}
        return by_id.get(sensor_id)

    def rules(self, sensor_type: str, overrides: SensorOverrides | None = None) -> Rules:
        """The effective rules of a type (built-in defaults, then ``defaults``, the type's, the sensor's)."""
        layers = (self.defaults, self.types[sensor_type].rules, (overrides or SensorOverrides()).rules)
        return _validated_rules(layers, f"rules of type {sensor_type}")

    def type_params(self, sensor_type: str) -> RuleParams:
        """Parameters for readings of an unregistered sensor of a registered type."""
        return self._params(None, sensor_type, None, SensorOverrides())

    def sensor_params(self, sensor_id: str) -> RuleParams:
        """Parameters of a registered sensor.

        Raises:
            KeyError: The sensor is not in the registry.
        """
        sensor = self.sensor(sensor_id)
        if sensor is None:
            raise KeyError(sensor_id)
        return self._params(sensor.id, sensor.type, sensor.location, sensor.overrides)

    def param_rows(self) -> list[dict[str, Any]]:
        """Every registered sensor's parameters, then one row per type (``sensor_id`` None) for unknown sensors."""
        rows = [self.sensor_params(sensor.id).row() for sensor in self.sensors]
        return rows + [self.type_params(type_name).row() for type_name in self.types]

    def plausible_ranges(self) -> PlausibleRanges:
        """Plausible value ranges per registered sensor (its effective thresholds) and per type (for the others).

        A range is the alarm thresholds widened by :data:`PLAUSIBLE_MARGIN` of the alarm band on each side: a value
        just beyond a threshold is an alert (``threshold`` rule), one that far beyond it is no plausible reading.
        """
        by_type = {name: _widened(spec.threshold_min, spec.threshold_max) for name, spec in self.types.items()}
        by_sensor = {}
        for sensor in self.sensors:
            spec, overrides = self.types[sensor.type], sensor.overrides
            low = spec.threshold_min if overrides.threshold_min is None else overrides.threshold_min
            high = spec.threshold_max if overrides.threshold_max is None else overrides.threshold_max
            by_sensor[sensor.id] = _widened(low, high)
        return PlausibleRanges(by_sensor=by_sensor, by_type=by_type)

    def _params(
        self, sensor_id: str | None, sensor_type: str, location: str | None, overrides: SensorOverrides
    ) -> RuleParams:
        spec = self.types[sensor_type]
        rules = self.rules(sensor_type, overrides)
        interval = overrides.expected_interval_s or spec.expected_interval_s
        low = spec.threshold_min if overrides.threshold_min is None else overrides.threshold_min
        high = spec.threshold_max if overrides.threshold_max is None else overrides.threshold_max
        if low >= high:
            raise ValueError(f"sensor {sensor_id}: threshold_min ({low}) must be below threshold_max ({high})")
        silent = rules.silent.seconds or max(rules.silent.floor_s, rules.silent.factor * interval)
        rate, rejected = rules.rate_of_change, rules.rejected_burst
        return RuleParams(
            sensor_id=sensor_id,
            sensor_type=sensor_type,
            location=location,
            unit=spec.unit,
            registered=sensor_id is not None,
            expected_interval_s=interval,
            threshold_min=low if rules.threshold.enabled else None,
            threshold_max=high if rules.threshold.enabled else None,
            threshold_min_readings=rules.threshold.min_readings,
            threshold_min_seconds=rules.threshold.min_seconds,
            threshold_hysteresis=rules.threshold.hysteresis,
            threshold_severity=rules.threshold.severity.value,
            stuck_seconds=rules.stuck.minutes * 60 if rules.stuck.enabled else None,
            stuck_epsilon=rules.stuck.epsilon,
            stuck_severity=rules.stuck.severity.value,
            silent_seconds=silent if rules.silent.enabled else None,
            silent_severity=rules.silent.severity.value,
            rate_max_per_second=rate.max_per_second if rate.enabled else None,
            rate_severity=rate.severity.value,
            rejected_window_seconds=rejected.window_minutes * 60 if rejected.enabled else None,
            rejected_max_share=rejected.max_share,
            rejected_min_records=rejected.min_records,
            rejected_severity=rejected.severity.value,
            unknown_severity=rules.unknown_sensor.severity.value if rules.unknown_sensor.enabled else None,
        )


def _validated_rules(layers: Sequence[Mapping[str, Any]], where: str) -> Rules:
    """The built-in rule settings with ``layers`` laid over them in order, validated.

    Raises:
        ValueError: a setting is unknown or has a bad value; the message names it under ``where``.
    """
    merged: dict[str, Any] = {}
    for layer in layers:
        merged = _deep_merge(merged, layer)
    try:
        return Rules.model_validate(merged)
    except ValidationError as exc:
        raise ValueError(validation_problems(exc, prefix=f"{where}.")) from None


def _deep_merge(base: Mapping[str, Any], layer: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``layer``'s keys laid over it, nested mappings merged key by key."""
    merged = dict(base)
    for key, value in layer.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def validation_problems(exc: ValidationError, prefix: str = "") -> str:
    """A validation error as ``field: problem; ...`` (fields under ``prefix``; a whole-model problem is its message)."""
    problems = []
    for err in exc.errors():
        loc = prefix + ".".join(str(part) for part in err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown field"
        problems.append(f"{loc}: {message}" if err["loc"] else message)
    return "; ".join(problems)


def parse_registry(data: Any, source: str = "sensor registry") -> SensorRegistry:
    """Validate a registry given as plain data (e.g. parsed YAML).

    Raises:
        ConfigurationError: a field is unknown, missing or has a bad value; the message names the field.
    """
    try:
        return SensorRegistry.model_validate(data)
    except ValidationError as exc:
        raise ConfigurationError(f"{source}: {validation_problems(exc)}") from None


def load_registry(path: Path | None = None) -> SensorRegistry:
    """Load and validate a registry from a YAML file (None: the built-in one).

    Raises:
        ConfigurationError: the file is missing, is not YAML, or fails validation (naming the field).
    """
    path = path or DEFAULT_REGISTRY_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(
            f"sensor registry {path}: cannot read it ({exc.strerror}); check IOT_SENSOR_REGISTRY"
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        first_line = re.sub(r"\s+", " ", str(exc)).strip()
        raise ConfigurationError(f"sensor registry {path}: not valid YAML ({first_line})") from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"sensor registry {path}: expected a mapping with 'types' and 'sensors'")
    return parse_registry(data, source=f"sensor registry {path}")
