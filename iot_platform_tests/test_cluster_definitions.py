"""The cluster health bundle loads as Dagster definitions and its on-demand checks run."""

from __future__ import annotations

from dagster import AssetCheckKey, AssetSelection, Definitions, instance_for_test, materialize

from iot_platform.assets.spark_cluster import (
    CHECK_CONNECT_SERVER,
    CHECK_ENOUGH_WORKERS,
    CHECK_MASTER_ALIVE,
    CHECK_NO_STARVED_APPS,
    SPARK_CLUSTER,
)
from iot_platform.clients.spark import ConnectServerProbe
from iot_platform.cluster_definitions import SPARK_MASTER_RESOURCE_KEY, cluster_health_definitions
from iot_platform.resources.spark_master import SparkMasterResource
from iot_platform.sensors.run_failures import SENSOR_NAME as RUN_FAILURE_SENSOR
from iot_platform.sensors.spark_cluster_health import SENSOR_NAME as HEALTH_SENSOR
from iot_platform.settings import load_settings
from iot_platform_tests.clients.spark_master_fakes import FakeMaster, FakeMasterResource, master_down

SETTINGS = load_settings(spark_web_url="http://master.test:8080", spark_health_interval_s=20, spark_min_workers=2)


def test_bundle_loads_with_the_contract_asset_key_checks_and_sensors() -> None:
    defs = cluster_health_definitions(SETTINGS)
    Definitions.validate_loadable(defs)
    repo = defs.get_repository_def()
    spec = repo.asset_graph.get(SPARK_CLUSTER)
    assert spec.key == SPARK_CLUSTER and "spark" in spec.kinds
    assert not spec.is_materializable
    assert repo.asset_graph.asset_check_keys == {
        AssetCheckKey(SPARK_CLUSTER, name)
        for name in (CHECK_MASTER_ALIVE, CHECK_ENOUGH_WORKERS, CHECK_NO_STARVED_APPS, CHECK_CONNECT_SERVER)
    }
    assert {sensor.name for sensor in repo.sensor_defs} == {HEALTH_SENSOR, RUN_FAILURE_SENSOR}
    assert repo.get_sensor_def(HEALTH_SENSOR).minimum_interval_seconds == 20
    resource = defs.resources[SPARK_MASTER_RESOURCE_KEY]  # type: ignore[index]
    assert isinstance(resource, SparkMasterResource) and resource.web_url == SETTINGS.master_web_url
    assert resource.connect_url == SETTINGS.connect_url


def test_the_resource_asks_no_server_when_runs_start_their_own_application() -> None:
    resource = SparkMasterResource.from_settings(load_settings(spark_run_mode="application"))
    assert resource.connect_url == "" and resource.probe_connect_server() is None


def test_on_demand_checks_report_a_down_master_as_failed_checks_not_a_crash() -> None:
    defs = cluster_health_definitions(SETTINGS)
    down = FakeMaster(master_down("http://master.test:8080"))
    silent = ConnectServerProbe(SETTINGS.connect_url, None, "Connection refused", 0.01)
    with instance_for_test() as instance:
        result = materialize(
            [*defs.assets, *defs.asset_checks],  # type: ignore[misc]
            instance=instance,
            resources={SPARK_MASTER_RESOURCE_KEY: FakeMasterResource(down, silent)},
            selection=AssetSelection.checks_for_assets(SPARK_CLUSTER),
        )
    assert result.success
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert {name: e.passed for name, e in evaluations.items()} == {
        CHECK_MASTER_ALIVE: False,
        CHECK_ENOUGH_WORKERS: False,
        CHECK_NO_STARVED_APPS: False,
        CHECK_CONNECT_SERVER: False,
    }
    assert "http://master.test:8080" in (evaluations[CHECK_MASTER_ALIVE].description or "")
    assert SETTINGS.connect_url in (evaluations[CHECK_CONNECT_SERVER].description or "")
