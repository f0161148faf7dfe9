"""The REST API against the real stack: Dagster webserver + daemon, Spark master + worker, the Spark Connect server
every run works on, Kafka, Iceberg catalog.

Runs are serialized on the test stack (one at a time) and each Spark run takes tens of seconds, so every wait
polls with a generous deadline. Readings go to the stack's topic with sensor ids unique to each test, into
hours of April 2025 drawn at random per session, so reruns never read another session's rows.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from iot_platform.api.main import create_app
from iot_platform.clients.dagster import BackfillInfo, DagsterStatus, GraphQLDagsterClient, RunInfo
from iot_platform.clients.spark_master import HttpSparkMasterClient
from iot_platform.errors import Conflict, ServiceUnavailable
from iot_platform.partitions import partition_key
from iot_platform.registry import load_registry
from iot_platform.settings import Settings
from iot_platform_tests.integration.pipeline_support import produce, reading

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

pytestmark = pytest.mark.integration

RUN_TIMEOUT_S = 480.0
"""A run may wait behind others in the queue (one at a time), then spends tens of seconds on Spark."""
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}
HOUR = dt.timedelta(hours=1)
"""Set by pyspark in a process once it made a Spark Connect session; a classic SparkContext is refused while set."""
BASE_HOUR = dt.datetime(2025, 4, 1, tzinfo=dt.UTC) + dt.timedelta(hours=random.Random().randrange(0, 27 * 24, 8))
"""First of the eight hours this session's tests use (each test takes its own)."""


def auth(settings: Settings) -> dict[str, str]:
    assert settings.api_token is not None
    return {"Authorization": f"Bearer {settings.api_token.get_secret_value()}"}


@pytest.fixture(scope="module")
def api(stack_settings: Settings) -> Iterator[TestClient]:
    """The API in-process, on the test stack's engines."""
    with TestClient(create_app(stack_settings)) as client:
        yield client


def poll(what: str, fetch: Callable[[], Any], done: Callable[[Any], bool], timeout_s: float = RUN_TIMEOUT_S) -> Any:
    """Call ``fetch`` every half second until ``done(result)``; fail naming ``what`` and the last result."""
    deadline = time.monotonic() + timeout_s
    result = fetch()
    while not done(result):
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not reached within {timeout_s:.0f}s; last: {result}")
        time.sleep(0.5)
        result = fetch()
    return result


def get_json(api: TestClient, path: str, **params: Any) -> Any:
    response = api.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def produce_hour(settings: Settings, prefix: str, hour: dt.datetime, sensors: int = 2) -> dict[str, list[float]]:
    """Publish a few readings per sensor inside ``hour``; return the values per sensor id."""
    values: dict[str, list[float]] = {}
    records = []
    for s in range(sensors):
        sensor_id = f"{prefix}-{s}"
        values[sensor_id] = [20.0 + s + i * 0.5 for i in range(3)]
        records += [
            reading(sensor_id, hour + dt.timedelta(minutes=5 + 10 * i), value)
            for i, value in enumerate(values[sensor_id])
        ]
    produce(settings, records)
    return values


def run_partition(api: TestClient, settings: Settings, key: str) -> dict[str, Any]:
    """Submit ``hourly_stats`` for one partition through the API, wait for the run and check that it succeeded."""
    response = api.post("/api/v1/jobs/submit", json={"job": "hourly_stats", "partition": key}, headers=auth(settings))
    assert response.status_code == 202, response.text
    run_id = response.json()["run_id"]
    run: dict[str, Any] = poll(
        f"run {run_id} finished",
        lambda: get_json(api, f"/api/v1/jobs/runs/{run_id}"),
        lambda r: r["status"] in FINISHED,
    )
    assert run["status"] == "SUCCESS", run
    return run


def unique_prefix() -> str:
    return f"APIT{uuid.uuid4().hex[:8].upper()}"


