"""The alert rules over one sensor's records as vectorised numpy: every rule in one pass over the sensor's arrays.

:func:`sensor_episodes` is what runs per sensor, in the run's process over records read from the tables' files
(:func:`table_episodes`) or grouped in Spark's Python workers (:func:`iot_platform.transforms.alerts.alert_episodes`,
for evaluations too large to collect): the sensor's valid readings in event-time order give the ``threshold``,
``stuck``, ``silent`` (gap) and ``rate_of_change`` episodes, its valid and rejected records the ``rejected_burst``
ones. Runs of consecutive readings are found with cumulative sums and the boundaries of ``np.diff``, never a Python
loop over readings: the cost is a few array passes per sensor, whatever the windows' lengths.

Episodes are plain dicts of the episode columns (``EPISODE_COLUMNS`` of ``alerts.py``) with instants as epoch
microseconds. Numbers in ``detail`` are formatted as Spark's ``format_string`` and ``cast('string')`` format them
(Java's rules), so the text is the one the rules have always written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
THRESHOLD, STUCK, SILENT, RATE_OF_CHANGE, REJECTED_BURST = (
    "threshold",
    "stuck",
    "silent",
    "rate_of_change",
    "rejected_burst",
)
"""The rules' names (``RuleName`` values; plain strings, so Spark ships this module to its workers by value)."""
ALERT_ID_HEX = 32
"""Hex characters of the SHA-256 kept as the alert id."""
MICROS = 1_000_000

Episode = dict[str, Any]


def alert_id(rule: str, sensor_id: str, started_at: dt.datetime) -> str:
    """The deterministic id of an episode: SHA-256 of ``rule|sensor_id|started_at`` (ISO, microseconds, UTC).

    Raises:
        ValueError: ``started_at`` has no time zone.
    """
    if started_at.tzinfo is None or started_at.utcoffset() is None:
        raise ValueError(f"started_at must be timezone-aware (got {started_at.isoformat()})")
    instant = started_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return hashlib.sha256(f"{rule}|{sensor_id}|{instant}".encode()).hexdigest()[:ALERT_ID_HEX]


def java_double(value: float) -> str:
    """``value`` as Java's ``Double.toString`` (Spark's ``cast('string')`` of a double) writes it: plain decimals
    from 10^-3 to 10^7, else ``d.dddE<power>``."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        return repr(float(value))
    shortest = Decimal(repr(abs(float(value)))).normalize().as_tuple()
    figures = "".join(str(d) for d in shortest.digits)
    power = len(figures) + int(shortest.exponent) - 1
    body = f"{figures[0]}.{figures[1:] or '0'}E{power}"
    return f"-{body}" if value < 0 else body


def java_fixed(value: float, places: int) -> str:
    """``value`` with ``places`` decimals as Java's ``%.Nf`` writes it (half-up on the shortest decimal form)."""
    if value != value or value in (float("inf"), float("-inf")):
        return java_double(value)
    quantum = Decimal(1).scaleb(-places)
    return format(Decimal(repr(float(value))).quantize(quantum, rounding=ROUND_HALF_UP), "f")


@dataclass(frozen=True)
class Records:
    """One sensor's records: valid readings in event-time order (``us``, ``value``) and the epoch microseconds of
    every record, valid or rejected (``all_us``, ``rejected`` flags), for ``rejected_burst``."""

    us: np.ndarray
    value: np.ndarray
    all_us: np.ndarray
    rejected: np.ndarray


def _row(
    rule: str,
    names: dict[str, Any],
    severity: str,
    *,
    first: int,
    last: int,
    resolved: int | None,
    peak: float,
    threshold: float,
    readings: int,
    detail: str,
) -> Episode:
    """An episode of ``rule`` (``names``: ``sensor_id``, ``sensor_type``, ``location``)."""
    started = EPOCH + dt.timedelta(microseconds=int(first))
    return {
        "alert_id": alert_id(rule, names["sensor_id"], started),
        **names,
        "rule": rule,
        "severity": severity,
        "state": "open" if resolved is None else "resolved",
        "started_at": int(first),
        "last_seen_at": int(last),
        "resolved_at": None if resolved is None else int(resolved),
        "peak_value": float(peak),
        "threshold": float(threshold),
        "readings": int(readings),
        "detail": detail,
    }


