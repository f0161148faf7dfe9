"""Dagster as a plain client: launch, inspect and stop runs and partition backfills; read daemon heartbeats.

Single runs go through the official :class:`dagster_graphql.DagsterGraphQLClient`; what it has no method for
(partition backfills, run details, readiness) goes through raw GraphQL against the same webserver. Every
failure becomes a platform error: :class:`~iot_platform.errors.ServiceUnavailable` when Dagster cannot be
reached, :class:`~iot_platform.errors.NotFound`, :class:`~iot_platform.api.errors.Conflict` or
:class:`~iot_platform.api.errors.UpstreamError` otherwise.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from iot_platform.errors import Conflict, InvalidPartition, NotFound, ServiceUnavailable, UpstreamError
from iot_platform.runs import SPARK_APP_TAG, SPARK_MODE_TAG, SPARK_SINCE_TAG

SERVICE_NAME = "Dagster"
"""How errors name Dagster (``ServiceUnavailable.service``)."""

PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
BACKFILL_TAG = "dagster/backfill"

FINISHED_RUN_STATUSES = frozenset({"SUCCESS", "FAILURE", "CANCELED"})
"""Run statuses after which nothing more happens."""
IN_PROGRESS_RUN_STATUSES = ("STARTED", "CANCELING")
"""Run statuses of a run whose process is working (or being stopped): the runs that may hold Spark work."""
IN_PROGRESS_RUNS_LIMIT = 200
"""At most this many in-progress runs are read at once (the platform runs a handful at a time)."""
UNFINISHED_RUN_STATUSES = ("QUEUED", "NOT_STARTED", "STARTING", "STARTED")
"""Run statuses of a run that is waiting or working and not being stopped."""
STARTING_WAIT_S = 30.0
"""How long a stop waits for a run whose worker is still starting."""
RUN_SEARCH_LIMIT = 100
"""At most this many runs (newest first) are read by one search."""
FINISHED_BACKFILL_STATUSES = frozenset({"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"})
"""Backfill statuses after which no more runs are launched."""


@dataclass(frozen=True)
class RunInfo:
    """One Dagster run of a platform job."""

    run_id: str
    status: str
    """QUEUED, NOT_STARTED, STARTING, STARTED, SUCCESS, FAILURE, CANCELING or CANCELED."""
    job_name: str
    partition: str | None
    range_start: str | None
    range_end: str | None
    backfill_id: str | None
    created_at: dt.datetime | None
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    tags: Mapping[str, str] = field(default_factory=dict)
    """Every tag of the run, including those the run records itself (see ``iot_platform.runs``)."""

    @property
    def finished(self) -> bool:
        """Whether the run has ended (nothing can stop it any more)."""
        return self.status in FINISHED_RUN_STATUSES

    @property
    def spark_app_id(self) -> str | None:
        """The Spark application the run's work ran in, as the run recorded it (``None`` before its session)."""
        return self.tags.get(SPARK_APP_TAG) or None

    @property
    def spark_mode(self) -> str | None:
        """``connect`` (the shared Spark Connect server) or ``application`` (its own), as the run recorded it."""
        return self.tags.get(SPARK_MODE_TAG) or None

    @property
    def spark_since(self) -> dt.datetime | None:
        """When the run's Spark session opened, as the run recorded it (``None`` if absent or unreadable)."""
        value = self.tags.get(SPARK_SINCE_TAG)
        try:
            return dt.datetime.fromisoformat(value) if value else None
        except ValueError:
            return None


@dataclass(frozen=True)
class BackfillInfo:
    """One partition backfill and the runs it has launched so far."""

    backfill_id: str
    status: str
    """REQUESTED, CANCELING, CANCELED, FAILING, FAILED, COMPLETED, COMPLETED_SUCCESS or COMPLETED_FAILED."""
    partition_names: tuple[str, ...]
    runs: tuple[RunInfo, ...]
    created_at: dt.datetime | None
    ended_at: dt.datetime | None
    error: str | None
    job_name: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    """The tags it was launched with (its runs carry them too)."""

    @property
    def finished(self) -> bool:
        """Whether the backfill will launch no more runs."""
        return self.status in FINISHED_BACKFILL_STATUSES


