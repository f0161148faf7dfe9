"""Planning an ingestion run: the offsets committed so far, the ranges to read now, and records lost to retention."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from iot_platform import offsets
from iot_platform.errors import IngestionError
from iot_platform.offsets import PartitionRange, merged_offsets
from iot_platform.offsets import Plan as OffsetPlan
from iot_platform.pipelines.sensor_readings.offsets import holds_data, recorded_offsets

if TYPE_CHECKING:
    from pyiceberg.table import Table


@dataclass(frozen=True)
class IngestionPlan:
    """What one run reads, and the table state it was planned from."""

    offsets: OffsetPlan
    committed: dict[int, int]
    """Next offset to read per partition, as committed before the run."""
    snapshot_id: int | None
    """Current snapshot of ``iot.sensor_readings`` when planned."""
    offsets_recovered: bool = False
    """No retained snapshot carried offsets: ``committed`` was recovered from the stored rows."""

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
        The next offset to read per partition (empty when no snapshot carries any), and the id of the current
        snapshot (None for an empty table).
    """
    snapshot = table.current_snapshot()
    return recorded_offsets(table, topic) or {}, snapshot.snapshot_id if snapshot is not None else None


def plan_ingestion(
    table: Table,
    topic: str,
    watermarks: Mapping[int, tuple[int, int]],
    *,
    allow_retention_gap: bool = False,
    recover: Callable[[], dict[int, int]] | None = None,
    log: Callable[[str], None] = print,
) -> IngestionPlan:
    """Plan a run from the offsets ``table`` recorded and the topic's ``watermarks`` now.

    Args:
        table: ``iot.sensor_readings``.
        topic: The topic to read.
        watermarks: ``(low, high)`` offsets per partition.
        allow_retention_gap: Proceed when Kafka already deleted offsets the platform never read; without it such
            a gap stops the run.
        recover: Reads the offsets from the stored rows; called when the table holds rows but no retained
            snapshot carries offsets (an expiry dropped them). Without it such a table is read from the start.
        log: Where the warnings about an allowed gap and about recovered offsets go.

    Returns:
        The plan.

    Raises:
        IngestionError: offsets were lost to retention and that is not allowed.
    """
    committed, recovered = _committed(table, topic, recover, log)
    current = table.current_snapshot()
    snapshot_id = current.snapshot_id if current is not None else None
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
    return IngestionPlan(the_plan, committed, snapshot_id, offsets_recovered=recovered)


def _committed(
    table: Table, topic: str, recover: Callable[[], dict[int, int]] | None, log: Callable[[str], None]
) -> tuple[dict[int, int], bool]:
    """The committed offsets from the snapshot chain, else (when the table holds rows) recovered from the rows."""
    recorded = recorded_offsets(table, topic)
    if recorded is not None:
        return recorded, False
    if recover is None or not holds_data(table):
        return {}, False
    recovered = recover()
    log(
        f"WARNING no retained snapshot of {table.name()[-1]} carries Kafka offsets (expired by table maintenance): "
        f"offsets of {topic} recovered from the stored rows: {dict(sorted(recovered.items()))}"
    )
    return recovered, True
