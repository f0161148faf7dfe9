"""Jobs of the platform. Spark jobs run in process, in a session of the warm Spark Connect server
(or in an application of their own in run mode ``application``)."""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job, in_process_executor

from iot_platform.assets.hourly_stats import HOURLY_STATS
from iot_platform.assets.sensor_alerts import SENSOR_ALERTS
from iot_platform.assets.sensor_readings import REJECTED_READINGS, SENSOR_READINGS
from iot_platform.runs import COMPACTION_JOB, HOURLY_STATS_JOB, HOUSEKEEPING_JOB, INGEST_JOB

__all__ = [
    "COMPACTION_JOB",
    "HOURLY_STATS_JOB",
    "HOUSEKEEPING_JOB",
    "INGEST_JOB",
    "compaction_job",
    "hourly_stats_job",
    "housekeeping_job",
    "ingest_job",
]

ingest_job = define_asset_job(
    INGEST_JOB,
    selection=AssetSelection.assets(SENSOR_READINGS, REJECTED_READINGS, SENSOR_ALERTS),
    description="Ingest new Kafka records into iot.sensor_readings / iot.rejected_readings (exactly once), then "
    "evaluate the sensor alert rules (iot.sensor_alerts, iot.sensor_state).",
    executor_def=in_process_executor,
)

hourly_stats_job = define_asset_job(
    HOURLY_STATS_JOB,
    selection=AssetSelection.assets(HOURLY_STATS),
    description="Ingest what is new, then rebuild the hourly statistics of the run's hour(s).",
    executor_def=in_process_executor,
)

compaction_job = define_asset_job(
    COMPACTION_JOB,
    selection=AssetSelection.groups("maintenance") & AssetSelection.key_substring("_compaction"),
    description="Compact the closed hours of iot.sensor_readings and the closed days of iot.hourly_stats and "
    "iot.rejected_readings into files of the target size.",
    executor_def=in_process_executor,
)

housekeeping_job = define_asset_job(
    HOUSEKEEPING_JOB,
    selection=AssetSelection.groups("maintenance") & AssetSelection.key_substring("_housekeeping"),
    description="Rewrite piled-up manifests, expire old snapshots (keeping the Kafka offsets snapshot) and remove "
    "old orphan files of iot.sensor_readings, iot.hourly_stats and iot.rejected_readings.",
    executor_def=in_process_executor,
)
