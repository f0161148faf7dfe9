"""The Dagster instance configuration the stack writes."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable

from iot_platform.settings import Settings
from iot_platform.stack.dagster import (
    DagsterCodeServer,
    DagsterDaemon,
    DagsterWebserver,
    code_server_health,
    dagster_config,
    write_dagster_yaml,
    write_instance_files,
)


def test_local_profile_keeps_dagsters_own_storage_and_runs_one_run_at_a_time(
    make_settings: Callable[..., Settings],
) -> None:
    config = dagster_config(make_settings())
    assert "storage" not in config
    assert config["concurrency"] == {"runs": {"max_concurrent_runs": 1}, "pools": {"default_limit": 1}}
    assert config["run_coordinator"]["config"] == {"dequeue_interval_seconds": 1}  # type: ignore[index]
    assert config["telemetry"] == {"enabled": False}


def test_postgres_s3_profile_stores_runs_in_postgres_without_writing_the_password(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings("postgres-s3", postgres_db="catalog", postgres_port=15433)
    path = write_dagster_yaml(settings)
    text = path.read_text()
    assert path == settings.dagster_home / "dagster.yaml"
    assert "catalog-password" not in text
    storage = json.loads(text)["storage"]["postgres"]["postgres_db"]
    assert storage["db_name"] == "catalog_dagster"
    assert storage["port"] == 15433
    assert storage["password"] == {"env": "IOT_POSTGRES_PASSWORD"}


def test_the_instance_purges_ticks_after_the_configured_days(make_settings: Callable[..., Settings]) -> None:
    from dagster import DagsterInstance
    from dagster._core.definitions.run_request import InstigatorType
    from dagster._core.scheduler.instigation import TickStatus

    settings = make_settings(retention_ticks_days=12, retention_skipped_ticks_days=2)
    write_dagster_yaml(settings)
    with DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        sensor = instance.get_tick_retention_settings(InstigatorType.SENSOR)
        schedule = instance.get_tick_retention_settings(InstigatorType.SCHEDULE)
    assert sensor[TickStatus.SKIPPED] == 2
    assert sensor[TickStatus.SUCCESS] == sensor[TickStatus.FAILURE] == 12
    assert set(schedule.values()) == {12}


def test_webserver_and_daemon_load_the_code_location_from_the_code_server(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(dagster_code_port=14266)
    path = write_instance_files(settings)
    assert path == settings.dagster_home / "workspace.yaml"
    assert json.loads(path.read_text()) == {
        "load_from": [{"grpc_server": {"host": settings.bind_host, "port": 14266, "location_name": "iot_platform"}}]
    }
    for service in (DagsterWebserver(settings), DagsterDaemon(settings)):
        assert service.command()[service.command().index("-w") + 1] == str(path)
    command = DagsterCodeServer(settings).command()
    assert command[1:3] == ["code-server", "start"] and command[command.index("-p") + 1] == "14266"
    assert command[command.index("--location-name") + 1] == "iot_platform"


def test_a_code_server_that_does_not_answer_is_unhealthy_with_its_address() -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    health = code_server_health("127.0.0.1", port)
    assert not health.ok and f"127.0.0.1:{port}" in health.detail
