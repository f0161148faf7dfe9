"""The batch composition ingestion runs (canonical read, judging the others, counting, finding copies) on a local
Spark gives exactly the plain-Python reference's valid readings, rejected records and copies."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from iot_platform.pipelines.sensor_readings.batch import BACKLOG_RECORDS, CACHE_COMPRESSION, judged_batch
from iot_platform_tests.transforms.conftest import TOPIC, kafka_frame
from iot_platform_tests.transforms.reference import from_micros, micros, reference_batch


def reading(sensor_id: str, second: int, number: float, **changes: Any) -> dict[str, Any]:
    """A reading in the contract's field order; a change to None drops the field."""
    body = {
        "sensor_id": sensor_id,
        "sensor_type": "temperature",
        "location": "factory-A",
        "value": number,
        "unit": "celsius",
        "timestamp": f"2026-11-24T10:{second // 60:02d}:{second % 60:02d}.250Z",
    }
    return {key: value for key, value in {**body, **changes}.items() if value is not None}


def canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


def other_layout(body: dict[str, Any]) -> bytes:
    """The same reading with its keys reversed and indented: not the canonical layout."""
    return json.dumps(dict(reversed(list(body.items()))), indent=1).encode()


RECORDS: list[tuple[int, int, bytes | None]] = [
    (0, 0, canonical(reading("TEMP-001", 0, 20.5))),
    (0, 1, json.dumps(reading("TEMP-001", 1, 21.0), separators=(",", ":")).encode()),
    (0, 2, canonical(reading("TEMP-002", 0, 19.0))),
    (0, 3, canonical(reading("TEMP-001", 0, 99.0))),  # a later copy, same layout
    (0, 4, other_layout(reading("TEMP-003", 5, 7.5))),
    (0, 5, other_layout(reading("123", 6, 1.0))),  # a string that looks like a number
    (0, 6, canonical(reading("HUM-001", 7, 55.0, location="fábrica"))),  # not ASCII: takes the JSON parse
    (0, 7, canonical(reading("HUM-002", 8, 56.0, timestamp="2026-11-24T11:30:00.123456789+02:00"))),
    (1, 0, other_layout(reading("TEMP-002", 0, 77.0))),  # a later copy in another layout
    (1, 1, canonical(reading("TEMP-003", 5, 8.0))),  # a copy of an other-layout reading
    (1, 2, canonical(reading("TEMP-004", 9, 3.0))),
    (1, 3, canonical(reading("TEMP-004", 9, 4.0))),
    (1, 4, canonical(reading("TEMP-004", 9, 5.0))),
    (1, 5, None),
    (1, 6, b""),
    (1, 7, b"\xff\xfe not utf-8"),
    (1, 8, b"{not json"),
    (1, 9, b"[1, 2, 3]"),
    (1, 10, b'{"sensor_id": "TEMP-001", "value": 1.0}'),
    (2, 0, canonical(reading("X-1", 0, 1.0, value="25.5"))),
    (2, 1, canonical(reading("X-1", 0, 1.0)).replace(b"1.0", b"NaN")),
    (2, 2, canonical(reading("X-1", 0, 1.0, timestamp="2026-02-30T10:00:00Z"))),
    (2, 3, canonical(reading("X-1", 0, 1.0, timestamp="2026-11-24T10:00:00"))),
    (2, 4, canonical(reading("X-1", 0, 1.0)) + b" extra"),
    (2, 5, canonical(reading("X-1", 0, 1.0, unit=None))),
]


def valid_rows(frame: DataFrame) -> list[dict[str, Any]]:
    rows = frame.withColumn("event_micros", F.unix_micros("event_time")).drop("event_time", "topic").collect()
    result = []
    for row in rows:
        item = row.asDict()
        item["event_time"] = from_micros(item.pop("event_micros"))
        result.append(item)
    return sorted(result, key=lambda r: (r["partition"], r["offset"]))