# --- the served process and the guards -------------------------------------------------------------------------
def test_the_served_api_is_healthy_ready_and_guards_mutating_calls(stack_settings: Settings) -> None:
    base = stack_settings.api_base_url
    assert httpx.get(f"{base}/health", timeout=10).json() == {"status": "ok"}
    ready = httpx.get(f"{base}/ready", timeout=30)
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["dagster"]["ok"] and ready.json()["checks"]["spark_master"]["ok"]
    body = {"job": "hourly_stats", "partition": partition_key(BASE_HOUR)}
    missing = httpx.post(f"{base}/api/v1/jobs/submit", json=body, timeout=10)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    wrong = httpx.post(f"{base}/api/v1/jobs/submit", json=body, headers={"Authorization": "Bearer nope"}, timeout=10)
    assert wrong.status_code == 403
    for method, path in (("DELETE", f"/api/v1/jobs/runs/{uuid.uuid4()}"), ("DELETE", "/api/v1/jobs/apps/app-1")):
        assert httpx.request(method, f"{base}{path}", timeout=10).status_code == 401
        assert (
            httpx.request(method, f"{base}{path}", headers={"Authorization": "Bearer no"}, timeout=10).status_code
            == 403
        )


def test_cluster_endpoints_report_the_test_stacks_master(api: TestClient, stack_settings: Settings) -> None:
    status = get_json(api, "/api/v1/cluster/status")
    assert status["status"] == "ALIVE"
    assert status["worker_count"] >= 1
    assert status["total_cores"] == stack_settings.spark_worker_cores
    assert status["master_url"] == stack_settings.master_url
    workers = get_json(api, "/api/v1/cluster/workers")
    assert any(
        worker["state"] == "ALIVE" and worker["cores"] == stack_settings.spark_worker_cores for worker in workers
    )


def test_bad_input_is_4xx_against_the_real_engines(api: TestClient, stack_settings: Settings) -> None:
    headers = auth(stack_settings)
    future = partition_key(dt.datetime.now(dt.UTC))
    assert (
        api.post("/api/v1/jobs/submit", json={"job": "hourly_stats", "partition": future}, headers=headers).status_code
        == 422
    )
    assert api.get(f"/api/v1/jobs/runs/{uuid.uuid4()}").status_code == 404
    assert api.get("/api/v1/jobs/apps/app-20000101000000-9999").status_code == 404
    assert api.delete(f"/api/v1/jobs/runs/{uuid.uuid4()}", headers=headers).status_code == 404
    assert api.get("/api/v1/jobs/backfills/nosuchbf").status_code == 404


# --- one partition: run, Spark application, rows --------------------------------------------------------------
def test_a_submitted_partition_runs_and_its_rows_are_readable(api: TestClient, stack_settings: Settings) -> None:
    prefix, hour = unique_prefix(), BASE_HOUR
    values = produce_hour(stack_settings, prefix, hour)
    key = partition_key(hour)

    run = run_partition(api, stack_settings, key)
    assert (run["job_name"], run["partition"]) == ("hourly_stats_job", key)

    server_id = connect_server_app_id(stack_settings)
    assert run["spark_app_id"] == server_id, "the run's work ran on the shared Spark Connect server"
    app = get_json(api, f"/api/v1/jobs/apps/{server_id}")
    assert (app["name"], app["shared"], app["active"]) == ("iot-platform:connect-server", True, True)
    assert run["run_id"] not in {r["run_id"] for r in app["runs"]}, "a finished run is not executing on the server"
    shared = [app for app in get_json(api, "/api/v1/jobs/apps") if app["shared"]]
    assert [app["app_id"] for app in shared] == [server_id]

    rows = get_json(
        api,
        "/api/v1/stats/hourly",
        sensor_type="temperature",
        start=hour.isoformat(),
        end=(hour + HOUR).isoformat(),
        limit=10_000,
    )
    ours = {row["sensor_id"]: row for row in rows if row["sensor_id"].startswith(prefix)}
    assert set(ours) == set(values)
    for sensor_id, sensor_values in values.items():
        row = ours[sensor_id]
        assert dt.datetime.fromisoformat(row["window_start"]) == hour
        assert row["reading_count"] == len(sensor_values)
        assert math.isclose(row["avg_value"], sum(sensor_values) / len(sensor_values))
        assert (row["min_value"], row["max_value"]) == (min(sensor_values), max(sensor_values))

    first = api.get("/api/v1/stats/hourly", params={"sensor_id": f"{prefix}-0", "limit": 1})
    assert first.status_code == 200 and len(first.json()) == 1
    assert "X-Next-Cursor" not in first.headers, "one sensor has one row for the hour"
    page = api.get(
        "/api/v1/stats/hourly", params={"start": hour.isoformat(), "end": (hour + HOUR).isoformat(), "limit": 1}
    )
    assert page.status_code == 200 and "X-Next-Cursor" in page.headers
    rest = get_json(
        api,
        "/api/v1/stats/hourly",
        start=hour.isoformat(),
        end=(hour + HOUR).isoformat(),
        limit=10_000,
        cursor=page.headers["X-Next-Cursor"],
    )
    paged = [(r["window_start"], r["sensor_id"]) for r in page.json() + rest]
    whole = get_json(api, "/api/v1/stats/hourly", start=hour.isoformat(), end=(hour + HOUR).isoformat(), limit=10_000)
    assert paged == [(r["window_start"], r["sensor_id"]) for r in whole]


