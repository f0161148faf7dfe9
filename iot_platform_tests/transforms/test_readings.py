"""Parsing, validation, splitting and de-duplication of Kafka records (contract section 1)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from iot_platform.transforms import readings as R
from iot_platform_tests.transforms.conftest import TOPIC, kafka_frame, session_time_zone
from iot_platform_tests.transforms.reference import from_micros, micros

GOOD: dict[str, Any] = {
    "sensor_id": "TEMP-001",
    "sensor_type": "temperature",
    "location": "factory-A",
    "value": 25.5,
    "unit": "celsius",
    "timestamp": "2026-11-24T10:30:00.500Z",
}
GOOD_INSTANT = dt.datetime(2026, 11, 24, 10, 30, 0, 500_000, tzinfo=dt.UTC)


def payload(**changes: Any) -> str:
    """The contract's example reading with fields changed; ``None`` as a change drops the field."""
    body = {key: value for key, value in {**GOOD, **changes}.items() if value is not None or key not in changes}
    return json.dumps(body)


def raw_with(field: str, json_text: str) -> str:
    """The example reading with one field's value replaced by raw JSON text (for tokens json.dumps won't write)."""
    body = payload()
    marker = json.dumps(GOOD[field])
    return body.replace(f'"{field}": {marker}', f'"{field}": {json_text}')


def collect_parsed(df: DataFrame) -> list[dict[str, Any]]:
    """Rows of parse_readings as dicts, event_time as an aware UTC datetime, in offset order."""
    rows = (
        df.withColumn("event_micros", F.unix_micros("event_time")).drop("event_time").orderBy("partition", "offset")
    ).collect()
    result = []
    for row in rows:
        item = row.asDict()
        event = item.pop("event_micros")
        item["event_time"] = None if event is None else from_micros(event)
        result.append(item)
    return result


# --- malformed records -------------------------------------------------------------------------------------------

