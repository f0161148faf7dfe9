"""The platform's sensors as ``GET /sensors`` shows them: every sensor of the registry and every unknown one seen,
with its latest reading, its readings of the last hour, its open alerts and a status.

Three reads, each kept while its table has no new snapshot: ``iot.sensor_state`` (one row per sensor ever seen,
kept by alert evaluation), the open episodes of ``iot.sensor_alerts``, and the last hour of
``iot.sensor_readings`` (pruned to that hour's partitions; three columns). The last hour slides with the clock, so
its counts are also reused for at most :data:`RECENT_TTL_S` seconds. Combining them is pure
(:func:`summarize`, :func:`detail`).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter

from iot_platform.api.alerts_reader import IcebergAlertsReader
from iot_platform.api.iceberg_tables import CatalogTables, SnapshotCache, all_of, iso, json_safe, predicate, scan
from iot_platform.api.iceberg_tables import snapshot_id as current_snapshot
from iot_platform.api.schemas import Sensor
from iot_platform.errors import NotFound
from iot_platform.registry import PARAM_COLUMNS, RuleName, SensorRegistry
from iot_platform.tables import SENSOR_READINGS, SENSOR_STATE, SENSOR_STATE_TABLE

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.expressions import BooleanExpression

RECENT_WINDOW = dt.timedelta(hours=1)
"""``readings_last_hour`` counts readings whose event time lies in (now - this, now]."""
RECENT_TTL_S = 10.0
"""How long one count of the last hour's readings is reused (the window slides; new commits count at once)."""
RECENT_COLUMNS = ("sensor_id", "event_time", "value")
SENSORS_JSON = TypeAdapter(list[Sensor])
"""Validates and renders ``GET /sensors``'s answer as its ``response_model`` would."""
READING_COLUMNS = ("event_time", "value", "unit", "ingested_at", "kafka_partition", "kafka_offset")
"""The columns of a stored reading ``GET /sensors/{sensor_id}/readings`` serves."""
READINGS_LOOKBACK = (
    dt.timedelta(hours=1),
    dt.timedelta(hours=6),
    dt.timedelta(days=1),
    dt.timedelta(days=7),
)
"""How far back the latest readings are looked for, newest slice first: each slice is scanned only while the ones
after it hold fewer readings than asked for (Iceberg keeps only that slice's hour partitions)."""
RULE_FIELDS: tuple[str, ...] = tuple(
    name for name in PARAM_COLUMNS if name not in ("sensor_id", "sensor_type", "location", "unit")
)
"""The effective rule settings a sensor's detail shows (``RuleParams`` without the sensor's identity)."""


@dataclass(frozen=True)
class Recent:
    """A sensor's readings of the last hour: how many, and the latest one."""

    count: int
    last_at: dt.datetime
    last_value: float | None


def status_of(registered: bool, open_rules: Iterable[str], last_reading_at: dt.datetime | None) -> str:
    """``unknown`` for a sensor the registry lacks; ``silent`` with an open silent alert or, for a registered
    sensor, no reading on record (no state row, none in the last hour); ``alerting`` with any other open alert;
    else ``ok``."""
    rules = set(open_rules)
    if not registered:
        return "unknown"
    if RuleName.SILENT.value in rules or last_reading_at is None:
        return "silent"
    return "alerting" if rules else "ok"


def _latest(state: Mapping[str, Any] | None, recent: Recent | None) -> tuple[dt.datetime | None, float | None]:
    """The later of the stored state's last reading and the last hour's latest reading."""
    candidates = []
    if state is not None:
        candidates.append((state["last_reading_at"], state["last_value"]))
    if recent is not None:
        candidates.append((recent.last_at, recent.last_value))
    if not candidates:
        return None, None
    return max(candidates, key=lambda candidate: candidate[0])


def summarize(
    registry: SensorRegistry,
    states: Mapping[str, Mapping[str, Any]],
    open_alerts: Iterable[Mapping[str, Any]],
    recent: Mapping[str, Recent],
) -> list[dict[str, Any]]:
    """One summary per sensor: the registry's in its order, then the unknown ones (from the state table, open
    alerts and the last hour's readings) by id.

    Args:
        registry: The platform's sensor registry.
        states: Rows of ``iot.sensor_state`` by sensor id.
        open_alerts: Open rows of ``iot.sensor_alerts``.
        recent: The last hour's readings by sensor id.
    """
    alerts_by_sensor: dict[str, list[Mapping[str, Any]]] = {}
    for alert in open_alerts:
        alerts_by_sensor.setdefault(alert["sensor_id"], []).append(alert)
    registered = [sensor.id for sensor in registry.sensors]
    unknown = sorted((set(states) | set(alerts_by_sensor) | set(recent)) - set(registered))
    summaries = []
    for sensor_id in registered + unknown:
        entry, state, alerts = registry.sensor(sensor_id), states.get(sensor_id), alerts_by_sensor.get(sensor_id, [])
        sensor_type = entry.type if entry else _first(state, alerts, "sensor_type")
        last_at, last_value = _latest(state, recent.get(sensor_id))
        summaries.append(
            {
                "sensor_id": sensor_id,
                "sensor_type": sensor_type,
                "location": entry.location if entry else _first(state, alerts, "location"),
                "unit": _unit(registry, sensor_type, state),
                "status": status_of(entry is not None, (alert["rule"] for alert in alerts), last_at),
                "last_reading_at": last_at,
                "last_value": last_value,
                "readings_last_hour": recent[sensor_id].count if sensor_id in recent else 0,
                "open_alerts": len(alerts),
            }
        )
    return summaries