# --- sensor monitoring: the registry's sensors with live readings ---------------------------------------------
def test_sensors_list_the_registrys_sensors_with_their_live_readings(api: TestClient, stack_settings: Settings) -> None:
    """Readings of every registry sensor (and of one unregistered sensor) from half a minute ago, ingested by a
    run: the sensors list shows the twelve registry sensors first, each with its readings of the last hour and
    the time of its latest one, then the unregistered one as unknown."""
    registry = load_registry(stack_settings.sensor_registry)
    now = dt.datetime.now(dt.UTC)
    stranger = f"{unique_prefix()}-X"
    times = [now - dt.timedelta(seconds=30), now - dt.timedelta(seconds=20)]
    middle = {name: (spec.threshold_min + spec.threshold_max) / 2 for name, spec in registry.types.items()}
    records = [
        reading(sensor.id, at, middle[sensor.type] + i / 10, sensor.type)
        for sensor in registry.sensors
        for i, at in enumerate(times)
    ]
    produce(stack_settings, [*records, reading(stranger, times[-1], 21.0)])
    run_partition(api, stack_settings, partition_key(now - HOUR))  # ingests everything new first

    sensors = get_json(api, "/api/v1/sensors")
    assert len(registry.sensors) == 12
    assert [s["sensor_id"] for s in sensors[:12]] == [sensor.id for sensor in registry.sensors]
    for sensor, entry in zip(sensors[:12], registry.sensors, strict=True):
        assert (sensor["sensor_type"], sensor["location"]) == (entry.type, entry.location)
        assert sensor["unit"] == registry.types[entry.type].unit
        assert sensor["readings_last_hour"] >= 2, sensor
        assert dt.datetime.fromisoformat(sensor["last_reading_at"]) >= times[-1].replace(microsecond=0), sensor
        assert sensor["status"] in {"ok", "alerting", "silent"}, sensor
    unknown = {s["sensor_id"]: s for s in sensors[12:]}
    assert unknown[stranger]["status"] == "unknown" and unknown[stranger]["readings_last_hour"] == 1

    one = get_json(api, f"/api/v1/sensors/{registry.sensors[0].id}")
    assert one["rules"]["threshold_max"] == registry.types[registry.sensors[0].type].threshold_max
    assert api.get(f"/api/v1/sensors/{unique_prefix()}-NONE").status_code == 404
    alerts = api.get("/api/v1/alerts", params={"state": "open", "limit": 10})
    assert alerts.status_code == 200 and isinstance(alerts.json(), list)


