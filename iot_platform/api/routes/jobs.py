"""``/api/v1/jobs``: Spark applications, and the Dagster runs and backfills that do the platform's work.

Work is only ever launched as a Dagster run of a known job, so it shows up in the Dagster UI with its logs and
lineage. Every run's Spark work runs on the platform's shared Spark Connect server (or, in the ``application`` run
mode, in an application of its own): the server is listed with the runs it is executing, and stopping work means
terminating its run; stopping a run's own application stops the run that owns it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response

from iot_platform.api.cluster_cache import CachedClusterState, TimedReading
from iot_platform.api.connect_server import runs_in, shared_server_ids
from iot_platform.api.deps import (
    Authorized,
    ClusterDep,
    ConnectServerDep,
    DagsterDep,
    InProgressRunsDep,
    NowDep,
    SettingsDep,
)
from iot_platform.api.schemas import (
    Backfill,
    ErrorBody,
    JobName,
    Run,
    SparkApp,
    SparkAppRun,
    StopAppResult,
    StopRunResult,
    SubmitRequest,
    SubmitResult,
    ValidationErrorBody,
)
from iot_platform.api.submissions import (
    IDEMPOTENCY_KEY_PATTERN,
    IDEMPOTENCY_KEY_TAG,
    SUBMIT_LOCK,
    earlier_backfill,
    earlier_run,
)
from iot_platform.api.validation import validate_partition, validate_range
from iot_platform.clients.dagster import BackfillInfo, DagsterClient, RunInfo
from iot_platform.clients.spark import CONNECT_SERVER_APP_NAME
from iot_platform.clients.spark_master import ClusterState, SparkApplication
from iot_platform.errors import Conflict, NotFound
from iot_platform.runs import HOURLY_STATS_JOB, RUN_ID_PATTERN

JOBS: dict[JobName, str] = {JobName.HOURLY_STATS: HOURLY_STATS_JOB}
"""The Dagster job behind each job name the API accepts."""

SUBMITTED_BY_TAG = "iot/submitted_by"
"""Tag on every run and backfill the API launches (value ``api``), to find them in the Dagster UI."""

APP_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
BACKFILL_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"

AppId = Annotated[
    str, Path(pattern=APP_ID_PATTERN, description="A Spark application id, e.g. app-20261124015421-0000.")
]
RunId = Annotated[str, Path(pattern=f"^{RUN_ID_PATTERN}$", description="A Dagster run id (UUID).")]
BackfillId = Annotated[str, Path(pattern=BACKFILL_ID_PATTERN, description="A Dagster backfill id.")]

_unavailable: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorBody, "description": "Dagster or the Spark master cannot be reached (named)."}
}
_not_found: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody, "description": "No such object."}}
_auth: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "No bearer token."},
    403: {"model": ErrorBody, "description": "Wrong bearer token."},
}
_conflict: dict[int | str, dict[str, Any]] = {409: {"model": ErrorBody, "description": "The object has already ended."}}
_server_conflict: dict[int | str, dict[str, Any]] = {
    409: {
        "model": ErrorBody,
        "description": "The application has already ended, or it is the platform's shared Spark Connect server: "
        "`detail` lists the runs it executes; terminate those (DELETE /api/v1/jobs/runs/{run_id}) or add "
        "force=true to kill the server itself.",
    }
}
_invalid: dict[int | str, dict[str, Any]] = {
    422: {"model": ValidationErrorBody, "description": "Bad input; `detail` says what to change."}
}

router = APIRouter(prefix="/jobs", tags=["jobs"], responses={**_unavailable, **_invalid})


# --- conversions -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SparkView:
    """The master's state with what the platform knows of it: which applications are the shared Spark Connect
    server, and the runs in progress (whose tags name the application each works in)."""

    state: ClusterState
    server_ids: frozenset[str]
    runs: tuple[RunInfo, ...]

    def app(self, app: SparkApplication) -> SparkApp:
        """The application as the API shows it."""
        return SparkApp(
            app_id=app.id,
            name=app.name,
            state=app.state,
            cores=app.cores,
            submitted_at=app.submitted_at,
            duration_ms=app.duration_ms,
            active=app.active,
            dagster_run_id=app.dagster_run_id,
            shared=app.id in self.server_ids,
            runs=[_app_run(run) for run in runs_in(app.id, self.runs)] if app.active else [],
        )


def spark_view(
    cluster: CachedClusterState,
    in_progress: TimedReading[tuple[RunInfo, ...]],
    connect_server: TimedReading[str | None],
    *,
    fresh: bool = False,
) -> SparkView:
    """Read the master, Dagster's runs in progress and the server's id (cached unless ``fresh``).

    A cached server id that the master no longer lists as active while another application carries the
    server's name means the server restarted: the id is asked again.

    Raises:
        ServiceUnavailable: the master or Dagster cannot be reached.
    """
    state, runs = cluster.state(fresh=fresh), in_progress.get(fresh=fresh)
    server_id = connect_server.get(fresh=fresh)
    if server_id is not None and not fresh:
        active = {app.id for app in state.active_apps if app.name == CONNECT_SERVER_APP_NAME}
        if active and server_id not in active:
            server_id = connect_server.get(fresh=True)
    return SparkView(state, shared_server_ids(state, server_id, runs), runs)


def _app_run(run: RunInfo) -> SparkAppRun:
    return SparkAppRun(
        run_id=run.run_id,
        job_name=run.job_name,
        status=run.status,
        partition=run.partition,
        start=run.range_start,
        end=run.range_end,
        since=run.spark_since,
    )


def spark_app_of_run(state: ClusterState, run_id: str) -> str | None:
    """The application named after a run (``application`` run mode, runs that recorded no tag): its active one,
    else the latest it had (``None`` if none is known)."""
    apps = [app for app in (*state.active_apps, *state.completed_apps) if app.dagster_run_id == run_id]
    if not apps:
        return None
    return max(apps, key=lambda app: (app.active, app.submitted_at)).id


def spark_app_ids(runs: Sequence[RunInfo], cluster: CachedClusterState) -> list[str | None]:
    """The Spark application of each run: the one it recorded (``iot/spark_app_id``), else the one named after
    it. The master is read only when some run recorded none."""
    state = cluster.state() if any(run.spark_app_id is None for run in runs) else None
    return [run.spark_app_id or (spark_app_of_run(state, run.run_id) if state else None) for run in runs]


def _run(run: RunInfo, spark_app_id: str | None) -> Run:
    return Run(
        run_id=run.run_id,
        status=run.status,
        job_name=run.job_name,
        partition=run.partition,
        start=run.range_start,
        end=run.range_end,
        backfill_id=run.backfill_id,
        spark_app_id=spark_app_id,
        created_at=run.created_at,
        started_at=run.started_at,
        ended_at=run.ended_at,
    )


def _backfill(backfill: BackfillInfo, cluster: CachedClusterState) -> Backfill:
    partitions = list(backfill.partition_names)
    app_ids = spark_app_ids(backfill.runs, cluster)
    return Backfill(
        backfill_id=backfill.backfill_id,
        status=backfill.status,
        partitions=partitions,
        start=partitions[0] if partitions else None,
        end=partitions[-1] if partitions else None,
        runs=[_run(run, app_id) for run, app_id in zip(backfill.runs, app_ids, strict=True)],
        created_at=backfill.created_at,
        ended_at=backfill.ended_at,
        error=backfill.error,
    )


# --- Spark applications ------------------------------------------------------------------------------------
@router.get("/apps", summary="Spark applications, with the platform runs each is executing")
def list_apps(
    cluster: ClusterDep,
    in_progress: InProgressRunsDep,
    connect_server: ConnectServerDep,
    include_completed: Annotated[bool, Query(description="Also list applications that have ended.")] = False,
) -> list[SparkApp]:
    """Active applications (and, on request, completed ones the master still remembers), newest first. The
    platform's Spark Connect server is marked ``shared`` and lists the runs whose Spark work it executes now."""
    view = spark_view(cluster, in_progress, connect_server)
    apps = [*view.state.active_apps, *(view.state.completed_apps if include_completed else ())]
    return [view.app(app) for app in sorted(apps, key=lambda app: app.submitted_at, reverse=True)]


