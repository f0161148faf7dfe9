"""The platform's Dagster definitions, loaded by ``workspace.yaml`` (``dagster dev -w workspace.yaml``)."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from iot_platform.assets.hourly_stats import build_hourly_stats_asset
from iot_platform.assets.maintenance import build_maintenance_assets
from iot_platform.assets.retention import build_run_retention_asset, build_table_retention_asset
from iot_platform.assets.sensor_alerts import build_sensor_alerts_asset
from iot_platform.assets.sensor_raw import sensor_raw_asset
from iot_platform.assets.sensor_readings import ingest_readings
from iot_platform.cluster_definitions import cluster_health_definitions
from iot_platform.jobs import (
    HOURLY_STATS_JOB,
    compaction_job,
    hourly_stats_job,
    housekeeping_job,
    ingest_job,
    retention_job,
)
from iot_platform.partitions import PARTITION_KEY_FORMAT, first_partition
from iot_platform.registry import load_registry
from iot_platform.resources.iceberg import IcebergResource
from iot_platform.resources.kafka import KafkaResource
from iot_platform.resources.spark import SparkResource
from iot_platform.run_workers import fork_run_workers, preloaded
from iot_platform.schedules import build_schedules
from iot_platform.sensors.alert_notifier import build_alert_notifier
from iot_platform.sensors.late_data import build_late_data_sensor
from iot_platform.sensors.sensor_raw_observer import build_sensor_raw_observer
from iot_platform.settings import Settings, load_settings


def hourly_partitions(start: dt.date) -> dg.HourlyPartitionsDefinition:
    """Hourly UTC partitions from midnight of ``start``; the last partition is the last completed hour."""
    return dg.HourlyPartitionsDefinition(
        start_date=first_partition(start).strftime(PARTITION_KEY_FORMAT), timezone="UTC", fmt=PARTITION_KEY_FORMAT
    )


def build_definitions(settings: Settings) -> dg.Definitions:
    """Every asset, check, job, schedule, sensor and resource of the platform for the given settings.

    Raises:
        ConfigurationError: the sensor registry (``IOT_SENSOR_REGISTRY``) is unreadable or invalid; the message
            names the field.
    """
    registry = load_registry(settings.sensor_registry)
    pipeline = dg.Definitions(
        assets=[
            sensor_raw_asset(settings),
            ingest_readings,
            build_hourly_stats_asset(settings, hourly_partitions(settings.partitions_start)),
            build_sensor_alerts_asset(registry),
            *build_maintenance_assets(settings),
            build_table_retention_asset(settings),
            build_run_retention_asset(settings),
        ],
        jobs=[ingest_job, hourly_stats_job, compaction_job, housekeeping_job, retention_job],
        schedules=build_schedules(settings),
        sensors=[
            build_sensor_raw_observer(settings),
            build_late_data_sensor(settings, HOURLY_STATS_JOB),
            build_alert_notifier(settings),
        ],
        resources={
            "spark": SparkResource.from_settings(settings),
            "kafka": KafkaResource.from_settings(settings),
            "iceberg": IcebergResource.from_settings(settings),
        },
    )
    return dg.Definitions.merge(pipeline, cluster_health_definitions(settings))


@dg.definitions
def defs() -> dg.Definitions:
    """Built when Dagster loads the code location, from the ``IOT_*`` settings of that process.

    The settings are loaded here once; resources, sensors and schedules get their values from them. In the code
    server, runs are then started as forks of a process that has the platform loaded (``run_workers``); a run
    forked from it takes the definitions built there.
    """
    settings = load_settings()
    if settings.dagster_fork_run_workers:
        fork_run_workers()
    return preloaded() or build_definitions(settings)
