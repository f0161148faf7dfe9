"""Offset planning: where each run starts and ends, and retention gaps reported, never skipped silently."""

from __future__ import annotations

import json

from iot_platform import offsets


def test_first_run_reads_from_the_low_watermark_to_the_end() -> None:
    plan = offsets.plan("t", {}, {0: (0, 10), 1: (5, 8), 2: (0, 0)})
    assert [(r.partition, r.start, r.end) for r in plan.ranges] == [(0, 0, 10), (1, 5, 8), (2, 0, 0)]
    assert plan.total == 13 and plan.gaps == ()
    options = plan.spark_options()
    assert json.loads(options["startingOffsets"]) == {"t": {"0": 0, "1": 5}}
    assert json.loads(options["endingOffsets"]) == {"t": {"0": 10, "1": 8}}


def test_next_run_resumes_exactly_where_the_committed_offsets_say() -> None:
    plan = offsets.plan("t", {0: 10, 1: 8}, {0: (0, 12), 1: (0, 8)})
    assert plan.total == 2
    assert plan.next_offsets() == {0: 12, 1: 8}


def test_offsets_deleted_by_retention_are_a_gap() -> None:
    plan = offsets.plan("t", {0: 3}, {0: (7, 9)})
    assert [(g.partition, g.expected, g.available, g.lost) for g in plan.gaps] == [(0, 3, 7, 4)]
    assert [(r.start, r.end) for r in plan.ranges] == [(7, 9)]


def test_summary_round_trip_is_per_topic() -> None:
    value = offsets.encode_summary("sensor-raw", {1: 5, 0: 3})
    assert offsets.decode_summary(value, "sensor-raw") == {0: 3, 1: 5}
    assert offsets.decode_summary(value, "other-topic") == {}
    assert offsets.decode_summary(None, "sensor-raw") == {}


def test_merged_offsets_keep_partitions_not_read() -> None:
    merged = offsets.merged_offsets({0: 4, 3: 9}, [offsets.PartitionRange(0, 4, 6)])
    assert merged == {0: 6, 3: 9}
