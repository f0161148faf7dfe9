"""``platform_run_failures``: every failed platform run gets its reason written where operators look.

The reason (the failing steps' errors, or the run-level error when no step ran) is added to the failed run's own
event log as an engine event, and, when ``IOT_RUN_FAILURE_WEBHOOK_URL`` is set, posted there as JSON (with a
``text`` field, so Slack- and Mattermost-style incoming webhooks show it as is). A webhook that is down never
fails the sensor: the delivery failure is written to the run's event log instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dagster import (
    DagsterEvent,
    DagsterRun,
    DefaultSensorStatus,
    RunFailureSensorContext,
    SensorDefinition,
    run_failure_sensor,
)
from dagster._core.events import EngineEventData, JobFailureData
from dagster._core.execution.plan.objects import StepFailureData

from iot_platform.clients.webhook import post_json, redacted
from iot_platform.settings import Settings

SENSOR_NAME = "platform_run_failures"
WEBHOOK_TIMEOUT_S = 5.0
PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


@dataclass(frozen=True)
class StepError:
    """Why one step failed."""

    step_key: str
    message: str


@dataclass(frozen=True)
class RunFailureReport:
    """A failed run, summed up for people: which job, which partition, and why."""

    run_id: str
    job_name: str
    partition: str | None
    failure_reason: str
    """Dagster's classification: STEP_FAILURE, RUN_EXCEPTION, UNEXPECTED_TERMINATION, ..."""
    reason: str
    """The first failing step's error, else the run's error, else Dagster's failure message."""
    step_errors: tuple[StepError, ...]
    run_url: str

    @property
    def summary(self) -> str:
        where = f" (partition {self.partition})" if self.partition else ""
        return f"Run {self.run_id} of {self.job_name}{where} failed [{self.failure_reason}]: {self.reason}"

    def metadata(self) -> dict[str, Any]:
        return {
            "job_name": self.job_name,
            "partition": self.partition or "",
            "failure_reason": self.failure_reason,
            "reason": self.reason,
            "failed_steps": ", ".join(error.step_key for error in self.step_errors) or "none",
            "run_url": self.run_url,
        }

    def payload(self) -> dict[str, Any]:
        """The webhook's JSON body."""
        return {
            "event": "dagster_run_failed",
            "text": f"{self.summary}\n{self.run_url}",
            "run_id": self.run_id,
            "job_name": self.job_name,
            "partition": self.partition,
            "failure_reason": self.failure_reason,
            "reason": self.reason,
            "steps": [{"step_key": error.step_key, "error": error.message} for error in self.step_errors],
            "run_url": self.run_url,
        }


def _step_error(event: DagsterEvent) -> StepError:
    data = event.event_specific_data
    message = event.message or "step failed"
    if isinstance(data, StepFailureData):
        if data.user_failure_data is not None and data.user_failure_data.description:
            message = data.user_failure_data.description
        elif data.error is not None:
            message = data.error.message.strip()
    return StepError(step_key=event.step_key or "?", message=message)


def _partition(run: DagsterRun) -> str | None:
    if PARTITION_TAG in run.tags:
        return run.tags[PARTITION_TAG]
    if RANGE_START_TAG in run.tags:
        return f"{run.tags[RANGE_START_TAG]}...{run.tags.get(RANGE_END_TAG, '?')}"
    return None


def failure_report(
    run: DagsterRun, failure_event: DagsterEvent, step_failures: Sequence[DagsterEvent], dagster_url: str
) -> RunFailureReport:
    """Sum up a failed run from its run-failure event and its step-failure events.

    Args:
        run: The failed run.
        failure_event: Its RUN_FAILURE event.
        step_failures: Its STEP_FAILURE events (none when the run failed before or outside a step).
        dagster_url: The Dagster webserver's base URL, for the link to the run.

    Returns:
        The report.
    """
    steps = tuple(_step_error(event) for event in step_failures)
    data = failure_event.event_specific_data
    failure_reason = "UNKNOWN"
    run_error = None
    if isinstance(data, JobFailureData):
        if data.failure_reason is not None:
            failure_reason = data.failure_reason.value
        if data.error is not None:
            run_error = data.error.message.strip()
    reason = steps[0].message if steps else run_error or failure_event.message or "no reason recorded"
    return RunFailureReport(
        run_id=run.run_id,
        job_name=run.job_name,
        partition=_partition(run),
        failure_reason=failure_reason,
        reason=reason,
        step_errors=steps,
        run_url=f"{dagster_url.rstrip('/')}/runs/{run.run_id}",
    )


def post_webhook(url: str, report: RunFailureReport, timeout_s: float = WEBHOOK_TIMEOUT_S) -> str | None:
    """POST the report to the webhook, once (the failure is in the run's event log whatever happens).

    Args:
        url: The webhook URL.
        report: The failed run's report.
        timeout_s: Limit of the whole request.

    Returns:
        ``None`` when delivered (2xx), else a one-line reason that names the host but not the secret path.
    """
    delivery = post_json(url, report.payload(), timeout_s=timeout_s)
    return None if delivery.delivered else f"run-failure webhook {redacted(url)} {delivery.error}"


def build_run_failure_sensor(settings: Settings) -> SensorDefinition:
    """The ``platform_run_failures`` sensor over every job of the code location.

    Args:
        settings: The optional webhook URL and the Dagster URL used in links.

    Returns:
        A run-failure sensor, running by default.
    """
    webhook_url = settings.run_failure_webhook_url
    dagster_url = settings.dagster_web_url

    @run_failure_sensor(
        name=SENSOR_NAME,
        default_status=DefaultSensorStatus.RUNNING,
        description=(
            "Writes the reason of every failed platform run into that run's event log"
            + (" and posts it to the run-failure webhook." if webhook_url else ".")
        ),
    )
    def platform_run_failures(context: RunFailureSensorContext) -> None:
        report = failure_report(
            context.dagster_run, context.failure_event, context.get_step_failure_events(), dagster_url
        )
        context.log.warning(report.summary)
        context.instance.report_engine_event(
            report.summary,
            dagster_run=context.dagster_run,
            engine_event_data=EngineEventData(metadata=report.metadata()),
        )
        if not webhook_url:
            return
        problem = post_webhook(webhook_url, report)
        if problem is None:
            context.log.info(f"Run {report.run_id}: failure posted to the webhook {redacted(webhook_url)}")
            return
        context.log.warning(f"Run {report.run_id}: {problem}")
        context.instance.report_engine_event(
            f"Could not deliver this failure report: {problem}", dagster_run=context.dagster_run
        )

    return platform_run_failures
