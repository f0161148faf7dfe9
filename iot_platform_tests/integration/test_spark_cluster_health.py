"""Cluster health on the real test stack: the sensor against a live master and worker that the test stops and starts.

The sensor is ticked here the way the Dagster daemon ticks it: every ``minimum_interval_seconds``, with the
cursor carried over and its asset events written to a Dagster instance, from which the checks are read back.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from dagster import (
    AssetCheckEvaluation,
    AssetCheckKey,
    AssetCheckSeverity,
    AssetObservation,
    AssetSelection,
    DagsterEventType,
    DagsterInstance,
    JobDefinition,
    SensorResult,
    build_sensor_context,
    execute_job,
    instance_for_test,
    materialize,
    reconstructable,
)

from iot_platform.assets.spark_cluster import (
    CHECK_CONNECT_SERVER,
    CHECK_ENOUGH_WORKERS,
    CHECK_MASTER_ALIVE,
    SPARK_CLUSTER,
    cluster_metrics,
)
from iot_platform.clients.spark_master import (
    HttpSparkMasterClient,
    SparkApplication,
    parse_master_state,
    spark_app_name,
)
from iot_platform.cluster_definitions import SPARK_MASTER_RESOURCE_KEY, cluster_health_definitions
from iot_platform.definitions import build_definitions
from iot_platform.jobs import HOURLY_STATS_JOB
from iot_platform.resources.spark_master import SparkMasterResource
from iot_platform.sensors.spark_cluster_health import SENSOR_NAME, build_spark_cluster_health_sensor
from iot_platform.settings import Settings, load_settings
from iot_platform.stack.service import settings_environment
from iot_platform.stack.stack import Stack
from iot_platform_tests.conftest import REPO_ROOT

pytestmark = pytest.mark.integration

INTERVAL_S = 5
"""Sensor interval for these tests (the setting's minimum), so 'within two intervals' stays short."""


@pytest.fixture
def settings(stack_settings: Settings) -> Settings:
    return stack_settings.model_copy(update={"spark_health_interval_s": INTERVAL_S})


@pytest.fixture
def instance() -> Iterator[DagsterInstance]:
    with instance_for_test() as test_instance:
        yield test_instance


class SensorLoop:
    """Ticks ``spark_cluster_health`` like the daemon: cursor carried over, asset events stored in the instance."""

    def __init__(self, settings: Settings, instance: DagsterInstance) -> None:
        self.sensor = build_spark_cluster_health_sensor(settings)
        self.resource = SparkMasterResource.from_settings(settings)
        self.instance = instance
        self.cursor: str | None = None
        self.ticks = 0
        self.interval_s = self.sensor.minimum_interval_seconds or INTERVAL_S

    def tick(self) -> SensorResult:
        with build_sensor_context(
            instance=self.instance,
            cursor=self.cursor,
            sensor_name=SENSOR_NAME,
            resources={SPARK_MASTER_RESOURCE_KEY: self.resource},
        ) as context:
            result = self.sensor(context)
        assert isinstance(result, SensorResult)
        for event in result.asset_events:
            self.instance.report_runless_asset_event(event)
        self.cursor = result.cursor
        self.ticks += 1
        return result

    def ticks_until(self, condition: Callable[[], bool], intervals: int) -> int:
        """Tick once per interval until ``condition()`` holds; the number of ticks it took, or fail."""
        for n in range(1, intervals + 1):
            time.sleep(self.interval_s)
            self.tick()
            if condition():
                return n
        pytest.fail(f"not reached within {intervals} sensor intervals of {self.interval_s}s")

    def latest(self, check_name: str) -> AssetCheckEvaluation:
        record = self.instance.get_latest_asset_check_evaluation_record(AssetCheckKey(SPARK_CLUSTER, check_name))
        assert record is not None and record.event is not None
        evaluation = record.event.asset_check_evaluation
        assert evaluation is not None
        return evaluation

    def passing(self, check_name: str) -> bool:
        return self.latest(check_name).passed


def master_json(settings: Settings) -> dict[str, Any]:
    response = httpx.get(f"{settings.master_web_url}/json/", timeout=5)
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


def metrics_of(document: dict[str, Any]) -> dict[str, int]:
    return cluster_metrics(parse_master_state(document, web_url="http://unused"))


APP_SCRIPT = """
import sys, time
from iot_platform.clients.spark import spark_session
from iot_platform.settings import load_settings
with spark_session(load_settings(), sys.argv[1]) as spark:
    spark.range(1000).count()
    print("ready", flush=True)
    time.sleep(600)
"""


@pytest.fixture
def platform_app(settings: Settings) -> Iterator[tuple[str, SparkApplication]]:
    """A platform Spark application running on the stack (in its own process), named after a run id."""
    run_id = str(uuid.uuid4())
    process = subprocess.Popen(
        [sys.executable, "-c", APP_SCRIPT, spark_app_name("integration_probe", run_id)],
        env={**os.environ, **settings_environment(settings)},
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        deadline = time.monotonic() + 180
        app = None
        with HttpSparkMasterClient(settings.master_web_url) as client:
            while app is None and time.monotonic() < deadline and process.poll() is None:
                state = client.cluster_state()
                app = next((a for a in state.active_apps if a.dagster_run_id == run_id and a.cores > 0), None)
                time.sleep(1)
        assert app is not None, "the platform application did not start on the master with cores"
        yield run_id, app
    finally:
        process.kill()
        process.wait(timeout=30)


def test_observation_equals_the_masters_json_and_apps_map_to_runs(
    settings: Settings, instance: DagsterInstance, platform_app: tuple[str, SparkApplication]
) -> None:
    run_id, app = platform_app
    loop = SensorLoop(settings, instance)
    for _ in range(3):  # the master's numbers may move between two reads: retry until they hold still
        before = master_json(settings)
        result = loop.tick()
        after = master_json(settings)
        if metrics_of(before) == metrics_of(after):
            break
    observation = next(e for e in result.asset_events if isinstance(e, AssetObservation))
    recorded: dict[str, Any] = {key: value.value for key, value in observation.metadata.items()}
    assert recorded["alive_workers"] == after["aliveworkers"] >= 1
    assert recorded["dead_workers"] == sum(1 for w in after["workers"] if w["state"] == "DEAD")
    assert (recorded["total_cores"], recorded["used_cores"]) == (after["cores"], after["coresused"])
    assert (recorded["total_memory_mib"], recorded["used_memory_mib"]) == (after["memory"], after["memoryused"])
    assert recorded["active_apps"] == len(after["activeapps"]) >= 1
    assert recorded["waiting_apps"] == sum(1 for a in after["activeapps"] if a["state"] == "WAITING")
    assert recorded["used_cores"] >= app.cores > 0

    stored = instance.fetch_observations(SPARK_CLUSTER, limit=1).records
    assert stored and stored[0].asset_observation is not None
    assert stored[0].asset_observation.metadata["used_cores"].value == recorded["used_cores"]

    with HttpSparkMasterClient(settings.master_web_url) as client:
        killed = client.kill_application(app.id)
        assert (killed.state, killed.active, killed.dagster_run_id) == ("KILLED", False, run_id)
        assert client.cluster_state().application(app.id) == killed


def test_worker_stop_fails_the_check_within_two_intervals_and_start_passes_it(
    settings: Settings, instance: DagsterInstance
) -> None:
    stack = Stack(settings)
    worker = stack.service("spark-worker")
    loop = SensorLoop(settings, instance)
    loop.tick()
    assert loop.passing(CHECK_ENOUGH_WORKERS)
    worker_ids = [w["id"] for w in master_json(settings)["workers"] if w["state"] == "ALIVE"]
    try:
        worker.stop()
        loop.ticks_until(lambda: not loop.passing(CHECK_ENOUGH_WORKERS), intervals=2)
        failing = loop.latest(CHECK_ENOUGH_WORKERS)
        assert any(worker_id in (failing.description or "") for worker_id in worker_ids)
        assert loop.passing(CHECK_MASTER_ALIVE)
    finally:
        stack.up(only=["spark-worker"])
    loop.ticks_until(lambda: loop.passing(CHECK_ENOUGH_WORKERS), intervals=2)


def hourly_stats_job() -> JobDefinition:
    """The platform's hourly_stats job, built from the test stack's settings (reconstructable for execute_job)."""
    return build_definitions(load_settings()).get_job_def(HOURLY_STATS_JOB)


def last_complete_hour() -> str:
    hour = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=1)
    return hour.strftime("%Y-%m-%d-%H:%M")


def test_master_stop_fails_checks_sensor_keeps_ticking_and_spark_runs_fail_fast(
    settings: Settings, instance: DagsterInstance
) -> None:
    stack = Stack(settings)
    loop = SensorLoop(settings, instance)
    loop.tick()
    assert loop.passing(CHECK_MASTER_ALIVE)
    try:
        stack.service("spark-master").stop()
        ticks_before = loop.ticks
        loop.ticks_until(lambda: not loop.passing(CHECK_MASTER_ALIVE), intervals=2)
        assert settings.master_web_url in (loop.latest(CHECK_MASTER_ALIVE).description or "")
        for _ in range(2):  # it keeps ticking, recording the failure each time
            time.sleep(loop.interval_s)
            evaluations = [e for e in loop.tick().asset_events if isinstance(e, AssetCheckEvaluation)]
            assert [e.passed for e in evaluations if e.check_name == CHECK_MASTER_ALIVE] == [False]
        assert loop.ticks >= ticks_before + 3

        # The real hourly_stats job, run as the run worker runs it (execute_in_process would ignore the executor
        # config). Executor retries are off so the run ends at the first failure; with them on,
        # SPARK_RETRY_POLICY would try again after about a minute.
        began = time.monotonic()
        with execute_job(
            reconstructable(hourly_stats_job),
            instance=instance,
            run_config={"execution": {"config": {"retries": {"disabled": {}}}}},
            tags={"dagster/partition": last_complete_hour()},
        ) as run:
            elapsed = time.monotonic() - began
            assert not run.success
            failures = [e for e in run.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
        assert elapsed < 30, f"the run took {elapsed:.0f}s to fail"
        assert failures and settings.master_url in str(failures[0].event_specific_data)
    finally:
        # The worker would re-register with the new master only after its retry back-off, and the Connect server's
        # application ends with its master: restart all three.
        stack.down(only=["spark-connect", "spark-worker", "spark-master"])
        stack.up(only=["spark-master", "spark-worker", "spark-connect"])
    loop.ticks_until(
        lambda: all(loop.passing(name) for name in (CHECK_MASTER_ALIVE, CHECK_ENOUGH_WORKERS, CHECK_CONNECT_SERVER)),
        intervals=2,
    )


def test_connect_server_check_fails_while_the_server_is_down_and_passes_once_it_is_up(
    settings: Settings, instance: DagsterInstance
) -> None:
    stack = Stack(settings)
    loop = SensorLoop(settings, instance)
    loop.tick()
    healthy = loop.latest(CHECK_CONNECT_SERVER)
    assert healthy.passed, healthy.description
    app_id = healthy.metadata["server_app_id"].value
    assert healthy.metadata["connect_url"].value == settings.connect_url
    assert f"{app_id}" in (healthy.description or "") and settings.connect_url in (healthy.description or "")
    listed = next(app for app in master_json(settings)["activeapps"] if app["id"] == app_id)
    assert listed["state"] == "RUNNING" and listed["cores"] >= 1
    cores_held = healthy.metadata["cores_held"].value
    assert isinstance(cores_held, int) and cores_held >= 1
    try:
        stack.down(only=["spark-connect"])
        began = time.monotonic()
        loop.tick()
        elapsed = time.monotonic() - began
        failing = loop.latest(CHECK_CONNECT_SERVER)
        assert not failing.passed and failing.severity == AssetCheckSeverity.ERROR
        assert settings.connect_url in (failing.description or "") and "does not answer" in (failing.description or "")
        assert elapsed < 10, f"a tick against a stopped server took {elapsed:.1f}s"
        assert loop.passing(CHECK_MASTER_ALIVE) and loop.passing(CHECK_ENOUGH_WORKERS)
    finally:
        stack.up(only=["spark-connect"])
    loop.tick()
    back = loop.latest(CHECK_CONNECT_SERVER)
    assert back.passed, back.description
    assert back.metadata["server_app_id"].value != app_id  # a new server application


def test_on_demand_checks_pass_on_the_healthy_stack(settings: Settings) -> None:
    defs = cluster_health_definitions(settings)
    with instance_for_test() as instance:
        result = materialize(
            [*defs.assets, *defs.asset_checks],  # type: ignore[misc]
            instance=instance,
            resources=defs.resources,
            selection=AssetSelection.checks_for_assets(SPARK_CLUSTER),
        )
    assert result.success
    assert {e.check_name: e.passed for e in result.get_asset_check_evaluations()} == {
        CHECK_MASTER_ALIVE: True,
        CHECK_ENOUGH_WORKERS: True,
        "no_app_waiting_for_cores": True,
        CHECK_CONNECT_SERVER: True,
    }