@dataclass(frozen=True)
class DagsterStatus:
    """What readiness reports about Dagster."""

    version: str
    jobs: tuple[str, ...]
    """Every job of every loaded code location."""


class DagsterClient(Protocol):
    """What the API and the demo ask of Dagster. :class:`GraphQLDagsterClient` is the real one."""

    @property
    def web_url(self) -> str:
        """The webserver's URL, for messages."""
        ...

    def status(self) -> DagsterStatus:
        """Dagster's version and loaded jobs.

        Raises:
            ServiceUnavailable: Dagster cannot be reached.
        """
        ...

    def submit_run(self, job_name: str, tags: Mapping[str, str]) -> str:
        """Queue a run of the unpartitioned job ``job_name``; return its id.

        Raises:
            ServiceUnavailable: Dagster cannot be reached.
            NotFound: no loaded code location has the job.
            UpstreamError: Dagster refused the run.
        """
        ...

    def submit_partition(self, job_name: str, partition: str, tags: Mapping[str, str]) -> str:
        """Launch (queue) a run of ``job_name`` for one partition and return its run id."""
        ...

    def submit_partition_range(self, job_name: str, first: str, last: str, tags: Mapping[str, str]) -> str:
        """Launch (queue) one run of ``job_name`` over the partitions ``first`` to ``last`` and return its run id."""
        ...

    def launch_backfill(self, job_name: str, partitions: Sequence[str], tags: Mapping[str, str]) -> str:
        """Launch a partition backfill of ``job_name`` over ``partitions`` and return its id."""
        ...

    def run(self, run_id: str) -> RunInfo:
        """The run with this id.

        Raises:
            NotFound: no such run.
        """
        ...

    def in_progress_runs(self) -> tuple[RunInfo, ...]:
        """Every run that is STARTED or CANCELING, with its tags, newest first (one request).

        Raises:
            ServiceUnavailable: Dagster cannot be reached.
        """
        ...

    def recent_runs(self, limit: int) -> tuple[RunInfo, ...]:
        """The latest ``limit`` runs of any job and status, newest first.

        Raises:
            ServiceUnavailable: Dagster cannot be reached.
        """
        ...

    def find_runs(
        self, job_name: str, tags: Mapping[str, str], statuses: Sequence[str] | None = None
    ) -> tuple[RunInfo, ...]:
        """The newest runs of ``job_name`` carrying every tag in ``tags`` (with a status in ``statuses``, if given).

        Raises:
            ServiceUnavailable: Dagster cannot be reached.
        """
        ...

    def find_backfills(self, status: str | None = None) -> tuple[BackfillInfo, ...]:
        """The newest backfills (with ``status``, if given), without their runs.

        Raises:
            ServiceUnavailable: Dagster cannot be reached.
        """
        ...

    def terminate_run(self, run_id: str) -> RunInfo:
        """Ask Dagster to stop a run and return it as it is right after the request.

        Raises:
            NotFound: no such run.
            Conflict: the run has already ended.
        """
        ...

    def backfill(self, backfill_id: str) -> BackfillInfo:
        """The backfill with this id.

        Raises:
            NotFound: no such backfill.
        """
        ...

    def cancel_backfill(self, backfill_id: str) -> BackfillInfo:
        """Stop a backfill from launching more runs, cancel its queued runs and return it.

        Raises:
            NotFound: no such backfill.
            Conflict: the backfill has already finished.
        """
        ...


# --- GraphQL documents -----------------------------------------------------------------------------------
_RUN_FIELDS = "runId status jobName creationTime startTime endTime tags { key value }"

STATUS_QUERY = """
query ApiStatus {
  version
  repositoriesOrError {
    __typename
    ... on RepositoryConnection { nodes { name location { name } jobs { name } } }
    ... on PythonError { message }
  }
}
"""

PARTITION_SETS_QUERY = """
query ApiPartitionSets {
  repositoriesOrError {
    __typename
    ... on RepositoryConnection { nodes { name location { name } partitionSets { name pipelineName } } }
    ... on PythonError { message }
  }
}
"""

RUN_QUERY = f"""
query ApiRun($runId: ID!) {{
  runOrError(runId: $runId) {{
    __typename
    ... on Run {{ {_RUN_FIELDS} }}
    ... on RunNotFoundError {{ message }}
    ... on PythonError {{ message }}
  }}
}}
"""

