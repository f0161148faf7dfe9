"""Which services a stack runs for each profile, and in which order."""

from __future__ import annotations

from collections.abc import Callable

from iot_platform.settings import Settings
from iot_platform.stack.services import SERVICE_NAMES, services_for

ENGINES = [
    "kafka",
    "spark-master",
    "spark-worker",
    "catalog",
    "spark-connect",
    "dagster-code",
    "dagster-webserver",
    "dagster-daemon",
    "api",
    "generator",
]


def test_local_profile_runs_the_engines_only(make_settings: Callable[..., Settings]) -> None:
    assert [service.name for service in services_for(make_settings())] == ENGINES


def test_postgres_s3_profile_starts_its_database_and_object_store_first(
    make_settings: Callable[..., Settings],
) -> None:
    names = [service.name for service in services_for(make_settings("postgres-s3"))]
    assert names == ["postgres", "object-store", *ENGINES]
    assert tuple(names) == SERVICE_NAMES


def test_the_warm_server_runs_only_when_runs_use_it(make_settings: Callable[..., Settings]) -> None:
    names = [service.name for service in services_for(make_settings(spark_run_mode="application"))]
    assert names == [name for name in ENGINES if name != "spark-connect"]