def _blocks(member: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) positions of the runs of consecutive True in ``member``."""
    padded = np.concatenate(([False], member, [False])).astype(np.int8)
    edges = np.diff(padded)
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def _next_us(us: np.ndarray, end: int) -> int | None:
    """The time of the reading at ``end`` (the one after a run), None when the run reaches the last reading."""
    return int(us[end]) if end < len(us) else None


def threshold_episodes(records: Records, names: dict[str, Any], p: dict[str, Any]) -> list[Episode]:
    """``threshold``: a run starts at a reading outside [min, max] and lasts until a reading inside the limits
    narrowed by the hysteresis (readings between count as neither); an episode when it has ``min_readings``
    offending readings or spans ``min_seconds`` (> 0)."""
    low, high, hysteresis = p["threshold_min"], p["threshold_max"], p["threshold_hysteresis"]
    if low is None or high is None or hysteresis is None:
        return []
    us, value = records.us, records.value
    clear = ((value >= low + hysteresis) & (value <= high - hysteresis)) | np.isnan(value)
    off = (value < low) | (value > high)
    found = []
    for start, end in zip(*_blocks(~clear), strict=True):
        offending = np.flatnonzero(off[start:end]) + start
        if len(offending) == 0:
            continue
        first, last, n = int(us[offending[0]]), int(us[offending[-1]]), len(offending)
        long_enough = n >= p["threshold_min_readings"] or (
            p["threshold_min_seconds"] > 0 and (last - first) >= p["threshold_min_seconds"] * MICROS
        )
        if not long_enough:
            continue
        values = value[offending]
        worst = int(np.argmax(np.maximum(values - high, low - values)))
        peak = float(values[worst])
        limit = float(high if peak > high else low)
        side = "above" if peak > limit else "below"
        found.append(
            _row(
                THRESHOLD,
                names,
                p["threshold_severity"],
                first=first,
                last=last,
                resolved=_next_us(us, end),
                peak=peak,
                threshold=limit,
                readings=n,
                detail=f"{n} readings {side} {java_double(limit)}",
            )
        )
    return found


def _steps(records: Records) -> tuple[np.ndarray, np.ndarray]:
    """Per reading: the absolute change from the previous reading and the seconds since it (NaN for the first)."""
    step = np.full(len(records.us), np.nan)
    gap = np.full(len(records.us), np.nan)
    step[1:] = np.abs(np.diff(records.value))
    gap[1:] = np.diff(records.us) / MICROS
    return step, gap


def stuck_episodes(records: Records, names: dict[str, Any], p: dict[str, Any]) -> list[Episode]:
    """``stuck``: stretches where each reading differs from the one before by no more than ``stuck_epsilon`` and
    follows it within ``silent_seconds`` (or ``stuck_seconds`` when silent is off), lasting ``stuck_seconds``; it
    resolves at the reading that breaks the stretch."""
    seconds = p["stuck_seconds"]
    if seconds is None or len(records.us) == 0:
        return []
    us, value = records.us, records.value
    step, gap = _steps(records)
    limit = p["silent_seconds"] if p["silent_seconds"] is not None else seconds
    with np.errstate(invalid="ignore"):
        breaks = ~((step <= p["stuck_epsilon"]) & (gap <= limit))
    starts = np.flatnonzero(breaks)
    ends = np.append(starts[1:], len(us))
    lasting = (us[ends - 1] - us[starts]) >= seconds * MICROS
    found = []
    for start, end in zip(starts[lasting], ends[lasting], strict=True):
        level, n = float(value[start]), int(end - start)
        found.append(
            _row(
                STUCK,
                names,
                p["stuck_severity"],
                first=int(us[start]),
                last=int(us[end - 1]),
                resolved=_next_us(us, end),
                peak=level,
                threshold=p["stuck_epsilon"],
                readings=n,
                detail=f"value stayed at {java_double(level)} for {n} readings",
            )
        )
    return found


def gap_episodes(records: Records, names: dict[str, Any], p: dict[str, Any]) -> list[Episode]:
    """``silent`` episodes between two consecutive readings further apart than ``silent_seconds`` (resolved by the
    reading after the gap; ``peak_value`` is the gap in seconds)."""
    limit = p["silent_seconds"]
    if limit is None or len(records.us) < 2:
        return []
    gap = np.diff(records.us) / MICROS
    found = []
    for i in np.flatnonzero(gap > limit):
        seconds = float(gap[i])
        before = int(records.us[i])
        found.append(
            _row(
                SILENT,
                names,
                p["silent_severity"],
                first=before,
                last=before,
                resolved=int(records.us[i + 1]),
                peak=seconds,
                threshold=limit,
                readings=0,
                detail=f"no reading for {java_fixed(seconds, 1)} s",
            )
        )
    return found


def rate_episodes(records: Records, names: dict[str, Any], p: dict[str, Any]) -> list[Episode]:
    """``rate_of_change``: runs of consecutive readings whose change from the previous one, per second, is above
    ``rate_max_per_second`` (started at the later reading of the first pair; ``peak_value`` the largest rate)."""
    limit = p["rate_max_per_second"]
    if limit is None or len(records.us) < 2:
        return []
    step, gap = _steps(records)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(gap > 0, step / gap, np.nan)
        fast = rate > limit
    found = []
    for start, end in zip(*_blocks(fast), strict=True):
        peak, n = float(np.max(rate[start:end])), int(end - start)
        found.append(
            _row(
                RATE_OF_CHANGE,
                names,
                p["rate_severity"],
                first=int(records.us[start]),
                last=int(records.us[end - 1]),
                resolved=_next_us(records.us, end),
                peak=peak,
                threshold=limit,
                readings=n,
                detail=f"changed up to {java_fixed(peak, 3)} per second",
            )
        )
    return found


def burst_episodes(records: Records, names: dict[str, Any], p: dict[str, Any]) -> list[Episode]:
    """``rejected_burst``: tumbling windows of ``rejected_window_seconds`` (aligned to the epoch) with at least
    ``rejected_min_records`` rejected records that exceed ``rejected_max_share`` of the sensor's records;
    consecutive such windows form one episode, from the first rejected record to the end of its last window
    (resolved once the sensor has a record after that end)."""
    seconds = p["rejected_window_seconds"]
    if seconds is None or len(records.all_us) == 0:
        return []
    order = np.argsort(records.all_us, kind="stable")
    all_us, rejected = records.all_us[order], records.rejected[order]
    window = np.floor(all_us / int(seconds * MICROS)).astype(np.int64)
    keys, begin, total = np.unique(window, return_index=True, return_counts=True)
    bad = np.add.reduceat(rejected.astype(np.int64), begin)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = bad / total
    burst = (bad >= p["rejected_min_records"]) & (share > p["rejected_max_share"])
    if not burst.any():
        return []
    rejected_us, rejected_window = all_us[rejected], window[rejected]
    latest = int(all_us[-1])
    found = []
    positions = np.flatnonzero(burst)
    for group in np.split(positions, np.flatnonzero(np.diff(keys[positions]) != 1) + 1):
        inside = (rejected_window >= keys[group[0]]) & (rejected_window <= keys[group[-1]])
        end = int(float(keys[group[-1]] + 1) * seconds * MICROS)
        peak, n = float(np.max(share[group])), int(np.sum(bad[group]))
        found.append(
            _row(
                REJECTED_BURST,
                names,
                p["rejected_severity"],
                first=int(rejected_us[inside].min()),
                last=int(rejected_us[inside].max()),
                resolved=None if latest < end else end,
                peak=peak,
                threshold=p["rejected_max_share"],
                readings=n,
                detail=f"{n} records rejected, up to {java_fixed(peak * 100, 0)}% of the sensor's records",
            )
        )
    return found


READING_RULES = (threshold_episodes, stuck_episodes, gap_episodes, rate_episodes)
"""The rules over a sensor's valid readings."""


