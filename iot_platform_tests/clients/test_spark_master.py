"""The Spark master client: application names, parsing JSON captured from a real master, HTTP errors, kill."""

from __future__ import annotations

import datetime as dt
import socket
import uuid
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from iot_platform.clients.spark_master import (
    ClusterState,
    HttpSparkMasterClient,
    MasterStateError,
    parse_master_state,
    parse_spark_app_name,
    spark_app_name,
)
from iot_platform.errors import NotFound, PlatformError, ServiceUnavailable
from iot_platform_tests.clients.spark_master_fakes import FIXTURES, WEB_URL, load_fixture

load = load_fixture
ALL_FIXTURES = sorted(path.name for path in FIXTURES.glob("*.json"))


def utc_ms(value: int | str) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(value) / 1000, tz=dt.UTC)


# --- application names -----------------------------------------------------------------------------------------
def test_app_name_round_trips_kind_and_run_id() -> None:
    run_id = str(uuid.uuid4())
    parsed = parse_spark_app_name(spark_app_name("hourly_stats", run_id))
    assert parsed is not None
    assert (parsed.kind, parsed.dagster_run_id) == ("hourly_stats", run_id)


@pytest.mark.parametrize("name", ["adhoc-notebook", "iot-platform:hourly_stats", "iot-platform:x:not-a-run-id", ""])
def test_names_not_made_by_the_platform_have_no_run(name: str) -> None:
    assert parse_spark_app_name(name) is None


@pytest.mark.parametrize(("kind", "run_id"), [("", str(uuid.uuid4())), ("a:b", str(uuid.uuid4())), ("x", "123")])
def test_app_name_refuses_parts_that_would_not_parse_back(kind: str, run_id: str) -> None:
    with pytest.raises(ValueError, match="cannot name a Spark application"):
        spark_app_name(kind, run_id)


# --- parsing captured documents --------------------------------------------------------------------------------
@pytest.mark.parametrize("fixture", ALL_FIXTURES)
def test_parsed_state_carries_the_masters_numbers(fixture: str) -> None:
    raw = load(fixture)
    state = parse_master_state(raw, web_url=WEB_URL + "/")

    assert state.web_url == WEB_URL
    assert state.master_url == raw["url"]
    assert state.status == raw["status"]
    assert (state.alive_workers, state.cores, state.cores_used) == (raw["aliveworkers"], raw["cores"], raw["coresused"])
    assert (state.memory_mib, state.memory_used_mib) == (raw["memory"], raw["memoryused"])
    assert [w.id for w in state.workers] == [w["id"] for w in raw["workers"]]
    for worker, raw_worker in zip(state.workers, raw["workers"], strict=True):
        assert (worker.host, worker.port, worker.state) == (raw_worker["host"], raw_worker["port"], raw_worker["state"])
        assert (worker.cores, worker.cores_used) == (raw_worker["cores"], raw_worker["coresused"])
        assert (worker.memory_mib, worker.memory_used_mib) == (raw_worker["memory"], raw_worker["memoryused"])
        assert worker.last_heartbeat == utc_ms(raw_worker["lastheartbeat"])
    for apps, key, active in ((state.active_apps, "activeapps", True), (state.completed_apps, "completedapps", False)):
        assert [a.id for a in apps] == [a["id"] for a in raw[key]]
        for app, raw_app in zip(apps, raw[key], strict=True):
            assert (app.name, app.state, app.cores) == (raw_app["name"], raw_app["state"], raw_app["cores"])
            assert app.submitted_at == utc_ms(raw_app["starttime"])
            assert app.duration_ms == raw_app["duration"]
            assert app.active is active
    assert [d.id for d in state.active_drivers] == [d["id"] for d in raw["activedrivers"]]
    assert [d.id for d in state.completed_drivers] == [d["id"] for d in raw["completeddrivers"]]


def test_platform_apps_map_to_their_dagster_run_and_others_do_not() -> None:
    state = parse_master_state(load("master_app_running_and_waiting.json"), web_url=WEB_URL)
    by_name = {app.name: app for app in state.active_apps}
    platform_app = next(app for name, app in by_name.items() if name.startswith("iot-platform:"))
    assert platform_app.dagster_run_id == platform_app.name.rsplit(":", 1)[1]
    assert by_name["adhoc-notebook"].dagster_run_id is None


def test_waiting_apps_are_those_without_executors_yet() -> None:
    raw = load("master_app_running_and_waiting.json")
    state = parse_master_state(raw, web_url=WEB_URL)
    assert [app.id for app in state.waiting_apps] == [a["id"] for a in raw["activeapps"] if a["state"] == "WAITING"]
    assert state.waiting_apps and all(app.cores == 0 for app in state.waiting_apps)


def test_dead_worker_is_counted_and_its_app_holds_no_cores() -> None:
    state = parse_master_state(load("master_worker_dead_app_without_cores.json"), web_url=WEB_URL)
    assert state.alive_workers == 0
    assert [w.state for w in state.dead_workers] == ["DEAD"]
    assert [(app.state, app.cores) for app in state.active_apps] == [("RUNNING", 0)]


