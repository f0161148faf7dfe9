"""The Spark resource: typed fields made from the settings, secrets as environment variables, same sessions as the
plain client."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from iot_platform.clients.spark import spark_conf
from iot_platform.errors import StackError
from iot_platform.resources.spark import SparkResource
from iot_platform.settings import load_settings
from iot_platform_tests.clients.test_spark import prepare

SECRETS = {"IOT_POSTGRES_PASSWORD": "pg-secret", "IOT_S3_SECRET_KEY": "s3-secret"}


def test_local_sessions_get_the_clients_conf(tmp_path: Path) -> None:
    settings = load_settings(IOT_CACHE_DIR=tmp_path, spark_master_url="spark://master:7077")
    prepare(tmp_path)

    with dg.build_resources({"spark": SparkResource.from_settings(settings)}) as resources:
        conf = resources.spark.conf("iot-platform:ingest:run-1")

    assert conf == spark_conf(settings, "iot-platform:ingest:run-1")


def test_secrets_are_environment_variables_read_at_run_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(
        IOT_CACHE_DIR=tmp_path,
        profile="postgres-s3",
        postgres_password=SECRETS["IOT_POSTGRES_PASSWORD"],
        s3_access_key="access",
        s3_secret_key=SECRETS["IOT_S3_SECRET_KEY"],
    )
    prepare(tmp_path)
    resource = SparkResource.from_settings(settings)

    assert isinstance(resource.postgres_password, dg.EnvVar)
    assert isinstance(resource.s3_secret_key, dg.EnvVar)
    assert not set(SECRETS.values()) & set(resource.catalog_conf.values())
    with dg.build_resources({"spark": resource}) as resources:
        assert resources.spark.conf("app") == spark_conf(settings, "app")


def test_a_run_without_prepared_jars_fails_before_spark_says_what_to_run(tmp_path: Path) -> None:
    resource = SparkResource.from_settings(load_settings(IOT_CACHE_DIR=tmp_path, spark_run_mode="application"))

    with pytest.raises(dg.DagsterResourceFunctionError) as failed, dg.build_resources({"spark": resource}):
        pass
    assert isinstance(failed.value.__cause__, StackError)
    assert "run `iot-platform stack fetch`" in str(failed.value.__cause__)


def test_a_connect_run_needs_no_jars_of_its_own_and_names_a_server_that_does_not_answer(tmp_path: Path) -> None:
    resource = SparkResource.from_settings(
        load_settings(IOT_CACHE_DIR=tmp_path, spark_connect_url=f"sc://127.0.0.1:{free_port()}")
    )

    run_id = "0" * 8 + "-0000-0000-0000-" + "0" * 12
    with (
        dg.build_resources({"spark": resource}) as resources,
        pytest.raises(StackError) as failed,
        resources.spark.session("ingest", run_id),
    ):
        pass
    assert resource.connect_url in str(failed.value)
    assert "`iot-platform stack up`" in str(failed.value)


def free_port() -> int:
    """A loopback port nothing listens on."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