# --- a range: one backfill over every hour ---------------------------------------------------------------------
def test_a_submitted_range_is_backfilled_over_every_hour(api: TestClient, stack_settings: Settings) -> None:
    prefix, first = unique_prefix(), BASE_HOUR + 2 * HOUR
    hours = [first + i * HOUR for i in range(3)]
    values = {hour: produce_hour(stack_settings, f"{prefix}H{i}", hour, sensors=1) for i, hour in enumerate(hours)}
    keys = [partition_key(hour) for hour in hours]

    response = api.post(
        "/api/v1/jobs/submit",
        json={"job": "hourly_stats", "start": keys[0], "end": keys[-1]},
        headers=auth(stack_settings),
    )
    assert response.status_code == 202, response.text
    backfill_id = response.json()["backfill_id"]
    assert backfill_id and response.json()["run_id"] is None

    finished = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
    backfill = poll(
        f"backfill {backfill_id} finished",
        lambda: get_json(api, f"/api/v1/jobs/backfills/{backfill_id}"),
        lambda b: b["status"] in finished and b["runs"] and all(r["status"] in FINISHED for r in b["runs"]),
    )
    assert backfill["status"] in {"COMPLETED", "COMPLETED_SUCCESS"}, backfill
    assert backfill["partitions"] == keys
    assert all(run["status"] == "SUCCESS" and run["backfill_id"] == backfill_id for run in backfill["runs"])
    assert {run["spark_app_id"] for run in backfill["runs"]} == {connect_server_app_id(stack_settings)}
    covered: set[str] = set()
    for run in backfill["runs"]:
        if run["partition"]:
            covered.add(run["partition"])
        else:
            start, end = (
                dt.datetime.strptime(run["start"], "%Y-%m-%d-%H:%M"),
                dt.datetime.strptime(run["end"], "%Y-%m-%d-%H:%M"),
            )
            covered |= {
                partition_key((start + i * HOUR).replace(tzinfo=dt.UTC)) for i in range(int((end - start) / HOUR) + 1)
            }
    assert covered == set(keys)

    rows = get_json(
        api, "/api/v1/stats/hourly", start=hours[0].isoformat(), end=(hours[-1] + HOUR).isoformat(), limit=10_000
    )
    ours = [row for row in rows if row["sensor_id"].startswith(prefix)]
    assert [dt.datetime.fromisoformat(row["window_start"]) for row in ours] == hours
    for row, hour in zip(ours, hours, strict=True):
        assert row["reading_count"] == len(values[hour][row["sensor_id"]])


# --- fuzz on the real stack ------------------------------------------------------------------------------------
class RecordingDagster:
    """The real Dagster client, remembering every run and backfill the fuzz launches so they can be stopped."""

    def __init__(self, real: GraphQLDagsterClient) -> None:
        self.real = real
        self.run_ids: list[str] = []
        self.backfill_ids: list[str] = []

    @property
    def web_url(self) -> str:
        return self.real.web_url

    def status(self) -> DagsterStatus:
        return self.real.status()

    def submit_partition(self, job_name: str, partition: str, tags: Mapping[str, str]) -> str:
        run_id = self.real.submit_partition(job_name, partition, tags)
        self.run_ids.append(run_id)
        return run_id

    def launch_backfill(self, job_name: str, partitions: Sequence[str], tags: Mapping[str, str]) -> str:
        backfill_id = self.real.launch_backfill(job_name, partitions, tags)
        self.backfill_ids.append(backfill_id)
        return backfill_id

    def run(self, run_id: str) -> RunInfo:
        return self.real.run(run_id)

    def in_progress_runs(self) -> tuple[RunInfo, ...]:
        return self.real.in_progress_runs()

    def terminate_run(self, run_id: str) -> RunInfo:
        return self.real.terminate_run(run_id)

    def backfill(self, backfill_id: str) -> BackfillInfo:
        return self.real.backfill(backfill_id)

    def cancel_backfill(self, backfill_id: str) -> BackfillInfo:
        return self.real.cancel_backfill(backfill_id)

    def stop_everything(self) -> None:
        for backfill_id in self.backfill_ids:
            if not self.real.backfill(backfill_id).finished:
                self.real.cancel_backfill(backfill_id)
        for run_id in self.run_ids:
            self.terminate_when_possible(run_id)

    def terminate_when_possible(self, run_id: str, timeout_s: float = 120.0) -> None:
        """Terminate the run unless it has ended; a run still STARTING cannot be terminated yet, so try again."""
        deadline = time.monotonic() + timeout_s
        while not self.real.run(run_id).finished:
            try:
                self.real.terminate_run(run_id)
                return
            except Conflict:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)


