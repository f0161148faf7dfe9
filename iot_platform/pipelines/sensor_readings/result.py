"""What one ingestion run did: counts, offsets and hours touched."""

from __future__ import annotations

from dataclasses import dataclass, field

from iot_platform.pipelines.sensor_readings.plan import IngestionPlan


@dataclass
class IngestionResult:
    """What one ingestion run did, for the run's metadata and for the late-data sensor."""

    readings_in: int = 0
    stored: int = 0
    duplicates_in_batch: int = 0
    duplicates_already_stored: int = 0
    rejected: int = 0
    rejected_already_stored: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    ranges: list[dict[str, int]] = field(default_factory=list)
    gaps: list[dict[str, int]] = field(default_factory=list)
    readings_per_hour: dict[str, int] = field(default_factory=dict)
    """Stored readings per event-time hour (``%Y-%m-%d-%H:00`` partition keys)."""
    snapshot_id: int | None = None
    next_offsets: dict[int, int] = field(default_factory=dict)
    offsets_recovered: bool = False
    """No retained snapshot carried offsets: the run continued from offsets recovered from the stored rows."""
    seconds: float = 0.0

    @property
    def hours_touched(self) -> list[str]:
        return sorted(self.readings_per_hour)

    @classmethod
    def planned(cls, plan: IngestionPlan) -> IngestionResult:
        """The result of a run that has planned and not read yet."""
        return cls(
            ranges=[{"partition": r.partition, "start": r.start, "end": r.end} for r in plan.offsets.ranges],
            gaps=[
                {"partition": g.partition, "from": g.expected, "to": g.available, "lost": g.lost}
                for g in plan.offsets.gaps
            ],
            next_offsets=plan.next_offsets,
            snapshot_id=plan.snapshot_id,
            offsets_recovered=plan.offsets_recovered,
        )