MALFORMED = [
    # (case id, record value, reason, words the detail must hold)
    ("tombstone", None, R.EMPTY_PAYLOAD, "null"),
    ("empty", b"", R.EMPTY_PAYLOAD, "empty"),
    ("whitespace", " \r\n\t ", R.EMPTY_PAYLOAD, "whitespace"),
    ("bad utf-8", b'{"sensor_id": "TEMP-\xff"}', R.INVALID_UTF8, "FF"),
    ("truncated utf-8", payload().encode()[:-3] + b"\xc3", R.INVALID_UTF8, "C3"),
    ("garbage", "hello", R.NOT_JSON, "invalid JSON"),
    ("truncated", payload()[:40], R.NOT_JSON, "invalid JSON"),
    ("single quotes", payload().replace('"', "'"), R.NOT_JSON, "invalid JSON"),
    ("trailing comma", payload()[:-1] + ",}", R.NOT_JSON, "invalid JSON"),
    ("trailing text", payload() + " extra", R.NOT_JSON, "invalid JSON"),
    ("trailing brace", payload() + "}", R.NOT_JSON, "after the JSON object"),
    ("two objects", payload() + payload(), R.NOT_JSON, "invalid JSON"),
    ("comment", payload() + " // note", R.NOT_JSON, "invalid JSON"),
    ("leading zero", raw_with("value", "025.5"), R.NOT_JSON, "invalid JSON"),
    ("unquoted name", payload().replace('"unit"', "unit"), R.NOT_JSON, "invalid JSON"),
    ("bad nested extra", payload()[:-1] + ', "extra": [1, 2,]}', R.NOT_JSON, "invalid JSON"),
    ("byte order mark", "\ufeff" + payload(), R.NOT_JSON, "invalid JSON"),
    ("array", "[" + payload() + "]", R.NOT_OBJECT, "an array"),
    ("string", '"TEMP-001"', R.NOT_OBJECT, "a string"),
    ("number", "42.5", R.NOT_OBJECT, "a number"),
    ("boolean", "true", R.NOT_OBJECT, "a boolean"),
    ("null", "null", R.NOT_OBJECT, "null"),
    ("bare NaN", "NaN", R.NOT_OBJECT, "a number"),
    ("empty object", "{}", R.MISSING_FIELD, "missing: sensor_id, sensor_type, location, value, unit, timestamp"),
    ("no unit", payload(unit=None), R.MISSING_FIELD, "missing: unit"),
    ("no id, no time", payload(sensor_id=None, timestamp=None), R.MISSING_FIELD, "missing: sensor_id, timestamp"),
    ("names are case-sensitive", payload().replace('"sensor_id"', '"Sensor_ID"'), R.MISSING_FIELD, "sensor_id"),
    ("field only nested", payload(value=None)[:-1] + ', "extra": {"value": 1}}', R.MISSING_FIELD, "missing: value"),
    ("missing wins over type", payload(unit=None, value="25.5"), R.MISSING_FIELD, "missing: unit"),
    ("value as string", payload(value="25.5"), R.WRONG_TYPE, "value: expected number, got string"),
    ("value as boolean", payload(value=True), R.WRONG_TYPE, "value: expected number, got boolean"),
    ("value null", raw_with("value", "null"), R.WRONG_TYPE, "value: expected number, got null"),
    ("value array", payload(value=[25.5]), R.WRONG_TYPE, "value: expected number, got array"),
    ("value object", payload(value={"v": 25.5}), R.WRONG_TYPE, "value: expected number, got object"),
    ("value 'NaN' string", payload(value="NaN"), R.WRONG_TYPE, "value: expected number, got string"),
    ("id as number", payload(sensor_id=7), R.WRONG_TYPE, "sensor_id: expected string, got number"),
    ("id as decimal", payload(sensor_id=7.25), R.WRONG_TYPE, "sensor_id: expected string, got number"),
    ("id as NaN token", raw_with("sensor_id", "NaN"), R.WRONG_TYPE, "sensor_id: expected string, got number"),
    ("type as boolean", payload(sensor_type=False), R.WRONG_TYPE, "sensor_type: expected string, got boolean"),
    ("location null", raw_with("location", "null"), R.WRONG_TYPE, "location: expected string, got null"),
    ("unit object", payload(unit={"name": "celsius"}), R.WRONG_TYPE, "unit: expected string, got object"),
    ("unit array", payload(unit=["celsius"]), R.WRONG_TYPE, "unit: expected string, got array"),
    ("epoch timestamp", payload(timestamp=1795516200), R.WRONG_TYPE, "timestamp: expected string, got number"),
    (
        "two wrong fields",
        payload(sensor_id=7, value="x"),
        R.WRONG_TYPE,
        "sensor_id: expected string, got number; value: expected number, got string",
    ),
    ("NaN", raw_with("value", "NaN"), R.NON_FINITE_VALUE, "NaN"),
    ("Infinity", raw_with("value", "Infinity"), R.NON_FINITE_VALUE, "Infinity"),
    ("-Infinity", raw_with("value", "-Infinity"), R.NON_FINITE_VALUE, "-Infinity"),
    ("overflowing number", raw_with("value", "1e400"), R.NON_FINITE_VALUE, "Infinity"),
    ("no offset", payload(timestamp="2026-11-24T10:30:00.500"), R.BAD_TIMESTAMP, "not ISO-8601"),
    ("space separator", payload(timestamp="2026-11-24 10:30:00Z"), R.BAD_TIMESTAMP, "not ISO-8601"),
    ("date only", payload(timestamp="2026-11-24"), R.BAD_TIMESTAMP, "not ISO-8601"),
    ("words", payload(timestamp="yesterday"), R.BAD_TIMESTAMP, "yesterday"),
    ("empty timestamp", payload(timestamp=""), R.BAD_TIMESTAMP, "not ISO-8601"),
    ("dot without digits", payload(timestamp="2026-11-24T10:30:00.Z"), R.BAD_TIMESTAMP, "not ISO-8601"),
    ("no such day", payload(timestamp="2026-02-30T10:30:00Z"), R.BAD_TIMESTAMP, "not a real instant"),
    ("hour 24", payload(timestamp="2026-11-24T24:00:00Z"), R.BAD_TIMESTAMP, "not a real instant"),
    ("leap second", payload(timestamp="2026-12-31T23:59:60Z"), R.BAD_TIMESTAMP, "not a real instant"),
    ("offset past 18h", payload(timestamp="2026-11-24T10:30:00+19:00"), R.BAD_TIMESTAMP, "not a real instant"),
]


