"""Pure, seedable reading generation: bounded random walks, rare threshold excursions, JSON payloads.

Nothing here does I/O or reads a clock: the caller passes event times. With the same sensor set and seed,
the same sequence of event times yields byte-identical payloads.

Payloads are built from per-sensor byte templates (one ``bytes % (value, timestamp)`` per reading) because
building JSON in Python, not the Kafka client, is what limits a producer's throughput.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from iot_platform.errors import ConfigurationError
from iot_platform.generator.sensors_config import SensorSet

if TYPE_CHECKING:
    from iot_platform.generator.faults import ActiveFault, FaultPlan

READING_FIELDS = ("sensor_id", "sensor_type", "location", "value", "unit", "timestamp")
"""Keys of a reading's JSON object, in the order they are written (contract section 1)."""

TIMESTAMP_RESOLUTION_US = 1000
"""Event times have millisecond precision, so one sensor cannot read more often than every 1 ms."""

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def to_epoch_ms(instant: dt.datetime) -> int:
    """Milliseconds since the Unix epoch of an aware datetime (sub-millisecond digits are dropped)."""
    delta = instant - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def format_timestamp(epoch_ms: int) -> str:
    """ISO-8601 UTC with milliseconds and ``Z``, e.g. ``2026-11-24T10:30:00.500Z``."""
    return TimestampFormatter()(epoch_ms)


class TimestampFormatter:
    """Formats epoch milliseconds like :func:`format_timestamp`, caching the date-and-minute prefix.

    Consecutive readings share their minute almost always, so most calls are one f-string.
    """

    def __init__(self) -> None:
        self._minute: int | None = None
        self._prefix = ""

    def __call__(self, epoch_ms: int) -> str:
        minute, rem = divmod(epoch_ms, 60_000)
        if minute != self._minute:
            t = _EPOCH + dt.timedelta(minutes=minute)
            self._prefix = f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:"
            self._minute = minute
        return f"{self._prefix}{rem // 1000:02d}.{rem % 1000:03d}Z"


