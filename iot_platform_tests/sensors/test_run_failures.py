"""The run-failure sensor on real failed runs: the reason lands in the run's event log and on the webhook."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from dagster import (
    DagsterEventType,
    DagsterInstance,
    Failure,
    build_run_status_sensor_context,
    instance_for_test,
    job,
    op,
)

from iot_platform.sensors.run_failures import SENSOR_NAME, build_run_failure_sensor
from iot_platform.settings import Settings, load_settings
from iot_platform_tests.clients.webhook_receiver import WebhookReceiver

REASON = "Spark master spark://127.0.0.1:7077 is unreachable (connection refused)"


@op
def probe_master() -> None:
    raise Failure(description=REASON)


@job
def spark_probe_job() -> None:
    probe_master()


@pytest.fixture
def instance() -> Iterator[DagsterInstance]:
    with instance_for_test() as test_instance:
        yield test_instance


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    hook = WebhookReceiver()
    yield hook
    hook.close()


def fail_and_sense(instance: DagsterInstance, settings: Settings) -> str:
    result = spark_probe_job.execute_in_process(
        instance=instance, raise_on_error=False, tags={"dagster/partition": "2026-11-24-10:00"}
    )
    assert not result.success
    context = build_run_status_sensor_context(
        sensor_name=SENSOR_NAME,
        dagster_event=result.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=result.dagster_run,
    )
    build_run_failure_sensor(settings)(context)
    return result.run_id


def engine_messages(instance: DagsterInstance, run_id: str) -> list[str]:
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.ENGINE_EVENT).records
    return [
        record.event_log_entry.dagster_event.message or "" for record in records if record.event_log_entry.dagster_event
    ]


def test_failure_reason_is_written_into_the_runs_event_log(instance: DagsterInstance) -> None:
    run_id = fail_and_sense(instance, load_settings())
    reports = [message for message in engine_messages(instance, run_id) if "failed [" in message]
    assert len(reports) == 1
    assert REASON in reports[0]
    assert "spark_probe_job" in reports[0] and "2026-11-24-10:00" in reports[0]


def test_failure_is_posted_to_the_webhook(instance: DagsterInstance, webhook: WebhookReceiver) -> None:
    run_id = fail_and_sense(
        instance, load_settings(run_failure_webhook_url=webhook.url, dagster_url="http://dagster.test")
    )
    assert len(webhook.requests) == 1
    posted = webhook.requests[0].body
    assert (posted["run_id"], posted["job_name"], posted["partition"]) == (
        run_id,
        "spark_probe_job",
        "2026-11-24-10:00",
    )
    assert posted["reason"] == REASON
    assert posted["steps"] == [{"step_key": "probe_master", "error": REASON}]
    assert posted["run_url"] == f"http://dagster.test/runs/{run_id}"
    assert REASON in posted["text"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_webhook_never_fails_the_sensor_and_is_noted_on_the_run(instance: DagsterInstance) -> None:
    url = f"http://127.0.0.1:{free_port()}/hooks/secret-token"
    run_id = fail_and_sense(instance, load_settings(run_failure_webhook_url=url))
    notes = [message for message in engine_messages(instance, run_id) if "Could not deliver" in message]
    assert len(notes) == 1
    assert "127.0.0.1" in notes[0] and "secret-token" not in notes[0]


def test_webhook_error_status_is_noted_on_the_run(instance: DagsterInstance, webhook: WebhookReceiver) -> None:
    webhook.fail_always(500)
    run_id = fail_and_sense(instance, load_settings(run_failure_webhook_url=webhook.url))
    assert len(webhook.requests) == 1  # a run-failure report is posted once: the run's event log has it anyway
    assert any("HTTP 500" in message for message in engine_messages(instance, run_id))
