"""What table maintenance does: target file size, compaction delay, snapshots kept, orphan age, manifest limit."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from iot_platform.errors import ConfigurationError
from iot_platform.settings import Settings

MIN_ORPHAN_AGE = dt.timedelta(hours=24)
"""Youngest files orphan removal may delete: a younger file may belong to a write still in progress (Iceberg's
``remove_orphan_files`` procedure refuses shorter ages too)."""


@dataclass(frozen=True)
class MaintenanceParams:
    """Parameters of every maintenance operation (see the README's maintenance settings)."""

    catalog_name: str
    """The Spark catalog the tables live in (``CALL <catalog>.system.<procedure>``)."""
    target_file_bytes: int = 128 * 1024 * 1024
    compaction_delay: dt.timedelta = dt.timedelta(hours=2)
    """A time partition is compacted once its end is at least this old."""
    snapshot_keep_age: dt.timedelta = dt.timedelta(hours=24)
    snapshot_keep_count: int = 10
    orphan_min_age: dt.timedelta = dt.timedelta(hours=72)
    manifest_threshold: int = 50
    """Manifests of the current snapshot above which they are rewritten."""
    commit_attempts: int = 3
    """Attempts of one procedure when it meets a concurrent commit."""

    def __post_init__(self) -> None:
        if self.target_file_bytes < 1024 * 1024:
            raise ConfigurationError("maintenance target file size must be at least 1 MiB")
        if self.orphan_min_age < MIN_ORPHAN_AGE:
            raise ConfigurationError(
                f"orphan files younger than {MIN_ORPHAN_AGE} may belong to a write in progress: "
                "set IOT_MAINTENANCE_ORPHAN_MIN_AGE_HOURS to 24 or more"
            )
        if self.snapshot_keep_count < 1 or self.manifest_threshold < 1 or self.commit_attempts < 1:
            raise ConfigurationError("maintenance counts (snapshots kept, manifest threshold, attempts) must be >= 1")

    @property
    def small_file_bytes(self) -> int:
        """Files below this size are worth rewriting (Iceberg's bin-packing default: 75% of the target)."""
        return self.target_file_bytes * 3 // 4

    @classmethod
    def from_settings(cls, settings: Settings) -> MaintenanceParams:
        """The parameters the ``IOT_MAINTENANCE_*`` settings give."""
        return cls(
            catalog_name=settings.catalog_name,
            target_file_bytes=settings.maintenance_target_file_mb * 1024 * 1024,
            compaction_delay=dt.timedelta(hours=settings.maintenance_compaction_delay_hours),
            snapshot_keep_age=dt.timedelta(hours=settings.maintenance_snapshot_keep_hours),
            snapshot_keep_count=settings.maintenance_snapshot_keep_count,
            orphan_min_age=dt.timedelta(hours=settings.maintenance_orphan_min_age_hours),
            manifest_threshold=settings.maintenance_manifest_threshold,
        )
