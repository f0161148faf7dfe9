"""One alert evaluation: plan from the watermark, read, evaluate, write the state, then commit the episodes."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable
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
    as_states,
    collect_episodes,
    read_new_data,
    read_states,
    read_stored_episodes,
    readings_since,
    rejected_since,
)
from iot_platform.pipelines.sensor_alerts.write import commit_episodes, folded_states, write_states
from iot_platform.registry import SensorRegistry
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
    watermark = stored_watermark(table)
    new = read_new_data(spark, watermark)
    result.new_readings = new.readings
    rows, changed = folded_states(read_states(state_table), new.sensors, dt.datetime.now(dt.UTC))
    write_states(state_table, changed)
    states = as_states(rows)
    first_new = new.first_new()
    stored = read_stored_episodes(table, set(first_new))
    result.seconds["read"] = clock.step(f"read {new.readings} new readings of {len(first_new)} sensors")
    types = {state.sensor_id: state.sensor_type for state in states}
    lookbacks = {s: lookback(sensor_params(registry, s, types.get(s))) for s in first_new}
    spans = [
        EpisodeSpan(e["sensor_id"], e["started_at"], e["resolved_at"]) for e in stored if e["rule"] in READING_RULES
    ]
    starts = evaluation_starts(first_new, lookbacks, spans)
    found = _reading_episodes(spark, registry, starts, lookbacks) if starts else []
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


def _reading_episodes(
    spark: SparkSession,
    registry: SensorRegistry,
    starts: dict[str, dt.datetime],
    lookbacks: dict[str, dt.timedelta],
) -> list[Episode]:
    """The reading rules' episodes of each sensor that start at or after its ``t0``, from its readings since
    ``t0 - lookback``."""
    from pyspark.sql import functions as F

    since = {sensor_id: start - lookbacks[sensor_id] for sensor_id, start in starts.items()}
    episodes: DataFrame = alert_episodes(
        readings_since(spark, since), rejected_since(spark, since), registry.param_rows()
    )
    t0 = spark.createDataFrame([(s, micros(at)) for s, at in sorted(starts.items())], "sensor_id string, _t0 long")
    kept = episodes.join(F.broadcast(t0), "sensor_id").where(F.unix_micros("started_at") >= F.col("_t0"))
    return collect_episodes(kept.select(*EPISODE_COLUMNS))


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
