"""One alert evaluation: plan from the watermark, read, evaluate, write the state, then commit the episodes."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from iot_platform import tables
from iot_platform.pipelines.sensor_alerts.episodes import Episode, changes, open_after, state_episodes
from iot_platform.pipelines.sensor_alerts.plan import (
    EpisodeSpan,
    evaluation_starts,
    lookback,
    micros,
    sensor_params,
    stored_watermark,
)
from iot_platform.pipelines.sensor_alerts.read import (
    NewData,
    as_instants,
    as_states,
    collect_episodes,
    read_new_data,
    read_states,
    read_stored_episodes,
    readings_since,
    rejected_since,
)
from iot_platform.pipelines.sensor_alerts.scan import add_earlier_records, new_records
from iot_platform.pipelines.sensor_alerts.write import commit_episodes, folded_states, write_states
from iot_platform.registry import RuleParams, SensorRegistry
from iot_platform.transforms import alert_rules
from iot_platform.transforms.alerts import (
    EPISODE_COLUMNS,
    READING_RULES,
    alert_episodes,
)

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyspark.sql import DataFrame, SparkSession


@dataclass
class AlertsResult:
    """What one evaluation did, for the asset's metadata and checks."""

    new_readings: int = 0
    sensors_evaluated: int = 0
    episodes_written: int = 0
    episodes_deleted: int = 0
    episodes_unchanged: int = 0
    open_alerts: list[Episode] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    """Seconds spent reading, evaluating and writing."""

    def open_by(self, column: str) -> dict[str, int]:
        return dict(Counter(str(alert[column]) for alert in self.open_alerts))


def run_evaluation(
    spark: SparkSession,
    catalog: Catalog,
    registry: SensorRegistry,
    *,
    evaluated_at: dt.datetime,
    run_id: str,
    log: Callable[[str], None] = print,
) -> AlertsResult:
    """Evaluate the alert rules over what was ingested since the last evaluation (see the package docstring).

    Args:
        spark: A session with the platform's catalog.
        catalog: The same catalog through pyiceberg (episodes and the watermark are committed with it).
        registry: The sensor registry: rule settings, registered sensors.
        evaluated_at: The instant ``silent`` compares last readings with: no later than the moment ingestion read
            the topic up to (the run's start), so a reading still in Kafka never makes a sensor look silent.
        run_id: Recorded in the commit's snapshot summary.
        log: Progress lines, with the seconds of each step.
    """
    result, clock = AlertsResult(), _Clock(log)
    tables.ensure_tables(
        spark, tables.SENSOR_READINGS, tables.REJECTED_READINGS, tables.SENSOR_ALERTS, tables.SENSOR_STATE
    )
    table, state_table = catalog.load_table(tables.SENSOR_ALERTS), catalog.load_table(tables.SENSOR_STATE)
    readings, rejected = catalog.load_table(tables.SENSOR_READINGS), catalog.load_table(tables.REJECTED_READINGS)
    watermark = stored_watermark(table)
    local = new_records(readings, rejected, watermark, LOCAL_RULES_MAX_RECORDS)
    new = local[0] if local is not None else read_new_data(spark, watermark)
    result.new_readings = new.readings
    rows, changed = folded_states(read_states(state_table), new.sensors, dt.datetime.now(dt.UTC))
    write_states(state_table, changed)
    states = as_states(rows)
    first_new = new.first_new()
    stored = read_stored_episodes(table, set(first_new))
    where = "the tables' files" if local is not None else "Spark"
    result.seconds["read"] = clock.step(f"read {new.readings} new readings of {len(first_new)} sensors from {where}")
    types = {state.sensor_id: state.sensor_type for state in states}
    params = {s: sensor_params(registry, s, types.get(s)) for s in first_new}
    lookbacks = {s: lookback(params[s]) for s in first_new}
    spans = [
        EpisodeSpan(e["sensor_id"], e["started_at"], e["resolved_at"]) for e in stored if e["rule"] in READING_RULES
    ]
    starts = evaluation_starts(first_new, lookbacks, spans)
    found = []
    if starts:
        since = {sensor_id: start - lookbacks[sensor_id] for sensor_id, start in starts.items()}
        names: dict[str, tuple[str | None, str | None]] = {s.sensor_id: (s.sensor_type, s.location) for s in states}
        sensors = [(sensor_id, names.get(sensor_id)) for sensor_id in sorted(since)]
        if local is not None and estimated_records(new, starts, lookbacks, params) <= LOCAL_RULES_MAX_RECORDS:
            # The new records are in the run's process already: only the look-back earlier runs ingested is read.
            collected = local[1]
            add_earlier_records(collected, readings, rejected, watermark, since)
            found = alert_rules.table_episodes(collected.indexed(since), registry.param_rows(), sensors)
            found = _from(found, starts)
        else:
            found = _grouped_episodes(spark, registry, starts, since)
    found += state_episodes(registry, states, (e for e in stored if e["state"] == "open"), evaluated_at)
    change = changes(stored, found, starts, dt.datetime.now(dt.UTC))
    result.sensors_evaluated = len(starts)
    result.seconds["evaluate"] = clock.step(f"evaluated {len(starts)} sensors: {len(found)} episodes")
    advanced = watermark.advanced(new.readings_through, new.rejected_through)
    if change or advanced != watermark:
        commit_episodes(table, change, advanced, run_id)
    result.episodes_written, result.episodes_deleted = len(change.upserts), len(change.deletes)
    result.episodes_unchanged = change.unchanged
    result.open_alerts = open_after(stored, change)
    result.seconds["write"] = clock.step(
        f"wrote {len(change.upserts)} episodes, deleted {len(change.deletes)}, {change.unchanged} unchanged; "
        f"{len(result.open_alerts)} open"
    )
    return result


