"""The warm Spark server on the real stack: every run works on one Spark Connect server; terminating a run stops
exactly its work; a dead server fails the next run at once, naming it, and `stack up` brings it back. A run's
process is a fork of the code server's preloaded process."""

from __future__ import annotations

import datetime as dt
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from iot_platform import tables
from iot_platform.clients.dagster import GraphQLDagsterClient
from iot_platform.clients.iceberg import load_catalog
from iot_platform.clients.spark import CONNECT_SERVER_APP_NAME, application_id, connect_session
from iot_platform.clients.spark_master import HttpSparkMasterClient
from iot_platform.jobs import INGEST_JOB
from iot_platform.pipelines.sensor_readings.plan import committed_offsets
from iot_platform.run_workers import PRELOAD_MODULE
from iot_platform.runs import SPARK_APP_TAG, SPARK_MODE_TAG, SPARK_SESSION_TAG
from iot_platform.settings import Settings
from iot_platform.stack.process import process_stats
from iot_platform.stack.stack import Stack
from iot_platform_tests.integration.pipeline_support import (
    materialization_metadata,
    own_topic,
    produce,
    reading,
    run_job,
    utc,
)

pytestmark = pytest.mark.integration


def server_app_id(settings: Settings) -> str:
    with connect_session(settings.connect_url) as session:
        return application_id(session)


def readings_of(settings: Settings, prefix: str, count: int, start: dt.datetime) -> list[dict[str, Any]]:
    """``count`` valid readings of 10 sensors named ``prefix``-N, one a second from ``start``."""
    return [reading(f"{prefix}-{i % 10}", start + dt.timedelta(seconds=i), float(i % 50)) for i in range(count)]


def stored_count(settings: Settings, prefix: str) -> int:
    table = load_catalog(settings).load_table(tables.SENSOR_READINGS)
    return len(table.scan(row_filter=f"sensor_id LIKE '{prefix}-%'", selected_fields=("sensor_id",)).to_arrow())


def poll(what: str, fetch: Callable[[], Any], done: Callable[[Any], bool], timeout_s: float = 120.0) -> Any:
    """Call ``fetch`` every 0.2 s until ``done(result)``; fail naming ``what`` and the last result."""
    deadline = time.monotonic() + timeout_s
    result = fetch()
    while not done(result):
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not reached within {timeout_s:.0f}s; last: {result}")
        time.sleep(0.2)
        result = fetch()
    return result


def session_of(dagster: GraphQLDagsterClient, run_id: str) -> str | None:
    """The run's Connect session id, once its Spark session is open."""
    return dagster.run(run_id).tags.get(SPARK_SESSION_TAG)


STOPPED_MARKERS = ("Asked to cancel jobs with tag", "Closing session with userId")
"""Server log lines that stop a session's work: Spark canceling the jobs tagged with the session (an interrupt),
or the server closing the session (which interrupts and removes every execution of it)."""


def canceled_sessions(settings: Settings) -> str:
    """The server's log lines where a session's work is stopped."""
    log = Stack(settings).service("spark-connect").log_file.read_text(errors="replace")
    return "\n".join(line for line in log.splitlines() if any(marker in line for marker in STOPPED_MARKERS))


def processes_in_group(group: int) -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every live process of the process group ``group``."""
    found = {}
    for pid, fields in process_stats():
        if fields[0] == "Z" or int(fields[2]) != group:
            continue
        try:
            command = Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
        except OSError:  # exited meanwhile
            continue
        found[pid] = (int(fields[1]), command)
    return found


def run_workers_of_code_server(settings: Settings) -> tuple[list[int], list[int]]:
    """The code server's fork servers preloading the platform, and the processes forked from them (its runs)."""
    record = Stack(settings).service("dagster-code").record()
    assert record is not None
    processes = processes_in_group(record.pid)
    preloading = {
        pid for pid, (_, command) in processes.items() if "forkserver" in command and PRELOAD_MODULE in command
    }
    # A fork has its server's command line; the server's parent is the code server.
    servers = [pid for pid in preloading if processes[pid][0] not in preloading]
    forks = [pid for pid in preloading if processes[pid][0] in servers]
    spawned = [command for _, command in processes.values() if "multiprocessing.spawn" in command]
    assert not spawned, f"runs started as new processes: {spawned}"
    return servers, forks


