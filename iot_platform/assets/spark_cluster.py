"""``spark_cluster``: the Spark standalone cluster as an external asset, with its health checks.

Dagster does not materialize the cluster. The ``spark_cluster_health`` sensor observes it and records the check
evaluations defined here; the same checks also run on demand from the UI through :func:`spark_cluster_checks`.
The functions that judge a :class:`ClusterState` are pure, so the sensor and the on-demand checks agree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from dagster import (
    AssetCheckEvaluation,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    AssetSpec,
    MetadataValue,
    multi_asset_check,
)

from iot_platform.clients.spark import ConnectServerProbe
from iot_platform.clients.spark_master import APP_WAITING, MASTER_ALIVE, WORKER_ALIVE, ClusterState, SparkApplication
from iot_platform.errors import ServiceUnavailable
from iot_platform.resources.spark_master import SparkMasterResource
from iot_platform.settings import Settings

SPARK_CLUSTER = AssetKey("spark_cluster")

CHECK_MASTER_ALIVE = "master_alive"
CHECK_ENOUGH_WORKERS = "enough_alive_workers"
CHECK_NO_STARVED_APPS = "no_app_waiting_for_cores"
CHECK_CONNECT_SERVER = "spark_connect_server"

APP_RUNNING = "RUNNING"


@dataclass(frozen=True)
class HealthThresholds:
    """Limits the cluster checks hold the cluster to."""

    min_workers: int
    """Fewer alive workers fail :data:`CHECK_ENOUGH_WORKERS` (IOT_SPARK_MIN_WORKERS)."""
    max_app_wait_s: int
    """An application waiting longer than this for cores fails :data:`CHECK_NO_STARVED_APPS`."""

    @classmethod
    def from_settings(cls, settings: Settings) -> HealthThresholds:
        return cls(min_workers=settings.spark_min_workers, max_app_wait_s=settings.spark_max_app_wait_s)


def spark_cluster_asset(settings: Settings) -> AssetSpec:
    """The external asset ``spark_cluster``, described for the person reading the Dagster UI.

    Args:
        settings: Where the master's web UI is and how often the sensor polls it.

    Returns:
        The asset spec (not materializable; observed by the ``spark_cluster_health`` sensor).
    """
    return AssetSpec(
        key=SPARK_CLUSTER,
        kinds={"spark"},
        description=(
            "The Spark standalone cluster (master and workers) that runs the platform's Spark jobs.\n\n"
            f"Dagster does not materialize it: the `spark_cluster_health` sensor reads the master's state every "
            f"{settings.spark_health_interval_s} s and records an observation with alive and dead workers, "
            "total and used cores, total and used memory (MiB), and active and waiting applications; the "
            "observation plots show their history. The sensor also evaluates the checks: the master is reachable "
            f"and ALIVE, at least {settings.spark_min_workers} worker(s) are alive, and no application has waited "
            f"for cores longer than {settings.spark_max_app_wait_s} s, and the Spark Connect server the platform's "
            "runs work on answers a query and is RUNNING on the master. A failing check names the URL, worker or "
            f"application at fault.\n\nMaster web UI: {settings.master_web_url}"
        ),
        metadata={
            "spark_master_url": settings.master_url,
            "spark_web_ui": MetadataValue.url(settings.master_web_url),
        },
    )


def spark_cluster_check_specs(thresholds: HealthThresholds) -> list[AssetCheckSpec]:
    """The three health checks of ``spark_cluster``.

    Args:
        thresholds: The limits, quoted in the descriptions.

    Returns:
        Specs of the master, worker and waiting-application checks.
    """
    return [
        AssetCheckSpec(
            CHECK_MASTER_ALIVE,
            asset=SPARK_CLUSTER,
            description="The Spark master answers on its web endpoint and reports status ALIVE.",
        ),
        AssetCheckSpec(
            CHECK_ENOUGH_WORKERS,
            asset=SPARK_CLUSTER,
            description=(
                f"At least {thresholds.min_workers} worker(s) are ALIVE (IOT_SPARK_MIN_WORKERS); "
                "dead workers are named when it fails."
            ),
        ),
        AssetCheckSpec(
            CHECK_NO_STARVED_APPS,
            asset=SPARK_CLUSTER,
            description=(
                f"No application has waited for cores longer than {thresholds.max_app_wait_s} s "
                "(IOT_SPARK_MAX_APP_WAIT_S): neither WAITING for its first executors nor RUNNING with none left."
            ),
        ),
        AssetCheckSpec(
            CHECK_CONNECT_SERVER,
            asset=SPARK_CLUSTER,
            description=(
                "The Spark Connect server the platform's runs work on (IOT_SPARK_CONNECT_URL) answers a trivial "
                "query within seconds, and the master lists its application RUNNING; passes without asking when "
                "each run starts an application of its own (IOT_SPARK_RUN_MODE=application)."
            ),
        ),
    ]


# --- pure evaluation ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CheckOutcome:
    """One check's verdict, convertible to a sensor-reported evaluation or an in-run check result."""

    check_name: str
    passed: bool
    message: str
    """What is wrong and where (URL, worker id, application id), or what is fine."""
    signature: str
    """Identifies the condition; the sensor logs an outcome only when its signature changes."""
    severity: AssetCheckSeverity = AssetCheckSeverity.ERROR
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def _metadata(self) -> dict[str, Any]:
        return {"message": self.message, **self.metadata}

    def to_evaluation(self) -> AssetCheckEvaluation:
        return AssetCheckEvaluation(
            asset_key=SPARK_CLUSTER,
            check_name=self.check_name,
            passed=self.passed,
            severity=self.severity,
            description=self.message,
            metadata=self._metadata(),
        )

    def to_result(self) -> AssetCheckResult:
        return AssetCheckResult(
            asset_key=SPARK_CLUSTER,
            check_name=self.check_name,
            passed=self.passed,
            severity=self.severity,
            description=self.message,
            metadata=self._metadata(),
        )


