"""How far ingestion is behind the topic: Kafka's high watermarks minus the offsets the last ingestion committed.

Ingestion records the next offset to read per partition in the snapshot summary of ``iot.sensor_readings``
(:data:`iot_platform.offsets.SUMMARY_KEY`), atomically with the rows. The newest snapshot that carries them (a
snapshot without them, e.g. of table maintenance, is walked past to its parent) says what the table holds; the
topic's high watermarks say what was published. Pure except for reading the table's metadata.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING

from iot_platform import offsets
from iot_platform.api.schemas import PartitionLag

if TYPE_CHECKING:
    from pyiceberg.table import Table


def committed_offsets(table: Table | None, topic: str) -> tuple[dict[int, int], dt.datetime | None]:
    """The next offset to read per partition of ``topic`` as the newest snapshot carrying offsets records them,
    and when that snapshot was committed (``({}, None)``: nothing ingested yet)."""
    snapshot = table.current_snapshot() if table is not None else None
    while table is not None and snapshot is not None:
        value = snapshot.summary.additional_properties.get(offsets.SUMMARY_KEY) if snapshot.summary else None
        if value:
            committed_at = dt.datetime.fromtimestamp(snapshot.timestamp_ms / 1000, dt.UTC)
            return offsets.decode_summary(value, topic), committed_at
        parent = snapshot.parent_snapshot_id
        snapshot = table.snapshot_by_id(parent) if parent is not None else None
    return {}, None


def partition_lags(watermarks: Mapping[int, tuple[int, int]], committed: Mapping[int, int]) -> list[PartitionLag]:
    """Per partition of the topic, records published but not yet in the table: the high watermark minus the next
    offset to read (the low watermark for a partition never read: what Kafka still holds), never below zero."""
    lags = []
    for partition, (low, high) in sorted(watermarks.items()):
        next_offset = committed.get(partition)
        start = max(next_offset, low) if next_offset is not None else low
        lags.append(
            PartitionLag(partition=partition, high_watermark=high, committed=next_offset, lag=max(0, high - start))
        )
    return lags
