"""The cluster health sensor's logic, on master states captured from a real master (served by a fake client)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from dagster import (
    AssetCheckEvaluation,
    AssetCheckSeverity,
    AssetObservation,
    DagsterInstance,
    SensorResult,
    build_sensor_context,
    instance_for_test,
)

from iot_platform.assets.spark_cluster import (
    CHECK_CONNECT_SERVER,
    CHECK_ENOUGH_WORKERS,
    CHECK_MASTER_ALIVE,
    CHECK_NO_STARVED_APPS,
    SPARK_CLUSTER,
    HealthThresholds,
)
from iot_platform.clients.spark import ConnectServerProbe
from iot_platform.errors import ServiceUnavailable
from iot_platform.sensors.spark_cluster_health import (
    SENSOR_NAME,
    HealthCursor,
    HealthTick,
    build_spark_cluster_health_sensor,
    evaluate_cluster_health,
)
from iot_platform.settings import load_settings
from iot_platform_tests.clients.spark_master_fakes import (
    WEB_URL,
    FakeMaster,
    FakeMasterResource,
    load_fixture,
    master_down,
)

NOW = dt.datetime(2026, 11, 24, 2, 0, tzinfo=dt.UTC)
THRESHOLDS = HealthThresholds(min_workers=1, max_app_wait_s=300)
DOWN = master_down()


CONNECT_URL = "sc://spark-connect.test:15002"
SERVER_DOWN = ConnectServerProbe(CONNECT_URL, None, "Connection refused", 0.01)


def tick(
    answer: dict[str, Any] | ServiceUnavailable,
    cursor: HealthCursor | None = None,
    now: dt.datetime = NOW,
    thresholds: HealthThresholds = THRESHOLDS,
    connect: ConnectServerProbe | None = None,
) -> HealthTick:
    return evaluate_cluster_health(FakeMaster(answer), thresholds, cursor or HealthCursor(), now, connect)


def outcome(result: HealthTick, name: str) -> Any:
    return next(o for o in result.outcomes if o.check_name == name)


def test_observation_numbers_are_the_masters() -> None:
    raw = load_fixture("master_app_running_and_waiting.json")
    result = tick(raw)
    assert result.observation is not None
    metadata = {key: value.value for key, value in result.observation.metadata.items()}
    assert metadata["alive_workers"] == raw["aliveworkers"]
    assert metadata["dead_workers"] == sum(1 for w in raw["workers"] if w["state"] == "DEAD")
    assert (metadata["total_cores"], metadata["used_cores"]) == (raw["cores"], raw["coresused"])
    assert (metadata["total_memory_mib"], metadata["used_memory_mib"]) == (raw["memory"], raw["memoryused"])
    assert metadata["active_apps"] == len(raw["activeapps"])
    assert metadata["waiting_apps"] == sum(1 for a in raw["activeapps"] if a["state"] == "WAITING")
    assert metadata["status"] == raw["status"]


def test_healthy_idle_cluster_passes_every_check() -> None:
    result = tick(load_fixture("master_one_worker_idle.json"))
    assert [(o.check_name, o.passed) for o in result.outcomes] == [
        (CHECK_MASTER_ALIVE, True),
        (CHECK_ENOUGH_WORKERS, True),
        (CHECK_NO_STARVED_APPS, True),
        (CHECK_CONNECT_SERVER, True),  # no server in use
    ]


def test_master_down_fails_checks_with_the_url_and_records_no_observation() -> None:
    result = tick(DOWN)
    assert result.observation is None
    assert [o.passed for o in result.outcomes] == [False, False, False, True]
    assert all(WEB_URL in o.message for o in result.outcomes[:3])
    assert outcome(result, CHECK_NO_STARVED_APPS).severity == AssetCheckSeverity.WARN


def test_master_not_alive_fails_with_its_status() -> None:
    result = tick({**load_fixture("master_one_worker_idle.json"), "status": "RECOVERING"})
    master = outcome(result, CHECK_MASTER_ALIVE)
    assert not master.passed
    assert "RECOVERING" in master.message and WEB_URL in master.message


def test_dead_worker_fails_naming_worker_and_where() -> None:
    raw = load_fixture("master_worker_dead_app_without_cores.json")
    dead = raw["workers"][0]
    workers = outcome(tick(raw), CHECK_ENOUGH_WORKERS)
    assert not workers.passed
    assert dead["id"] in workers.message
    assert f"{dead['host']}:{dead['port']}" in workers.message
    assert "DEAD" in workers.message


def test_minimum_workers_is_configurable() -> None:
    raw = load_fixture("master_one_worker_idle.json")
    assert outcome(tick(raw, thresholds=HealthThresholds(0, 300)), CHECK_ENOUGH_WORKERS).passed
    two = outcome(tick(raw, thresholds=HealthThresholds(2, 300)), CHECK_ENOUGH_WORKERS)
    assert not two.passed and "minimum of 2" in two.message


def with_waiting_duration(duration_ms: int) -> dict[str, Any]:
    raw = load_fixture("master_app_running_and_waiting.json")
    for app in raw["activeapps"]:
        if app["state"] == "WAITING":
            app["duration"] = duration_ms
    return raw


def test_waiting_app_fails_only_after_the_configured_time() -> None:
    raw = load_fixture("master_app_running_and_waiting.json")
    waiting = next(app for app in raw["activeapps"] if app["state"] == "WAITING")
    assert outcome(tick(with_waiting_duration(299_000)), CHECK_NO_STARVED_APPS).passed
    late = outcome(tick(with_waiting_duration(301_000)), CHECK_NO_STARVED_APPS)
    assert not late.passed
    assert waiting["id"] in late.message and waiting["name"] in late.message
    assert "301 s" in late.message


def test_app_that_lost_its_cores_fails_once_it_has_waited_too_long() -> None:
    raw = load_fixture("master_worker_dead_app_without_cores.json")
    app = raw["activeapps"][0]
    first = tick(raw)
    assert outcome(first, CHECK_NO_STARVED_APPS).passed  # just noticed: waiting 0 s
    assert app["id"] in first.cursor.waiting_since

    later = tick(raw, cursor=first.cursor, now=NOW + dt.timedelta(seconds=301))
    starved = outcome(later, CHECK_NO_STARVED_APPS)
    assert not starved.passed
    assert app["id"] in starved.message
    assert app["name"].rsplit(":", 1)[1] in starved.message  # the Dagster run id


def test_waiting_memory_is_dropped_once_the_app_has_cores_again() -> None:
    lost = tick(load_fixture("master_worker_dead_app_without_cores.json"))
    recovered = tick(load_fixture("master_worker_restarted.json"), cursor=lost.cursor)
    assert recovered.cursor.waiting_since == {}


def test_state_changes_are_logged_once() -> None:
    healthy = load_fixture("master_one_worker_idle.json")
    first = tick(healthy)
    assert {c.message.split(":")[0] for c in first.changes} == {
        f"spark_cluster check {name} passes"
        for name in (CHECK_MASTER_ALIVE, CHECK_ENOUGH_WORKERS, CHECK_NO_STARVED_APPS, CHECK_CONNECT_SERVER)
    }
    again = tick(healthy, cursor=first.cursor)
    assert again.changes == []

    down = tick(DOWN, cursor=again.cursor)
    assert len(down.changes) == 3 and all(c.level == "warning" for c in down.changes)
    still_down = tick(DOWN, cursor=down.cursor)
    assert still_down.changes == []

    back = tick(healthy, cursor=still_down.cursor)
    assert [c.level for c in back.changes] == ["info", "info", "info"]


def test_a_server_that_stops_answering_is_logged_once_naming_its_url() -> None:
    healthy = load_fixture("master_one_worker_idle.json")
    first = tick(healthy)
    down = tick(healthy, cursor=first.cursor, connect=SERVER_DOWN)
    assert [(c.level, CONNECT_URL in c.message) for c in down.changes] == [("warning", True)]
    assert f"check {CHECK_CONNECT_SERVER} FAILS" in down.changes[0].message
    assert tick(healthy, cursor=down.cursor, connect=SERVER_DOWN).changes == []
    assert CHECK_CONNECT_SERVER in down.summary


def test_worker_death_is_logged_with_its_id() -> None:
    before = tick(load_fixture("master_driver_running_apps_completed.json"))
    worker_id = load_fixture("master_worker_dead_app_without_cores.json")["workers"][0]["id"]
    after = tick(load_fixture("master_worker_dead_app_without_cores.json"), cursor=before.cursor)
    assert any(worker_id in c.message and "is now DEAD (was ALIVE)" in c.message for c in after.changes)


def test_cursor_survives_json_and_bad_cursors_start_afresh() -> None:
    cursor = tick(load_fixture("master_worker_dead_app_without_cores.json")).cursor
    assert HealthCursor.from_json(cursor.to_json()) == cursor
    for bad in ("not json", '{"v": 999}', "[]", '{"v": 1, "waiting_since": {"a": "x"}}'):
        assert HealthCursor.from_json(bad) == HealthCursor()


# --- the sensor itself ---------------------------------------------------------------------------------------------
@pytest.fixture
def instance() -> Iterator[DagsterInstance]:
    with instance_for_test() as test_instance:
        yield test_instance


def run_sensor(
    instance: DagsterInstance,
    client: FakeMaster,
    cursor: str | None = None,
    connect: ConnectServerProbe | None = None,
) -> SensorResult:
    sensor_def = build_spark_cluster_health_sensor(load_settings(spark_health_interval_s=15))
    with build_sensor_context(
        instance=instance,
        cursor=cursor,
        sensor_name=SENSOR_NAME,
        resources={"spark_master": FakeMasterResource(client, connect)},
    ) as context:
        result = sensor_def(context)
    assert isinstance(result, SensorResult)
    return result


def test_sensor_ticks_every_configured_interval() -> None:
    sensor_def = build_spark_cluster_health_sensor(load_settings(spark_health_interval_s=15))
    assert sensor_def.minimum_interval_seconds == 15


def test_sensor_records_observation_and_check_evaluations(instance: DagsterInstance) -> None:
    result = run_sensor(instance, FakeMaster(load_fixture("master_one_worker_idle.json")))
    observations = [e for e in result.asset_events if isinstance(e, AssetObservation)]
    evaluations = [e for e in result.asset_events if isinstance(e, AssetCheckEvaluation)]
    assert [o.asset_key for o in observations] == [SPARK_CLUSTER]
    assert {(e.check_name, e.passed) for e in evaluations} == {
        (CHECK_MASTER_ALIVE, True),
        (CHECK_ENOUGH_WORKERS, True),
        (CHECK_NO_STARVED_APPS, True),
        (CHECK_CONNECT_SERVER, True),
    }
    assert HealthCursor.from_json(result.cursor).check_signatures  # remembered for the next tick


def test_sensor_reports_a_silent_connect_server_as_a_failed_error_check(instance: DagsterInstance) -> None:
    result = run_sensor(instance, FakeMaster(load_fixture("master_one_worker_idle.json")), connect=SERVER_DOWN)
    evaluation = next(
        e for e in result.asset_events if isinstance(e, AssetCheckEvaluation) and e.check_name == CHECK_CONNECT_SERVER
    )
    assert not evaluation.passed and evaluation.severity == AssetCheckSeverity.ERROR
    assert CONNECT_URL in (evaluation.description or "") and "Connection refused" in (evaluation.description or "")
    assert evaluation.metadata["connect_url"].value == CONNECT_URL


def test_sensor_keeps_ticking_while_the_master_is_down(instance: DagsterInstance) -> None:
    client = FakeMaster(DOWN)
    first = run_sensor(instance, client)
    second = run_sensor(instance, client, cursor=first.cursor)
    assert client.calls == 2
    for result in (first, second):
        failing = {e.check_name for e in result.asset_events if isinstance(e, AssetCheckEvaluation) and not e.passed}
        assert failing == {CHECK_MASTER_ALIVE, CHECK_ENOUGH_WORKERS, CHECK_NO_STARVED_APPS}
        assert not any(isinstance(e, AssetObservation) for e in result.asset_events)
        assert result.skip_reason is not None and WEB_URL in (result.skip_reason.skip_message or "")
