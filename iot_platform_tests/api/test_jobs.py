"""``/api/v1/jobs`` on fakes: what reaches Dagster and the master for each call, and how failures answer."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from iot_platform.jobs import HOURLY_STATS_JOB
from iot_platform.runs import INGEST_JOB
from iot_platform_tests.api.conftest import AUTH, Api, make_api, unit_settings
from iot_platform_tests.api.fakes import (
    FOREIGN_APP_ID,
    PLATFORM_APP_ID,
    PLATFORM_RUN_ID,
    SERVER_APP_ID,
    dagster_down,
)
from iot_platform_tests.clients.spark_master_fakes import master_down

SUBMIT = "/api/v1/jobs/submit"
API_TAGS = {"iot/submitted_by": "api"}


def submit(api: Api, **body: Any) -> Any:
    return api.client.post(SUBMIT, json={"job": "hourly_stats", **body}, headers=AUTH)


# --- submit --------------------------------------------------------------------------------------------------
def test_one_partition_queues_one_run_of_hourly_stats_job_tagged_with_it(api: Api) -> None:
    response = submit(api, partition="2025-04-01-10:00")
    assert response.status_code == 202
    body = response.json()
    assert body["success"] is True
    assert body["partition"] == "2025-04-01-10:00"
    assert body["backfill_id"] is None
    assert api.dagster.submitted == [(HOURLY_STATS_JOB, "2025-04-01-10:00", API_TAGS)]
    run_id = body["run_id"]
    assert run_id in api.dagster.runs
    assert response.headers["Location"] == f"/api/v1/jobs/runs/{run_id}"
    assert f"/api/v1/jobs/runs/{run_id}" in body["message"]


def test_a_range_launches_one_backfill_over_every_hour_of_it(api: Api) -> None:
    response = submit(api, start="2025-04-01-22:00", end="2025-04-02-01:00")
    assert response.status_code == 202
    body = response.json()
    assert (body["start"], body["end"], body["run_id"]) == ("2025-04-01-22:00", "2025-04-02-01:00", None)
    hours = ["2025-04-01-22:00", "2025-04-01-23:00", "2025-04-02-00:00", "2025-04-02-01:00"]
    assert api.dagster.backfilled == [(HOURLY_STATS_JOB, hours, API_TAGS)]
    assert response.headers["Location"].endswith(f"/api/v1/jobs/backfills/{body['backfill_id']}")
    assert api.dagster.submitted == []


def test_the_same_partition_submitted_again_returns_the_queued_run_with_200(api: Api) -> None:
    first = submit(api, partition="2025-04-01-10:00")
    again = [submit(api, partition="2025-04-01-10:00") for _ in range(4)]
    assert [response.status_code for response in again] == [200] * 4
    assert {response.json()["run_id"] for response in again} == {first.json()["run_id"]}
    assert all(response.json()["existing"] for response in again)
    assert "already QUEUED: nothing new was queued" in again[0].json()["message"]
    assert again[0].headers["Location"] == f"/api/v1/jobs/runs/{first.json()['run_id']}"
    assert len(api.dagster.submitted) == 1


def test_a_finished_or_stopping_run_does_not_hold_back_a_new_one(api: Api) -> None:
    for status in ("SUCCESS", "FAILURE", "CANCELED", "CANCELING"):
        api.dagster.add_run(status, partition="2025-04-01-10:00", tags={"dagster/partition": "2025-04-01-10:00"})
    assert submit(api, partition="2025-04-01-10:00").status_code == 202


def test_force_queues_another_run_of_the_same_partition(api: Api) -> None:
    first = submit(api, partition="2025-04-01-10:00").json()["run_id"]
    forced = api.client.post(
        SUBMIT, params={"force": "true"}, json={"job": "hourly_stats", "partition": "2025-04-01-10:00"}, headers=AUTH
    )
    assert forced.status_code == 202
    assert forced.json()["run_id"] != first and forced.json()["existing"] is False


def test_the_same_range_submitted_again_returns_the_requested_backfill(api: Api) -> None:
    first = submit(api, start="2025-04-01-22:00", end="2025-04-02-01:00").json()["backfill_id"]
    again = submit(api, start="2025-04-01-22:00", end="2025-04-02-01:00")
    assert again.status_code == 200
    assert (again.json()["backfill_id"], again.json()["existing"]) == (first, True)
    assert submit(api, start="2025-04-01-22:00", end="2025-04-02-00:00").status_code == 202  # another set
    assert len(api.dagster.backfilled) == 2


def test_an_idempotency_key_returns_its_submission_even_after_it_ended(api: Api) -> None:
    keyed = {**AUTH, "Idempotency-Key": "5d0c8e8e-key"}
    body = {"job": "hourly_stats", "partition": "2025-04-01-10:00"}
    first = api.client.post(SUBMIT, json=body, headers=keyed)
    run_id = first.json()["run_id"]
    assert api.dagster.submitted[0][2]["iot/idempotency_key"] == "5d0c8e8e-key"
    api.dagster.runs[run_id] = dataclasses.replace(api.dagster.runs[run_id], status="SUCCESS")
    again = api.client.post(SUBMIT, params={"force": "true"}, json=body, headers=keyed)
    assert (again.status_code, again.json()["run_id"]) == (200, run_id)
    other = api.client.post(SUBMIT, json={**body, "partition": "2025-04-01-11:00"}, headers=keyed)
    assert other.status_code == 422
    assert "Idempotency-Key 5d0c8e8e-key was first used for run" in other.json()["detail"]
    ranged = api.client.post(
        SUBMIT, json={"job": "hourly_stats", "start": body["partition"], "end": body["partition"]}, headers=keyed
    )
    assert ranged.status_code == 422
    assert len(api.dagster.submitted) == 1 and api.dagster.backfilled == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"partition": "2026-11-24-10:00"}, "not a completed hour yet"),
        ({"partition": "2024-12-31-23:00"}, "before the first hourly_stats partition"),
        ({"partition": "2025-02-30-10:00"}, "not a valid date"),
        ({"partition": "2025-04-01-10:15"}, "body.partition: String should match pattern"),
        ({"start": "2025-04-02-00:00", "end": "2025-04-01-00:00"}, "is after end"),
        ({"start": "2025-04-01-00:00", "end": "2025-04-03-00:00"}, "IOT_API_MAX_RANGE_HOURS"),
    ],
)
def test_partitions_outside_the_set_are_422_with_a_message_and_launch_nothing(
    api: Api, body: dict[str, str], message: str
) -> None:
    response = submit(api, **body)
    assert response.status_code == 422
    assert message in response.json()["detail"]
    assert api.dagster.submitted == [] and api.dagster.backfilled == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"job": "hourly_stats"}, "give partition, or both start and end"),
        ({"job": "hourly_stats", "start": "2025-04-01-00:00"}, "give partition, or both start and end"),
        (
            {
                "job": "hourly_stats",
                "partition": "2025-04-01-00:00",
                "start": "2025-04-01-00:00",
                "end": "2025-04-01-01:00",
            },
            "not both",
        ),
        ({"job": "/tmp/evil.py", "partition": "2025-04-01-00:00"}, "body.job: Input should be 'hourly_stats'"),
        ({"job": "hourly_stats", "partition": "2025-04-01"}, "body.partition: String should match pattern"),
        ({"job": "hourly_stats", "partition": 2025}, "body.partition"),
        ({"job": "hourly_stats", "partition": "2025-04-01-00:00", "script": "x.py"}, "body.script: Extra inputs"),
    ],
)
def test_malformed_bodies_are_422_naming_the_field(api: Api, body: dict[str, Any], message: str) -> None:
    response = api.client.post(SUBMIT, json=body, headers=AUTH)
    assert response.status_code == 422
    assert message in response.json()["detail"]
    assert response.json()["errors"]
    assert api.dagster.submitted == []


def test_a_body_that_is_not_json_is_a_4xx_with_a_message(api: Api) -> None:
    headers = {**AUTH, "Content-Type": "application/json"}
    broken = api.client.post(SUBMIT, content=b'{"job": "hourly_stats", ', headers=headers)
    assert broken.status_code == 422
    assert "JSON decode error" in broken.json()["detail"]
    undecodable = api.client.post(SUBMIT, content=b"\xff{not json", headers=headers)
    assert undecodable.status_code == 400
    assert "parsing the body" in undecodable.json()["detail"]
    assert api.dagster.submitted == []


def test_dagster_down_is_503_naming_dagster(api: Api) -> None:
    api.dagster.down = dagster_down()
    response = submit(api, partition="2025-04-01-10:00")
    assert response.status_code == 503
    assert response.json()["detail"].startswith("Dagster unavailable:")
    assert response.headers["Retry-After"]


def test_dagster_without_the_job_is_404_naming_it(tmp_path: Path) -> None:
    for api in make_api(unit_settings(tmp_path)):
        api.dagster.jobs = ("ingest_job",)
        response = submit(api, partition="2025-04-01-10:00")
        assert response.status_code == 404
        assert HOURLY_STATS_JOB in response.json()["detail"]


# --- runs ----------------------------------------------------------------------------------------------------
def test_a_run_shows_its_partition_and_the_spark_application_named_after_it(api: Api) -> None:
    api.dagster.add_run("STARTED", run_id=PLATFORM_RUN_ID, partition="2025-04-01-10:00")
    response = api.client.get(f"/api/v1/jobs/runs/{PLATFORM_RUN_ID}")
    assert response.status_code == 200
    body = response.json()
    assert body["run_id"] == PLATFORM_RUN_ID
    assert (body["status"], body["partition"], body["start"], body["end"]) == (
        "STARTED",
        "2025-04-01-10:00",
        None,
        None,
    )
    assert body["spark_app_id"] == PLATFORM_APP_ID


def test_a_range_run_shows_its_range_and_no_application_before_it_starts_one(api: Api) -> None:
    run = api.dagster.add_run("QUEUED", range_start="2025-04-01-00:00", range_end="2025-04-01-03:00", backfill_id="b1")
    body = api.client.get(f"/api/v1/jobs/runs/{run.run_id}").json()
    assert (body["partition"], body["start"], body["end"], body["backfill_id"]) == (
        None,
        "2025-04-01-00:00",
        "2025-04-01-03:00",
        "b1",
    )
    assert body["spark_app_id"] is None


def test_unknown_runs_are_404_and_malformed_ids_422(api: Api) -> None:
    response = api.client.get("/api/v1/jobs/runs/0b8f9a52-8d51-4f7a-9d0e-1c2b3a4d5e6f")
    assert response.status_code == 404
    assert "no run" in response.json()["detail"]
    assert api.client.get("/api/v1/jobs/runs/not-a-run").status_code == 422


def test_stopping_a_started_run_terminates_it(api: Api) -> None:
    run = api.dagster.add_run("STARTED")
    response = api.client.delete(f"/api/v1/jobs/runs/{run.run_id}", headers=AUTH)
    assert response.status_code == 202
    assert response.json()["status"] == "CANCELING"
    assert api.dagster.terminated == [run.run_id]


@pytest.mark.parametrize("status", ["SUCCESS", "FAILURE"])
def test_stopping_a_run_that_ended_is_409(api: Api, status: str) -> None:
    run = api.dagster.add_run(status)
    response = api.client.delete(f"/api/v1/jobs/runs/{run.run_id}", headers=AUTH)
    assert response.status_code == 409
    assert status in response.json()["detail"]
    assert api.dagster.terminated == []


@pytest.mark.parametrize("status", ["CANCELING", "CANCELED"])
def test_stopping_a_run_twice_is_not_an_error(api: Api, status: str) -> None:
    run = api.dagster.add_run(status)
    response = api.client.delete(f"/api/v1/jobs/runs/{run.run_id}", headers=AUTH)
    assert response.status_code == 202
    assert response.json()["status"] == status
    assert api.dagster.terminated == []


# --- Spark applications --------------------------------------------------------------------------------------
def test_apps_carry_the_dagster_run_that_launched_them(api: Api) -> None:
    apps = {app["app_id"]: app for app in api.client.get("/api/v1/jobs/apps").json()}
    assert apps[PLATFORM_APP_ID]["dagster_run_id"] == PLATFORM_RUN_ID
    assert apps[FOREIGN_APP_ID]["dagster_run_id"] is None
    assert apps[FOREIGN_APP_ID]["state"] == "WAITING"
    assert set(apps[PLATFORM_APP_ID]) == {
        "app_id",
        "name",
        "state",
        "cores",
        "submitted_at",
        "duration_ms",
        "active",
        "dagster_run_id",
        "shared",
        "runs",
    }
    assert (apps[PLATFORM_APP_ID]["shared"], apps[PLATFORM_APP_ID]["runs"]) == (False, [])


@pytest.fixture
def api_with_completed_apps(tmp_path: Path) -> Iterator[Api]:
    yield from make_api(unit_settings(tmp_path), fixture="master_driver_running_apps_completed.json")


def test_completed_apps_are_listed_only_on_request(api_with_completed_apps: Api) -> None:
    client = api_with_completed_apps.client
    assert client.get("/api/v1/jobs/apps").json() == []
    completed = client.get("/api/v1/jobs/apps", params={"include_completed": "true"}).json()
    assert {app["state"] for app in completed} == {"FINISHED", "KILLED"}
    assert all(not app["active"] for app in completed)
    one = completed[0]["app_id"]
    assert client.get(f"/api/v1/jobs/apps/{one}").json()["app_id"] == one


OWN_APP_TAGS = {"iot/spark_app_id": PLATFORM_APP_ID, "iot/spark_mode": "application"}
"""What a run in the ``application`` run mode records once its own application is up."""


def test_stopping_an_app_owned_by_a_run_terminates_the_run_not_the_app(api: Api) -> None:
    api.dagster.add_run("STARTED", run_id=PLATFORM_RUN_ID, tags=OWN_APP_TAGS)
    response = api.client.delete(f"/api/v1/jobs/apps/{PLATFORM_APP_ID}", headers=AUTH)
    assert response.status_code == 202
    body = response.json()
    assert (body["action"], body["dagster_run_id"], body["state"]) == ("run_terminated", PLATFORM_RUN_ID, "CANCELING")
    assert api.dagster.terminated == [PLATFORM_RUN_ID]
    assert api.master.killed == []


def test_an_app_without_a_run_is_killed_at_the_master(api: Api) -> None:
    response = api.client.delete(f"/api/v1/jobs/apps/{FOREIGN_APP_ID}", headers=AUTH)
    assert response.status_code == 200
    body = response.json()
    assert (body["action"], body["state"], body["dagster_run_id"]) == ("application_killed", "KILLED", None)
    assert api.master.killed == [FOREIGN_APP_ID]
    assert api.dagster.terminated == []
    listed = {app["app_id"] for app in api.client.get("/api/v1/jobs/apps").json()}
    assert FOREIGN_APP_ID not in listed, "the cached state is dropped after a kill"


@pytest.mark.parametrize("status", ["SUCCESS", None], ids=["run-ended", "run-unknown-to-dagster"])
def test_an_app_whose_run_is_over_or_unknown_is_killed_at_the_master(api: Api, status: str | None) -> None:
    if status is not None:
        api.dagster.add_run(status, run_id=PLATFORM_RUN_ID)
    response = api.client.delete(f"/api/v1/jobs/apps/{PLATFORM_APP_ID}", headers=AUTH)
    assert response.status_code == 200
    assert response.json()["action"] == "application_killed"
    assert api.master.killed == [PLATFORM_APP_ID]
    assert api.dagster.terminated == []


def test_stopping_unknown_or_ended_apps_is_404_or_409(api_with_completed_apps: Api) -> None:
    client = api_with_completed_apps.client
    assert client.delete("/api/v1/jobs/apps/app-20990101000000-0000", headers=AUTH).status_code == 404
    ended = client.get("/api/v1/jobs/apps", params={"include_completed": "true"}).json()[0]["app_id"]
    response = client.delete(f"/api/v1/jobs/apps/{ended}", headers=AUTH)
    assert response.status_code == 409
    assert "already ended" in response.json()["detail"]


def test_master_down_is_503_naming_the_spark_master(api: Api) -> None:
    api.master.down = master_down()
    for path in ("/api/v1/jobs/apps", f"/api/v1/jobs/apps/{PLATFORM_APP_ID}"):
        response = api.client.get(path)
        assert response.status_code == 503
        assert response.json()["detail"].startswith("Spark master unavailable:")


# --- the shared Spark Connect server ---------------------------------------------------------------------------
def on_server(app_id: str = SERVER_APP_ID, since: str = "2026-11-24T10:05:00+00:00") -> dict[str, str]:
    """The tags a run records when its Spark session on the server opens."""
    return {"iot/spark_app_id": app_id, "iot/spark_since": since, "iot/spark_mode": "connect"}


@pytest.fixture
def served(api: Api) -> Api:
    """The API with the server on the master, answering with its id, and two runs working on it."""
    api.master.add_server()
    api.connect_server.app_id = SERVER_APP_ID
    api.dagster.add_run("STARTED", job_name=INGEST_JOB, tags=on_server(since="2026-11-24T10:06:00+00:00"))
    api.dagster.add_run("STARTED", partition="2025-04-01-10:00", tags=on_server())
    return api


def test_the_server_is_listed_shared_with_the_runs_it_is_executing(served: Api) -> None:
    apps = {app["app_id"]: app for app in served.client.get("/api/v1/jobs/apps").json()}
    server = apps[SERVER_APP_ID]
    assert (server["name"], server["shared"], server["dagster_run_id"]) == ("iot-platform:connect-server", True, None)
    assert [(run["job_name"], run["partition"], run["since"]) for run in server["runs"]] == [
        (HOURLY_STATS_JOB, "2025-04-01-10:00", "2026-11-24T10:05:00Z"),
        (INGEST_JOB, None, "2026-11-24T10:06:00Z"),
    ]
    assert all(run["status"] == "STARTED" and run["run_id"] in served.dagster.runs for run in server["runs"])
    assert not apps[PLATFORM_APP_ID]["shared"] and not apps[FOREIGN_APP_ID]["shared"]
    one = served.client.get(f"/api/v1/jobs/apps/{SERVER_APP_ID}").json()
    assert (one["shared"], len(one["runs"])) == (True, 2)


def test_runs_that_ended_are_not_listed_on_the_server(served: Api) -> None:
    served.dagster.add_run("SUCCESS", tags=on_server())
    server = served.client.get(f"/api/v1/jobs/apps/{SERVER_APP_ID}").json()
    assert len(server["runs"]) == 2


def test_the_server_is_recognised_by_the_id_it_gives_not_by_its_name(api: Api) -> None:
    api.master.add_server("app-20261124010000-0003", name="iot-platform:connect-server")
    api.master.add_server(SERVER_APP_ID, name="renamed-by-someone")
    api.connect_server.app_id = SERVER_APP_ID
    apps = {app["app_id"]: app["shared"] for app in api.client.get("/api/v1/jobs/apps").json()}
    assert apps[SERVER_APP_ID] is True
    assert apps["app-20261124010000-0003"] is False


def test_an_unreachable_server_is_recognised_by_runs_tags_then_by_its_name(api: Api) -> None:
    api.master.add_server()
    api.master.add_server("app-20261124010000-0003", name="iot-platform:connect-server")
    run = api.dagster.add_run("STARTED", tags=on_server())
    shared = {app["app_id"] for app in api.client.get("/api/v1/jobs/apps").json() if app["shared"]}
    assert shared == {SERVER_APP_ID}, "a connect-mode run's tag names the server"
    api.dagster.runs.pop(run.run_id)
    api.client.app.state.clients.in_progress_runs.invalidate()
    shared = {app["app_id"] for app in api.client.get("/api/v1/jobs/apps").json() if app["shared"]}
    assert shared == {SERVER_APP_ID, "app-20261124010000-0003"}, "no run on it: every app with the server's name"


def test_the_servers_id_is_asked_once_for_many_requests(served: Api) -> None:
    for _ in range(5):
        assert served.client.get("/api/v1/jobs/apps").status_code == 200
    assert served.connect_server.calls == 1
    assert served.dagster.in_progress_calls == 1


def test_a_restarted_server_is_asked_its_new_id(served: Api) -> None:
    served.client.get("/api/v1/jobs/apps")
    served.master.kill_application(SERVER_APP_ID)
    served.master.add_server("app-20261124110000-0009")
    served.connect_server.app_id = "app-20261124110000-0009"
    served.client.app.state.clients.cluster.invalidate()
    apps = {app["app_id"]: app["shared"] for app in served.client.get("/api/v1/jobs/apps").json()}
    assert apps["app-20261124110000-0009"] is True
    assert served.connect_server.calls == 2


def test_a_run_names_the_application_it_recorded_without_asking_the_master(served: Api) -> None:
    run = next(iter(served.dagster.runs.values()))
    served.master.down = master_down()
    body = served.client.get(f"/api/v1/jobs/runs/{run.run_id}").json()
    assert body["spark_app_id"] == SERVER_APP_ID


def test_backfill_runs_name_the_application_they_recorded(api: Api) -> None:
    backfill_id = submit(api, start="2025-04-01-00:00", end="2025-04-01-02:00").json()["backfill_id"]
    run = api.dagster.add_run("STARTED", range_start="2025-04-01-00:00", range_end="2025-04-01-02:00", tags=on_server())
    api.dagster.backfills[backfill_id] = dataclasses.replace(api.dagster.backfills[backfill_id], runs=(run,))
    body = api.client.get(f"/api/v1/jobs/backfills/{backfill_id}").json()
    assert [r["spark_app_id"] for r in body["runs"]] == [SERVER_APP_ID]


def test_stopping_the_server_is_409_naming_the_runs_to_terminate_instead(served: Api) -> None:
    response = served.client.delete(f"/api/v1/jobs/apps/{SERVER_APP_ID}", headers=AUTH)
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert "shared Spark Connect server" in detail
    for run in served.dagster.runs.values():
        assert run.run_id in detail
    assert "DELETE /api/v1/jobs/runs/" in detail and "force=true" in detail
    assert served.master.killed == [] and served.dagster.terminated == []


def test_stopping_an_idle_server_is_409_too(api: Api) -> None:
    api.master.add_server()
    api.connect_server.app_id = SERVER_APP_ID
    response = api.client.delete(f"/api/v1/jobs/apps/{SERVER_APP_ID}", headers=AUTH)
    assert response.status_code == 409
    assert "none right now" in response.json()["detail"]


def test_force_kills_the_server_at_the_master_and_terminates_no_run(served: Api) -> None:
    response = served.client.delete(f"/api/v1/jobs/apps/{SERVER_APP_ID}", params={"force": "true"}, headers=AUTH)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["action"], body["state"], body["dagster_run_id"]) == ("application_killed", "KILLED", None)
    assert "stack up" in body["message"]
    assert served.master.killed == [SERVER_APP_ID]
    assert served.dagster.terminated == []


def test_an_app_named_like_the_server_but_not_it_is_not_protected(api: Api) -> None:
    impostor = api.master.add_server("app-20261124010000-0003")
    api.connect_server.app_id = SERVER_APP_ID
    response = api.client.delete(f"/api/v1/jobs/apps/{impostor}", headers=AUTH)
    assert response.status_code == 200
    assert api.master.killed == [impostor]


def test_an_app_named_after_a_run_that_did_not_record_it_is_killed_and_the_run_left_alone(api: Api) -> None:
    api.dagster.add_run("QUEUED", run_id=PLATFORM_RUN_ID)  # the impostor is named after this queued run
    api.dagster.add_run("STARTED", tags={"iot/spark_app_id": SERVER_APP_ID, "iot/spark_mode": "connect"})
    response = api.client.delete(f"/api/v1/jobs/apps/{PLATFORM_APP_ID}", headers=AUTH)
    assert response.status_code == 200
    body = response.json()
    assert (body["action"], body["dagster_run_id"]) == ("application_killed", None)
    assert f"its name claims run {PLATFORM_RUN_ID}, which did not record it" in body["message"]
    assert api.master.killed == [PLATFORM_APP_ID]
    assert api.dagster.terminated == []
    assert api.dagster.runs[PLATFORM_RUN_ID].status == "QUEUED"


def test_a_runs_own_application_still_stops_through_its_run_with_force(api: Api) -> None:
    api.dagster.add_run("STARTED", run_id=PLATFORM_RUN_ID, tags=OWN_APP_TAGS)
    response = api.client.delete(f"/api/v1/jobs/apps/{PLATFORM_APP_ID}", params={"force": "true"}, headers=AUTH)
    assert response.status_code == 202
    assert api.dagster.terminated == [PLATFORM_RUN_ID]


def test_dagster_down_is_503_on_the_app_list_naming_dagster(served: Api) -> None:
    served.dagster.down = dagster_down()
    response = served.client.get("/api/v1/jobs/apps")
    assert response.status_code == 503
    assert response.json()["detail"].startswith("Dagster unavailable:")


# --- backfills -----------------------------------------------------------------------------------------------
def test_a_backfill_can_be_followed_and_canceled(api: Api) -> None:
    backfill_id = submit(api, start="2025-04-01-00:00", end="2025-04-01-02:00").json()["backfill_id"]
    body = api.client.get(f"/api/v1/jobs/backfills/{backfill_id}").json()
    assert body["partitions"] == ["2025-04-01-00:00", "2025-04-01-01:00", "2025-04-01-02:00"]
    assert (body["start"], body["end"], body["status"]) == ("2025-04-01-00:00", "2025-04-01-02:00", "REQUESTED")
    response = api.client.delete(f"/api/v1/jobs/backfills/{backfill_id}", headers=AUTH)
    assert response.status_code == 202
    assert response.json()["status"] == "CANCELING"
    assert api.client.get("/api/v1/jobs/backfills/nosuchid").status_code == 404
