"""A table's live data files per partition and its size figures, read from its manifests (pyiceberg, no Spark)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from iot_platform.pipelines.maintenance.result import TableFiles

if TYPE_CHECKING:
    from pyiceberg.manifest import DataFile
    from pyiceberg.table import Table


@dataclass(frozen=True)
class PartitionFiles:
    """The live data files of one partition."""

    partition: tuple[Any, ...]
    """The partition's values as Iceberg stores them (hours or days since the epoch for time transforms)."""
    files: int
    small_files: int
    bytes: int


def live_data_files(table: Table) -> list[DataFile]:
    """The data files of the table's current snapshot (none for an empty table)."""
    from pyiceberg.manifest import ManifestContent

    snapshot = table.current_snapshot()
    if snapshot is None:
        return []
    files: list[DataFile] = []
    for manifest in snapshot.manifests(table.io):
        if manifest.content != ManifestContent.DATA:
            continue
        files.extend(entry.data_file for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True))
    return files


def table_files(table: Table) -> TableFiles:
    """The table's live data files and bytes, its current manifests and its snapshots, after a refresh."""
    table.refresh()
    snapshot = table.current_snapshot()
    files = live_data_files(table)
    return TableFiles(
        data_files=len(files),
        data_bytes=sum(f.file_size_in_bytes for f in files),
        manifests=len(snapshot.manifests(table.io)) if snapshot is not None else 0,
        snapshots=len(table.metadata.snapshots),
    )


def partition_files(table: Table, small_file_bytes: int) -> list[PartitionFiles]:
    """Live data files grouped by partition, counting those under ``small_file_bytes``."""
    groups: dict[tuple[Any, ...], list[int]] = {}
    for data_file in live_data_files(table):
        key = tuple(data_file.partition[i] for i in range(len(data_file.partition)))
        groups.setdefault(key, []).append(data_file.file_size_in_bytes)
    return [
        PartitionFiles(key, len(sizes), sum(1 for s in sizes if s < small_file_bytes), sum(sizes))
        for key, sizes in sorted(groups.items(), key=lambda item: tuple(str(v) for v in item[0]))
    ]