@router.get("/apps/{app_id}", summary="One Spark application", responses=_not_found)
def get_app(
    app_id: AppId, cluster: ClusterDep, in_progress: InProgressRunsDep, connect_server: ConnectServerDep
) -> SparkApp:
    """The application with this id, active or completed, with the platform runs it is executing."""
    view = spark_view(cluster, in_progress, connect_server)
    app = view.state.application(app_id)
    if app is None:
        raise NotFound(f"the Spark master at {cluster.web_url} does not know application {app_id}")
    return view.app(app)


@router.delete(
    "/apps/{app_id}",
    summary="Stop a Spark application (through its Dagster run when it has one)",
    status_code=202,
    responses={
        200: {
            "model": StopAppResult,
            "description": "No active run owns the application (or force=true on the shared server): the master "
            "killed it.",
        },
        **_auth,
        **_not_found,
        **_server_conflict,
    },
)
def stop_app(
    app_id: AppId,
    _: Authorized,
    cluster: ClusterDep,
    dagster: DagsterDep,
    in_progress: InProgressRunsDep,
    connect_server: ConnectServerDep,
    response: Response,
    force: Annotated[
        bool,
        Query(
            description="Kill the platform's shared Spark Connect server itself: every run on it fails, and the "
            "platform has no Spark until `iot-platform stack up` starts the server again. No effect on other "
            "applications."
        ),
    ] = False,
) -> StopAppResult:
    """Terminate the Dagster run that owns the application (HTTP 202: the run and its application stop shortly);
    an application no active run owns is killed at the master (HTTP 200, once it has ended). The platform's
    shared Spark Connect server answers 409 naming the runs to terminate instead, unless ``force=true``."""
    view = spark_view(cluster, in_progress, connect_server, fresh=True)
    app = view.state.application(app_id)
    if app is None:
        raise NotFound(f"the Spark master at {cluster.web_url} does not know application {app_id}")
    if not app.active:
        raise Conflict(f"Spark application {app_id} has already ended ({app.state})")
    if app_id in view.server_ids:
        runs = runs_in(app_id, view.runs)
        if not force:
            raise Conflict(shared_server_message(app_id, runs))
        killed = cluster.kill_application(app_id)
        connect_server.invalidate()
        response.status_code = 200
        return StopAppResult(
            success=True,
            app_id=app_id,
            dagster_run_id=None,
            action="application_killed",
            state=killed.state,
            message=f"the Spark master killed the platform's shared Spark Connect server {app_id} (force=true); "
            f"{len(runs)} run(s) on it fail; `iot-platform stack up` starts the server again",
        )
    return _stop_run_app(app, view, cluster, dagster, response)