def cluster_metrics(state: ClusterState) -> dict[str, int]:
    """The numbers the ``spark_cluster`` observation records (and the UI plots), from the master's state."""
    return {
        "alive_workers": state.alive_workers,
        "dead_workers": len(state.dead_workers),
        "total_cores": state.cores,
        "used_cores": state.cores_used,
        "total_memory_mib": state.memory_mib,
        "used_memory_mib": state.memory_used_mib,
        "active_apps": len(state.active_apps),
        "waiting_apps": len(state.waiting_apps),
    }


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def apps_without_cores_since(state: ClusterState, previous: Mapping[str, int], now: dt.datetime) -> dict[str, int]:
    """When each active application started waiting for cores, in epoch milliseconds.

    A WAITING application has waited since it was submitted. A RUNNING one that holds no cores (its executors
    died with their worker) has waited since it was first seen so, which only the sensor's memory (``previous``)
    knows; without it the wait starts now.

    Args:
        state: The master's state.
        previous: The result of the previous call (from the sensor cursor); empty on demand.
        now: The current time (aware).

    Returns:
        Application id to waiting-since, for the applications waiting now.
    """
    since: dict[str, int] = {}
    for app in state.active_apps:
        if app.cores > 0:
            continue
        if app.state == APP_WAITING:
            # The master's own duration avoids any clock difference between it and us.
            since[app.id] = _ms(now) - app.duration_ms
        else:
            since[app.id] = previous.get(app.id, _ms(now))
    return since


def check_master(state: ClusterState | None, error: ServiceUnavailable | None, web_url: str) -> CheckOutcome:
    """Master reachable and ALIVE.

    Args:
        state: The master's state, or ``None`` when it could not be read.
        error: Why it could not be read.
        web_url: The URL that was asked.

    Returns:
        The outcome of :data:`CHECK_MASTER_ALIVE`.
    """
    if state is None:
        return CheckOutcome(
            CHECK_MASTER_ALIVE,
            passed=False,
            message=str(error) if error else f"Spark master at {web_url} is unreachable",
            signature="unreachable",
            metadata={"web_url": MetadataValue.url(web_url)},
        )
    meta = {"web_url": MetadataValue.url(state.web_url), "master_url": state.master_url, "status": state.status}
    if state.status != MASTER_ALIVE:
        return CheckOutcome(
            CHECK_MASTER_ALIVE,
            passed=False,
            message=f"Spark master {state.master_url} ({state.web_url}) reports status {state.status}, not ALIVE",
            signature=f"status:{state.status}",
            metadata=meta,
        )
    return CheckOutcome(
        CHECK_MASTER_ALIVE,
        passed=True,
        message=f"Spark master {state.master_url} ({state.web_url}) is ALIVE",
        signature="alive",
        metadata=meta,
    )


