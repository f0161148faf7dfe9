"""The Dagster instance configuration the stack writes."""

from __future__ import annotations

import json
from collections.abc import Callable

from iot_platform.settings import Settings
from iot_platform.stack.dagster import dagster_config, write_dagster_yaml


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