@pytest.fixture(scope="module")
def parsed_malformed(spark: SparkSession) -> dict[str, dict[str, Any]]:
    """All MALFORMED cases parsed in one Spark job (one per case would take minutes), by case id."""
    rows = collect_parsed(R.parse_readings(kafka_frame(spark, [case[1] for case in MALFORMED])))
    return {case[0]: row for case, row in zip(MALFORMED, rows, strict=True)}


@pytest.mark.parametrize(
    ("case", "reason", "words"), [(c[0], c[2], c[3]) for c in MALFORMED], ids=[c[0] for c in MALFORMED]
)
def test_malformed_record_gets_its_reason(
    parsed_malformed: dict[str, dict[str, Any]], case: str, reason: str, words: str
) -> None:
    row = {**parsed_malformed[case], "offset": 0}

    assert (row["reason"], row["topic"], row["partition"], row["offset"]) == (reason, TOPIC, 0, 0)
    assert words in row["detail"]
    assert all(row[name] is None for name in R.READING_COLUMNS if name not in ("topic", "partition", "offset"))


def test_every_reason_code_is_exercised() -> None:
    assert {case[2] for case in MALFORMED} == set(R.REASONS)


def test_rejected_payload_is_kept_as_text(kafka_batch: Any) -> None:
    text = payload(value="25.5")
    rows = collect_parsed(R.parse_readings(kafka_batch([text, None, b'{"a": "\xff"}'])))

    assert [row["raw_payload"] for row in rows] == [text, None, '{"a": "\ufffd"}']


# --- valid records -----------------------------------------------------------------------------------------------

VALID = [
    # (case id, record value, expected reading fields)
    ("contract example", payload(), {}),
    ("integer value", payload(value=25), {"value": 25.0}),
    ("negative value", payload(value=-40.125), {"value": -40.125}),
    ("zero", payload(value=0), {"value": 0.0}),
    ("exponent", raw_with("value", "1.5e3"), {"value": 1500.0}),
    ("big integer", raw_with("value", "123456789012345678901234567890"), {"value": 1.2345678901234568e29}),
    ("many digits", raw_with("value", "0.1000000000000000055511151231257827"), {"value": 0.1}),
    ("no fraction", payload(timestamp="2026-11-24T10:30:00Z"), {"event_time": GOOD_INSTANT.replace(microsecond=0)}),
    ("positive offset", payload(timestamp="2026-11-24T12:30:00.500+02:00"), {}),
    ("negative half-hour offset", payload(timestamp="2026-11-24T05:00:00.500-05:30"), {}),
    ("compact offset", payload(timestamp="2026-11-24T16:00:00.500+0530"), {}),
    ("hours-only offset", payload(timestamp="2026-11-24T11:30:00.500+01"), {}),
    (
        "microseconds",
        payload(timestamp="2026-11-24T10:30:00.123456Z"),
        {"event_time": GOOD_INSTANT.replace(microsecond=123456)},
    ),
    (
        "nanoseconds truncated",
        payload(timestamp="2026-11-24T10:30:00.123456789Z"),
        {"event_time": GOOD_INSTANT.replace(microsecond=123456)},
    ),
    ("extra fields", payload()[:-1] + ', "battery": 0.93, "tags": ["a"], "meta": {"sensor_id": 1, "x": null}}', {}),
    ("whitespace around", "\n  " + payload() + " \r\n", {}),
    ("compact JSON", json.dumps(GOOD, separators=(",", ":")), {}),
    ("reordered fields", json.dumps(dict(reversed(list(GOOD.items())))), {}),
    (
        "unicode",
        payload(location="Zürich-Halle 3", sensor_id="TEMP-°1"),
        {"location": "Zürich-Halle 3", "sensor_id": "TEMP-°1"},
    ),
    ("escaped quote", payload(location='hall "B"'), {"location": 'hall "B"'}),
    # Strings that read like other JSON tokens are still strings (these take the exact-parse path).
    ("numeric-looking id", payload(sensor_id="123"), {"sensor_id": "123"}),
    ("minus-looking location", payload(location="-1 basement"), {"location": "-1 basement"}),
    ("boolean-looking type", payload(sensor_type="true"), {"sensor_type": "true"}),
    ("brace-looking unit", payload(unit="{x}"), {"unit": "{x}"}),
    ("quote-first id", payload(sensor_id='"q"'), {"sensor_id": '"q"'}),
    ("NaN-looking unit", payload(unit="NaN"), {"unit": "NaN"}),
    ("empty strings", payload(location="", unit=""), {"location": "", "unit": ""}),
]