def check_workers(state: ClusterState | None, min_workers: int, web_url: str) -> CheckOutcome:
    """At least ``min_workers`` workers ALIVE.

    Args:
        state: The master's state, or ``None`` when the master is unreachable (then no worker is usable).
        min_workers: The configured minimum.
        web_url: The master's web UI, named when the master is unreachable.

    Returns:
        The outcome of :data:`CHECK_ENOUGH_WORKERS`.
    """
    if state is None:
        return CheckOutcome(
            CHECK_ENOUGH_WORKERS,
            passed=False,
            message=f"No worker is usable: the Spark master at {web_url} is unreachable",
            signature="master-unreachable",
            metadata={"alive_workers": 0, "min_workers": min_workers},
        )
    alive = [worker for worker in state.workers if worker.state == WORKER_ALIVE]
    not_alive = [worker for worker in state.workers if worker.state != WORKER_ALIVE]
    passed = state.alive_workers >= min_workers
    alive_text = ", ".join(f"{w.id} ({w.host}:{w.port}, {w.cores} cores)" for w in alive) or "none"
    down_text = "; ".join(
        f"{w.id} at {w.host}:{w.port} is {w.state}"
        + (f", last heartbeat {w.last_heartbeat:%Y-%m-%dT%H:%M:%SZ}" if w.last_heartbeat else "")
        + (f", UI {w.web_ui_url}" if w.web_ui_url else "")
        for w in not_alive
    )
    if passed:
        message = f"{state.alive_workers} worker(s) alive (minimum {min_workers}): {alive_text}"
    else:
        message = (
            f"{state.alive_workers} worker(s) alive on {state.master_url}, below the minimum of {min_workers}"
            + (f"; {down_text}" if down_text else "; no other worker is registered")
            + f". See {state.web_url}"
        )
    return CheckOutcome(
        CHECK_ENOUGH_WORKERS,
        passed=passed,
        message=message,
        signature=f"{'ok' if passed else 'low'}:{','.join(sorted(w.id for w in alive))}",
        metadata={
            "alive_workers": state.alive_workers,
            "min_workers": min_workers,
            "not_alive_workers": ", ".join(f"{w.id} ({w.state})" for w in not_alive) or "none",
        },
    )


def _describe_app(app: SparkApplication) -> str:
    run = f", Dagster run {app.dagster_run_id}" if app.dagster_run_id else ""
    return f"{app.id} '{app.name}' ({app.state}, {app.cores} cores{run})"


def check_waiting_apps(
    state: ClusterState | None,
    max_wait_s: int,
    waiting_since: Mapping[str, int],
    now: dt.datetime,
    web_url: str,
) -> CheckOutcome:
    """No application waiting for cores longer than ``max_wait_s``.

    Args:
        state: The master's state, or ``None`` when the master is unreachable (the check cannot tell).
        max_wait_s: The configured limit.
        waiting_since: From :func:`apps_without_cores_since`.
        now: The current time (aware).
        web_url: The master's web UI, named in messages.

    Returns:
        The outcome of :data:`CHECK_NO_STARVED_APPS`.
    """
    if state is None:
        return CheckOutcome(
            CHECK_NO_STARVED_APPS,
            passed=False,
            message=f"Cannot tell which applications wait for cores: the Spark master at {web_url} is unreachable",
            signature="unknown",
            severity=AssetCheckSeverity.WARN,
        )
    now_ms = _ms(now)
    waits = {
        app.id: (app, max(0, now_ms - waiting_since[app.id]) / 1000)
        for app in state.active_apps
        if app.id in waiting_since
    }
    starved = sorted(
        ((app, waited) for app, waited in waits.values() if waited > max_wait_s), key=lambda item: -item[1]
    )
    longest = max((waited for _, waited in waits.values()), default=0.0)
    metadata = {"waiting_apps": len(waits), "starved_apps": len(starved), "longest_wait_s": round(longest, 1)}
    if not starved:
        message = (
            f"{len(waits)} application(s) waiting for cores, longest {longest:.0f} s (limit {max_wait_s} s)"
            if waits
            else "No application is waiting for cores"
        )
        return CheckOutcome(CHECK_NO_STARVED_APPS, True, message, signature="ok", metadata=metadata)
    free = state.cores - state.cores_used
    details = "; ".join(f"{_describe_app(app)} has waited {waited:.0f} s" for app, waited in starved)
    message = (
        f"{len(starved)} application(s) waited for cores longer than {max_wait_s} s on {state.master_url}: "
        f"{details}. Free cores: {free} of {state.cores} on {state.alive_workers} alive worker(s); see {state.web_url}"
    )
    return CheckOutcome(
        CHECK_NO_STARVED_APPS,
        passed=False,
        message=message,
        signature="starved:" + ",".join(sorted(app.id for app, _ in starved)),
        metadata=metadata,
    )


