"""Request and response bodies of the REST API (contract section 5). Memory figures are MiB."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from iot_platform.api.validation import KEY_EXAMPLE, KEY_SCHEMA_PATTERN

RANGE = ("2026-11-24-00:00", "2026-11-24-05:00")
"""An example range of partitions."""


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer: one line saying what went wrong and what to do next."""

    detail: str = Field(description="What went wrong and what to do next.")


class ValidationIssue(BaseModel):
    """One problem with the request, as FastAPI/pydantic found it."""

    loc: list[str | int] = Field(description="Where: e.g. ['body', 'partition'] or ['query', 'limit'].")
    msg: str
    type: str


class ValidationErrorBody(ErrorBody):
    """A request that does not match the schema (HTTP 422)."""

    errors: list[ValidationIssue] = Field(default_factory=list)


# --- health ------------------------------------------------------------------------------------------------
class Health(BaseModel):
    """The API process is up."""

    status: Literal["ok"] = "ok"


class DependencyCheck(BaseModel):
    """Whether one engine the API needs answered."""

    ok: bool
    detail: str | None = Field(
        default=None, description="The engine's version and URL, or why it is down; only for callers with the token."
    )


class Readiness(BaseModel):
    """Whether Dagster and the Spark master answer; HTTP 503 names what is down."""

    status: Literal["ready", "not ready"]
    detail: str
    checks: dict[str, DependencyCheck]


# --- cluster -----------------------------------------------------------------------------------------------
class ClusterStatus(BaseModel):
    """The Spark master's totals (over alive workers)."""

    status: str = Field(description="The master's status: ALIVE, STANDBY, RECOVERING or COMPLETING_RECOVERY.")
    total_cores: int
    used_cores: int
    total_memory: int = Field(description="MiB over alive workers.")
    used_memory: int = Field(description="MiB.")
    worker_count: int = Field(description="Alive workers.")
    dead_worker_count: int
    active_app_count: int
    waiting_app_count: int = Field(description="Active applications still waiting for executors.")
    master_url: str


class Worker(BaseModel):
    """One worker registered with the master."""

    id: str
    host: str
    port: int
    cores: int
    cores_used: int
    memory: int = Field(description="MiB.")
    memory_used: int = Field(description="MiB.")
    state: str = Field(description="ALIVE, DEAD, DECOMMISSIONED or UNKNOWN.")
    last_heartbeat: dt.datetime | None


# --- jobs --------------------------------------------------------------------------------------------------
class SparkAppRun(BaseModel):
    """A platform run whose Spark work is executing in the application now."""

    run_id: str
    job_name: str
    status: str = Field(description="STARTED, or CANCELING while the run's operations are being interrupted.")
    partition: str | None = Field(description="The run's partition, for single-partition runs.")
    start: str | None = Field(description="First partition, for range runs.")
    end: str | None = Field(description="Last partition, for range runs.")
    since: dt.datetime | None = Field(description="When the run's Spark session opened (its iot/spark_since tag).")


class SparkApp(BaseModel):
    """One Spark application known to the master."""

    app_id: str
    name: str
    state: str = Field(description="WAITING, RUNNING, FINISHED, FAILED, KILLED or UNKNOWN.")
    cores: int = Field(description="Cores granted now.")
    submitted_at: dt.datetime
    duration_ms: int
    active: bool
    dagster_run_id: str | None = Field(
        description="The Dagster run its name refers to; null when not the platform, and for the shared server. "
        "A name proves nothing: `runs` lists the runs that recorded this application as theirs."
    )
    shared: bool = Field(
        default=False,
        description="True for the platform's Spark Connect server (iot-platform:connect-server), which executes "
        "the Spark work of every platform run. Stop a run with DELETE /api/v1/jobs/runs/{run_id}, not the server.",
    )
    runs: list[SparkAppRun] = Field(
        default_factory=list,
        description="The platform runs whose Spark work the application is executing now (Dagster runs in "
        "progress whose iot/spark_app_id tag names it), oldest first.",
    )


class StopAppResult(BaseModel):
    """What ``DELETE /jobs/apps/{app_id}`` did."""

    success: bool
    app_id: str
    dagster_run_id: str | None
    action: Literal["run_terminated", "application_killed"] = Field(
        description="run_terminated: the owning Dagster run was asked to stop (its application stops with it); "
        "application_killed: no active run owns the application, so the master killed it (or, with force=true, "
        "the master killed the shared Spark Connect server)."
    )
    state: str = Field(description="The run's status (run_terminated) or the application's state (application_killed).")
    message: str


class JobName(StrEnum):
    """Jobs the API can launch."""

    HOURLY_STATS = "hourly_stats"


