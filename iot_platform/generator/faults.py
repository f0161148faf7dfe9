"""Injected sensor faults: a sensor that freezes, goes silent, spikes or drifts, for a while (pure, seedable).

A fault names its sensor, its kind, when it starts and how long it lasts:

- ``start``: seconds after the generator's first tick (live or backfill) or an ISO-8601 instant;
- ``duration_s``: how long it lasts; it covers the readings with event times in ``[start, start + duration)``.

Kinds (the sensor's random walk goes on underneath, so the same seed gives the same readings afterwards):

- ``freeze``: the value stays at the walk's value when the fault starts; the walk resumes from there.
- ``silent``: the sensor publishes no readings.
- ``spike``: the readings sit :data:`SPIKE_SHARE` of the alarm band beyond a threshold (``direction`` up: above
  ``threshold_max``, down: below ``threshold_min``).
- ``drift``: the value moves steadily from the walk to :data:`DRIFT_SHARE` of the alarm band beyond a threshold
  (over the first 40 % of the fault), stays there (20 %), and moves back to the walk (the last 40 %).

Faults come from the registry's ``simulation.faults`` plus ``IOT_GENERATOR_FAULTS`` / ``--faults``: ``off`` (none
besides the registry's), ``demo`` (:data:`DEMO_FAULTS`: every kind within the first six minutes over the default
set, each resolved) or the path of a YAML file holding a list of faults (or a mapping with a ``faults`` list).
"""

from __future__ import annotations

import bisect
import datetime as dt
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from iot_platform.errors import ConfigurationError
from iot_platform.generator.readings import format_timestamp, to_epoch_ms
from iot_platform.generator.sensors_config import SensorSet
from iot_platform.instants import as_utc
from iot_platform.registry import validation_problems

log = logging.getLogger("iot_platform.generator.faults")

SPIKE_SHARE = 0.25
"""How far beyond its threshold a spike reads, as a share of the sensor's alarm band."""

DRIFT_SHARE = 0.1
"""How far beyond its threshold a drift peaks, as a share of the sensor's alarm band."""

_RAMP = 0.4
"""Share of a drift's duration spent moving out (and again moving back)."""


class FaultKind(StrEnum):
    """What an injected fault does to its sensor's readings."""

    FREEZE = "freeze"
    SILENT = "silent"
    SPIKE = "spike"
    DRIFT = "drift"


class Fault(BaseModel):
    """One injected fault, as configured."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sensor_id: Annotated[str, Field(min_length=1)]
    kind: FaultKind
    start: Annotated[float, Field(ge=0)] | dt.datetime
    """Seconds after the generator's first tick, or an instant (UTC when it has no offset)."""
    duration_s: Annotated[float, Field(gt=0)]
    direction: Literal["up", "down"] = "up"
    """For ``spike`` and ``drift``: beyond ``threshold_max`` (up) or below ``threshold_min`` (down)."""

    @field_validator("start")
    @classmethod
    def _utc(cls, start: float | dt.datetime) -> float | dt.datetime:
        return as_utc(start) if isinstance(start, dt.datetime) else start


DEMO_FAULTS: tuple[Fault, ...] = (
    Fault(sensor_id="TEMP-004", kind=FaultKind.FREEZE, start=20, duration_s=330),
    Fault(sensor_id="TEMP-002", kind=FaultKind.SPIKE, start=30, duration_s=2),
    Fault(sensor_id="HUMID-002", kind=FaultKind.DRIFT, start=45, duration_s=240),
    Fault(sensor_id="PRESS-003", kind=FaultKind.SILENT, start=60, duration_s=180),
)
"""The ``demo`` schedule over the default set: a frozen sensor (``stuck`` after 5 minutes), a 2-second spike
(``threshold`` and ``rate_of_change``), a drift beyond ``threshold_max`` and back (``threshold``), and 3 minutes
of silence (``silent`` after 2 minutes); all have ended 350 s after the first tick."""


def parse_faults(entries: Iterable[Any], source: str) -> list[Fault]:
    """Validate fault entries given as plain data.

    Raises:
        ConfigurationError: an entry is invalid; the message names it and the field.
    """
    faults = []
    for index, entry in enumerate(entries):
        try:
            faults.append(Fault.model_validate(entry))
        except ValidationError as exc:
            raise ConfigurationError(f"{source}: fault {index}: {validation_problems(exc)}") from None
    return faults


def load_faults(choice: str) -> list[Fault]:
    """The faults of ``IOT_GENERATOR_FAULTS`` / ``--faults``: ``off``, ``demo`` or a YAML file's list.

    Raises:
        ConfigurationError: the file cannot be read or holds invalid faults.
    """
    if choice == "off":
        return []
    if choice == "demo":
        return list(DEMO_FAULTS)
    path = Path(choice)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(
            f"faults {path}: cannot read it ({exc.strerror}); IOT_GENERATOR_FAULTS / --faults is off, demo or "
            "the path of a YAML list of faults"
        ) from None
    except yaml.YAMLError as exc:
        first_line = re.sub(r"\s+", " ", str(exc)).strip()
        raise ConfigurationError(f"faults {path}: not valid YAML ({first_line})") from None
    if isinstance(data, dict) and "faults" in data:
        data = data["faults"]
    if not isinstance(data, list):
        raise ConfigurationError(f"faults {path}: expected a list of faults (or a mapping with a 'faults' list)")
    return parse_faults(data, f"faults {path}")


