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


# --- sensor monitoring -------------------------------------------------------------------------------------
class AlertRow(BaseModel):
    """One alert episode of ``iot.sensor_alerts``: a rule's condition on one sensor, from start to resolution."""

    alert_id: str = Field(description="Deterministic id of the episode (hash of rule, sensor_id and started_at).")
    sensor_id: str
    sensor_type: str | None
    location: str | None
    rule: str = Field(description="threshold, stuck, silent, rate_of_change, unknown_sensor or rejected_burst.")
    severity: str = Field(description="critical, warning or info.")
    state: str = Field(description="open or resolved.")
    started_at: dt.datetime = Field(
        description="Event time of the first offending reading (silent: of the last reading before the gap)."
    )
    last_seen_at: dt.datetime = Field(description="Event time of the last offending reading.")
    resolved_at: dt.datetime | None = Field(description="When the condition cleared; null while open.")
    peak_value: float | None = Field(description="The most extreme value (or rate) involved.")
    threshold: float | None = Field(description="The limit the rule compared with.")
    readings: int = Field(description="Readings (or records) involved.")
    detail: str | None = Field(description="What happened, in words.")
    evaluated_at: dt.datetime = Field(description="When the episode was last written.")


class AlertStateFilter(StrEnum):
    """Which episodes ``GET /alerts`` returns."""

    OPEN = "open"
    RESOLVED = "resolved"
    ALL = "all"


class SensorStatus(StrEnum):
    """A sensor's condition now: ``unknown`` (not in the registry), ``silent`` (an open silent alert, or a
    registered sensor with no reading on record), ``alerting`` (any other open alert) or ``ok``."""

    OK = "ok"
    ALERTING = "alerting"
    SILENT = "silent"
    UNKNOWN = "unknown"


class Sensor(BaseModel):
    """A sensor of the registry, or one seen on the topic that the registry does not list."""

    sensor_id: str
    sensor_type: str | None = Field(description="From the registry; for an unknown sensor, as its readings say.")
    location: str | None
    unit: str | None
    status: SensorStatus
    last_reading_at: dt.datetime | None = Field(description="Event time of its latest stored reading; null: none.")
    last_value: float | None
    readings_last_hour: int = Field(description="Stored readings with an event time in the last hour.")
    open_alerts: int = Field(description="Its open alert episodes.")


class Reading(BaseModel):
    """One stored reading of a sensor, as ingested from the topic."""

    event_time: dt.datetime = Field(description="When the sensor took it (UTC).")
    value: float | None = Field(description="The raw value; null for a reading without a finite number.")
    unit: str | None
    ingested_at: dt.datetime | None = Field(description="When the platform stored it.")
    kafka_partition: int | None = Field(description="Where it was read from: the topic's partition and offset.")
    kafka_offset: int | None


class SensorRules(BaseModel):
    """The effective thresholds and rule settings of a sensor (registry defaults, type, overrides); a null limit
    means the rule is off."""

    registered: bool = Field(description="False: the type's settings, applied to a sensor the registry lacks.")
    expected_interval_s: float
    threshold_min: float | None
    threshold_max: float | None
    threshold_min_readings: int
    threshold_min_seconds: float
    threshold_hysteresis: float
    threshold_severity: str
    stuck_seconds: float | None
    stuck_epsilon: float
    stuck_severity: str
    silent_seconds: float | None
    silent_severity: str
    rate_max_per_second: float | None
    rate_severity: str
    rejected_window_seconds: float | None
    rejected_max_share: float
    rejected_min_records: int
    rejected_severity: str
    unknown_severity: str | None


class SensorDetail(Sensor):
    """A sensor with its open alerts and the rule settings that apply to it."""

    alerts: list[AlertRow] = Field(description="Its open alert episodes, newest first.")
    rules: SensorRules | None = Field(description="Null for a sensor of a type the registry does not know.")


class RecentRun(BaseModel):
    """A Dagster run of any platform job as the dashboard lists it, with a link into the Dagster UI."""

    run_id: str
    status: str = Field(description="QUEUED, NOT_STARTED, STARTING, STARTED, SUCCESS, FAILURE, CANCELING or CANCELED.")
    job_name: str
    partition: str | None = Field(description="The run's partition, for single-partition runs.")
    start: str | None = Field(description="First partition, for range runs.")
    end: str | None = Field(description="Last partition, for range runs.")
    created_at: dt.datetime | None
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    duration_s: float | None = Field(
        description="Seconds from start to end (to now while it runs); null if not started."
    )
    submitted_by_api: bool = Field(description="Launched through POST /api/v1/jobs/submit.")
    dagster_url: str = Field(description="The run's page in the Dagster UI.")


class Freshness(BaseModel):
    """How current the platform's data is, read from its Dagster runs."""

    dagster_url: str = Field(description="The Dagster UI.")
    last_ingestion: RecentRun | None = Field(description="The latest successful ingestion run.")
    ingestion_age_s: float | None = Field(description="Seconds since the latest successful ingestion ended.")
    last_hour_built: str | None = Field(
        description="The latest hour (partition key) a successful hourly_stats run built, among the recent runs."
    )
    hours_behind: int | None = Field(
        description="Complete hours after last_hour_built not yet built (0: the last complete hour is built)."
    )
    late_updates_last_day: int = Field(
        description="Successful hourly_stats runs of the last 24 hours that rebuilt an hour older than the one "
        "before their start (late readings, backfills)."
    )
    runs_in_progress: int
    runs_failed_last_day: int


class PartitionLag(BaseModel):
    """One partition of the topic: what was published, what the table holds, how many records lie between."""

    partition: int
    high_watermark: int = Field(description="The offset the next record published to the partition gets.")
    committed: int | None = Field(description="The next offset ingestion reads (null: never read).")
    lag: int = Field(description="Records published but not yet in iot.sensor_readings.")


class IngestionLag(BaseModel):
    """How far ``iot.sensor_readings`` is behind the topic, and how old its newest reading is."""

    topic: str
    lag_records: int = Field(description="Records on the topic not yet ingested, over every partition.")
    partitions: list[PartitionLag]
    committed_at: dt.datetime | None = Field(
        description="When the last ingestion committed its offsets (null: nothing ingested yet)."
    )
    newest_reading_at: dt.datetime | None = Field(description="Event time of the newest stored reading.")
    newest_reading_age_s: float | None = Field(description="Seconds from newest_reading_at to now.")


class SensorThresholds(BaseModel):
    """A registered sensor's alarm band (its own settings, else its type's)."""

    sensor_id: str
    threshold_min: float | None
    threshold_max: float | None


class SensorSparkline(BaseModel):
    """One sensor's hourly averages of the last hours (null where no row), with its alarm band."""

    sensor_id: str
    threshold_min: float | None
    threshold_max: float | None
    avg: list[float | None]


class Sparklines(BaseModel):
    """Every sensor's hourly averages from ``start``, one value per hour."""

    start: dt.datetime = Field(description="The first hour.")
    hours: int
    sensors: list[SensorSparkline]
