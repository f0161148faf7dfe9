"""The Dagster client: its GraphQL documents against Dagster's own schema, answers and failures mapped to errors."""

from __future__ import annotations

import datetime as dt
import json
import socket
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from iot_platform.clients import dagster as dagster_client
from iot_platform.clients.dagster import GraphQLDagsterClient, parse_backfill, parse_run
from iot_platform.errors import InvalidPartition, NotFound, ServiceUnavailable, UpstreamError

RUN_ID = "0b8f9a52-8d51-4f7a-9d0e-1c2b3a4d5e6f"
DOCUMENTS = [
    dagster_client.STATUS_QUERY,
    dagster_client.PARTITION_SETS_QUERY,
    dagster_client.RUN_QUERY,
    dagster_client.IN_PROGRESS_RUNS_QUERY,
    dagster_client.LAUNCH_BACKFILL_MUTATION,
    dagster_client.BACKFILL_QUERY,
    dagster_client.CANCEL_BACKFILL_MUTATION,
]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda d: d.split("(")[0].split()[1])
def test_graphql_documents_are_valid_against_the_installed_dagster_schema(document: str) -> None:
    from dagster_graphql.schema import create_schema
    from graphql import parse, validate

    errors = validate(create_schema().graphql_schema, parse(document))
    assert errors == []


def run_payload(**overrides: Any) -> dict[str, Any]:
    return {
        "runId": RUN_ID,
        "status": "STARTED",
        "jobName": "hourly_stats_job",
        "creationTime": 1795487390.9,
        "startTime": 1795487404.8,
        "endTime": None,
        "tags": [
            {"key": "dagster/asset_partition_range_start", "value": "2025-04-01-00:00"},
            {"key": "dagster/asset_partition_range_end", "value": "2025-04-01-03:00"},
            {"key": "dagster/backfill", "value": "qwertyui"},
        ],
        **overrides,
    }


def test_a_run_is_read_with_its_range_backfill_and_times() -> None:
    run = parse_run(run_payload())
    assert (run.run_id, run.status, run.partition) == (RUN_ID, "STARTED", None)
    assert (run.range_start, run.range_end, run.backfill_id) == ("2025-04-01-00:00", "2025-04-01-03:00", "qwertyui")
    assert run.started_at is not None and run.started_at.tzinfo is not None and run.ended_at is None
    assert not run.finished and parse_run(run_payload(status="CANCELED")).finished


def test_a_run_reads_the_spark_application_it_recorded_in_its_tags() -> None:
    tags = [
        {"key": "iot/spark_app_id", "value": "app-20261124010000-0002"},
        {"key": "iot/spark_since", "value": "2026-11-24T10:05:00+00:00"},
        {"key": "iot/spark_mode", "value": "connect"},
    ]
    run = parse_run(run_payload(tags=tags))
    assert (run.spark_app_id, run.spark_mode) == ("app-20261124010000-0002", "connect")
    assert run.spark_since == dt.datetime(2026, 11, 24, 10, 5, tzinfo=dt.UTC)
    assert run.tags["iot/spark_mode"] == "connect"
    untagged = parse_run(run_payload())
    assert (untagged.spark_app_id, untagged.spark_mode, untagged.spark_since) == (None, None, None)
    garbled = parse_run(run_payload(tags=[{"key": "iot/spark_since", "value": "yesterday"}]))
    assert garbled.spark_since is None


def test_runs_in_progress_are_one_request_for_started_and_canceling_runs() -> None:
    calls: list[dict[str, Any]] = []
    answer = {"runsOrError": {"__typename": "Runs", "results": [run_payload(), run_payload(runId="b")]}}
    client = graphql_server(lambda query, variables: answer, calls)
    runs = client.in_progress_runs()
    assert [run.run_id for run in runs] == [RUN_ID, "b"]
    assert len(calls) == 1
    assert calls[0]["variables"]["statuses"] == ["STARTED", "CANCELING"]


def test_a_refused_run_listing_is_an_upstream_error() -> None:
    answer = {"runsOrError": {"__typename": "PythonError", "message": "storage is locked"}}
    client = graphql_server(lambda query, variables: answer, [])
    with pytest.raises(UpstreamError, match="storage is locked"):
        client.in_progress_runs()


def test_a_backfill_is_read_with_its_runs_oldest_first() -> None:
    backfill = parse_backfill(
        {
            "id": "qwertyui",
            "status": "COMPLETED_SUCCESS",
            "partitionNames": ["2025-04-01-00:00", "2025-04-01-01:00"],
            "timestamp": 1.0,
            "endTimestamp": 9.0,
            "error": None,
            "runs": [run_payload(runId="b", creationTime=5.0), run_payload(runId="a", creationTime=2.0)],
        }
    )
    assert backfill.finished
    assert [run.run_id for run in backfill.runs] == ["a", "b"]
    assert backfill.partition_names == ("2025-04-01-00:00", "2025-04-01-01:00")


def graphql_server(answer: Callable[[str, dict[str, Any]], Any], calls: list[dict[str, Any]]) -> GraphQLDagsterClient:
    """A client whose GraphQL requests are answered by ``answer(query, variables) -> data or Response``."""

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        calls.append(body)
        result = answer(body["query"], body["variables"])
        return result if isinstance(result, httpx.Response) else httpx.Response(200, json={"data": result})

    return GraphQLDagsterClient("http://dagster.test:3000", transport=httpx.MockTransport(handler))