@pytest.fixture(scope="module")
def parsed_valid(spark: SparkSession) -> dict[str, dict[str, Any]]:
    """All VALID cases parsed in one Spark job, by case id."""
    rows = collect_parsed(R.parse_readings(kafka_frame(spark, [case[1] for case in VALID])))
    return {case[0]: {**row, "offset": 0} for case, row in zip(VALID, rows, strict=True)}


@pytest.mark.parametrize(("case", "changes"), [(c[0], c[2]) for c in VALID], ids=[c[0] for c in VALID])
def test_valid_record_is_typed(parsed_valid: dict[str, dict[str, Any]], case: str, changes: dict[str, Any]) -> None:
    row = parsed_valid[case]

    expected = {
        "sensor_id": GOOD["sensor_id"],
        "sensor_type": GOOD["sensor_type"],
        "location": GOOD["location"],
        "value": GOOD["value"],
        "unit": GOOD["unit"],
        "event_time": GOOD_INSTANT,
        "topic": TOPIC,
        "partition": 0,
        "offset": 0,
        "kafka_timestamp": dt.datetime(2026, 11, 24, 12, 0),
        "record_key": None,
        "reason": None,
        "detail": None,
        "raw_payload": None,
    }
    assert row == {**expected, **changes}


NEAR_CANONICAL = [
    # Records in (or one character away from) the canonical layout, where the canonical reader must agree with the
    # JSON parse.
    payload(),
    json.dumps(GOOD, separators=(",", ":")),
    json.dumps(GOOD, separators=(", ", ":")),
    json.dumps(GOOD, indent=1),
    payload().replace('": "', '":  "'),
    payload().replace(", ", " , "),
    payload(location='hall "B"'),
    payload(location="tab\there"),
    payload(location="Zürich"),
    payload(unit="}"),
    payload(unit="{"),
    payload(sensor_id=""),
    payload(value=-0.0),
    payload(value=1e-300),
    raw_with("value", "-0"),
    raw_with("value", "1E+2"),
    raw_with("value", "1.e2"),
    raw_with("value", ".5"),
    raw_with("value", "+5"),
    raw_with("value", "5."),
    raw_with("value", "0x1F"),
    raw_with("value", "1e400"),
    raw_with("value", "-1e400"),
    raw_with("value", "1d"),
    raw_with("value", " 5 "),
    raw_with("value", '"5"'),
    payload().replace('"unit"', '"Unit"'),
    payload().replace('{"', '{ "'),
    payload() + "\n",
    payload()[:-1] + ', "unit": "kelvin"}',
    payload().replace('"celsius"', '"cel\u0001sius"'),
    payload().encode() + b"\xff",
    payload(timestamp="2026-11-24T10:30:00.500"),
    payload(timestamp="2026-02-30T10:30:00Z"),
    payload(timestamp="2026-11-24T10:30:00.500+01:00"),
    *(
        payload(timestamp=stamp)
        for stamp in (
            "2026-11-24T10:30:00.123456789Z",
            "2026-11-24T10:30:00.1234567Z",
            "2026-11-24T10:30:00.1234567890Z",
            "2026-11-24T10:30:00.Z",
            "2026-11-24T10:30:00.5-00:00",
            "2026-11-24T10:30:00+05:30",
            "2026-11-24T10:30:00-09:45",
            "2026-11-24T10:30:00+17:59",
            "2026-11-24T10:30:00+18:00",
            "2026-11-24T10:30:00-18:00",
            "2026-11-24T10:30:00+18:01",
            "2026-11-24T10:30:00+0530",
            "2026-11-24T10:30:00+05",
            "2026-11-24T10:30:00+5:30",
            "2026-11-24T10:30:00+05:60",
            "2026-11-24T10:30:00z",
            "2026-11-24t10:30:00Z",
            "2026-11-24 10:30:00Z",
            "2026-11-24T10:30Z",
            "2026-11-24T24:00:00Z",
            "2026-11-24T23:60:00Z",
            "2026-11-24T23:59:60Z",
            "2024-02-29T12:00:00Z",
            "2023-02-29T12:00:00Z",
            "2026-04-31T12:00:00Z",
            "2026-13-01T12:00:00Z",
            "2026-00-10T12:00:00Z",
            "2026-11-00T12:00:00Z",
            "1969-12-31T23:59:59.999999Z",
            "1000-01-01T00:00:00Z",
            "0999-12-31T23:59:59Z",
            "9999-12-31T23:59:59.999999Z",
            "+2026-11-24T10:30:00Z",
            "2026-11-24T10:30:00Z ",
            "",
        )
    ),
    raw_with("value", "1e-400"),
    raw_with("value", "-0.0e0"),
    raw_with("value", "123456789012345678901234567890"),
    raw_with("value", "0.1000000000000000055511151231257827"),
    raw_with("value", "00"),
    raw_with("value", "-"),
    raw_with("value", "1e"),
    raw_with("value", "true"),
    raw_with("value", "null"),
    payload(sensor_id="TEMP-001\u0041"),
    payload(sensor_id="\u00e9"),
    payload(location="~ printable ascii !#$%&'()*+,-./:;<=>?@[]^_`{|}"),
    payload(location="del\x7f"),
    json.dumps({**GOOD, "location": "Zürich"}, ensure_ascii=False),
    payload().replace('"value"', '"value" '),
    payload().replace(", ", ",  "),
    " " + payload(),
    payload().replace("}", " }"),
    payload().replace("}", "}}"),
    payload().replace("}", "},"),
    payload().replace("}", "}"),
    payload().replace("}", ""),
    payload().replace(":", "", 1),
    payload().replace(",", "", 1),
    payload().replace('"', "", 1),
    '{"sensor_id": "a", "sensor_type": "b", "location": "c", "value": 1, "unit": "d", "timestamp": "e"}',
]