def _submit_forms(schema: dict[str, Any]) -> None:
    """Publish what :class:`SubmitRequest` accepts exactly: each selection field a key (never null), and
    ``oneOf`` the two forms, one ``partition`` or both ``start`` and ``end``."""
    for name in _SELECTION:
        field_schema = schema["properties"][name]
        field_schema.pop("anyOf", None)
        field_schema.pop("default", None)
        field_schema.update({"type": "string", "pattern": KEY_SCHEMA_PATTERN})
    schema["oneOf"] = [
        {"required": ["partition"], "not": {"anyOf": [{"required": ["start"]}, {"required": ["end"]}]}},
        {"required": ["start", "end"], "not": {"required": ["partition"]}},
    ]


_SELECTION = ("partition", "start", "end")


class SubmitRequest(BaseModel):
    """Launch a job for one partition (``partition``) or an inclusive range of partitions (``start`` and ``end``)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra=_submit_forms,
    )

    job: JobName = Field(description="The job to run; only the platform's jobs, never a script.")
    partition: str | None = Field(
        default=None,
        pattern=KEY_SCHEMA_PATTERN,
        description="One completed UTC hour, YYYY-MM-DD-HH:00.",
        examples=[KEY_EXAMPLE],
    )
    start: str | None = Field(
        default=None, pattern=KEY_SCHEMA_PATTERN, description="First hour of a range (inclusive).", examples=[RANGE[0]]
    )
    end: str | None = Field(
        default=None, pattern=KEY_SCHEMA_PATTERN, description="Last hour of a range (inclusive).", examples=[RANGE[1]]
    )

    @field_validator(*_SELECTION, mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("leave the field out instead of sending null")
        return value

    @model_validator(mode="after")
    def _one_selection(self) -> SubmitRequest:
        ranged = self.start is not None or self.end is not None
        if self.partition is not None and ranged:
            raise ValueError("give either partition, or start and end, not both")
        if self.partition is None and (self.start is None or self.end is None):
            raise ValueError("give partition, or both start and end")
        return self


class SubmitResult(BaseModel):
    """A launched run (one partition) or backfill (a range)."""

    success: bool
    run_id: str | None = Field(
        default=None, description="Set for one partition: follow it at /api/v1/jobs/runs/{run_id}."
    )
    backfill_id: str | None = Field(
        default=None, description="Set for a range: follow it at /api/v1/jobs/backfills/{id}."
    )
    partition: str | None = None
    start: str | None = None
    end: str | None = None
    existing: bool = Field(
        default=False,
        description="True when nothing was launched: the ids name the run or backfill already doing this work.",
    )
    message: str


class Run(BaseModel):
    """A Dagster run of a platform job, with the Spark application its work ran in."""

    run_id: str
    status: str = Field(description="QUEUED, NOT_STARTED, STARTING, STARTED, SUCCESS, FAILURE, CANCELING or CANCELED.")
    job_name: str
    partition: str | None = Field(description="The run's partition, for single-partition runs.")
    start: str | None = Field(description="First partition, for range runs.")
    end: str | None = Field(description="Last partition, for range runs.")
    backfill_id: str | None
    spark_app_id: str | None = Field(
        description="The Spark application the run's work ran in: the shared Spark Connect server's, or the run's own "
        "(as the run recorded it; else the application named after the run, while the master knows it)."
    )
    created_at: dt.datetime | None
    started_at: dt.datetime | None
    ended_at: dt.datetime | None


class StopRunResult(BaseModel):
    """What ``DELETE /jobs/runs/{run_id}`` did."""

    success: bool
    run_id: str
    status: str = Field(description="The run's status right after the request (CANCELING or CANCELED).")
    message: str


class Backfill(BaseModel):
    """A partition backfill and its runs."""

    backfill_id: str
    status: str = Field(
        description="REQUESTED, CANCELING, CANCELED, FAILING, FAILED, COMPLETED, COMPLETED_SUCCESS or COMPLETED_FAILED."
    )
    partitions: list[str]
    start: str | None
    end: str | None
    runs: list[Run]
    created_at: dt.datetime | None
    ended_at: dt.datetime | None
    error: str | None


# --- stats -------------------------------------------------------------------------------------------------
class HourlyStatsRow(BaseModel):
    """One row of ``iot.hourly_stats``: statistics of one sensor over one UTC hour."""

    window_start: dt.datetime
    window_end: dt.datetime
    sensor_id: str
    sensor_type: str
    location: str
    avg_value: float | None
    min_value: float | None
    max_value: float | None
    stddev_value: float | None = Field(description="Sample standard deviation; null when reading_count is 1.")
    reading_count: int
    processed_at: dt.datetime