def test_consecutive_runs_share_one_server_and_one_application(stack_settings: Settings) -> None:
    server = server_app_id(stack_settings)
    instance = dg.DagsterInstance.ephemeral()
    with own_topic(stack_settings, "warm-share") as settings:
        produce(settings, readings_of(settings, "WARM-A", 20, utc(2025, 3, 1, 10)))
        first = run_job(INGEST_JOB, instance)
        produce(settings, readings_of(settings, "WARM-A", 30, utc(2025, 3, 1, 11)))
        second = run_job(INGEST_JOB, instance)

    assert first.success and second.success
    tags = [instance.get_run_by_id(result.run_id).tags for result in (first, second)]  # type: ignore[union-attr]
    assert [t[SPARK_APP_TAG] for t in tags] == [server, server]
    assert [t[SPARK_MODE_TAG] for t in tags] == ["connect", "connect"]
    assert materialization_metadata(second, "sensor_readings")["spark_app_id"] == server
    with HttpSparkMasterClient(stack_settings.master_web_url) as master:
        active = master.cluster_state().active_apps
    assert [(app.id, app.name) for app in active] == [(server, CONNECT_SERVER_APP_NAME)]
    assert stored_count(stack_settings, "WARM-A") == 50


def test_terminating_a_run_mid_query_interrupts_only_its_work_and_the_next_run_is_exact(
    stack_settings: Settings,
) -> None:
    server = server_app_id(stack_settings)
    records = 1_500_000
    with own_topic(stack_settings, "warm-terminate") as settings:
        produce(settings, readings_of(settings, "WARM-T", records, utc(2025, 3, 2)))
        dagster = GraphQLDagsterClient(settings.dagster_web_url)
        kafka = {"bootstrap_servers": settings.bootstrap_servers, "topic": settings.kafka_topic}
        run_config = {"resources": {"kafka": {"config": kafka}}}
        run_id = str(dagster._official_client().submit_job_execution(INGEST_JOB, run_config=run_config))

        bystander: dict[str, Any] = {}
        bystander_session = str(uuid.uuid4())

        def other_work() -> None:  # another session's query, running while the run is terminated
            with connect_session(settings.connect_url, session_id=bystander_session) as session:
                bystander["sum"] = session.range(0, 30_000_000, numPartitions=4).selectExpr("sum(id)").first()[0]

        session_id = poll(f"run {run_id}'s Spark session", lambda: session_of(dagster, run_id), bool)
        servers, forks = run_workers_of_code_server(settings)
        assert len(servers) == 1 and len(forks) == 1, (servers, forks)  # the run works in a fork of the preload
        worker = threading.Thread(target=other_work)
        worker.start()
        time.sleep(3)  # the run is reading its backlog
        dagster.terminate_run(run_id)
        run = poll(f"run {run_id} canceled", lambda: dagster.run(run_id), lambda r: r.finished, 60)
        assert run.status == "CANCELED"
        # The server stopped the work of the run's session (its log says so), and only that session's.
        poll(
            f"the server canceling session {session_id}",
            lambda: canceled_sessions(settings),
            lambda log: session_id in log,
            30,
        )
        worker.join(120)
        assert bystander.get("sum") == 30_000_000 * 29_999_999 // 2, "the other session's query was disturbed"
        assert f"Session_{bystander_session}_" not in canceled_sessions(settings), "the other session was canceled"
        table = load_catalog(settings).load_table(tables.SENSOR_READINGS)
        assert not committed_offsets(table, settings.kafka_topic)[0], "the terminated run committed"

        again = run_job(INGEST_JOB, dg.DagsterInstance.ephemeral())
    assert again.success
    assert materialization_metadata(again, "sensor_readings")["spark_app_id"] == server
    assert stored_count(stack_settings, "WARM-T") == records


def test_a_dead_server_fails_the_next_run_within_seconds_naming_it_and_stack_up_restores_it(
    stack_settings: Settings,
) -> None:
    stack = Stack(stack_settings)
    service = stack.service("spark-connect")
    record = service.record()
    assert record is not None
    try:
        os.killpg(record.pid, signal.SIGKILL)
        poll("the server process gone", service.running, lambda running: not running, 30)
        with own_topic(stack_settings, "warm-dead") as settings:
            produce(settings, readings_of(settings, "WARM-D", 10, utc(2025, 3, 3)))
            began = time.monotonic()
            failed = run_job(INGEST_JOB, dg.DagsterInstance.ephemeral())
            seconds = time.monotonic() - began
            assert not failed.success
            message = failed.get_step_failure_events()[0].event_specific_data.error.to_string()  # type: ignore[union-attr]
            assert stack_settings.connect_url in message and "`iot-platform stack up`" in message, message
            assert seconds < 20, f"the run took {seconds:.1f}s to fail"

            stack.up(only=["spark-connect"])
            restored = run_job(INGEST_JOB, dg.DagsterInstance.ephemeral())
        assert restored.success
        assert stored_count(stack_settings, "WARM-D") == 10
    finally:
        stack.up(only=["spark-connect"])