def test_canonical_layout_reads_like_the_json_parse(kafka_batch: Any) -> None:
    cases = [case[1] for case in MALFORMED] + [case[1] for case in VALID] + NEAR_CANONICAL
    fast = collect_parsed(R.parse_readings(kafka_batch(cases)))
    slow = collect_parsed(R.parse_readings(kafka_batch(cases), fast_path=False))

    assert len(fast) == len(cases)
    for record, with_fast_path, json_only in zip(cases, fast, slow, strict=True):
        assert with_fast_path == json_only, record
    assert sum(row["reason"] is None for row in fast) > len(VALID)


def test_the_canonical_reader_reads_canonical_records_and_declines_the_rest(spark: SparkSession) -> None:
    read = R.canonical_reading_function(spark)
    records = [
        payload(),
        json.dumps(GOOD, separators=(",", ":")),
        payload(value=-12.5, timestamp="2026-11-24T10:30:00.1234567+05:30"),
        json.dumps(GOOD, indent=1),
        json.dumps({**GOOD, "location": "Zürich"}, ensure_ascii=False),
        payload(location='hall "B"'),
        raw_with("value", "1e400"),
        payload(timestamp="2026-11-24T10:30:00.500"),
        None,
    ]
    frame = spark.createDataFrame([(None if r is None else r.encode(),) for r in records], "value binary")
    rows = frame.select(read(F.col("value")).alias("r")).collect()

    assert [row.r is not None for row in rows] == [True, True, True, False, False, False, False, False, False]
    assert rows[0].r.asDict() == {
        "sensor_id": GOOD["sensor_id"].encode(),  # strings come back as their UTF-8 bytes
        "sensor_type": GOOD["sensor_type"].encode(),
        "location": GOOD["location"].encode(),
        "value": GOOD["value"],
        "unit": GOOD["unit"].encode(),
        "event_micros": micros(GOOD_INSTANT),
    }
    assert rows[2].r.value == -12.5
    assert rows[2].r.event_micros == micros(dt.datetime(2026, 11, 24, 5, 0, 0, 123456, tzinfo=dt.UTC))