def dependency_really_down(service: str, settings: Settings) -> bool:
    """Probe the engine a 503 named, directly."""
    try:
        if service.startswith("Dagster"):
            GraphQLDagsterClient(settings.dagster_web_url).status()
        elif service.startswith("Spark master"):
            HttpSparkMasterClient(settings.master_web_url).cluster_state()
        else:
            return False
    except ServiceUnavailable:
        return True
    return False


def test_fuzzing_the_schema_on_the_real_stack_gives_no_server_error(stack_settings: Settings) -> None:
    """Schema-valid and schema-violating requests to every operation, answered by the real engines. Whatever the
    fuzz manages to launch (a valid partition, a valid range) is stopped afterwards."""
    dagster = RecordingDagster(GraphQLDagsterClient(stack_settings.dagster_web_url))
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(stack_settings, dagster=dagster))
    cases = st.one_of(schema.as_strategy(GenerationMode.POSITIVE), schema.as_strategy(GenerationMode.NEGATIVE))
    seen: set[str] = set()

    @given(case=cases)
    @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def no_server_error(case: schemathesis.Case) -> None:
        seen.add(f"{case.method} {case.path}")
        response = case.call(headers=auth(stack_settings))
        where = f"{case.method} {case.formatted_path}"
        if response.status_code == 503:
            detail = response.json()["detail"]
            assert dependency_really_down(detail, stack_settings), f"{where}: 503 while every engine answers: {detail}"
        else:
            assert response.status_code < 500, f"{where}: {response.status_code} {response.text[:300]}"
        case.validate_response(
            response,
            checks=[
                status_code_conformance,
                content_type_conformance,
                response_schema_conformance,
                negative_data_rejection,
            ],
        )

    try:
        no_server_error()
    finally:
        dagster.stop_everything()
        dagster.real.close()
    assert len(seen) >= 10, f"the fuzz reached only {sorted(seen)}"


# --- stop: DELETE an application no run owns ------------------------------------------------------------------
@contextmanager
def adhoc_session(settings: Settings, name: str, cores: int) -> Iterator[SparkSession]:
    """A Spark application of this test process on the stack's master, holding ``cores`` cores, stopped after.

    It carries the platform's settings (jars, catalog) too: the first session fixes the JVM's classpath for the
    whole test process, and later tests run the platform's Spark jobs in it.
    """
    from iot_platform.clients.spark import spark_session

    extra = {"spark.cores.max": str(cores), "spark.executor.cores": str(cores), "spark.executor.memory": "512m"}
    with spark_session(settings, name, extra) as session:
        yield session


def test_deleting_an_application_no_run_owns_kills_it_at_the_master(api: TestClient, stack_settings: Settings) -> None:
    name = f"adhoc-{uuid.uuid4().hex[:8]}"
    with adhoc_session(stack_settings, name, cores=1) as session:
        app_id = session.sparkContext.applicationId
        listed = poll(
            f"application {name} listed",
            lambda: get_json(api, "/api/v1/jobs/apps"),
            lambda apps: any(app["app_id"] == app_id for app in apps),
            60,
        )
        app = next(app for app in listed if app["app_id"] == app_id)
        assert (app["name"], app["dagster_run_id"], app["active"]) == (name, None, True)

        response = api.delete(f"/api/v1/jobs/apps/{app_id}", headers=auth(stack_settings))
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["action"], body["dagster_run_id"]) == ("application_killed", None)
        assert body["state"] in {"KILLED", "FINISHED"}
        assert app_id not in {app["app_id"] for app in get_json(api, "/api/v1/jobs/apps")}
        assert get_json(api, f"/api/v1/jobs/apps/{app_id}")["active"] is False
        again = api.delete(f"/api/v1/jobs/apps/{app_id}", headers=auth(stack_settings))
        assert again.status_code == 409


# --- the shared Spark Connect server ---------------------------------------------------------------------------
@contextmanager
def server_session(settings: Settings) -> Iterator[SparkSession]:
    """A session of the stack's Spark Connect server for this test process, released afterwards."""
    from iot_platform.clients.spark import connect_session

    with connect_session(settings.connect_url) as session:
        yield session


def connect_server_app_id(settings: Settings) -> str:
    """The application id the Spark Connect server gives itself."""
    from iot_platform.clients.spark import application_id

    with server_session(settings) as session:
        return application_id(session)


