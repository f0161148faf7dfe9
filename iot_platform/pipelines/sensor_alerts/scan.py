"""Reading an evaluation's records from the tables' data files into the run's process (pyiceberg and pyarrow).

An evaluation of up to ``LOCAL_RULES_MAX_RECORDS`` records reads them here instead of on Spark: the new readings
once (the per-sensor summaries and the rules' records come out of the same pass), then only the look-back before
them that earlier runs ingested. Both scans read one snapshot of each table, so the new and the earlier records
split it exactly (``ingested_at`` after or up to the watermark). Sensors get small integer codes; a record is its
code, time and value (20 bytes), and the names of a sensor are kept only from its latest reading.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from iot_platform.pipelines.sensor_alerts.plan import Watermark, instant, micros
from iot_platform.pipelines.sensor_alerts.read import NewData, SensorSummary

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.expressions import BooleanExpression
    from pyiceberg.table import FileScanTask, Table

NAMES = ("sensor_type", "location", "unit")
READING_FIELDS = ("sensor_id", *NAMES, "value", "event_time", "ingested_at")
REJECTED_FIELDS = ("record_key", "kafka_timestamp", "rejected_at")
_LOW, _HIGH = np.iinfo(np.int64).max, np.iinfo(np.int64).min


class SensorCodes:
    """A small integer per sensor id met in the scans, in order of meeting."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self._codes: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def get(self, sensor_id: str) -> int | None:
        """The sensor's code, None when no scan met it."""
        return self._codes.get(sensor_id)

    def code(self, sensor_id: str) -> int:
        """The sensor's code, a new one the first time."""
        found = self._codes.get(sensor_id)
        if found is None:
            found = self._codes[sensor_id] = len(self.ids)
            self.ids.append(sensor_id)
        return found

    def of(self, column: Any) -> np.ndarray:
        """The codes of a string column without nulls (dictionary-encoded or not) as int32."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if not pa.types.is_dictionary(column.type):
            column = pc.dictionary_encode(column)
        lookup = np.array([self.code(s) for s in column.dictionary.to_pylist()], dtype=np.int32)
        return lookup[column.indices.to_numpy(zero_copy_only=False)]


@dataclass
class Collected:
    """Records read into the run's process: valid readings and rejected records, by sensor code."""

    codes: SensorCodes = field(default_factory=SensorCodes)
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, bool]] = field(default_factory=list)
    """``(code, event or Kafka time in epoch microseconds, value, rejected)`` per batch read."""

    def add_readings(self, batch: pa.RecordBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Add valid readings (``sensor_id``, ``value``, ``event_time``); returns their codes, times and values."""
        code, us = self.codes.of(batch.column("sensor_id")), _micros(batch.column("event_time"))
        value = batch.column("value").to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
        self.parts.append((code, us, value, False))
        return code, us, value

    def add_rejected(self, batch: pa.RecordBatch) -> tuple[np.ndarray, np.ndarray]:
        """Add rejected records (``record_key`` and ``kafka_timestamp``, both set); returns their codes and times."""
        code, us = self.codes.of(batch.column("record_key")), _micros(batch.column("kafka_timestamp"))
        self.parts.append((code, us, np.full(len(code), np.nan), True))
        return code, us

    def indexed(self, since: Mapping[str, dt.datetime]) -> pa.Table:
        """Each sensor's records from its instant in ``since`` on, as ``alert_rules.table_episodes`` reads them:
        ``_sensor`` (the sensor's position in ``sorted(since)``), ``value``, ``_us``, ``_rejected``."""
        import pyarrow as pa

        position = np.full(len(self.codes), -1, dtype=np.int32)
        floor = np.full(len(self.codes), _LOW, dtype=np.int64)
        for k, sensor_id in enumerate(sorted(since)):
            code = self.codes.get(sensor_id)
            if code is not None:
                position[code], floor[code] = k, micros(since[sensor_id])
        columns: dict[str, list[np.ndarray]] = {"_sensor": [], "value": [], "_us": [], "_rejected": []}
        for codes, us, value, rejected in self.parts:
            keep = us >= floor[codes]  # a sensor not evaluated has no floor it passes
            columns["_sensor"].append(position[codes][keep])
            columns["value"].append(value[keep])
            columns["_us"].append(us[keep])
            columns["_rejected"].append(np.full(int(keep.sum()), rejected))
        empty = {"_sensor": np.int32, "value": np.float64, "_us": np.int64, "_rejected": np.bool_}
        return pa.table(
            {
                name: np.concatenate(parts) if parts else np.array([], dtype=empty[name])
                for name, parts in columns.items()
            }
        )


@dataclass
class _Latest:
    """What a sensor's summary needs of its new readings so far."""

    first: int = _LOW
    last: int = _HIGH
    readings: int = 0
    names: tuple[str, str, str] = ("", "", "")
    value: float = 0.0


def new_records(readings: Table, rejected: Table, watermark: Watermark, most: int) -> tuple[NewData, Collected] | None:
    """The new readings and rejected records (after ``watermark``) of the tables' current snapshots: their
    per-sensor summaries, and the records themselves for the rules.

    Args:
        readings: ``iot.sensor_readings`` (pyiceberg), as loaded for this evaluation (and not refreshed before
            :func:`add_earlier_records`, which must read the same snapshot).
        rejected: ``iot.rejected_readings``, likewise.
        watermark: What earlier runs evaluated.
        most: Read nothing and return None when the data files holding new readings have more records than this
            (exact but for files compaction merged across ingestions).
    """
    import pyarrow.compute as pc
    from pyiceberg.expressions import AlwaysTrue, GreaterThan

    collected = Collected()
    latest: dict[int, _Latest] = {}
    through: int | None = None
    condition: BooleanExpression = AlwaysTrue()
    if watermark.readings is not None:
        condition = _positional(GreaterThan, "ingested_at", watermark.readings)
    scan, tasks = _tasks(readings, condition, READING_FIELDS)
    if sum(task.file.record_count for task in tasks) > most:
        return None
    for batch in _read(readings, scan, tasks, dictionary=("sensor_id", *NAMES)):
        code, us, value = collected.add_readings(batch)
        _summarise(latest, code, us, value, batch)
        through = max(int(_micros(batch.column("ingested_at")).max()), through or _HIGH)
    new = NewData(_summaries(collected.codes, latest), {}, readings_through=through)
    condition = AlwaysTrue()
    if watermark.rejected is not None:
        condition = _positional(GreaterThan, "rejected_at", watermark.rejected)
    first: dict[int, int] = {}
    for batch in _batches(rejected, condition, REJECTED_FIELDS, dictionary=("record_key",)):
        rejected_at = _micros(batch.column("rejected_at"))
        new.rejected_through = max(int(rejected_at.max()), new.rejected_through or _HIGH)
        # Records without a key or a Kafka time name no sensor or instant: no rule reads them.
        timed = batch.filter(pc.and_(batch.column("record_key").is_valid(), batch.column("kafka_timestamp").is_valid()))
        if not timed.num_rows:
            continue
        code, us = collected.add_rejected(timed)
        lowest = np.full(len(collected.codes), _LOW, dtype=np.int64)
        np.minimum.at(lowest, code, us)
        for c in np.flatnonzero(lowest != _LOW):
            first[int(c)] = min(first.get(int(c), _LOW), int(lowest[c]))
    new.rejected_first = {collected.codes.ids[c]: instant(at) for c, at in sorted(first.items())}
    return new, collected


def add_earlier_records(
    collected: Collected,
    readings: Table,
    rejected: Table,
    watermark: Watermark,
    since: Mapping[str, dt.datetime],
) -> None:
    """Add to ``collected`` the records of the sensors in ``since`` from their instant on that earlier runs
    ingested (up to ``watermark``; the new ones are in ``collected`` already)."""
    if not since:
        return
    earliest, sensors = micros(min(since.values())), sorted(since)
    if watermark.readings is not None:
        condition = _earlier("sensor_id", sensors, "event_time", earliest, "ingested_at", watermark.readings)
        for batch in _batches(readings, condition, ("sensor_id", "value", "event_time"), dictionary=("sensor_id",)):
            collected.add_readings(batch)
    if watermark.rejected is not None:
        condition = _earlier("record_key", sensors, "kafka_timestamp", earliest, "rejected_at", watermark.rejected)
        for batch in _batches(rejected, condition, ("record_key", "kafka_timestamp"), dictionary=("record_key",)):
            collected.add_rejected(batch)


def _earlier(key: str, sensors: list[str], time: str, earliest: int, stored: str, through: int) -> BooleanExpression:
    """Rows of ``sensors`` (by ``key``) whose ``time`` is at or after ``earliest`` and whose ``stored`` time is at or
    before ``through`` (epoch microseconds)."""
    from pyiceberg.expressions import GreaterThanOrEqual, In, LessThanOrEqual

    within = _and(_positional(GreaterThanOrEqual, time, earliest), _positional(LessThanOrEqual, stored, through))
    return _and(_positional(In, key, sensors), within)


def _tasks(table: Table, condition: BooleanExpression, fields: tuple[str, ...]) -> tuple[Any, list[FileScanTask]]:
    if table.current_snapshot() is None:
        return None, []
    scan = table.scan(row_filter=condition, selected_fields=fields)
    return scan, list(scan.plan_files())


def _batches(
    table: Table, condition: BooleanExpression, fields: tuple[str, ...], *, dictionary: tuple[str, ...]
) -> Iterator[pa.RecordBatch]:
    """Record batches of ``fields`` of the rows matching ``condition`` in the table's current snapshot, files read
    in parallel, string columns in ``dictionary`` dictionary-encoded."""
    scan, tasks = _tasks(table, condition, fields)
    return _read(table, scan, tasks, dictionary=dictionary)


def _read(
    table: Table, scan: Any, tasks: list[FileScanTask], *, dictionary: tuple[str, ...]
) -> Iterator[pa.RecordBatch]:
    from pyiceberg.io.pyarrow import ArrowScan

    if not tasks:
        return
    notices = logging.getLogger("pyiceberg.io.pyarrow")
    if _DICTIONARY_NOTICE not in notices.filters:
        notices.addFilter(_DICTIONARY_NOTICE)
    reader = ArrowScan(
        table.metadata, table.io, scan.projection(), scan.row_filter, scan.case_sensitive, dictionary_columns=dictionary
    )
    for batch in reader.to_record_batches(tasks):
        if batch.num_rows:
            yield batch


def _dictionary_notice(record: logging.LogRecord) -> bool:
    """False for pyiceberg's warning that a column read dictionary-encoded (as asked) has no Iceberg type of its
    own: logged for every file read, thousands of lines a backlog, and nothing to act on."""
    return "does not have a dictionary type" not in record.getMessage()


_DICTIONARY_NOTICE = _dictionary_notice


def _summarise(latest: dict[int, _Latest], code: np.ndarray, us: np.ndarray, value: np.ndarray, batch: Any) -> None:
    """Fold one batch of new readings into the per-sensor figures: bounds, count, names and value of the latest."""
    size = int(code.max()) + 1
    counts = np.bincount(code, minlength=size)
    lows, highs = np.full(size, _LOW, dtype=np.int64), np.full(size, _HIGH, dtype=np.int64)
    np.minimum.at(lows, code, us)
    np.maximum.at(highs, code, us)
    for row in np.flatnonzero(us == highs[code]):  # each sensor's latest reading in the batch
        entry = latest.setdefault(int(code[row]), _Latest())
        if us[row] > entry.last:
            entry.last, entry.value = int(us[row]), float(value[row])
            entry.names = cast(tuple[str, str, str], tuple(batch.column(name)[row].as_py() for name in NAMES))
    for met in np.flatnonzero(counts):
        entry = latest[int(met)]
        entry.first, entry.readings = min(entry.first, int(lows[met])), entry.readings + int(counts[met])


def _summaries(codes: SensorCodes, latest: dict[int, _Latest]) -> list[SensorSummary]:
    return [
        SensorSummary(codes.ids[c], *e.names, instant(e.first), instant(e.last), e.value, e.readings)
        for c, e in sorted(latest.items(), key=lambda item: codes.ids[item[0]])
    ]


def _micros(column: Any) -> np.ndarray:
    """A timestamp column as epoch microseconds (int64)."""
    import pyarrow as pa

    return column.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64()).to_numpy(zero_copy_only=False)


def _positional(kind: Any, *args: Any) -> BooleanExpression:
    """A pyiceberg expression built positionally, as pyiceberg documents (its models confuse the type checker)."""
    return cast("BooleanExpression", kind(*args))


def _and(left: BooleanExpression, right: BooleanExpression) -> BooleanExpression:
    from pyiceberg.expressions import And

    return _positional(And, left, right)
