"""Cluster health and run-failure reporting, bundled for ``iot_platform/definitions.py`` to merge."""

from __future__ import annotations

from dagster import Definitions

from iot_platform.assets.spark_cluster import HealthThresholds, spark_cluster_asset, spark_cluster_checks
from iot_platform.resources.spark_master import SparkMasterResource
from iot_platform.sensors.run_failures import build_run_failure_sensor
from iot_platform.sensors.spark_cluster_health import build_spark_cluster_health_sensor
from iot_platform.settings import Settings

SPARK_MASTER_RESOURCE_KEY = "spark_master"
"""Resource key of :class:`SparkMasterResource`; Spark-backed assets use it for ``ensure_master_alive``."""


def cluster_health_definitions(settings: Settings) -> Definitions:
    """The ``spark_cluster`` asset and checks, the health and run-failure sensors, and the master resource.

    Args:
        settings: The platform settings (master URL, health interval and thresholds, webhook URL).

    Returns:
        Definitions to merge with ``dagster.Definitions.merge``.
    """
    return Definitions(
        assets=[spark_cluster_asset(settings)],
        asset_checks=[spark_cluster_checks(HealthThresholds.from_settings(settings))],
        sensors=[build_spark_cluster_health_sensor(settings), build_run_failure_sensor(settings)],
        resources={SPARK_MASTER_RESOURCE_KEY: SparkMasterResource.from_settings(settings)},
    )