def test_rejected_records_keep_the_kafka_record_time(kafka_batch: Any) -> None:
    _, rejected = R.split_valid_rejected(R.parse_readings(kafka_batch(["oops"])))

    assert [row.kafka_timestamp for row in rejected.collect()] == [dt.datetime(2026, 11, 24, 12, 0)]


def test_rejected_records_keep_the_kafka_record_key(spark: SparkSession) -> None:
    records = kafka_frame(spark, ["oops", payload()]).withColumn(
        "key", F.when(F.col("offset") == 0, F.lit(b"TEMP-007")).otherwise(F.col("key"))
    )
    parsed = R.parse_readings(records)
    valid, rejected = R.split_valid_rejected(parsed)

    assert [row.record_key for row in rejected.collect()] == ["TEMP-007"]
    assert "record_key" not in valid.columns
    assert [row.record_key for row in R.judge_records(R.read_canonical(records)).orderBy("offset").collect()] == [
        "TEMP-007",
        None,
    ]


def test_output_columns_and_types(kafka_batch: Any) -> None:
    parsed = R.parse_readings(kafka_batch([payload(), "oops"]))
    valid, rejected = R.split_valid_rejected(parsed)

    assert tuple(parsed.columns) == R.PARSED_COLUMNS
    assert [(f.name, f.dataType) for f in valid.schema] == [(f.name, f.dataType) for f in R.READING_SCHEMA]
    assert [(f.name, f.dataType) for f in rejected.schema] == [(f.name, f.dataType) for f in R.REJECTED_SCHEMA]


def test_parse_needs_kafka_columns(spark: SparkSession) -> None:
    with pytest.raises(ValueError, match="value"):
        R.parse_readings(spark.createDataFrame([("x",)], "payload string"))


def test_results_do_not_depend_on_session_time_zone(spark: SparkSession, kafka_batch: Any) -> None:
    values = [payload(timestamp="2026-11-24T10:59:59.999+05:30"), payload(timestamp="2026-03-29T01:30:00Z")]

    def event_micros() -> list[int]:
        parsed = R.parse_readings(kafka_batch(values))
        return [row[0] for row in parsed.select(F.unix_micros("event_time")).orderBy("offset").collect()]

    utc = event_micros()
    with session_time_zone(spark, "Asia/Kolkata"):
        kolkata = event_micros()
    with session_time_zone(spark, "Europe/Berlin"):
        berlin = event_micros()

    assert utc == kolkata == berlin
    assert [from_micros(m) for m in utc] == [
        dt.datetime(2026, 11, 24, 5, 29, 59, 999_000, tzinfo=dt.UTC),
        dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC),
    ]


# --- split -------------------------------------------------------------------------------------------------------


def test_split_sends_each_record_to_exactly_one_side(kafka_batch: Any) -> None:
    values = [payload(), "not json", payload(sensor_id="TEMP-002"), None, payload(value="x")]
    valid, rejected = R.split_valid_rejected(R.parse_readings(kafka_batch(values)))

    assert sorted(row.offset for row in valid.collect()) == [0, 2]
    assert sorted((row.offset, row.reason) for row in rejected.collect()) == [
        (1, R.NOT_JSON),
        (3, R.EMPTY_PAYLOAD),
        (4, R.WRONG_TYPE),
    ]