def check_connect_server(probe: ConnectServerProbe | None, state: ClusterState | None, web_url: str) -> CheckOutcome:
    """The Spark Connect server answers and the master lists it RUNNING, holding cores.

    Args:
        probe: What a trivial query to the server told, or ``None`` when runs use no server
            (``IOT_SPARK_RUN_MODE=application``).
        state: The master's state, or ``None`` when it could not be read.
        web_url: The master's web UI, named in messages.

    Returns:
        The outcome of :data:`CHECK_CONNECT_SERVER`.
    """
    if probe is None:
        return CheckOutcome(
            CHECK_CONNECT_SERVER,
            passed=True,
            message="No Spark Connect server is used: each run starts a Spark application of its own "
            "(IOT_SPARK_RUN_MODE=application)",
            signature="application-mode",
        )
    metadata: dict[str, Any] = {"connect_url": probe.url, "server_app_id": probe.app_id or "none", "cores_held": 0}
    if not probe.answered or probe.app_id is None:
        return CheckOutcome(
            CHECK_CONNECT_SERVER,
            passed=False,
            message=f"The Spark Connect server at {probe.url} does not answer: {probe.error}. Platform runs fail "
            "until it does; `iot-platform stack up` starts it (`iot-platform stack status` shows its state)",
            signature="no-answer",
            metadata=metadata,
        )
    if state is None:
        return CheckOutcome(
            CHECK_CONNECT_SERVER,
            passed=False,
            message=f"The Spark Connect server {probe.app_id} answers at {probe.url}, but whether it holds cores is "
            f"unknown: the Spark master at {web_url} is unreachable",
            signature=f"master-unreachable:{probe.app_id}",
            severity=AssetCheckSeverity.WARN,
            metadata=metadata,
        )
    app = state.application(probe.app_id)
    if app is None or not app.active or app.state != APP_RUNNING:
        listed = "does not list it" if app is None else f"lists it as {app.state}"
        return CheckOutcome(
            CHECK_CONNECT_SERVER,
            passed=False,
            message=f"The Spark Connect server at {probe.url} answers as application {probe.app_id}, but the master "
            f"{state.master_url} ({state.web_url}) {listed}: is IOT_SPARK_CONNECT_URL a server on this master?",
            signature=f"not-running:{probe.app_id}:{app.state if app else 'unlisted'}",
            metadata=metadata,
        )
    return CheckOutcome(
        CHECK_CONNECT_SERVER,
        passed=True,
        message=f"The Spark Connect server {app.id} '{app.name}' answers at {probe.url} "
        f"({probe.elapsed_s:.1f} s); the master lists it RUNNING with {app.cores} core(s)",
        signature=f"ok:{app.id}",
        metadata={**metadata, "cores_held": app.cores},
    )


def evaluate_checks(
    state: ClusterState | None,
    error: ServiceUnavailable | None,
    thresholds: HealthThresholds,
    waiting_since: Mapping[str, int],
    now: dt.datetime,
    web_url: str,
    connect: ConnectServerProbe | None = None,
) -> list[CheckOutcome]:
    """All four checks of ``spark_cluster`` for one reading of the master (and one probe of the Connect server).

    Args:
        state: The master's state, or ``None`` when it could not be read.
        error: Why it could not be read.
        thresholds: The configured limits.
        waiting_since: From :func:`apps_without_cores_since`.
        now: The current time (aware).
        web_url: The master's web UI URL.
        connect: The Spark Connect server's probe; ``None`` when runs use no server.

    Returns:
        Outcomes in the order of :func:`spark_cluster_check_specs`.
    """
    return [
        check_master(state, error, web_url),
        check_workers(state, thresholds.min_workers, web_url),
        check_waiting_apps(state, thresholds.max_app_wait_s, waiting_since, now, web_url),
        check_connect_server(connect, state, web_url),
    ]


def spark_cluster_checks(thresholds: HealthThresholds) -> AssetChecksDefinition:
    """The ``spark_cluster`` checks as an executable definition, so they can also run on demand from the UI.

    Run on demand they have no memory of earlier readings: a RUNNING application without cores counts as
    waiting from now, and only WAITING applications can fail the waiting-time check.

    Args:
        thresholds: The limits the checks apply.

    Returns:
        One multi-check definition reading the master through the ``spark_master`` resource.
    """

    @multi_asset_check(
        name="spark_cluster_health_checks",
        specs=spark_cluster_check_specs(thresholds),
        description=(
            "Asks the Spark Connect server for a trivial query, reads the Spark master's state once and evaluates "
            "the spark_cluster health checks."
        ),
    )
    def _spark_cluster_health_checks(spark_master: SparkMasterResource) -> Iterator[AssetCheckResult]:
        connect = spark_master.probe_connect_server()
        client = spark_master.get_client()
        now = dt.datetime.now(dt.UTC)
        try:
            state: ClusterState | None = client.cluster_state()
            error = None
        except ServiceUnavailable as exc:
            state, error = None, exc
        waiting = apps_without_cores_since(state, {}, now) if state else {}
        for outcome in evaluate_checks(state, error, thresholds, waiting, now, client.web_url, connect):
            yield outcome.to_result()

    return _spark_cluster_health_checks