def shared_server_message(app_id: str, runs: Sequence[RunInfo]) -> str:
    """Why the shared server is not stopped, which runs it executes, and what to do instead."""
    listed = "; ".join(f"run {run.run_id} ({_describe(run)}, {run.status})" for run in runs) or "none right now"
    example = runs[0].run_id if runs else "{run_id}"
    return (
        f"Spark application {app_id} is the platform's shared Spark Connect server ({CONNECT_SERVER_APP_NAME}): it "
        f"executes the Spark work of every platform run. Runs on it now: {listed}. To stop a run, terminate the run "
        f"instead: DELETE /api/v1/jobs/runs/{example}. To kill the server itself, repeat with ?force=true (every "
        "run on it fails; `iot-platform stack up` starts it again)"
    )


def _describe(run: RunInfo) -> str:
    if run.partition:
        return f"{run.job_name} {run.partition}"
    if run.range_start or run.range_end:
        return f"{run.job_name} {run.range_start}..{run.range_end}"
    return run.job_name


def _stop_run_app(
    app: SparkApplication, view: SparkView, cluster: CachedClusterState, dagster: DagsterClient, response: Response
) -> StopAppResult:
    """Stop an application through the run that recorded it as its own (202), or kill it at the master when no
    run in progress did (200).

    Ownership is what the run recorded (its ``iot/spark_app_id`` tag), never the application's name: an
    application named after a run it does not belong to is killed, and that run is left alone.
    """
    app_id = app.id
    owners = [run for run in runs_in(app_id, view.runs) if not run.finished]
    stopping: list[RunInfo] = []
    for owner in owners:
        try:
            stopping.append(owner if owner.status == "CANCELING" else dagster.terminate_run(owner.run_id))
        except Conflict:
            continue  # the run ended meanwhile; if no owner is left, the application is killed below
    if stopping:
        cluster.invalidate()
        run = stopping[0]
        return StopAppResult(
            success=True,
            app_id=app_id,
            dagster_run_id=run.run_id,
            action="run_terminated",
            state=run.status,
            message=f"terminating Dagster run {run.run_id}, which recorded {app_id} as its Spark application; "
            f"follow it at /api/v1/jobs/runs/{run.run_id}",
        )
    killed = cluster.kill_application(app_id)
    response.status_code = 200
    claimed = f" (its name claims run {app.dagster_run_id}, which did not record it)" if app.dagster_run_id else ""
    return StopAppResult(
        success=True,
        app_id=app_id,
        dagster_run_id=None,
        action="application_killed",
        state=killed.state,
        message=f"no Dagster run in progress recorded {app_id} as its application{claimed}: the Spark master killed it",
    )