@dataclass(frozen=True)
class ActiveFault:
    """A fault placed on the generator's timeline: event times ``[start_ms, end_ms)`` of sensor ``index``."""

    fault: Fault
    index: int
    start_ms: int
    end_ms: int
    threshold_min: float
    threshold_max: float

    def _beyond(self, share: float) -> float:
        """The value ``share`` of the alarm band beyond the threshold of the fault's direction."""
        band = self.threshold_max - self.threshold_min
        if self.fault.direction == "up":
            return self.threshold_max + share * band
        return self.threshold_min - share * band

    def spike_value(self) -> float:
        """What a spiking sensor reads."""
        return self._beyond(SPIKE_SHARE)

    def drift_value(self, walk: float, epoch_ms: int) -> float:
        """What a drifting sensor reads at ``epoch_ms`` while its walk is at ``walk``."""
        phase = (epoch_ms - self.start_ms) / (self.end_ms - self.start_ms)
        weight = min(1.0, min(phase, 1.0 - phase) / _RAMP)
        return walk + (self._beyond(DRIFT_SHARE) - walk) * weight


class FaultPlan:
    """The faults of one generator run, placed on its timeline at the first tick.

    Args:
        faults: The faults to inject.
        sensor_set: The simulated sensors (a fault naming another sensor is refused).
        order: Sensor ids in the generator's order.

    Raises:
        ConfigurationError: a fault names a sensor absent from the sensor set.
    """

    def __init__(self, faults: Sequence[Fault], sensor_set: SensorSet, order: Sequence[str]) -> None:
        position = {sensor_id: i for i, sensor_id in enumerate(order)}
        for fault in faults:
            if fault.sensor_id not in position:
                raise ConfigurationError(
                    f"fault {fault.kind} names sensor {fault.sensor_id!r}, which the sensor registry does not list"
                )
        self._faults = tuple(faults)
        self._position = position
        self._sensor_set = sensor_set
        self.placed: tuple[ActiveFault, ...] = ()
        self._origin_ms: int | None = None
        self._next_change_ms = 0
        self.active: dict[int, ActiveFault] = {}
        """Faults in effect at the last tick, by sensor index."""

    def __bool__(self) -> bool:
        return bool(self._faults)

    def describe(self) -> str:
        """The faults in one line, for the run's log."""
        return "; ".join(
            f"{f.kind} {f.sensor_id} at {_start_text(f.start)} for {f.duration_s:g} s" for f in self._faults
        )

    def place(self, origin_ms: int) -> None:
        """Fix relative starts against the first tick's event time ``origin_ms``."""
        placed = []
        for fault in self._faults:
            if isinstance(fault.start, dt.datetime):
                start_ms = to_epoch_ms(fault.start)
            else:
                start_ms = origin_ms + round(fault.start * 1000)
            sensor = self._sensor_set.sensor(fault.sensor_id)
            assert sensor is not None  # checked in __init__
            placed.append(
                ActiveFault(
                    fault,
                    self._position[fault.sensor_id],
                    start_ms,
                    start_ms + round(fault.duration_s * 1000),
                    sensor.threshold_min,
                    sensor.threshold_max,
                )
            )
        self.placed = tuple(placed)
        self._origin_ms = origin_ms
        self._next_change_ms = origin_ms

    def at(self, epoch_ms: int) -> dict[int, ActiveFault]:
        """The faults in effect at ``epoch_ms`` by sensor index (logging each start and end as it passes)."""
        if self._origin_ms is None:
            self.place(epoch_ms)
        if epoch_ms < self._next_change_ms:
            return self.active
        active = {}
        upcoming = []
        for placed in self.placed:
            if placed.start_ms <= epoch_ms < placed.end_ms:
                active[placed.index] = placed
                upcoming.append(placed.end_ms)
            elif placed.start_ms > epoch_ms:
                upcoming.append(placed.start_ms)
        for index in self.active.keys() - active.keys():
            _log_transition("ended", self.active[index], epoch_ms)
        for index in active.keys() - self.active.keys():
            _log_transition("started", active[index], epoch_ms)
        self.active = active
        self._next_change_ms = min(upcoming, default=2**63)
        return active

    def silent_readings(self, ticks: int, tick_ms: Callable[[int], int]) -> int:
        """How many readings silent faults omit from ticks ``0 .. ticks - 1`` with event times ``tick_ms(k)``."""
        if self._origin_ms is None:
            self.place(tick_ms(0))
        positions = range(ticks)
        return sum(
            bisect.bisect_left(positions, p.end_ms, key=tick_ms)
            - bisect.bisect_left(positions, p.start_ms, key=tick_ms)
            for p in self.placed
            if p.fault.kind is FaultKind.SILENT
        )


def _start_text(start: float | dt.datetime) -> str:
    return start.isoformat() if isinstance(start, dt.datetime) else f"+{start:g} s"


def _log_transition(what: str, placed: ActiveFault, epoch_ms: int) -> None:
    fault = placed.fault
    direction = f" {fault.direction}" if fault.kind in (FaultKind.SPIKE, FaultKind.DRIFT) else ""
    log.info(
        "fault %s: %s%s on %s at %s (for %g s)",
        what, fault.kind, direction, fault.sensor_id, format_timestamp(epoch_ms), fault.duration_s,
    )  # fmt: skip


def fault_plan(sensor_set: SensorSet, extra: Sequence[Fault] = ()) -> FaultPlan:
    """The faults of a run: the registry's ``simulation.faults``, then ``extra`` (from ``IOT_GENERATOR_FAULTS``).

    Raises:
        ConfigurationError: a fault is invalid or names a sensor the sensor set lacks.
    """
    faults = [*parse_faults(sensor_set.faults, "sensor registry simulation.faults"), *extra]
    order = [sensor.id for sensor_type in sensor_set.types.values() for sensor in sensor_type.sensors]
    return FaultPlan(faults, sensor_set, order)