def _first(state: Mapping[str, Any] | None, alerts: list[Mapping[str, Any]], column: str) -> Any:
    """A column of the sensor's state row, else of its newest open alert that names it."""
    if state is not None and state.get(column) is not None:
        return state[column]
    return next((alert[column] for alert in alerts if alert.get(column) is not None), None)


def _unit(registry: SensorRegistry, sensor_type: str | None, state: Mapping[str, Any] | None) -> str | None:
    if sensor_type in registry.types:
        return registry.types[sensor_type].unit
    return state.get("unit") if state is not None else None


def detail(
    registry: SensorRegistry, summary: Mapping[str, Any], open_alerts: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """A sensor's summary with its open alerts (newest first) and the rule settings that apply to it: its own when
    registered, its type's when not, none for a type the registry does not know."""
    sensor_id, sensor_type = summary["sensor_id"], summary["sensor_type"]
    if registry.sensor(sensor_id) is not None:
        params: dict[str, Any] | None = registry.sensor_params(sensor_id).row()
    elif sensor_type in registry.types:
        params = registry.type_params(sensor_type).row()
    else:
        params = None
    return {
        **summary,
        "alerts": [dict(alert) for alert in open_alerts if alert["sensor_id"] == sensor_id],
        "rules": {name: params[name] for name in RULE_FIELDS} if params is not None else None,
    }


def recent_window(now: dt.datetime) -> BooleanExpression:
    """Readings with an event time in (now - 1 h, now]: Iceberg keeps only the files of those hours' partitions."""
    from pyiceberg.expressions import GreaterThan, LessThanOrEqual

    return all_of(
        [
            predicate(GreaterThan, "event_time", iso(now - RECENT_WINDOW)),
            predicate(LessThanOrEqual, "event_time", iso(now)),
        ]
    )


def reading_slices(now: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
    """The event-time slices ``(start, end]`` of :data:`READINGS_LOOKBACK` before ``now``, newest first."""
    ends = [now] + [now - back for back in READINGS_LOOKBACK[:-1]]
    return [(now - back, end) for back, end in zip(READINGS_LOOKBACK, ends, strict=True)]


def newest_rows(arrow: pa.Table, limit: int) -> list[dict[str, Any]]:
    """The ``limit`` rows of ``arrow`` with the latest event time, newest first, as JSON-safe rows."""
    rows = arrow.sort_by(
        [("event_time", "descending"), ("kafka_partition", "ascending"), ("kafka_offset", "descending")]
    )
    return [{column: json_safe(value) for column, value in row.items()} for row in rows.slice(0, limit).to_pylist()]


def recent_readings(arrow: pa.Table) -> dict[str, Recent]:
    """Per sensor, the count and the latest of the readings in ``arrow`` (columns :data:`RECENT_COLUMNS`)."""
    latest_first = arrow.sort_by([("event_time", "descending")])
    grouped = latest_first.group_by("sensor_id", use_threads=False).aggregate(
        [("sensor_id", "count"), ("event_time", "first"), ("value", "first")]
    )
    return {
        row["sensor_id"]: Recent(
            row["sensor_id_count"], json_safe(row["event_time_first"]), json_safe(row["value_first"])
        )
        for row in grouped.to_pylist()
    }


class SensorsReader:
    """Reads what ``GET /sensors`` shows, through the catalog's tables shared with the other readers."""

    def __init__(
        self,
        tables: CatalogTables,
        registry: SensorRegistry,
        alerts: IcebergAlertsReader,
        *,
        recent_ttl_s: float = RECENT_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Prepare the reader; nothing is read until asked.

        Args:
            tables: The catalog's tables.
            registry: The platform's sensor registry (loaded once, at start-up).
            alerts: The reader of ``iot.sensor_alerts`` (its open episodes).
            recent_ttl_s: How long a count of the last hour's readings is reused.
            clock: Monotonic seconds (tests only).
        """
        self.registry = registry
        self._tables = tables
        self._alerts = alerts
        self._states: SnapshotCache[dict[str, dict[str, Any]]] = SnapshotCache(entries=2)
        self._recent: tuple[int, float, dict[str, Recent]] | None = None
        self._recent_ttl_s = recent_ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._summaries: tuple[tuple[object, object, object], list[dict[str, Any]]] | None = None
        self._rendered: dict[Hashable, tuple[list[dict[str, Any]], bytes]] = {}

    def sensors(self, now: dt.datetime) -> list[dict[str, Any]]:
        """Every sensor's summary (see :func:`summarize`).

        Raises:
            ServiceUnavailable: the catalog or the warehouse cannot be reached.
        """
        inputs = (self.states(), self._alerts.open_alerts(), self.recent(now))
        kept = self._summaries
        if kept is not None and all(a is b or not (a or b) for a, b in zip(kept[0], inputs, strict=True)):
            return kept[1]  # the same reads as last time (each is kept per snapshot): the same summaries
        summaries = summarize(self.registry, *inputs)
        self._summaries = (inputs, summaries)
        return summaries

    def sensors_json(self, now: dt.datetime, matches: Callable[[dict[str, Any]], bool], key: Hashable) -> bytes:
        """The JSON of the summaries ``matches`` keeps (``key`` names that filter), rendered once per set of
        summaries: dashboards of 1,000 sensors poll this, and validating and rendering it costs more than reading.

        Raises:
            ServiceUnavailable: the catalog or the warehouse cannot be reached.
        """
        summaries = self.sensors(now)
        kept = self._rendered.get(key)
        if kept is not None and kept[0] is summaries:
            return kept[1]
        body = SENSORS_JSON.dump_json(SENSORS_JSON.validate_python([s for s in summaries if matches(s)]))
        with self._lock:
            if any(entry[0] is not summaries for entry in self._rendered.values()) or len(self._rendered) >= 64:
                self._rendered.clear()  # answers of older summaries are never sent again
            self._rendered[key] = (summaries, body)
        return body

    def sensor(self, sensor_id: str, now: dt.datetime) -> dict[str, Any]:
        """One sensor's summary with its open alerts and rule settings (see :func:`detail`).

        Raises:
            NotFound: the sensor is neither in the registry nor seen.
            ServiceUnavailable: the catalog or the warehouse cannot be reached.
        """
        open_alerts = self._alerts.open_alerts()
        summaries = summarize(self.registry, self.states(), open_alerts, self.recent(now))
        summary = next((s for s in summaries if s["sensor_id"] == sensor_id), None)
        if summary is None:
            raise NotFound(
                f"sensor {sensor_id!r} is not in the sensor registry and no reading or alert of it is stored; "
                "GET /api/v1/sensors lists every sensor"
            )
        return detail(self.registry, summary, open_alerts)

    def latest_readings(self, sensor_id: str, now: dt.datetime, limit: int) -> list[dict[str, Any]]:
        """The sensor's ``limit`` latest stored readings up to ``now`` (within :data:`READINGS_LOOKBACK`), newest
        first, read slice by slice from the newest hour partitions back.

        Raises:
            NotFound: the sensor is neither in the registry nor seen.
            ServiceUnavailable: the catalog or the warehouse cannot be reached.
        """
        import pyarrow as pa
        from pyiceberg.expressions import EqualTo, GreaterThan, LessThanOrEqual

        table = self._tables.load(SENSOR_READINGS)
        snapshot = current_snapshot(table)
        found: list[pa.Table] = []
        if table is not None and snapshot is not None:
            for start, end in reading_slices(now):
                window = [
                    predicate(GreaterThan, "event_time", iso(start)),
                    predicate(LessThanOrEqual, "event_time", iso(end)),
                ]
                arrow = scan(
                    table, snapshot, all_of([predicate(EqualTo, "sensor_id", sensor_id), *window]), READING_COLUMNS
                )
                if len(arrow):  # an empty slice's columns may be typed differently (large_string) than a file's
                    found.append(arrow)
                if sum(len(part) for part in found) >= limit:
                    break
        rows = newest_rows(pa.concat_tables(found, promote_options="permissive"), limit) if found else []
        if not rows and self.registry.sensor(sensor_id) is None and sensor_id not in self.states():
            raise NotFound(
                f"sensor {sensor_id!r} is not in the sensor registry and no reading of it is stored; "
                "GET /api/v1/sensors lists every sensor"
            )
        return rows

    def states(self) -> dict[str, dict[str, Any]]:
        """Rows of ``iot.sensor_state`` by sensor id (none while the table does not exist)."""
        table = self._tables.load(SENSOR_STATE)
        snapshot = current_snapshot(table)
        if table is None or snapshot is None:
            return {}
        states = self._states.get(snapshot)
        if states is None:
            columns = SENSOR_STATE_TABLE.column_names
            rows = scan(table, snapshot, all_of([]), columns).to_pylist()
            states = {row["sensor_id"]: {c: json_safe(row[c]) for c in columns} for row in rows}
            self._states.put(snapshot, states)
        return states

    def recent(self, now: dt.datetime) -> dict[str, Recent]:
        """The readings of the last hour before ``now`` per sensor, reused for up to ``recent_ttl_s`` seconds while
        ``iot.sensor_readings`` has no new snapshot."""
        table = self._tables.load(SENSOR_READINGS)
        snapshot = current_snapshot(table)
        if table is None or snapshot is None:
            return {}
        with self._lock:  # concurrent requests wait for one scan instead of each scanning
            kept = self._recent
            if kept is not None and kept[0] == snapshot and self._clock() - kept[1] < self._recent_ttl_s:
                return kept[2]
            recent = recent_readings(scan(table, snapshot, recent_window(now), RECENT_COLUMNS))
            self._recent = (snapshot, self._clock(), recent)
            return recent