IN_PROGRESS_RUNS_QUERY = f"""
query ApiInProgressRuns($statuses: [RunStatus!], $limit: Int) {{
  runsOrError(filter: {{ statuses: $statuses }}, limit: $limit) {{
    __typename
    ... on Runs {{ results {{ {_RUN_FIELDS} }} }}
    ... on InvalidPipelineRunsFilterError {{ message }}
    ... on PythonError {{ message }}
  }}
}}
"""

FIND_RUNS_QUERY = f"""
query ApiFindRuns($filter: RunsFilter, $limit: Int) {{
  runsOrError(filter: $filter, limit: $limit) {{
    __typename
    ... on Runs {{ results {{ {_RUN_FIELDS} }} }}
    ... on InvalidPipelineRunsFilterError {{ message }}
    ... on PythonError {{ message }}
  }}
}}
"""

FIND_BACKFILLS_QUERY = """
query ApiFindBackfills($status: BulkActionStatus, $limit: Int) {
  partitionBackfillsOrError(status: $status, limit: $limit) {
    __typename
    ... on PartitionBackfills {
      results { id status partitionNames timestamp endTimestamp jobName tags { key value } error { message } }
    }
    ... on PythonError { message }
  }
}
"""

LAUNCH_BACKFILL_MUTATION = """
mutation ApiLaunchBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PartitionSetNotFoundError { message }
    ... on PartitionKeysNotFoundError { message partitionKeys }
    ... on Error { message }
  }
}
"""

BACKFILL_QUERY = f"""
query ApiBackfill($backfillId: String!) {{
  partitionBackfillOrError(backfillId: $backfillId) {{
    __typename
    ... on PartitionBackfill {{
      id status partitionNames timestamp endTimestamp
      error {{ message }}
      runs {{ {_RUN_FIELDS} }}
    }}
    ... on BackfillNotFoundError {{ message }}
    ... on PythonError {{ message }}
  }}
}}
"""

CANCEL_BACKFILL_MUTATION = """
mutation ApiCancelBackfill($backfillId: String!) {
  cancelPartitionBackfill(backfillId: $backfillId) {
    __typename
    ... on CancelBackfillSuccess { backfillId }
    ... on Error { message }
  }
}
"""