# --- runs and backfills ------------------------------------------------------------------------------------
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="Any id of the caller's choosing (e.g. a UUID): repeating a submission with the same key returns "
        "the run or backfill it first launched (HTTP 200), whatever its status.",
    ),
]
Force = Annotated[
    bool,
    Query(description="Launch even when the same job is already queued or running for the same partition(s)."),
]


@router.post(
    "/submit",
    summary="Run a job for one partition, or backfill a range of partitions",
    status_code=202,
    responses={
        200: {
            "model": SubmitResult,
            "description": "Nothing launched: the same job is already queued or running for the same partition(s), "
            "or the Idempotency-Key was used before; `existing` is true and the ids name that run or backfill.",
        },
        400: {"model": ErrorBody, "description": "The body cannot be read (not UTF-8 JSON)."},
        **_auth,
        404: {"model": ErrorBody, "description": "Dagster has not loaded the job."},
    },
)
def submit(
    body: SubmitRequest,
    _: Authorized,
    settings: SettingsDep,
    dagster: DagsterDep,
    now: NowDep,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
    force: Force = False,
) -> SubmitResult:
    """One ``partition`` queues one Dagster run; ``start``..``end`` (inclusive) launches a partition backfill.
    Partitions are completed UTC hours from IOT_PARTITIONS_START on; a range holds at most
    IOT_API_MAX_RANGE_HOURS hours. Submitting work that is already queued or running returns that run or
    backfill with HTTP 200 (``existing``: true) unless ``force=true``."""
    job_name = JOBS[body.job]
    tags = {SUBMITTED_BY_TAG: "api"}
    if idempotency_key is not None:
        tags[IDEMPOTENCY_KEY_TAG] = idempotency_key
    if body.partition is not None:
        key = validate_partition(body.partition, partitions_start=settings.partitions_start, now=now)
        return _submit_partition(Submission(dagster, job_name, tags, force, request, response), key)
    assert body.start is not None and body.end is not None  # SubmitRequest guarantees one of the two forms
    keys = validate_range(
        body.start,
        body.end,
        partitions_start=settings.partitions_start,
        now=now,
        max_hours=settings.api_max_range_hours,
    )
    return _submit_range(Submission(dagster, job_name, tags, force, request, response), keys)


@dataclass(frozen=True)
class Submission:
    """One submit request as its two forms handle it: where it goes, its tags, whether it is forced."""

    dagster: DagsterClient
    job_name: str
    tags: dict[str, str]
    force: bool
    request: Request
    response: Response


def _submit_partition(submission: Submission, key: str) -> SubmitResult:
    """Queue a run for one partition, or answer with the run that already does that work (200)."""
    dagster, job_name, tags, response = submission.dagster, submission.job_name, submission.tags, submission.response
    with SUBMIT_LOCK:
        earlier = earlier_run(dagster, job_name, key, tags.get(IDEMPOTENCY_KEY_TAG), force=submission.force)
        run_id = earlier.run_id if earlier is not None else dagster.submit_partition(job_name, key, tags)
    response.headers["Location"] = _relative(submission.request.url_for("get_run", run_id=run_id))
    follow = f"follow it at /api/v1/jobs/runs/{run_id}"
    if earlier is None:
        message = f"queued Dagster run {run_id} of {job_name} for {key}; {follow}"
    else:
        response.status_code = 200
        message = (
            f"Dagster run {run_id} of {job_name} for {key} is already {earlier.status}: nothing new was queued "
            f"(repeat with force=true to queue another); {follow}"
        )
    return SubmitResult(success=True, run_id=run_id, partition=key, existing=earlier is not None, message=message)