@contextmanager
def every_server_core_busy(settings: Settings) -> Iterator[threading.Thread]:
    """A query of this test holding every executor core the server may have (tasks that sleep), so the next
    run's first Spark job waits in the server's queue; interrupted on leaving. Yields the thread running it,
    alive while the query runs."""
    from pyspark.sql.functions import udf

    tasks = settings.spark_connect_max_executors
    with server_session(settings) as session:
        nap = udf(lambda _: __import__("time").sleep(600) or 0, "int")
        query = session.range(0, tasks, 1, tasks).select(nap("id").alias("n"))
        errors: list[BaseException] = []

        def hold() -> None:
            try:
                query.collect()
            except Exception as exc:  # noqa: BLE001 - the interrupt below ends it; anything else fails the test
                errors.append(exc)

        holder = threading.Thread(target=hold, name="server-cores-holder", daemon=True)
        holder.start()
        try:
            yield holder
        finally:
            session.interruptAll()
            holder.join(60)
    assert errors, "the holding query ended on its own"
    assert any(word in str(errors[0]).lower() for word in ("cancel", "interrupt")), errors


def test_the_server_lists_the_run_it_executes_refuses_delete_and_a_terminated_run_stops_alone(
    api: TestClient, stack_settings: Settings
) -> None:
    """A run waits on the server behind a query that holds every core; the API shows it on the shared server,
    refuses to stop the server (naming the run) and terminates the run alone: the server and the other query
    keep running."""
    prefix, hour = unique_prefix(), BASE_HOUR + 6 * HOUR
    produce_hour(stack_settings, prefix, hour)
    server_id = connect_server_app_id(stack_settings)
    with every_server_core_busy(stack_settings) as holder:
        response = api.post(
            "/api/v1/jobs/submit",
            json={"job": "hourly_stats", "partition": partition_key(hour)},
            headers=auth(stack_settings),
        )
        assert response.status_code == 202, response.text
        run_id = response.json()["run_id"]

        def on_server(run: dict[str, Any]) -> bool:
            if run["status"] in FINISHED:
                pytest.fail(f"run {run_id} ended ({run['status']}) before it was seen on the server")
            return bool(run["spark_app_id"])

        run = poll(f"run {run_id} on the server", lambda: get_json(api, f"/api/v1/jobs/runs/{run_id}"), on_server)
        assert run["spark_app_id"] == server_id
        server = get_json(api, f"/api/v1/jobs/apps/{server_id}")
        assert (server["shared"], server["active"], server["dagster_run_id"]) == (True, True, None)
        ours = [r for r in server["runs"] if r["run_id"] == run_id]
        assert len(ours) == 1 and (ours[0]["job_name"], ours[0]["partition"]) == (
            "hourly_stats_job",
            partition_key(hour),
        )
        assert ours[0]["since"] is not None

        refused = api.delete(f"/api/v1/jobs/apps/{server_id}", headers=auth(stack_settings))
        assert refused.status_code == 409, refused.text
        detail = refused.json()["detail"]
        assert "shared Spark Connect server" in detail and run_id in detail
        assert "DELETE /api/v1/jobs/runs/" in detail
        assert get_json(api, f"/api/v1/jobs/apps/{server_id}")["active"] is True

        response = api.delete(f"/api/v1/jobs/runs/{run_id}", headers=auth(stack_settings))
        assert response.status_code == 202, response.text
        run = poll(
            f"run {run_id} CANCELED",
            lambda: get_json(api, f"/api/v1/jobs/runs/{run_id}"),
            lambda r: r["status"] in FINISHED,
        )
        assert run["status"] == "CANCELED", run
        assert holder.is_alive(), "terminating the run interrupted only its own operations"
        server = poll(
            f"run {run_id} gone from the server's runs",
            lambda: get_json(api, f"/api/v1/jobs/apps/{server_id}"),
            lambda app: run_id not in {r["run_id"] for r in app["runs"]},
            30,
        )
        assert (server["active"], server["shared"]) == (True, True)
    assert connect_server_app_id(stack_settings) == server_id, "the server kept running"
