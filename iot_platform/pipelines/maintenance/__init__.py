"""Iceberg table maintenance: compaction, manifest rewriting, snapshot expiry and orphan-file removal.

Each operation is one module taking a Spark session, a pyiceberg table and its parameters, and returning a small
frozen result of figures (files and bytes before/after, snapshots expired, orphan files removed, seconds). Every
function takes ``now`` explicitly. :func:`.run.maintain` runs them all in order. Expiry always keeps the newest
``iot.sensor_readings`` snapshot carrying the Kafka offsets, so ingestion continues exactly where it stopped.
"""

from iot_platform.pipelines.maintenance.params import MaintenanceParams
from iot_platform.pipelines.maintenance.result import (
    CompactionResult,
    ExpiryResult,
    MaintenanceReport,
    ManifestResult,
    OrphanResult,
    TableFiles,
)
from iot_platform.pipelines.maintenance.run import housekeep, maintain

__all__ = [
    "CompactionResult",
    "ExpiryResult",
    "MaintenanceParams",
    "MaintenanceReport",
    "ManifestResult",
    "OrphanResult",
    "TableFiles",
    "housekeep",
    "maintain",
]