# --- parsing (pure) --------------------------------------------------------------------------------------
def _timestamp(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    return dt.datetime.fromtimestamp(float(value), tz=dt.UTC)


def parse_run(raw: Mapping[str, Any]) -> RunInfo:
    """A GraphQL ``Run`` (with :data:`_RUN_FIELDS`) as a :class:`RunInfo`."""
    tags = {tag["key"]: tag["value"] for tag in raw.get("tags") or []}
    return RunInfo(
        run_id=str(raw["runId"]),
        status=str(raw["status"]),
        job_name=str(raw.get("jobName") or ""),
        partition=tags.get(PARTITION_TAG),
        range_start=tags.get(RANGE_START_TAG),
        range_end=tags.get(RANGE_END_TAG),
        backfill_id=tags.get(BACKFILL_TAG),
        created_at=_timestamp(raw.get("creationTime")),
        started_at=_timestamp(raw.get("startTime")),
        ended_at=_timestamp(raw.get("endTime")),
        tags=tags,
    )


def parse_backfill(raw: Mapping[str, Any]) -> BackfillInfo:
    """A GraphQL ``PartitionBackfill`` as a :class:`BackfillInfo`."""
    error = raw.get("error")
    return BackfillInfo(
        backfill_id=str(raw["id"]),
        status=str(raw["status"]),
        partition_names=tuple(raw.get("partitionNames") or ()),
        runs=tuple(sorted((parse_run(run) for run in raw.get("runs") or []), key=lambda run: run.created_at or 0)),
        created_at=_timestamp(raw.get("timestamp")),
        ended_at=_timestamp(raw.get("endTimestamp")),
        error=str(error["message"]) if error else None,
        job_name=raw.get("jobName"),
        tags={tag["key"]: tag["value"] for tag in raw.get("tags") or []},
    )


def _typed(data: Mapping[str, Any], field: str) -> tuple[str, Mapping[str, Any]]:
    result = data.get(field)
    if not isinstance(result, Mapping) or "__typename" not in result:
        raise UpstreamError(SERVICE_NAME, f"unexpected answer to {field}: {result!r}"[:300])
    return str(result["__typename"]), result


# --- the real client -------------------------------------------------------------------------------------
class GraphQLDagsterClient:
    """Talks to a Dagster webserver's GraphQL endpoint, with short timeouts. Safe to share between threads."""

    def __init__(self, web_url: str, *, timeout_s: float = 15.0, transport: httpx.BaseTransport | None = None) -> None:
        """Open a client.

        Args:
            web_url: The webserver, e.g. ``http://127.0.0.1:3000`` (``settings.dagster_web_url``).
            timeout_s: Limit of each request (connecting takes at most 3 s of it).
            transport: An httpx transport for the raw GraphQL calls (tests only).
        """
        self._web_url = web_url.rstrip("/")
        self._graphql_url = f"{self._web_url}/graphql"
        self._timeout_s = timeout_s
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 3.0)), follow_redirects=False, transport=transport
        )

    @property
    def web_url(self) -> str:
        """The webserver's URL, for messages."""
        return self._web_url

    def close(self) -> None:
        """Release the HTTP connections."""
        self._http.close()

    # --- transport -----------------------------------------------------------------------------------------
    def _unavailable(self, exc: BaseException) -> ServiceUnavailable:
        detail = f"{type(exc).__name__}: {str(exc) or 'timed out'}"
        return ServiceUnavailable(
            SERVICE_NAME,
            f"no answer from {self._graphql_url} ({detail[:200]}); check that the Dagster webserver runs "
            "(`iot-platform stack status`) and that IOT_DAGSTER_URL points at it",
        )

    def _graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
        try:
            response = self._http.post(self._graphql_url, json={"query": query, "variables": dict(variables or {})})
        except httpx.HTTPError as exc:
            raise self._unavailable(exc) from exc
        if response.status_code in (502, 503, 504):
            raise ServiceUnavailable(SERVICE_NAME, f"{self._graphql_url} answered HTTP {response.status_code}")
        try:
            document = response.json()
        except ValueError:
            raise UpstreamError(
                SERVICE_NAME, f"{self._graphql_url} answered HTTP {response.status_code} without JSON"
            ) from None
        errors = document.get("errors") if isinstance(document, Mapping) else None
        if errors:
            message = errors[0].get("message", errors[0]) if isinstance(errors[0], Mapping) else errors[0]
            raise UpstreamError(SERVICE_NAME, f"GraphQL error: {message}"[:500])
        data = document.get("data") if isinstance(document, Mapping) else None
        if response.status_code != 200 or not isinstance(data, Mapping):
            raise UpstreamError(SERVICE_NAME, f"{self._graphql_url} answered HTTP {response.status_code}")
        return data

    def _official_client(self) -> Any:
        """A new :class:`DagsterGraphQLClient` (its gql session is not safe to share between threads)."""
        from dagster_graphql import DagsterGraphQLClient

        parts = urlsplit(self._web_url)
        return DagsterGraphQLClient(
            parts.hostname or "localhost",
            port_number=parts.port,
            use_https=parts.scheme == "https",
            timeout=int(max(1, round(self._timeout_s))),
            path_prefix=parts.path.rstrip("/"),
        )

    def _official_error(self, exc: Exception, what: str) -> Exception:
        """Turn a ``DagsterGraphQLClientError`` into a platform error."""
        import requests

        cause: BaseException | None = exc
        while cause is not None:
            if isinstance(cause, requests.RequestException):
                return self._unavailable(cause)
            cause = cause.__cause__
        kind = str(exc.args[0]) if exc.args else type(exc).__name__
        message = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
        if kind in ("RunNotFoundError", "JobNotFoundError", "PipelineNotFoundError"):
            return NotFound(f"{what}: {message}")
        if kind == "TerminateRunFailure":
            return Conflict(f"{what}: {message}")
        return UpstreamError(SERVICE_NAME, f"{what}: {kind}: {message}"[:500])

    # --- operations ----------------------------------------------------------------------------------------
    def status(self) -> DagsterStatus:
        """Dagster's version and every loaded job.

        Raises:
            ServiceUnavailable: Dagster cannot be reached.
            UpstreamError: Dagster cannot list its code locations.
        """
        data = self._graphql(STATUS_QUERY)
        kind, result = _typed(data, "repositoriesOrError")
        if kind != "RepositoryConnection":
            raise UpstreamError(SERVICE_NAME, f"cannot list code locations: {result.get('message', kind)}")
        jobs = tuple(sorted({job["name"] for repo in result["nodes"] for job in repo["jobs"]}))
        return DagsterStatus(version=str(data.get("version", "")), jobs=jobs)

    def submit_run(self, job_name: str, tags: Mapping[str, str]) -> str:
        """Queue a run of the unpartitioned job ``job_name`` through ``DagsterGraphQLClient.submit_job_execution``.

        Raises:
            ServiceUnavailable: Dagster cannot be reached.
            NotFound: no loaded code location has the job.
            UpstreamError: Dagster refused the run.
        """
        return self._submit(job_name, tags, f"launching {job_name}")

    def submit_partition(self, job_name: str, partition: str, tags: Mapping[str, str]) -> str:
        """Queue a run of ``job_name`` for one partition through ``DagsterGraphQLClient.submit_job_execution``.

        Raises:
            ServiceUnavailable: Dagster cannot be reached.
            NotFound: no loaded code location has the job.
            UpstreamError: Dagster refused the run.
        """
        return self._submit(job_name, {**tags, PARTITION_TAG: partition}, f"launching {job_name} for {partition}")

    def submit_partition_range(self, job_name: str, first: str, last: str, tags: Mapping[str, str]) -> str:
        """Queue one run of ``job_name`` over the partitions ``first`` to ``last`` (inclusive); return its id.

        Raises:
            ServiceUnavailable: Dagster cannot be reached.
            NotFound: no loaded code location has the job.
            UpstreamError: Dagster refused the run.
        """
        range_tags = {**tags, RANGE_START_TAG: first, RANGE_END_TAG: last}
        return self._submit(job_name, range_tags, f"launching {job_name} for {first} .. {last}")

    def _submit(self, job_name: str, tags: Mapping[str, str], what: str) -> str:
        """Queue a run through ``DagsterGraphQLClient.submit_job_execution`` and return its id."""
        from dagster_graphql import DagsterGraphQLClientError

        try:
            return str(self._official_client().submit_job_execution(job_name, tags=dict(tags)))
        except DagsterGraphQLClientError as exc:
            raise self._official_error(exc, what) from exc

    def _partition_set(self, job_name: str) -> dict[str, Any]:
        """The ``PartitionSetSelector`` of the job's partition set, looked up in the loaded code locations."""
        data = self._graphql(PARTITION_SETS_QUERY)
        kind, result = _typed(data, "repositoriesOrError")
        if kind != "RepositoryConnection":
            raise UpstreamError(SERVICE_NAME, f"cannot list code locations: {result.get('message', kind)}")
        matches = [
            {
                "partitionSetName": partition_set["name"],
                "repositorySelector": {
                    "repositoryLocationName": repo["location"]["name"],
                    "repositoryName": repo["name"],
                },
            }
            for repo in result["nodes"]
            for partition_set in repo["partitionSets"]
            if partition_set["pipelineName"] == job_name
        ]
        if not matches:
            raise NotFound(
                f"no loaded Dagster code location has a partitioned job {job_name}; check the code location "
                f"in the Dagster UI at {self._web_url}"
            )
        if len(matches) > 1:
            locations = ", ".join(m["repositorySelector"]["repositoryLocationName"] for m in matches)
            raise UpstreamError(SERVICE_NAME, f"job {job_name} is defined in several code locations: {locations}")
        return matches[0]

    def launch_backfill(self, job_name: str, partitions: Sequence[str], tags: Mapping[str, str]) -> str:
        """Launch a backfill of the job's partition set (``launchPartitionBackfill``); Dagster's daemon runs it.

        The job's backfill policy decides how many runs it takes (``hourly_stats``: one run for the range).

        Raises:
            ServiceUnavailable: Dagster cannot be reached.
            NotFound: no loaded code location has the job.
            InvalidPartition: Dagster does not know some of the partitions.
            UpstreamError: Dagster refused the backfill.
        """
        params = {
            "selector": self._partition_set(job_name),
            "partitionNames": list(partitions),
            "tags": [{"key": key, "value": value} for key, value in tags.items()],
            "title": f"{job_name} {partitions[0]}..{partitions[-1]}" if partitions else job_name,
        }
        data = self._graphql(LAUNCH_BACKFILL_MUTATION, {"backfillParams": params})
        kind, result = _typed(data, "launchPartitionBackfill")
        if kind == "LaunchBackfillSuccess":
            return str(result["backfillId"])
        if kind == "PartitionKeysNotFoundError":
            missing = ", ".join(result.get("partitionKeys") or [])
            raise InvalidPartition(f"Dagster does not know the partitions {missing} of {job_name}")
        raise UpstreamError(SERVICE_NAME, f"backfill of {job_name} refused: {kind}: {result.get('message', '')}")

    def run(self, run_id: str) -> RunInfo:
        """The run with this id.

        Raises:
            ServiceUnavailable: Dagster cannot be reached.
            NotFound: no such run.
        """
        kind, result = _typed(self._graphql(RUN_QUERY, {"runId": run_id}), "runOrError")
        if kind == "Run":
            return parse_run(result)
        if kind == "RunNotFoundError":
            raise NotFound(f"Dagster has no run {run_id}")
        raise UpstreamError(SERVICE_NAME, f"reading run {run_id}: {result.get('message', kind)}")

    def in_progress_runs(self) -> tuple[RunInfo, ...]:
        """Every run that is STARTED or CANCELING, with its tags, newest first: one ``runsOrError`` request.

        Raises:
            ServiceUnavailable: Dagster cannot be reached.
            UpstreamError: Dagster cannot list its runs.
        """
        variables = {"statuses": list(IN_PROGRESS_RUN_STATUSES), "limit": IN_PROGRESS_RUNS_LIMIT}
        kind, result = _typed(self._graphql(IN_PROGRESS_RUNS_QUERY, variables), "runsOrError")
        if kind != "Runs":
            raise UpstreamError(SERVICE_NAME, f"listing runs in progress: {result.get('message', kind)}")
        return tuple(parse_run(run) for run in result.get("results") or [])

    def recent_runs(self, limit: int) -> tuple[RunInfo, ...]:
        """The latest ``limit`` runs of any job and status, with their tags, newest first: one request.

        Raises:
            ServiceUnavailable: Dagster cannot be reached.
            UpstreamError: Dagster cannot list its runs.
        """
        kind, result = _typed(self._graphql(IN_PROGRESS_RUNS_QUERY, {"statuses": None, "limit": limit}), "runsOrError")
        if kind != "Runs":
            raise UpstreamError(SERVICE_NAME, f"listing recent runs: {result.get('message', kind)}")
        return tuple(parse_run(run) for run in result.get("results") or [])

    def find_runs(
        self, job_name: str, tags: Mapping[str, str], statuses: Sequence[str] | None = None
    ) -> tuple[RunInfo, ...]:
        """The newest runs (at most :data:`RUN_SEARCH_LIMIT`) of ``job_name`` carrying every tag in ``tags``, with
        a status in ``statuses`` when given: one ``runsOrError`` request.

        Raises:
            ServiceUnavailable: Dagster cannot be reached.
            UpstreamError: Dagster cannot list its runs.
        """
        run_filter: dict[str, Any] = {
            "pipelineName": job_name,
            "tags": [{"key": key, "value": value} for key, value in tags.items()],
        }
        if statuses is not None:
            run_filter["statuses"] = list(statuses)
        variables = {"filter": run_filter, "limit": RUN_SEARCH_LIMIT}
        kind, result = _typed(self._graphql(FIND_RUNS_QUERY, variables), "runsOrError")
        if kind != "Runs":
            raise UpstreamError(SERVICE_NAME, f"searching runs of {job_name}: {result.get('message', kind)}")
        return tuple(parse_run(run) for run in result.get("results") or [])

    def find_backfills(self, status: str | None = None) -> tuple[BackfillInfo, ...]:
        """The newest backfills (at most :data:`RUN_SEARCH_LIMIT`), with ``status`` when given, without their runs.

        Raises:
            ServiceUnavailable: Dagster cannot be reached.
            UpstreamError: Dagster cannot list its backfills.
        """
        variables = {"status": status, "limit": RUN_SEARCH_LIMIT}
        kind, result = _typed(self._graphql(FIND_BACKFILLS_QUERY, variables), "partitionBackfillsOrError")
        if kind != "PartitionBackfills":
            raise UpstreamError(SERVICE_NAME, f"listing backfills: {result.get('message', kind)}")
        return tuple(parse_backfill(raw) for raw in result.get("results") or [])

    def terminate_run(self, run_id: str) -> RunInfo:
        """Stop a run through ``DagsterGraphQLClient.terminate_run``.

        A queued run is canceled at once; a started one goes to CANCELING while its process is interrupted
        (its Spark operations are interrupted with it), then to CANCELED. A run whose worker is still starting
        is stopped once it has started (Dagster refuses before), waiting up to :data:`STARTING_WAIT_S`.

        Raises:
            ServiceUnavailable: Dagster cannot be reached.
            NotFound: no such run.
            Conflict: the run has already ended.
        """
        from dagster_graphql import DagsterGraphQLClientError

        deadline = time.monotonic() + STARTING_WAIT_S
        while True:
            try:
                self._official_client().terminate_run(run_id)
                return self.run(run_id)
            except DagsterGraphQLClientError as exc:
                # Dagster refuses to stop a run whose worker process is still starting: wait until it has started.
                if "status STARTING" not in str(exc) or time.monotonic() > deadline:
                    raise self._official_error(exc, f"terminating run {run_id}") from exc
            time.sleep(0.5)

    def backfill(self, backfill_id: str) -> BackfillInfo:
        """The backfill with this id and its runs.

        Raises:
            ServiceUnavailable: Dagster cannot be reached.
            NotFound: no such backfill.
        """
        data = self._graphql(BACKFILL_QUERY, {"backfillId": backfill_id})
        kind, result = _typed(data, "partitionBackfillOrError")
        if kind == "PartitionBackfill":
            return parse_backfill(result)
        if kind == "BackfillNotFoundError":
            raise NotFound(f"Dagster has no backfill {backfill_id}")
        raise UpstreamError(SERVICE_NAME, f"reading backfill {backfill_id}: {result.get('message', kind)}")

    def cancel_backfill(self, backfill_id: str) -> BackfillInfo:
        """Cancel a backfill (``cancelPartitionBackfill``): no new runs, queued ones canceled.

        Raises:
            ServiceUnavailable: Dagster cannot be reached.
            NotFound: no such backfill.
            Conflict: the backfill has already finished.
        """
        current = self.backfill(backfill_id)
        if current.finished:
            raise Conflict(f"backfill {backfill_id} has already finished with status {current.status}")
        kind, result = _typed(
            self._graphql(CANCEL_BACKFILL_MUTATION, {"backfillId": backfill_id}), "cancelPartitionBackfill"
        )
        if kind != "CancelBackfillSuccess":
            raise UpstreamError(SERVICE_NAME, f"canceling backfill {backfill_id}: {result.get('message', kind)}")
        return self.backfill(backfill_id)


def daemon_heartbeats(dagster_home: Path) -> dict[str, float]:
    """The last heartbeat (epoch seconds) of each Dagster daemon, read from the instance's storage.

    Args:
        dagster_home: The instance folder (``DAGSTER_HOME``) holding ``dagster.yaml``.
    """
    from dagster import DagsterInstance

    os.environ.setdefault("DAGSTER_HOME", str(dagster_home))
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        return {name: beat.timestamp for name, beat in instance.get_daemon_heartbeats().items()}


def code_server_status(host: str, port: int) -> str:
    """What the Dagster code server at ``host:port`` answers to gRPC's health query (``SERVING`` once its
    definitions are loaded).

    Raises:
        Exception: any gRPC failure (not serving yet, or gone).
    """
    from dagster._grpc.client import DagsterGrpcClient

    return str(DagsterGrpcClient(host=host, port=port).health_check_query())
