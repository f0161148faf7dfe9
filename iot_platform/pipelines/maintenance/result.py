"""Figures of each maintenance operation, for the run's metadata (plotted in the UI) and the soak bench."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TableFiles:
    """A table's current size: live data files, their bytes, the current snapshot's manifests, all snapshots."""

    data_files: int
    data_bytes: int
    manifests: int
    snapshots: int


@dataclass(frozen=True)
class CompactionResult:
    """One table's compaction: the closed time partitions rewritten and the table's files before and after."""

    table: str
    partitions: tuple[str, ...]
    """Time partitions (hours or days, ISO start) that needed it and were rewritten."""
    before: TableFiles
    after: TableFiles
    rewritten_files: int
    added_files: int
    attempts: int
    seconds: float


@dataclass(frozen=True)
class ManifestResult:
    """One table's manifest rewrite (``rewritten`` false when the manifests stayed under the threshold)."""

    table: str
    manifests_before: int
    manifests_after: int
    rewritten: bool
    attempts: int
    seconds: float


@dataclass(frozen=True)
class ExpiryResult:
    """One table's snapshot expiry."""

    table: str
    before: TableFiles
    after: TableFiles
    snapshots_expired: int
    retain_last: int
    """Snapshots kept whatever their age: the configured count, or more to keep the newest offsets snapshot."""
    offsets_snapshot_id: int | None
    """The newest snapshot carrying Kafka offsets, always kept (``iot.sensor_readings`` only)."""
    deleted_data_files: int
    deleted_manifest_files: int
    attempts: int
    seconds: float


@dataclass(frozen=True)
class OrphanResult:
    """One table's orphan-file removal: files under the table's location no snapshot references."""

    table: str
    older_than: str
    """ISO instant: only files older than this were considered."""
    orphan_files_removed: int
    seconds: float


@dataclass(frozen=True)
class MaintenanceReport:
    """Everything one :func:`~iot_platform.pipelines.maintenance.run.maintain` (or part of it) did."""

    compactions: tuple[CompactionResult, ...] = ()
    manifests: tuple[ManifestResult, ...] = ()
    expiries: tuple[ExpiryResult, ...] = ()
    orphans: tuple[OrphanResult, ...] = ()
    seconds: float = 0.0
    tables: dict[str, TableFiles] = field(default_factory=dict)
    """Each maintained table's size at the end."""

    def table_metadata(self, table: str) -> dict[str, Any]:
        """Flat numbers for one table (``data_files_before``, ``snapshots_expired``, ...), for Dagster's plots."""
        meta: dict[str, Any] = {}
        for c in self.compactions:
            if c.table == table:
                meta |= {
                    "partitions_compacted": len(c.partitions),
                    "data_files_before": c.before.data_files,
                    "data_files_after": c.after.data_files,
                    "data_bytes_before": c.before.data_bytes,
                    "data_bytes_after": c.after.data_bytes,
                    "files_rewritten": c.rewritten_files,
                    "files_added": c.added_files,
                    "compaction_attempts": c.attempts,
                    "compaction_seconds": round(c.seconds, 2),
                }
        for m in self.manifests:
            if m.table == table:
                meta |= {
                    "manifests_before": m.manifests_before,
                    "manifests_after": m.manifests_after,
                    "manifest_seconds": round(m.seconds, 2),
                }
        for e in self.expiries:
            if e.table == table:
                meta |= {
                    "snapshots_before": e.before.snapshots,
                    "snapshots_after": e.after.snapshots,
                    "snapshots_expired": e.snapshots_expired,
                    "expired_data_files_deleted": e.deleted_data_files,
                    "expiry_seconds": round(e.seconds, 2),
                }
        for o in self.orphans:
            if o.table == table:
                meta |= {"orphan_files_removed": o.orphan_files_removed, "orphan_seconds": round(o.seconds, 2)}
        if table in self.tables:
            files = self.tables[table]
            meta |= {
                "data_files": files.data_files,
                "data_bytes": files.data_bytes,
                "manifests": files.manifests,
                "snapshots": files.snapshots,
            }
        return meta