@dataclass(frozen=True)
class Schedule:
    """Event times of the readings: tick ``k`` is at ``start_ms + k * interval_us // 1000``; every sensor
    reads once per tick. ``end_ms`` (exclusive) bounds a backfill; a live schedule has none.
    """

    start_ms: int
    interval_us: int
    end_ms: int | None = None

    def __post_init__(self) -> None:
        if self.interval_us < TIMESTAMP_RESOLUTION_US:
            raise ConfigurationError(
                f"interval between two readings of one sensor is {self.interval_us} us; it must be at least "
                "1 ms because timestamps have millisecond precision"
            )
        if self.end_ms is not None and self.end_ms <= self.start_ms:
            raise ConfigurationError("--end must be after --start")

    def tick_ms(self, k: int) -> int:
        """Event time (epoch ms) of tick ``k``; strictly increasing in ``k``."""
        return self.start_ms + k * self.interval_us // 1000

    @property
    def tick_count(self) -> int | None:
        """Number of ticks before ``end_ms``; None for an open-ended schedule."""
        if self.end_ms is None:
            return None
        return -(-(self.end_ms - self.start_ms) * 1000 // self.interval_us)


def interval_us_for(interval_s: float) -> int:
    """Microseconds between two readings of one sensor (``IOT_GENERATOR_INTERVAL_S``).

    Raises:
        ConfigurationError: the interval is not a finite number of at least one millisecond.
    """
    if not math.isfinite(interval_s) or interval_s * 1_000_000 < TIMESTAMP_RESOLUTION_US:
        raise ConfigurationError(
            f"IOT_GENERATOR_INTERVAL_S: {interval_s} is below 0.001 (timestamps have millisecond precision)"
        )
    return round(interval_s * 1_000_000)


def interval_us_for_rate(rate: float, sensor_count: int) -> int:
    """Per-sensor interval that makes ``sensor_count`` sensors produce ``rate`` readings per second in total.

    Raises:
        ConfigurationError: the rate is not positive, or needs one sensor to read more often than every 1 ms.
    """
    if not math.isfinite(rate) or rate <= 0:
        raise ConfigurationError(f"--rate must be a positive number of readings per second, got {rate}")
    if rate > sensor_count * 1_000_000 / TIMESTAMP_RESOLUTION_US:
        raise ConfigurationError(
            f"--rate {rate:g} is more than {sensor_count} sensors x 1000 readings/s: timestamps have "
            "millisecond precision, so each sensor reads at most once per ms; lower --rate or add sensors"
        )
    return max(round(sensor_count * 1_000_000 / rate), TIMESTAMP_RESOLUTION_US)


def _template(sensor_id: str, sensor_type: str, location: str, unit: str, decimals: int) -> bytes:
    """``bytes`` template of one sensor's payload, taking ``% (value, timestamp_bytes)``."""

    def lit(text: str) -> str:
        return json.dumps(text).replace("%", "%%")

    return (
        f'{{"sensor_id": {lit(sensor_id)}, "sensor_type": {lit(sensor_type)}, "location": {lit(location)}, '
        f'"value": %.{decimals}f, "unit": {lit(unit)}, "timestamp": "%s"}}'
    ).encode("ascii")


class ReadingGenerator:
    """Every sensor of a sensor set, each a bounded random walk; one call to :meth:`tick` reads them all once.

    Args:
        sensor_set: The sensors and their types.
        seed: Seed of the pseudo-random sequence; None draws one (see :attr:`seed`).
        faults: Faults to inject (see :mod:`iot_platform.generator.faults`); they change only the readings they
            cover, never the random sequence, so the readings around them are those of a run without them.
    """

    def __init__(self, sensor_set: SensorSet, seed: int | None = None, faults: FaultPlan | None = None) -> None:
        self.seed = seed if seed is not None else random.SystemRandom().randrange(2**63)
        self._random = random.Random(self.seed)
        self._format_ts = TimestampFormatter()
        keys: list[bytes] = []
        params: list[tuple[bytes, float, float, float, float, float, float, float]] = []
        values: list[float] = []
        for type_name, sensor_type in sensor_set.types.items():
            walk = sensor_type.walk
            # An excursion leaves its threshold by at least one unit of the last printed digit.
            least = 10.0**-walk.decimals
            for sensor in sensor_type.sensors:
                keys.append(sensor.id.encode("utf-8"))
                params.append(
                    (
                        _template(sensor.id, type_name, sensor.location, sensor_type.unit, walk.decimals),
                        walk.min,
                        walk.max,
                        2 * walk.step,
                        walk.excursion_probability,
                        sensor.threshold_min - least,
                        sensor.threshold_max + least,
                        max(sensor_type.span - least, 0.0),
                    )
                )
                values.append(self._random.uniform(walk.min, walk.max))
        self.keys: tuple[bytes, ...] = tuple(keys)
        """Record key (``sensor_id``, UTF-8) of each sensor, in the order of :meth:`tick`'s payloads."""
        self.last_keys: Sequence[bytes] = self.keys
        """Record keys of the last tick's payloads (fewer than :attr:`keys` while a sensor is silent)."""
        self._params = tuple(params)
        self._values = values
        self._faults = faults if faults else None

    @property
    def sensor_count(self) -> int:
        """Number of sensors; each tick yields this many readings (fewer while a sensor is silent)."""
        return len(self.keys)

    @property
    def values(self) -> Sequence[float]:
        """Current walk value of each sensor (excursions do not move the walk)."""
        return tuple(self._values)

    def tick(self, epoch_ms: int) -> list[bytes]:
        """Advance every sensor's walk one step; return one JSON payload per sensor, in :attr:`last_keys` order.

        Args:
            epoch_ms: The readings' event time in milliseconds since the epoch (UTC).

        Returns:
            UTF-8 JSON objects with the contract's six fields, in the contract's key order.
        """
        if self._faults is not None:
            active = self._faults.at(epoch_ms)
            if active:
                return self._tick_with_faults(epoch_ms, active)
            self.last_keys = self.keys
        ts = self._format_ts(epoch_ms).encode("ascii")
        rnd = self._random.random
        values = self._values
        out: list[bytes] = []
        append = out.append
        for i, (template, low, high, step2, probability, below, above, span) in enumerate(self._params):
            value = values[i] + (rnd() - 0.5) * step2
            if value > high:
                value = high + high - value
            elif value < low:
                value = low + low - value
            values[i] = value
            if probability and rnd() < probability:
                # A spike beyond one threshold; the walk itself stays in its band.
                offset = rnd() * span
                value = above + offset if rnd() < 0.5 else below - offset
            append(template % (value, ts))
        return out

    def _tick_with_faults(self, epoch_ms: int, active: Mapping[int, ActiveFault]) -> list[bytes]:
        """:meth:`tick` while faults are in effect: the same random draws, the faulty sensors' readings changed.

        It repeats :meth:`tick`'s walk step so that the fault-free path stays one tight loop.
        """
        ts = self._format_ts(epoch_ms).encode("ascii")
        rnd = self._random.random
        values = self._values
        out: list[bytes] = []
        keys: list[bytes] = []
        for i, (template, low, high, step2, probability, below, above, span) in enumerate(self._params):
            before = values[i]
            value = before + (rnd() - 0.5) * step2
            if value > high:
                value = high + high - value
            elif value < low:
                value = low + low - value
            values[i] = value
            if probability and rnd() < probability:
                offset = rnd() * span
                value = above + offset if rnd() < 0.5 else below - offset
            fault = active.get(i)
            if fault is not None:
                kind = fault.fault.kind
                if kind == "silent":
                    continue
                if kind == "freeze":
                    values[i] = value = before
                elif kind == "spike":
                    value = fault.spike_value()
                else:
                    value = fault.drift_value(values[i], epoch_ms)
            keys.append(self.keys[i])
            out.append(template % (value, ts))
        self.last_keys = keys
        return out