def sensor_episodes(records: Records, names: dict[str, Any], params: dict[str, Any]) -> list[Episode]:
    """Every episode of one sensor's records under its rule settings (a row of the registry's parameter table)."""
    found = burst_episodes(records, names, params)
    if len(records.us):
        for rule in READING_RULES:
            found += rule(records, names, params)
    return found


def _param_tables(rows: list[dict[str, Any]]) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """The registry's parameter rows by registered sensor id and by type (the rows of unregistered sensors)."""
    by_sensor = {row["sensor_id"]: row for row in rows if row["registered"]}
    by_type = {row["sensor_type"]: row for row in rows if not row["registered"]}
    return by_sensor, by_type


def sensor_frame_episodes(table: Any, rows: list[dict[str, Any]]) -> list[Episode]:
    """Every episode of the records of one sensor in an Arrow table (``sensor_id``, ``sensor_type``, ``location``,
    ``value``, ``_us``, ``_rejected``; rejected records carry only the first, ``_us`` and ``_rejected``).

    A registered sensor gets its own settings, type and location; any other sensor those of the type and location of
    its latest valid reading, or no rule when the registry does not know that type.
    """
    sensor_id = table.column("sensor_id")[0].as_py()
    rejected = table.column("_rejected").to_numpy(zero_copy_only=False).astype(bool)
    all_us = table.column("_us").to_numpy(zero_copy_only=False).astype(np.int64)
    value = table.column("value").to_numpy(zero_copy_only=False).astype(np.float64)
    valid = np.flatnonzero(~rejected)
    latest_names = None
    if len(valid):
        latest = int(valid[np.argmax(all_us[valid])])
        latest_names = (table.column("sensor_type")[latest].as_py(), table.column("location")[latest].as_py())
    return _sensor_arrays_episodes(sensor_id, latest_names, all_us, value, rejected, _param_tables(rows))


