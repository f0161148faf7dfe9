"""``spark_cluster_health``: polls the Spark master, records the cluster's history and its health checks.

Each tick records one ``AssetObservation`` of ``spark_cluster`` (numeric metadata, plotted by the UI) and one
``AssetCheckEvaluation`` per check. Ticks never fail because the master is down: that is a failing check.
What changed since the previous tick (a check passing or failing, a worker joining or dying) is logged once;
the sensor cursor remembers the previous tick.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from dagster import (
    AssetObservation,
    DefaultSensorStatus,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from iot_platform.assets.spark_cluster import (
    SPARK_CLUSTER,
    CheckOutcome,
    HealthThresholds,
    apps_without_cores_since,
    cluster_metrics,
    evaluate_checks,
)
from iot_platform.clients.spark import ConnectServerProbe
from iot_platform.clients.spark_master import ClusterState, SparkMasterClient
from iot_platform.errors import ServiceUnavailable
from iot_platform.resources.spark_master import SparkMasterResource
from iot_platform.settings import Settings

SENSOR_NAME = "spark_cluster_health"

_CURSOR_VERSION = 1


@dataclass(frozen=True)
class HealthCursor:
    """What the sensor remembers between ticks (stored as JSON in the sensor cursor)."""

    check_signatures: dict[str, str] = field(default_factory=dict)
    """Signature of each check's last outcome, to log only changes."""
    worker_states: dict[str, str] = field(default_factory=dict)
    """Worker id to state at the last successful reading, to log workers joining, dying or leaving."""
    waiting_since: dict[str, int] = field(default_factory=dict)
    """Application id to when it started waiting for cores (epoch ms)."""

    def to_json(self) -> str:
        return json.dumps(
            {
                "v": _CURSOR_VERSION,
                "checks": self.check_signatures,
                "workers": self.worker_states,
                "waiting_since": self.waiting_since,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, raw: str | None) -> HealthCursor:
        """Read a cursor; a missing or unreadable one (e.g. from another version) starts afresh."""
        if not raw:
            return cls()
        try:
            data = json.loads(raw)
            if data.get("v") != _CURSOR_VERSION:
                return cls()
            return cls(
                check_signatures={str(k): str(v) for k, v in data.get("checks", {}).items()},
                worker_states={str(k): str(v) for k, v in data.get("workers", {}).items()},
                waiting_since={str(k): int(v) for k, v in data.get("waiting_since", {}).items()},
            )
        except (ValueError, TypeError, AttributeError):
            return cls()


@dataclass(frozen=True)
class StateChange:
    """One line worth logging once."""

    level: str  # "info" or "warning"
    message: str


@dataclass(frozen=True)
class HealthTick:
    """Everything one sensor tick records, computed without Dagster's context."""

    state: ClusterState | None
    observation: AssetObservation | None
    outcomes: list[CheckOutcome]
    cursor: HealthCursor
    changes: list[StateChange]
    summary: str


def _worker_changes(state: ClusterState, previous: dict[str, str], first_tick: bool) -> list[StateChange]:
    changes = []
    current = {worker.id: worker for worker in state.workers}
    for worker_id, worker in current.items():
        before = previous.get(worker_id)
        if before == worker.state or (first_tick and worker.alive):
            continue
        where = f"{worker.host}:{worker.port}"
        if before is None and first_tick:
            text = f"Spark worker {worker_id} ({where}) is {worker.state}"
        elif before is None:
            text = f"Spark worker {worker_id} ({where}) registered, state {worker.state}"
        else:
            text = f"Spark worker {worker_id} ({where}) is now {worker.state} (was {before})"
        changes.append(StateChange("info" if worker.alive else "warning", text))
    for worker_id in sorted(set(previous) - set(current)):
        changes.append(StateChange("info", f"Spark worker {worker_id} is no longer listed by the master"))
    return changes


def _summary(state: ClusterState | None, outcomes: list[CheckOutcome], web_url: str) -> str:
    failing = [outcome.check_name for outcome in outcomes if not outcome.passed]
    checks = f"failing checks: {', '.join(failing)}" if failing else "all checks pass"
    if state is None:
        return f"Spark master at {web_url} unreachable; {checks}"
    metrics = cluster_metrics(state)
    return (
        f"master {state.status}, {metrics['alive_workers']} alive / {metrics['dead_workers']} dead workers, "
        f"{metrics['used_cores']}/{metrics['total_cores']} cores and "
        f"{metrics['used_memory_mib']}/{metrics['total_memory_mib']} MiB used, "
        f"{metrics['active_apps']} active apps ({metrics['waiting_apps']} waiting); {checks}"
    )


def evaluate_cluster_health(
    client: SparkMasterClient,
    thresholds: HealthThresholds,
    cursor: HealthCursor,
    now: dt.datetime,
    connect: ConnectServerProbe | None = None,
) -> HealthTick:
    """Read the master once and compute the tick's observation, check outcomes, log lines and next cursor.

    Args:
        client: The master's client.
        thresholds: The configured limits.
        cursor: What the previous tick remembered.
        now: The current time (aware).
        connect: This tick's probe of the Spark Connect server; ``None`` when runs use no server.

    Returns:
        The tick. ``observation`` is ``None`` when the master could not be read (the checks say why).
    """
    try:
        state: ClusterState | None = client.cluster_state()
        error: ServiceUnavailable | None = None
    except ServiceUnavailable as exc:
        state, error = None, exc

    first_tick = not cursor.check_signatures
    if state is not None:
        waiting_since = apps_without_cores_since(state, cursor.waiting_since, now)
        worker_states = {worker.id: worker.state for worker in state.workers}
        changes = _worker_changes(state, cursor.worker_states, first_tick)
        observation: AssetObservation | None = AssetObservation(
            asset_key=SPARK_CLUSTER,
            description=f"Spark master {state.master_url} ({state.web_url})",
            metadata={**cluster_metrics(state), "status": state.status, "master_url": state.master_url},
        )
    else:
        waiting_since, worker_states, changes, observation = {}, cursor.worker_states, [], None

    outcomes = evaluate_checks(state, error, thresholds, waiting_since, now, client.web_url, connect)
    for outcome in outcomes:
        if cursor.check_signatures.get(outcome.check_name) == outcome.signature:
            continue
        verdict = "passes" if outcome.passed else "FAILS"
        changes.append(
            StateChange(
                "info" if outcome.passed else "warning",
                f"spark_cluster check {outcome.check_name} {verdict}: {outcome.message}",
            )
        )
    next_cursor = HealthCursor(
        check_signatures={outcome.check_name: outcome.signature for outcome in outcomes},
        worker_states=worker_states,
        waiting_since=waiting_since,
    )
    return HealthTick(
        state=state,
        observation=observation,
        outcomes=outcomes,
        cursor=next_cursor,
        changes=changes,
        summary=_summary(state, outcomes, client.web_url),
    )


def build_spark_cluster_health_sensor(settings: Settings) -> SensorDefinition:
    """The ``spark_cluster_health`` sensor, ticking every ``IOT_SPARK_HEALTH_INTERVAL_S`` seconds.

    Args:
        settings: Interval and check thresholds.

    Returns:
        A sensor (running by default) that needs the ``spark_master`` resource.
    """
    thresholds = HealthThresholds.from_settings(settings)

    @sensor(
        name=SENSOR_NAME,
        minimum_interval_seconds=settings.spark_health_interval_s,
        default_status=DefaultSensorStatus.RUNNING,
        description=(
            f"Every {settings.spark_health_interval_s} s: asks the Spark Connect server for a trivial query, reads "
            "the Spark master's state, records an observation of spark_cluster (workers, cores, memory, "
            "applications) and evaluates its health checks. Changes are logged once."
        ),
    )
    def spark_cluster_health(context: SensorEvaluationContext, spark_master: SparkMasterResource) -> SensorResult:
        connect = spark_master.probe_connect_server()  # first, so the master's state lists a restarted server
        tick = evaluate_cluster_health(
            spark_master.get_client(),
            thresholds,
            HealthCursor.from_json(context.cursor),
            dt.datetime.now(dt.UTC),
            connect,
        )
        for change in tick.changes:
            if change.level == "warning":
                context.log.warning(change.message)
            else:
                context.log.info(change.message)
        events = [outcome.to_evaluation() for outcome in tick.outcomes]
        return SensorResult(
            asset_events=[tick.observation, *events] if tick.observation else events,
            cursor=tick.cursor.to_json(),
            skip_reason=tick.summary,
        )

    return spark_cluster_health