def _submit_range(submission: Submission, keys: list[str]) -> SubmitResult:
    """Launch a backfill over ``keys``, or answer with the backfill that already does that work (200)."""
    dagster, job_name, tags, response = submission.dagster, submission.job_name, submission.tags, submission.response
    with SUBMIT_LOCK:
        earlier = earlier_backfill(dagster, job_name, keys, tags.get(IDEMPOTENCY_KEY_TAG), force=submission.force)
        backfill_id = earlier.backfill_id if earlier is not None else dagster.launch_backfill(job_name, keys, tags)
    response.headers["Location"] = _relative(submission.request.url_for("get_backfill", backfill_id=backfill_id))
    span = f"{len(keys)} hour(s) {keys[0]}..{keys[-1]}"
    follow = f"follow it at /api/v1/jobs/backfills/{backfill_id}"
    if earlier is None:
        message = f"launched backfill {backfill_id} of {job_name} over {span}; {follow}"
    else:
        response.status_code = 200
        message = (
            f"backfill {backfill_id} of {job_name} over {span} is already {earlier.status}: nothing new was "
            f"launched (repeat with force=true to launch another); {follow}"
        )
    return SubmitResult(
        success=True,
        backfill_id=backfill_id,
        start=keys[0],
        end=keys[-1],
        existing=earlier is not None,
        message=message,
    )


def _relative(url: object) -> str:
    """The path of a URL the app built: the scheme and host a request claims never reach an answer."""
    return str(getattr(url, "path", url))


@router.get("/runs/{run_id}", summary="A Dagster run and the Spark application its work ran in", responses=_not_found)
def get_run(run_id: RunId, dagster: DagsterDep, cluster: ClusterDep) -> Run:
    """The run's status, partition (or range) and the Spark application its work ran in: the shared Spark
    Connect server's (or the run's own), as the run recorded it when its Spark session opened."""
    run = dagster.run(run_id)
    return _run(run, spark_app_ids([run], cluster)[0])


@router.delete(
    "/runs/{run_id}",
    summary="Terminate a Dagster run (and so its Spark work)",
    status_code=202,
    responses={**_auth, **_not_found, **_conflict},
)
def stop_run(run_id: RunId, _: Authorized, dagster: DagsterDep, cluster: ClusterDep) -> StopRunResult:
    """A queued run is canceled at once; a started one goes to CANCELING, its Spark operations are interrupted
    (on the shared server, only that run's; in the ``application`` run mode, its application stops), then
    CANCELED. Stopping a run that is already canceled is not an error; one that succeeded or failed is (409)."""
    run = dagster.run(run_id)
    if run.status in ("CANCELING", "CANCELED"):
        return StopRunResult(
            success=True, run_id=run_id, status=run.status, message=f"run {run_id} is already {run.status}"
        )
    if run.finished:
        raise Conflict(f"run {run_id} has already ended with status {run.status}; there is nothing to stop")
    run = dagster.terminate_run(run_id)
    cluster.invalidate()
    return StopRunResult(
        success=True,
        run_id=run_id,
        status=run.status,
        message=f"run {run_id} is {run.status}; its Spark work is interrupted with it",
    )


@router.get("/backfills/{backfill_id}", summary="A partition backfill and its runs", responses=_not_found)
def get_backfill(backfill_id: BackfillId, dagster: DagsterDep, cluster: ClusterDep) -> Backfill:
    """The backfill's status, the partitions it covers and the runs it has launched so far."""
    return _backfill(dagster.backfill(backfill_id), cluster)


@router.delete(
    "/backfills/{backfill_id}",
    summary="Cancel a partition backfill",
    status_code=202,
    responses={**_auth, **_not_found, **_conflict},
)
def cancel_backfill(backfill_id: BackfillId, _: Authorized, dagster: DagsterDep, cluster: ClusterDep) -> Backfill:
    """No more runs are launched; queued ones are canceled and running ones terminated by Dagster's daemon."""
    backfill = dagster.cancel_backfill(backfill_id)
    cluster.invalidate()
    return _backfill(backfill, cluster)