def test_split_adds_rejected_at_when_given(kafka_batch: Any) -> None:
    when = dt.datetime(2026, 11, 24, 12, 0, 1, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    _, rejected = R.split_valid_rejected(R.parse_readings(kafka_batch(["bad"])), rejected_at=when)

    assert rejected.columns == [*R.REJECTED_COLUMNS, "rejected_at"]
    assert rejected.schema["rejected_at"].dataType == T.TimestampType()
    (row,) = rejected.select(F.unix_micros("rejected_at").alias("m")).collect()
    assert from_micros(row.m) == when


def test_split_refuses_naive_rejected_at(kafka_batch: Any) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        R.split_valid_rejected(R.parse_readings(kafka_batch(["bad"])), rejected_at=dt.datetime(2026, 11, 24))


def test_split_does_not_parse_twice(kafka_batch: Any) -> None:
    """A filter on ``reason`` must stay above the parse: pushed below it, Spark re-runs from_json many times."""
    _, rejected = R.split_valid_rejected(R.parse_readings(kafka_batch([payload()])))
    plan = rejected._jdf.queryExecution().optimizedPlan().toString().splitlines()
    filters = [line for line in plan if line.lstrip(" +-:").startswith("Filter")]

    assert filters and not any("from_json" in line or "CASE" in line for line in filters)


def test_generated_code_stays_jit_compilable(spark: SparkSession, kafka_batch: Any) -> None:
    """The JVM does not JIT-compile methods over 8000 bytes of bytecode; parsing then runs several times slower."""
    parsed = R.parse_readings(kafka_batch([payload()]))
    valid, rejected = R.split_valid_rejected(parsed)
    debug = spark._jvm.org.apache.spark.sql.execution.debug.package  # type: ignore[attr-defined]
    for frame in (parsed, valid, rejected):
        stages = debug.codegenStringSeq(frame._jdf.queryExecution().executedPlan())
        sizes = [stages.apply(i)._3().maxMethodCodeSize() for i in range(stages.size())]
        assert sizes and max(sizes) < 8000


# --- de-duplication ----------------------------------------------------------------------------------------------


def test_dedupe_keeps_the_first_read_copy(kafka_batch: Any) -> None:
    records = [
        (1, 5, payload(value=1.0)),
        (0, 9, payload(value=2.0)),  # same sensor and time: lowest (partition, offset) wins
        (0, 10, payload(value=3.0)),
        (0, 11, payload(value=4.0, sensor_id="TEMP-002")),
        (2, 0, payload(value=5.0, timestamp="2026-11-24T10:30:00.501Z")),
    ]
    valid, _ = R.split_valid_rejected(R.parse_readings(kafka_batch(records)))
    deduped = R.dedupe_readings(valid)

    assert tuple(deduped.columns) == R.READING_COLUMNS
    rows = sorted((r.sensor_id, r.partition, r.offset, r.value) for r in deduped.collect())
    assert rows == [("TEMP-001", 0, 9, 2.0), ("TEMP-001", 2, 0, 5.0), ("TEMP-002", 0, 11, 4.0)]


def test_dedupe_is_independent_of_row_order(kafka_batch: Any) -> None:
    records = [(p, o, payload(value=float(p * 100 + o))) for p in range(3) for o in range(4)]
    forward = R.dedupe_readings(R.split_valid_rejected(R.parse_readings(kafka_batch(records)))[0])
    backward = R.dedupe_readings(R.split_valid_rejected(R.parse_readings(kafka_batch(records[::-1])))[0])

    assert forward.collect() == backward.collect()
    assert [(r.partition, r.offset, r.value) for r in forward.collect()] == [(0, 0, 0.0)]


def test_same_instant_written_differently_is_one_reading(kafka_batch: Any) -> None:
    spellings = ["2026-11-24T10:30:00.500Z", "2026-11-24T10:30:00.5+00:00", "2026-11-24T12:30:00.500000+02:00"]
    records = [payload(timestamp=spelling) for spelling in spellings]
    deduped = R.dedupe_readings(R.split_valid_rejected(R.parse_readings(kafka_batch(records)))[0])

    assert [(r.offset, r.value) for r in deduped.collect()] == [(0, 25.5)]


def test_later_copies_of_the_shared_keys_are_what_dedupe_drops(kafka_batch: Any) -> None:
    records = [
        (1, 5, payload(value=1.0)),
        (0, 9, payload(value=2.0)),
        (0, 10, payload(value=3.0)),
        (0, 11, payload(value=4.0, sensor_id="TEMP-002")),
        (2, 0, payload(value=5.0, timestamp="2026-11-24T10:30:00.501Z")),
        (2, 1, payload(value=6.0, sensor_id="TEMP-002")),
    ]
    valid, _ = R.split_valid_rejected(R.parse_readings(kafka_batch(records)))
    keys = R.shared_keys(valid)
    kept = valid.join(R.later_copies(valid, keys), ["topic", "partition", "offset"], "left_anti").select(
        *R.READING_COLUMNS
    )

    assert keys.count() == 2  # TEMP-001 at 10:30:00.500 and TEMP-002
    assert sorted((r.partition, r.offset) for r in R.later_copies(valid, keys).collect()) == [(0, 10), (1, 5), (2, 1)]
    assert sorted(kept.collect()) == sorted(R.dedupe_readings(valid).collect())


def test_later_copies_compare_the_readings_not_their_hashes(kafka_batch: Any) -> None:
    # Every key offered as shared (as a hash collision would): readings without a copy still stay.
    records = [(0, 0, payload(value=1.0)), (0, 1, payload(sensor_id="TEMP-002")), (0, 2, payload(value=3.0))]
    valid, _ = R.split_valid_rejected(R.parse_readings(kafka_batch(records)))
    every_key = valid.select(R.reading_key().alias("_key"))

    assert [(r.partition, r.offset) for r in R.later_copies(valid, every_key).collect()] == [(0, 2)]
    assert R.shared_keys(valid).count() == 1


def test_batch_counts_count_records_bounds_and_shared_keys_in_one_row(kafka_batch: Any) -> None:
    records = [
        (0, 0, payload(value=1.0)),
        (0, 1, payload(value=2.0)),  # a copy of offset 0
        (0, 2, payload(sensor_id="TEMP-002", timestamp="2026-11-24T09:00:00.500Z")),
        (1, 0, payload(sensor_id="TEMP-002", timestamp="2026-11-24T11:00:00.500Z")),
        (1, 1, "{not json"),
        (1, 2, json.dumps(dict(reversed(list(json.loads(payload()).items()))))),  # another layout
    ]
    read = R.read_canonical(kafka_batch(records))
    counts = R.batch_counts(read).collect()

    assert len(counts) == 1
    row = counts[0]
    assert (row["records"], row["canonical"], row["shared"]) == (6, 4, 1)
    assert row["shared"] == R.shared_keys(R.canonical_readings(read)).count()
    without = R.batch_counts(read, shared=False).collect()
    assert [r.asDict() for r in without] == [{k: row[k] for k in ("records", "canonical", "lo", "hi")}]
    assert (row["lo"], row["hi"]) == (
        micros(dt.datetime(2026, 11, 24, 9, 0, 0, 500_000, tzinfo=dt.UTC)),
        micros(dt.datetime(2026, 11, 24, 11, 0, 0, 500_000, tzinfo=dt.UTC)),
    )


# --- hours touched -----------------------------------------------------------------------------------------------


def test_hours_touched_are_distinct_utc_hours(spark: SparkSession, kafka_batch: Any) -> None:
    stamps = [
        "2026-11-24T10:59:59.999Z",
        "2026-11-24T11:00:00.000Z",
        "2026-11-24T11:30:00+05:30",  # 06:00 UTC
        "2026-11-24T10:00:00Z",
    ]
    valid, _ = R.split_valid_rejected(R.parse_readings(kafka_batch([payload(timestamp=s) for s in stamps])))
    expected = [dt.datetime(2026, 11, 24, hour, tzinfo=dt.UTC) for hour in (6, 10, 11)]

    assert R.hours_touched(valid) == expected
    with session_time_zone(spark, "Asia/Kolkata"):
        assert R.hours_touched(valid) == expected
    assert R.hours_touched(valid.limit(0)) == []
