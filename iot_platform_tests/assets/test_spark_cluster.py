"""The ``spark_connect_server`` check of ``spark_cluster``: the warm server's answer judged by the master's state."""

from __future__ import annotations

from typing import Any

from dagster import AssetCheckSeverity

from iot_platform.assets.spark_cluster import CHECK_CONNECT_SERVER, check_connect_server
from iot_platform.clients.spark import CONNECT_SERVER_APP_NAME, ConnectServerProbe
from iot_platform.clients.spark_master import ClusterState, parse_master_state
from iot_platform_tests.clients.spark_master_fakes import WEB_URL, load_fixture

URL = "sc://spark-connect.test:15002"
SERVER_APP = "app-20261124015421-0000"


def answered(app_id: str = SERVER_APP) -> ConnectServerProbe:
    return ConnectServerProbe(URL, app_id, None, 0.2)


def refused() -> ConnectServerProbe:
    reason = f"the Spark Connect server at {URL} is not answering (Connection refused)"
    return ConnectServerProbe(URL, None, reason, 0.01)


def master_with_server(state: str = "RUNNING", cores: int = 1) -> ClusterState:
    """A captured master state whose first application is the Connect server."""
    raw: dict[str, Any] = load_fixture("master_app_running_and_waiting.json")
    raw["activeapps"][0].update({"id": SERVER_APP, "name": CONNECT_SERVER_APP_NAME, "state": state, "cores": cores})
    return parse_master_state(raw, web_url=WEB_URL)


def test_a_running_server_passes_naming_its_app_url_and_cores() -> None:
    outcome = check_connect_server(answered(), master_with_server(cores=2), WEB_URL)
    assert outcome.check_name == CHECK_CONNECT_SERVER
    assert outcome.passed
    assert SERVER_APP in outcome.message and URL in outcome.message
    assert "RUNNING with 2 core(s)" in outcome.message
    assert dict(outcome.metadata) == {"connect_url": URL, "server_app_id": SERVER_APP, "cores_held": 2}


def test_a_server_that_does_not_answer_fails_as_an_error_naming_url_and_reason() -> None:
    outcome = check_connect_server(refused(), master_with_server(), WEB_URL)
    assert not outcome.passed
    assert outcome.severity == AssetCheckSeverity.ERROR
    assert URL in outcome.message and "Connection refused" in outcome.message
    assert "stack up" in outcome.message
    assert outcome.metadata["server_app_id"] == "none" and outcome.metadata["cores_held"] == 0


def test_a_server_the_master_does_not_list_fails() -> None:
    state = parse_master_state(load_fixture("master_one_worker_idle.json"), web_url=WEB_URL)
    outcome = check_connect_server(answered(), state, WEB_URL)
    assert not outcome.passed and outcome.severity == AssetCheckSeverity.ERROR
    assert SERVER_APP in outcome.message and "does not list it" in outcome.message and WEB_URL in outcome.message


def test_a_server_the_master_lists_as_ended_or_waiting_fails_with_that_state() -> None:
    ended = parse_master_state(load_fixture("master_driver_running_apps_completed.json"), web_url=WEB_URL)
    killed = check_connect_server(answered("app-20261124015454-0001"), ended, WEB_URL)
    assert not killed.passed and "lists it as KILLED" in killed.message
    waiting = check_connect_server(answered(), master_with_server(state="WAITING", cores=0), WEB_URL)
    assert not waiting.passed and "lists it as WAITING" in waiting.message


def test_an_unreachable_master_leaves_the_check_failing_as_a_warning() -> None:
    outcome = check_connect_server(answered(), None, WEB_URL)
    assert not outcome.passed and outcome.severity == AssetCheckSeverity.WARN
    assert SERVER_APP in outcome.message and WEB_URL in outcome.message


def test_without_a_server_the_check_passes_saying_none_is_used() -> None:
    outcome = check_connect_server(None, None, WEB_URL)
    assert outcome.passed
    assert "IOT_SPARK_RUN_MODE=application" in outcome.message and "No Spark Connect server" in outcome.message


def test_a_restarted_server_changes_the_signature_so_the_sensor_logs_it() -> None:
    before = check_connect_server(answered(), master_with_server(), WEB_URL)
    raw = load_fixture("master_app_running_and_waiting.json")
    raw["activeapps"][0].update({"id": "app-20261124020000-0002", "name": CONNECT_SERVER_APP_NAME})
    after = check_connect_server(answered("app-20261124020000-0002"), parse_master_state(raw, web_url=WEB_URL), WEB_URL)
    assert before.passed and after.passed and before.signature != after.signature