def test_driver_start_time_given_as_a_string_is_parsed() -> None:
    raw = load("master_driver_running_apps_completed.json")
    raw_driver = raw["activedrivers"][0]
    assert isinstance(raw_driver["starttime"], str)  # the master really sends it as a string
    driver = parse_master_state(raw, web_url=WEB_URL).active_drivers[0]
    assert driver.submitted_at == utc_ms(raw_driver["starttime"])
    assert (driver.state, driver.worker_id, driver.main_class) == ("RUNNING", raw_driver["worker"], "Sleeper")
    assert (driver.cores, driver.memory_mib) == (raw_driver["cores"], raw_driver["memory"])


def test_application_lookup_covers_active_and_completed() -> None:
    raw = load("master_worker_restarted.json")
    state = parse_master_state(raw, web_url=WEB_URL)
    completed_id = raw["completedapps"][0]["id"]
    found = state.application(completed_id)
    assert found is not None and not found.active
    assert state.application("app-unknown") is None


@pytest.mark.parametrize(
    "document",
    [
        [],
        {"status": "ALIVE"},
        {"workers": [], "url": "spark://x"},
        {"workers": [{"state": "ALIVE"}], "status": "ALIVE"},
    ],
)
def test_documents_that_are_not_a_masters_state_are_refused(document: Any) -> None:
    with pytest.raises(MasterStateError):
        parse_master_state(document, web_url=WEB_URL)


# --- HTTP client -----------------------------------------------------------------------------------------------
def client_for(handler: Any, **kwargs: Any) -> HttpSparkMasterClient:
    return HttpSparkMasterClient(WEB_URL, transport=httpx.MockTransport(handler), **kwargs)


def serve(document: Any, status: int = 200) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/json/"
        return httpx.Response(status, json=document)

    return handler


def test_client_reads_the_json_endpoint() -> None:
    raw = load("master_one_worker_idle.json")
    with client_for(serve(raw)) as client:
        state = client.cluster_state()
    assert isinstance(state, ClusterState)
    assert state.workers[0].id == raw["workers"][0]["id"]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_master_is_service_unavailable_naming_the_url() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    with HttpSparkMasterClient(url, timeout_s=2) as client, pytest.raises(ServiceUnavailable) as raised:
        client.cluster_state()
    assert raised.value.service == "Spark master"
    assert url in str(raised.value)


@pytest.mark.parametrize(
    ("handler", "expected"),
    [
        (serve({"error": "boom"}, status=500), "HTTP 500"),
        (lambda request: httpx.Response(200, text="<html>not json</html>"), "did not answer like a Spark master"),
        (serve(load("master_one_worker_idle.json")["workers"][0]), "did not answer like a Spark master"),
    ],
)
def test_wrong_answers_are_service_unavailable(handler: Any, expected: str) -> None:
    with client_for(handler) as client, pytest.raises(ServiceUnavailable, match=expected) as raised:
        client.cluster_state()
    assert WEB_URL in str(raised.value)


class KillableMaster:
    """Serves a captured document and, like the master, moves an app to completed when its kill is posted."""

    def __init__(self, document: dict[str, Any], honour_kills: bool = True) -> None:
        self.document = document
        self.honour_kills = honour_kills
        self.kill_requests: list[dict[str, list[str]]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path == "/app/kill/":
            form = parse_qs(request.content.decode())
            self.kill_requests.append(form)
            if self.honour_kills:
                for app in list(self.document["activeapps"]):
                    if app["id"] == form["id"][0]:
                        self.document["activeapps"].remove(app)
                        self.document["completedapps"].append({**app, "state": "KILLED"})
            return httpx.Response(302, headers={"Location": WEB_URL + "/"})
        return serve(self.document)(request)


def test_kill_posts_to_the_masters_kill_endpoint_and_waits_for_the_end() -> None:
    document = load("master_app_running_and_waiting.json")
    app_id = document["activeapps"][0]["id"]
    master = KillableMaster(document)
    with client_for(master) as client:
        killed = client.kill_application(app_id)
    assert master.kill_requests == [{"id": [app_id], "terminate": ["true"]}]
    assert (killed.id, killed.state, killed.active) == (app_id, "KILLED", False)


def test_killing_an_ended_app_returns_it_without_posting() -> None:
    document = load("master_worker_restarted.json")
    ended = document["completedapps"][0]
    master = KillableMaster(document)
    with client_for(master) as client:
        assert client.kill_application(ended["id"]).state == ended["state"]
    assert master.kill_requests == []


def test_killing_an_unknown_app_is_not_found() -> None:
    with client_for(KillableMaster(load("master_one_worker_idle.json"))) as client, pytest.raises(NotFound):
        client.kill_application("app-20990101000000-9999")


def test_a_kill_the_master_ignores_is_reported() -> None:
    document = load("master_app_running_and_waiting.json")
    master = KillableMaster(document, honour_kills=False)
    with client_for(master, kill_wait_s=0.5) as client, pytest.raises(PlatformError, match="killEnabled"):
        client.kill_application(document["activeapps"][0]["id"])