LOCAL_RULES_MAX_RECORDS = 12_000_000
"""Evaluations expected to read up to this many records read them from the tables' data files into the run's
process (about 20 bytes a record) and run the rules there; larger ones run the rules grouped by sensor in Spark's
Python workers. Both give the same episodes."""


def _from(found: list[dict[str, Any]], starts: Mapping[str, dt.datetime]) -> list[Episode]:
    """The episodes (times in epoch microseconds) that start at or after their sensor's ``t0``, as instants."""
    t0 = {sensor_id: micros(at) for sensor_id, at in starts.items()}
    return [as_instants(episode) for episode in found if episode["started_at"] >= t0[episode["sensor_id"]]]


def _grouped_episodes(
    spark: SparkSession,
    registry: SensorRegistry,
    starts: Mapping[str, dt.datetime],
    since: Mapping[str, dt.datetime],
) -> list[Episode]:
    """The reading rules' episodes of each sensor that start at or after its ``t0`` (``starts``), from its records
    since its instant in ``since``, found by the grouped pass in Spark's executors: only episodes come back."""
    from pyspark.sql import functions as F

    readings, rejected = readings_since(spark, since), rejected_since(spark, since)
    episodes: DataFrame = alert_episodes(readings, rejected, registry.param_rows())
    t0_rows = [(sensor_id, micros(at)) for sensor_id, at in sorted(starts.items())]
    t0_frame = spark.createDataFrame(t0_rows, "sensor_id string, _t0 long")
    kept = episodes.join(F.broadcast(t0_frame), "sensor_id").where(F.unix_micros("started_at") >= F.col("_t0"))
    return collect_episodes(kept.select(*EPISODE_COLUMNS))


def estimated_records(
    new: NewData,
    starts: Mapping[str, dt.datetime],
    lookbacks: Mapping[str, dt.timedelta],
    params: Mapping[str, RuleParams | None],
) -> int:
    """How many records an evaluation from ``starts`` reads: each sensor's new readings, and its readings from
    ``t0 - lookback`` to its first new one at its expected cadence (``params``, each sensor's rule settings; one a
    second for a type the registry lacks)."""
    first_new = new.first_new()
    counts = {summary.sensor_id: summary.readings for summary in new.sensors}
    total = 0
    for sensor_id, start in starts.items():
        settings = params.get(sensor_id)
        interval = settings.expected_interval_s if settings is not None else 1.0
        earlier = (first_new[sensor_id] - (start - lookbacks[sensor_id])).total_seconds()
        total += counts.get(sensor_id, 0) + max(0, int(earlier / interval))
    return total


class _Clock:
    """Seconds between steps, logged with what each step did."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self.log = log
        self.last = time.monotonic()

    def step(self, what: str) -> float:
        now = time.monotonic()
        seconds, self.last = now - self.last, now
        self.log(f"sensor_alerts: {what} ({seconds:.2f}s)")
        return round(seconds, 3)


def summary(result: AlertsResult) -> dict[str, Any]:
    """Counts of the evaluation (open alerts by rule and by severity, episodes written) for metadata."""
    return {
        "new_readings": result.new_readings,
        "sensors_evaluated": result.sensors_evaluated,
        "episodes_written": result.episodes_written,
        "episodes_deleted": result.episodes_deleted,
        "open_total": len(result.open_alerts),
        **{f"open_{rule}": n for rule, n in result.open_by("rule").items()},
        **{f"open_{severity}": n for severity, n in result.open_by("severity").items()},
    }


__all__ = ["AlertsResult", "NewData", "run_evaluation", "summary"]