def _sensor_arrays_episodes(
    sensor_id: str,
    latest_names: tuple[str | None, str | None] | None,
    all_us: np.ndarray,
    value: np.ndarray,
    rejected: np.ndarray,
    params_by: tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]],
) -> list[Episode]:
    """Every episode of one sensor's records as arrays in any order; ``latest_names``: type and location of its
    latest valid reading (None: no valid reading), used when the registry does not list the sensor."""
    by_sensor, by_type = params_by
    params = by_sensor.get(sensor_id)
    if params is not None:
        names = {"sensor_id": sensor_id, "sensor_type": params["sensor_type"], "location": params["location"]}
    elif latest_names is not None:
        kind, place = latest_names
        names = {"sensor_id": sensor_id, "sensor_type": kind, "location": place}
        params = by_type.get(kind) if kind is not None else None
    if params is None:
        return []
    valid = np.flatnonzero(~rejected)
    order = valid[np.argsort(all_us[valid], kind="stable")]
    records = Records(us=all_us[order], value=value[order], all_us=all_us, rejected=rejected)
    return sensor_episodes(records, names, params)


def table_episodes(
    table: Any, rows: list[dict[str, Any]], sensors: list[tuple[str, tuple[str | None, str | None] | None]]
) -> list[Episode]:
    """Every episode of the records of any number of sensors in one Arrow table, in any order: ``_sensor`` (the
    position of the record's sensor in ``sensors``), ``value``, ``_us``, ``_rejected``.

    Args:
        table: The records, read from the tables' files (``pipelines/sensor_alerts/scan.py``).
        rows: The registry's parameter rows.
        sensors: Per position, the sensor id and the type and location of its latest valid reading (None: no valid
            reading; only read for sensors the registry does not list).

    The records are ordered by sensor once and each sensor's arrays go through the same functions as in the grouped
    pass (:func:`sensor_frame_episodes`), so the episodes are the grouped pass's, found in one process.
    """
    if table.num_rows == 0:
        return []
    codes = table.column("_sensor").to_numpy(zero_copy_only=False)
    order = np.argsort(codes, kind="stable")
    all_us = table.column("_us").to_numpy(zero_copy_only=False).astype(np.int64)[order]
    value = table.column("value").to_numpy(zero_copy_only=False).astype(np.float64)[order]
    rejected = table.column("_rejected").to_numpy(zero_copy_only=False).astype(bool)[order]
    ends = np.cumsum(np.bincount(codes, minlength=len(sensors)))
    params_by = _param_tables(rows)
    found: list[Episode] = []
    start = 0
    for (sensor_id, latest_names), end in zip(sensors, ends, strict=False):
        if end > start:
            part = slice(start, int(end))
            named = latest_names if not rejected[part].all() else None  # as in the grouped pass: valid readings only
            found += _sensor_arrays_episodes(sensor_id, named, all_us[part], value[part], rejected[part], params_by)
        start = int(end)
    return found