REPOSITORIES = {
    "repositoriesOrError": {
        "__typename": "RepositoryConnection",
        "nodes": [
            {
                "name": "__repository__",
                "location": {"name": "iot_platform.definitions"},
                "partitionSets": [
                    {"name": "ingest_job_partition_set", "pipelineName": "ingest_job"},
                    {"name": "hourly_stats_job_partition_set", "pipelineName": "hourly_stats_job"},
                ],
                "jobs": [{"name": "hourly_stats_job"}, {"name": "ingest_job"}],
            }
        ],
    }
}


def test_a_backfill_targets_the_jobs_partition_set_in_the_location_that_has_it() -> None:
    calls: list[dict[str, Any]] = []

    def answer(query: str, variables: dict[str, Any]) -> Any:
        if "ApiPartitionSets" in query:
            return REPOSITORIES
        return {"launchPartitionBackfill": {"__typename": "LaunchBackfillSuccess", "backfillId": "qwertyui"}}

    client = graphql_server(answer, calls)
    keys = ["2025-04-01-00:00", "2025-04-01-01:00"]
    assert client.launch_backfill("hourly_stats_job", keys, {"iot/submitted_by": "api"}) == "qwertyui"
    params = calls[-1]["variables"]["backfillParams"]
    assert params["selector"] == {
        "partitionSetName": "hourly_stats_job_partition_set",
        "repositorySelector": {
            "repositoryLocationName": "iot_platform.definitions",
            "repositoryName": "__repository__",
        },
    }
    assert params["partitionNames"] == keys
    assert params["tags"] == [{"key": "iot/submitted_by", "value": "api"}]


def test_a_backfill_of_a_job_no_location_has_is_not_found() -> None:
    client = graphql_server(lambda query, variables: REPOSITORIES, [])
    with pytest.raises(NotFound, match="no loaded Dagster code location has a partitioned job nope_job"):
        client.launch_backfill("nope_job", ["2025-04-01-00:00"], {})


def test_partitions_dagster_does_not_know_are_invalid_partitions() -> None:
    def answer(query: str, variables: dict[str, Any]) -> Any:
        if "ApiPartitionSets" in query:
            return REPOSITORIES
        return {
            "launchPartitionBackfill": {
                "__typename": "PartitionKeysNotFoundError",
                "message": "not found",
                "partitionKeys": ["2099-01-01-00:00"],
            }
        }

    with pytest.raises(InvalidPartition, match="2099-01-01-00:00"):
        graphql_server(answer, []).launch_backfill("hourly_stats_job", ["2099-01-01-00:00"], {})


@pytest.mark.parametrize(
    ("answer", "error", "message"),
    [
        ({"runOrError": {"__typename": "RunNotFoundError", "message": "x"}}, NotFound, f"Dagster has no run {RUN_ID}"),
        ({"runOrError": {"__typename": "PythonError", "message": "boom"}}, UpstreamError, "Dagster error: reading run"),
        (httpx.Response(200, json={"errors": [{"message": "Cannot query field"}]}), UpstreamError, "GraphQL error"),
        (httpx.Response(500, text="Internal Server Error"), UpstreamError, "without JSON"),
        (httpx.Response(503, text="starting"), ServiceUnavailable, "Dagster unavailable: .* answered HTTP 503"),
    ],
)
def test_answers_that_are_not_a_run_become_platform_errors(answer: Any, error: type[Exception], message: str) -> None:
    client = graphql_server(lambda query, variables: answer, [])
    with pytest.raises(error, match=message):
        client.run(RUN_ID)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.status(),
        lambda c: c.run(RUN_ID),
        lambda c: c.submit_partition("hourly_stats_job", "2025-04-01-00:00", {}),
        lambda c: c.submit_partition_range("hourly_stats_job", "2025-04-01-00:00", "2025-04-01-01:00", {}),
        lambda c: c.terminate_run(RUN_ID),
        lambda c: c.launch_backfill("hourly_stats_job", ["2025-04-01-00:00"], {}),
    ],
    ids=["status", "run", "submit", "submit_range", "terminate", "backfill"],
)
def test_nothing_listening_is_service_unavailable_naming_dagster_and_the_url(
    call: Callable[[GraphQLDagsterClient], Any],
) -> None:
    port = closed_port()
    client = GraphQLDagsterClient(f"http://127.0.0.1:{port}", timeout_s=2)
    with pytest.raises(
        ServiceUnavailable, match=rf"^Dagster unavailable: no answer from http://127.0.0.1:{port}/graphql"
    ):
        call(client)


class RecordingOfficialClient:
    """Stands in for ``DagsterGraphQLClient``: records the runs it is asked to submit."""

    def __init__(self) -> None:
        self.submitted: list[tuple[str, dict[str, str]]] = []

    def submit_job_execution(self, job_name: str, tags: dict[str, str]) -> str:
        self.submitted.append((job_name, tags))
        return RUN_ID


def test_a_range_run_carries_dagsters_range_tags(monkeypatch: pytest.MonkeyPatch) -> None:
    official = RecordingOfficialClient()
    client = GraphQLDagsterClient("http://dagster.test:3000")
    monkeypatch.setattr(client, "_official_client", lambda: official)
    run_id = client.submit_partition_range("hourly_stats_job", "2025-04-01-00:00", "2025-04-01-03:00", {"a": "b"})
    assert run_id == RUN_ID
    assert official.submitted == [
        (
            "hourly_stats_job",
            {
                "a": "b",
                "dagster/asset_partition_range_start": "2025-04-01-00:00",
                "dagster/asset_partition_range_end": "2025-04-01-03:00",
            },
        )
    ]