BACKLOG = BACKLOG_RECORDS + 1
"""A planned size that makes the batch count its shared keys in a pass of their own, as on a backlog."""


@pytest.mark.parametrize("expected", [len(RECORDS), BACKLOG], ids=["scheduled batch", "backlog"])
@pytest.mark.parametrize("fast_path", [True, False], ids=["java reader", "json only"])
def test_the_batch_matches_the_reference(spark: SparkSession, fast_path: bool, expected: int) -> None:
    valid, rejected, copies = reference_batch(RECORDS)
    before = spark.conf.get(CACHE_COMPRESSION, "true")
    lines: list[str] = []
    raw = kafka_frame(spark, RECORDS)
    with judged_batch(raw, TOPIC, fast_path=fast_path, log=lines.append, expected_records=expected) as batch:
        assert valid_rows(batch.valid) == valid
        assert batch.rejected is not None
        assert sorted((r["partition"], r["offset"], r["reason"]) for r in batch.rejected.collect()) == rejected
        assert batch.copies is not None
        assert sorted((r["partition"], r["offset"]) for r in batch.copies.collect()) == copies
        assert {r["topic"] for r in batch.copies.collect()} == {TOPIC}

        assert batch.records == len(RECORDS)
        assert batch.valid_count == len(valid) + len(copies)
        assert batch.duplicates_in_batch == len(copies)
        assert batch.rejected_count == len(rejected)
        assert batch.rejected_by_reason == {
            reason: sum(1 for *_, r in rejected if r == reason) for reason in sorted({r for *_, r in rejected})
        }
        times = [micros(r["event_time"]) for r in valid]
        assert batch.bounds == (min(times), max(times))
        assert spark.conf.get(CACHE_COMPRESSION) == "false"
    assert spark.conf.get(CACHE_COMPRESSION, "true") == before
    assert any(f"found {len(copies)} duplicates in the batch" in line for line in lines)


def test_a_batch_without_copies_or_rejects_keeps_every_reading(spark: SparkSession) -> None:
    records: list[tuple[int, int, bytes | None]] = [
        (0, index, canonical(reading(f"TEMP-{index}", index, float(index)))) for index in range(5)
    ]
    with judged_batch(kafka_frame(spark, records), TOPIC) as batch:
        assert [r["offset"] for r in valid_rows(batch.valid)] == [0, 1, 2, 3, 4]
        assert (batch.rejected, batch.copies, batch.duplicates_in_batch) == (None, None, 0)
        assert batch.rejected_by_reason == {}


@pytest.mark.parametrize("expected", [5, BACKLOG], ids=["scheduled batch", "backlog"])
def test_copies_among_canonical_readings_alone_are_found(spark: SparkSession, expected: int) -> None:
    # Every record canonical: the first pass alone finds the shared keys (no other layout re-opens the search).
    records: list[tuple[int, int, bytes | None]] = [
        (0, 0, canonical(reading("TEMP-001", 0, 1.0))),
        (0, 1, canonical(reading("TEMP-002", 0, 2.0))),
        (1, 0, canonical(reading("TEMP-001", 0, 3.0))),
        (1, 1, canonical(reading("TEMP-002", 1, 4.0))),
        (2, 0, canonical(reading("TEMP-001", 0, 5.0))),
    ]
    valid, rejected, copies = reference_batch(records)
    lines: list[str] = []
    with judged_batch(kafka_frame(spark, records), TOPIC, log=lines.append, expected_records=expected) as batch:
        assert valid_rows(batch.valid) == valid
        assert batch.copies is not None
        assert sorted((r["partition"], r["offset"]) for r in batch.copies.collect()) == copies == [(1, 0), (2, 0)]
        assert (batch.records, batch.valid_count, batch.duplicates_in_batch) == (5, 5, 2)
        assert batch.rejected is None and rejected == []
        times = [micros(r["event_time"]) for r in valid]
        assert batch.bounds == (min(times), max(times))
    assert any("found 2 duplicates in the batch (1 shared keys)" in line for line in lines)
