"""Kafka offset bookkeeping for exactly-once ingestion: what was consumed, what to read next, what was lost.

The consumed offsets ride in the Iceberg snapshot summary of ``iot.sensor_readings`` under
:data:`SUMMARY_KEY`, committed atomically with the rows they produced. Pure functions only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

SUMMARY_KEY = "iot.kafka-offsets"
"""Snapshot-summary key holding ``{"topic": ..., "next": {"<partition>": <next offset to read>}}``."""


@dataclass(frozen=True)
class PartitionRange:
    """Offsets ``[start, end)`` of one partition to read in this run."""

    partition: int
    start: int
    end: int

    @property
    def count(self) -> int:
        return max(0, self.end - self.start)


@dataclass(frozen=True)
class RetentionGap:
    """Offsets ``[expected, available)`` that Kafka deleted (retention) before the platform read them."""

    partition: int
    expected: int
    available: int

    @property
    def lost(self) -> int:
        return self.available - self.expected


@dataclass(frozen=True)
class Plan:
    """What one ingestion run reads."""

    topic: str
    ranges: tuple[PartitionRange, ...]
    gaps: tuple[RetentionGap, ...]

    @property
    def total(self) -> int:
        return sum(r.count for r in self.ranges)

    def next_offsets(self) -> dict[int, int]:
        return {r.partition: r.end for r in self.ranges}

    def spark_options(self) -> dict[str, str]:
        """``startingOffsets`` / ``endingOffsets`` for Spark's Kafka batch source (partitions with data only)."""
        reading = [r for r in self.ranges if r.count > 0]
        start = {self.topic: {str(r.partition): r.start for r in reading}}
        end = {self.topic: {str(r.partition): r.end for r in reading}}
        return {"startingOffsets": json.dumps(start), "endingOffsets": json.dumps(end)}


def encode_summary(topic: str, next_offsets: Mapping[int, int]) -> str:
    """The snapshot-summary value for the offsets consumed so far."""
    return json.dumps({"topic": topic, "next": {str(p): int(o) for p, o in sorted(next_offsets.items())}})


def decode_summary(value: str | None, topic: str) -> dict[int, int]:
    """Offsets recorded for ``topic`` (empty when nothing was consumed yet or the table followed another topic)."""
    if not value:
        return {}
    doc = json.loads(value)
    if doc.get("topic") != topic:
        return {}
    return {int(p): int(o) for p, o in doc.get("next", {}).items()}


def plan(
    topic: str,
    committed: Mapping[int, int],
    watermarks: Mapping[int, tuple[int, int]],
) -> Plan:
    """Decide the offset ranges of a run.

    Args:
        topic: The topic.
        committed: Next offset to read per partition, from the latest snapshot summary (missing: never read).
        watermarks: ``(low, high)`` per partition from the broker now.

    Returns:
        The ranges ``[start, high)`` per partition (start = committed, else low) and any retention gaps, where the
        committed offset is below the low watermark: those readings are gone from Kafka.
    """
    ranges = []
    gaps = []
    for partition in sorted(watermarks):
        low, high = watermarks[partition]
        start = committed.get(partition, low)
        if start < low:
            gaps.append(RetentionGap(partition, start, low))
            start = low
        if start > high:
            # The topic was recreated or truncated below what we consumed: nothing new to read here.
            start = high
        ranges.append(PartitionRange(partition, start, high))
    return Plan(topic, tuple(ranges), tuple(gaps))


def merged_offsets(committed: Mapping[int, int], ranges: Iterable[PartitionRange]) -> dict[int, int]:
    """Committed offsets after a run that read ``ranges`` (partitions not read keep their offsets)."""
    result = dict(committed)
    for r in ranges:
        result[r.partition] = max(result.get(r.partition, 0), r.end)
    return result
