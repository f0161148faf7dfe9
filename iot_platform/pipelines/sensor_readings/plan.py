"""Planning an ingestion run: the offsets committed so far, the ranges to read now, and records lost to retention."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from iot_platform import offsets
from iot_platform.errors import IngestionError
from iot_platform.offsets import PartitionRange, merged_offsets
from iot_platform.offsets import Plan as OffsetPlan

if TYPE_CHECKING:
    from pyiceberg.table import Table


@dataclass(frozen=True)
class IngestionPlan:
    """What one run reads, and the table state it was planned from."""

    offsets: OffsetPlan
    committed: dict[int, int]
    """Next offset to read per partition, as committed before the run."""
    snapshot_id: int | None
    """Current snapshot of ``iot.sensor_readings`` when planned: the commit refuses if another landed since."""

    @property
    def topic(self) -> str:
        return self.offsets.topic

    @property
    def reading(self) -> list[PartitionRange]:
        """The ranges with records to read."""
        return [r for r in self.offsets.ranges if r.count > 0]

    @property
    def next_offsets(self) -> dict[int, int]:
        """The committed offsets once this run's ranges are read."""
        return merged_offsets(self.committed, self.offsets.ranges)

    @property
    def nothing_to_do(self) -> bool:
        return self.offsets.total == 0 and not self.offsets.gaps


def committed_offsets(table: Table, topic: str) -> tuple[dict[int, int], int | None]:
    """Offsets recorded in the newest snapshot (walking back from the current one) that carries them.

    Args:
        table: ``iot.sensor_readings``.
        topic: The topic read; offsets recorded for another topic count as none.

    Returns:
        The next offset to read per partition, and the id of the current snapshot (None for an empty table).
    """
    snapshot = table.current_snapshot()
    current_id = snapshot.snapshot_id if snapshot is not None else None
    while snapshot is not None:
        summary = snapshot.summary
        value = summary.additional_properties.get(offsets.SUMMARY_KEY) if summary is not None else None
        if value:
            return offsets.decode_summary(value, topic), current_id
        parent = snapshot.parent_snapshot_id
        snapshot = table.snapshot_by_id(parent) if parent is not None else None
    return {}, current_id


def plan_ingestion(
    table: Table,
    topic: str,
    watermarks: Mapping[int, tuple[int, int]],
    *,
    allow_retention_gap: bool = False,
    log: Callable[[str], None] = print,
) -> IngestionPlan:
    """Plan a run from the offsets ``table`` recorded and the topic's ``watermarks`` now.

    Args:
        table: ``iot.sensor_readings``.
        topic: The topic to read.
        watermarks: ``(low, high)`` offsets per partition.
        allow_retention_gap: Proceed when Kafka already deleted offsets the platform never read; without it such
            a gap stops the run.
        log: Where the warning about an allowed gap goes.

    Returns:
        The plan.

    Raises:
        IngestionError: offsets were lost to retention and that is not allowed.
    """
    committed, snapshot_id = committed_offsets(table, topic)
    the_plan = offsets.plan(topic, committed, watermarks)
    if the_plan.gaps:
        described = "; ".join(
            f"partition {g.partition}: offsets {g.expected}..{g.available - 1} ({g.lost} records)"
            for g in the_plan.gaps
        )
        message = f"Kafka deleted records of {topic} before they were ingested (retention): {described}"
        if not allow_retention_gap:
            raise IngestionError(
                f"{message}. Nothing was written. To accept the loss and continue from the oldest record Kafka "
                "still has, run ingestion with config allow_retention_gap: true"
            )
        log(f"WARNING {message}; continuing as allowed")
    return IngestionPlan(the_plan, committed, snapshot_id)
