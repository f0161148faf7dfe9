"""Parse, validate and de-duplicate sensor readings read from Kafka (pure ``DataFrame -> DataFrame``).

A record value is valid when it is one JSON object (UTF-8) holding the six fields of contract section 1 with the
right JSON types, a finite ``value`` and a ``timestamp`` that parses; everything else is kept with a reason code
(see ``REASONS``) so it can be written to the rejected-readings table.

How the payload is parsed, and why (all in the JVM, no Python UDF; see ``bench/transforms_throughput.py``):

0. A record in the canonical layout (the six fields in the contract's order, one object with nothing around it,
   ``": "``/``":"`` and ``", "``/``","`` between tokens, string values of printable ASCII without a backslash, a
   finite number, a timestamp ending in ``Z`` or ``±HH:mm``) is read by the platform's Java function
   (``CANONICAL_READING_CLASS``, source in the Maven module ``jvm/``) in one pass over its bytes, at a small fraction of
   the cost of a JSON parse. It returns null for anything it does not prove valid, never a reason: those records
   take the JSON parse below, which decides. Whatever it accepts is exactly what that parse returns (the tests
   compare both on valid, malformed and near-canonical records).
1. Every other record is parsed with ``from_json`` into typed fields (strings and a double). That parse is lenient
   on its own (a number in a string field comes back as its text), but its result proves a record valid when each
   typed value can only have come from a token of the right JSON type: a finite double only comes from a JSON number,
   and a string that does not start like a number, object, array or quoted NaN only from a JSON string. Nearly
   every real reading is proven this way.
2. The other records (malformed ones, and valid ones with a string such as ``"123"``) are parsed again into
   ``VARIANT`` fields, which keep their exact JSON types (``schema_of_variant``); the reason code comes from those.

The payload is wrapped as ``{"p": <payload>, "<end key>": true}`` before parsing: Spark's JSON parser stops after the
first JSON value and ignores whatever follows, so only a wrapped payload with nothing after it yields the end key,
and a top-level array, string, number or null parses as a null struct instead of failing like invalid JSON does.

Every function works on UTC instants and gives the same result whatever ``spark.sql.session.timeZone`` is: a
timestamp without an explicit offset is rejected rather than read in the session time zone, and hours are computed
from epoch microseconds rather than with ``date_trunc``.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from collections.abc import Callable, Iterable

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

# --- reason codes of malformed records ---------------------------------------------------------------------------
# A record gets the first reason that applies, in the order of ``REASONS``; ``detail`` explains it in words.

EMPTY_PAYLOAD = "empty_payload"
"""The Kafka record value is null (a tombstone), empty, or only JSON whitespace."""
INVALID_UTF8 = "invalid_utf8"
"""The value bytes are not valid UTF-8. ``raw_payload`` has the bad bytes replaced by U+FFFD; ``detail`` has the
exact bytes in hex."""
NOT_JSON = "not_json"
"""The value is not exactly one JSON value: a syntax error (single quotes, comments, trailing commas, unquoted
names, leading zeros, a byte-order mark...), content after the value, or a key repeated inside an object that is the
value of one of the six fields. (A key repeated at the top level is allowed: the last one counts, as in most JSON
parsers.)"""
NOT_OBJECT = "not_object"
"""The value is valid JSON but not an object: an array, string, number, boolean or null (``detail`` names which).
The bare tokens NaN/Infinity count as numbers here."""
MISSING_FIELD = "missing_field"
"""One or more of the six fields is absent; ``detail`` lists them (``missing: sensor_id, timestamp``). Field names
are case-sensitive. A field present with JSON ``null`` is ``wrong_type``, not missing (as in JSON Schema)."""
WRONG_TYPE = "wrong_type"
"""A field has the wrong JSON type: a non-string in ``sensor_id``, ``sensor_type``, ``location``, ``unit`` or
``timestamp``; a non-number in ``value`` (the string ``"25.5"``, ``true``, ``null``...). ``detail`` lists each field
with the expected and actual type (``value: expected number, got string``)."""
NON_FINITE_VALUE = "non_finite_value"
"""``value`` is the token NaN, Infinity or -Infinity (which lenient writers such as Python's ``json.dumps`` emit),
or a number too large for a double (``1e400``)."""
BAD_TIMESTAMP = "bad_timestamp"
"""``timestamp`` is a string but not an ISO-8601 date-time with a UTC designator or offset (``ACCEPTED_TIMESTAMP``),
or names no real instant (``2026-02-30T00:00:00Z``, ``...T24:00:00Z``, a leap second)."""

REASONS: tuple[str, ...] = (
    EMPTY_PAYLOAD,
    INVALID_UTF8,
    NOT_JSON,
    NOT_OBJECT,
    MISSING_FIELD,
    WRONG_TYPE,
    NON_FINITE_VALUE,
    BAD_TIMESTAMP,
)
"""Every reason code, in the order they are checked: a record gets the first that applies."""

ACCEPTED_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}(:?\d{2})?)$"
"""Accepted ``timestamp`` form (ISO-8601 extended format): date ``T`` time, optional 1-9 fraction digits, then ``Z``
or an offset ``+hh:mm`` / ``+hhmm`` / ``+hh``. Fraction digits past the sixth are truncated: Spark timestamps hold
microseconds. A time without ``Z`` or offset is rejected, since it would be read in some local time zone."""

# --- schemas -----------------------------------------------------------------------------------------------------

STRING_FIELDS: tuple[str, ...] = ("sensor_id", "sensor_type", "location", "unit", "timestamp")
"""JSON fields of a reading that must be JSON strings."""
NUMBER_FIELDS: tuple[str, ...] = ("value",)
"""JSON fields of a reading that must be JSON numbers."""
PAYLOAD_FIELDS: tuple[str, ...] = ("sensor_id", "sensor_type", "location", "value", "unit", "timestamp")
"""The six JSON fields of a reading, in the contract's order (the order ``detail`` lists them in)."""

KAFKA_COLUMNS: tuple[str, ...] = ("value", "topic", "partition", "offset")
"""Columns of Spark's Kafka source that :func:`parse_readings` reads (others, such as ``key``, are ignored)."""

READING_SCHEMA = T.StructType(
    [
        T.StructField("sensor_id", T.StringType(), False),
        T.StructField("sensor_type", T.StringType(), False),
        T.StructField("location", T.StringType(), False),
        T.StructField("value", T.DoubleType(), False),
        T.StructField("unit", T.StringType(), False),
        T.StructField("event_time", T.TimestampType(), False),
        T.StructField("topic", T.StringType(), False),
        T.StructField("partition", T.IntegerType(), False),
        T.StructField("offset", T.LongType(), False),
    ]
)
"""A valid reading: the typed JSON fields (``timestamp`` becomes ``event_time``, a UTC instant) and where it was
read in Kafka. Columns and order of :func:`split_valid_rejected`'s ``valid`` and :func:`dedupe_readings`' output."""
READING_COLUMNS: tuple[str, ...] = tuple(READING_SCHEMA.fieldNames())

REJECTED_SCHEMA = T.StructType(
    [
        T.StructField("raw_payload", T.StringType(), True),
        T.StructField("topic", T.StringType(), False),
        T.StructField("partition", T.IntegerType(), False),
        T.StructField("offset", T.LongType(), False),
        T.StructField("kafka_timestamp", T.TimestampType(), True),
        T.StructField("record_key", T.StringType(), True),
        T.StructField("reason", T.StringType(), False),
        T.StructField("detail", T.StringType(), False),
    ]
)
"""A rejected record (contract ``iot.rejected_readings``, less ``rejected_at`` unless asked for). ``raw_payload`` is
the record value as text, null for a tombstone; ``kafka_timestamp`` is the Kafka record's time (null when the source
has none), which places a record that has no readable event time in an hour; ``record_key`` is the Kafka record's key
as text (the sensor id for the platform's producers; null when the source has none), which names the sensor a
malformed record probably came from."""
REJECTED_COLUMNS: tuple[str, ...] = tuple(REJECTED_SCHEMA.fieldNames())

PARSED_COLUMNS: tuple[str, ...] = READING_COLUMNS + ("kafka_timestamp", "record_key", "reason", "detail", "raw_payload")
"""Columns of :func:`parse_readings`' output, in order."""

MICROS_PER_HOUR = 3_600 * 1_000_000

_END_KEY = "__iot_platform_payload_end__"
"""Key appended after the wrapped payload: present in the parse result only when nothing follows the payload."""
_STRING_FIELD_CHECKED_BY_FORM = "timestamp"
"""A string field whose accepted form (``ACCEPTED_TIMESTAMP``) no number, boolean, object or array text can match."""


CANONICAL_READING_CLASS = "org.iotplatform.spark.CanonicalReading"
"""The platform's Java function that reads a record in the canonical layout (source: the Maven module ``jvm/``; its
jar is in every platform session's ``spark.jars``)."""
CANONICAL_READING_FUNCTION = "iot_platform_canonical_reading"
"""Name :func:`parse_readings` registers it under in a session."""
_CANONICAL_READING_TYPE = T.StructType(
    [
        T.StructField("sensor_id", T.BinaryType()),
        T.StructField("sensor_type", T.BinaryType()),
        T.StructField("location", T.BinaryType()),
        T.StructField("value", T.DoubleType()),
        T.StructField("unit", T.BinaryType()),
        T.StructField("event_micros", T.LongType()),
    ]
)
"""What the canonical reader returns: the strings as their bytes (printable ASCII, so valid UTF-8), which a cast
turns into strings without a copy, where a Java string would be decoded and encoded again."""
CANONICAL_STRINGS = ("sensor_id", "sensor_type", "location", "unit")
"""String fields the canonical reader returns (as bytes), in order; the timestamp comes back as an instant."""
CANONICAL_COLUMNS: tuple[str, ...] = (
    "canonical",
    *READING_COLUMNS[:6],
    "topic",
    "partition",
    "offset",
    "kafka_timestamp",
    "record_key",
    "record_value",
)
"""Columns of :func:`read_canonical`'s output, in order."""


_CORRUPT = "__iot_platform_corrupt_record__"
"""Column the JSON parser fills with the input when it is malformed. Needed besides ``_END_KEY``: with partial
results (Spark's default) a syntax error inside the payload can still yield the end key."""


def _wrapped_schema(payload: T.DataType) -> T.StructType:
    return T.StructType(
        [
            T.StructField("p", payload, True),
            T.StructField(_END_KEY, T.BooleanType(), True),
            T.StructField(_CORRUPT, T.StringType(), True),
        ]
    )


_TYPED_SCHEMA = _wrapped_schema(
    T.StructType(
        [
            T.StructField(name, T.DoubleType() if name in NUMBER_FIELDS else T.StringType(), True)
            for name in PAYLOAD_FIELDS
        ]
    )
)
"""Fast parse: the typed values. Lenient on its own (a number in a string field comes back as its text)."""
_VARIANT_SCHEMA = _wrapped_schema(T.StructType([T.StructField(name, T.VariantType(), True) for name in PAYLOAD_FIELDS]))
"""Exact parse: each field keeps its JSON type, read with ``schema_of_variant``."""
_ANY_VALUE_SCHEMA = _wrapped_schema(T.VariantType())
"""Tells valid JSON that is not an object (not_object) from invalid JSON (not_json)."""
_JSON_OPTIONS = {
    # Strict RFC 8259 syntax, except that NaN/Infinity tokens parse so they can be reported as non-finite values.
    "mode": "PERMISSIVE",
    "columnNameOfCorruptRecord": _CORRUPT,
    "allowNonNumericNumbers": "true",
    "allowSingleQuotes": "false",
    "allowUnquotedFieldNames": "false",
    "allowComments": "false",
    "allowNumericLeadingZeros": "false",
    "allowBackslashEscapingAnyCharacter": "false",
    "allowUnquotedControlChars": "false",
}
_NUMBER_TYPES = ("BIGINT", "DOUBLE")  # schema_of_variant names of JSON numbers, besides DECIMAL(p,s)
_NON_STRING_TEXT_START = ("-", "+", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", '"', "{", "[")
"""First characters of what the typed parse returns for a non-string token in a string field: a number's text, a
quoted ``"NaN"``/``"Infinity"``, an object's or array's JSON text."""
_NON_STRING_TEXTS = ("true", "false", "NaN", "Infinity", "INF")
"""Whole texts the typed parse may return for a non-string token (booleans; non-finite numbers, unquoted)."""
_DETAIL_MAX_CHARS = 200
_JSON_TYPE_NAMES = {
    "STRING": "string",
    "BIGINT": "number",
    "DECIMAL": "number",
    "DOUBLE": "number",
    "BOOLEAN": "boolean",
    "VOID": "null",
    "OBJECT": "object",
    "ARRAY": "array",
}
"""JSON type name by ``schema_of_variant`` type name (without its parameters)."""
_TOP_LEVEL_NAMES = {"[": "an array", '"': "a string", "t": "a boolean", "f": "a boolean", "n": "null"}
"""What a valid JSON value is, by its first character (anything else that parses is a number)."""


def utc_hour_start(ts: Column) -> Column:
    """Start of the UTC hour holding each instant of ``ts``, whatever the session time zone.

    ``date_trunc('HOUR', ...)`` truncates in the session time zone, which differs from UTC hours for zones with a
    fractional offset (Asia/Kolkata); epoch arithmetic does not.

    Args:
        ts: A timestamp column.

    Returns:
        A timestamp column, null where ``ts`` is null.
    """
    micros = F.unix_micros(ts)
    return F.timestamp_micros(micros - F.pmod(micros, F.lit(MICROS_PER_HOUR)))


def parse_readings(raw: DataFrame, *, fast_path: bool = True) -> DataFrame:
    """Parse and validate every Kafka record into a typed reading or a reason why it is malformed.

    The same as :func:`judge_records` over :func:`read_canonical`: a caller that keeps the first step's output
    (ingestion caches it) can judge only the records the canonical reader did not prove.

    Args:
        raw: Records in the shape of Spark's Kafka source: at least ``value`` (binary), ``topic`` (string),
            ``partition`` (int) and ``offset`` (long); its ``timestamp`` (the record time) is kept as
            ``kafka_timestamp`` when present.
        fast_path: Read canonical records without a JSON parse (the default). Off, every record takes the JSON
            parse; the results are the same, which the tests check.

    Returns:
        One row per input record with columns ``PARSED_COLUMNS``: ``sensor_id``, ``sensor_type``, ``location``,
        ``value`` (double), ``unit``, ``event_time`` (timestamp, the UTC instant of ``timestamp``), ``topic``,
        ``partition``, ``offset``, ``kafka_timestamp``, ``reason``, ``detail``, ``raw_payload``. A valid record has a
        null ``reason``, ``detail`` and ``raw_payload``; a malformed one has a reason code (``REASONS``), a detail,
        its payload text and null reading fields. ``topic``, ``partition`` and ``offset`` are always set.

    Raises:
        ValueError: ``raw`` lacks one of ``KAFKA_COLUMNS``.
        RuntimeError: the session cannot load the platform's canonical reader (see :func:`read_canonical`).
    """
    return judge_records(read_canonical(raw, fast_path=fast_path))


def read_canonical(raw: DataFrame, *, fast_path: bool = True) -> DataFrame:
    """First step of :func:`parse_readings`: read the records in the canonical layout (see the module docstring).

    Args:
        raw: Records in the shape of Spark's Kafka source (see :func:`parse_readings`).
        fast_path: Off, no record is read here (every one is left to :func:`judge_records`).

    Returns:
        One row per record with columns ``CANONICAL_COLUMNS``: ``canonical`` (true when read here), the reading
        fields ``READING_COLUMNS`` (null unless canonical), ``kafka_timestamp``, and ``record_value``, the record's
        bytes, kept only for the records that are not canonical.

    Raises:
        ValueError: ``raw`` lacks one of ``KAFKA_COLUMNS``.
        RuntimeError: the session cannot load the platform's canonical reader.
    """
    missing = [name for name in KAFKA_COLUMNS if name not in raw.columns]
    if missing:
        raise ValueError(f"parse_readings needs the Kafka source columns {', '.join(missing)}")
    kafka_time = F.col("timestamp") if "timestamp" in raw.columns else F.lit(None).cast(T.TimestampType())
    key = F.make_valid_utf8(F.col("key").cast(T.StringType())) if "key" in raw.columns else F.lit(None)
    source = raw.select(
        "topic",
        "partition",
        "offset",
        kafka_time.alias("kafka_timestamp"),
        key.cast(T.StringType()).alias("_key"),
        "value",
    )
    if fast_path:
        read = source.select("*", canonical_reading_function(raw.sparkSession)(F.col("value")).alias("_read"))
    else:
        read = source.select("*", F.lit(None).cast(_CANONICAL_READING_TYPE).alias("_read"))
    is_canonical = F.col("_read").isNotNull()
    return read.select(
        is_canonical.alias("canonical"),
        *(
            (
                F.col(f"_read.{name}").cast(T.StringType()) if name in CANONICAL_STRINGS else F.col(f"_read.{name}")
            ).alias(name)
            for name in PAYLOAD_FIELDS
            if name != "timestamp"
        ),
        F.timestamp_micros(F.col("_read.event_micros")).alias("event_time"),
        "topic",
        "partition",
        "offset",
        "kafka_timestamp",
        F.when(~is_canonical, F.col("_key")).alias("record_key"),
        F.when(~is_canonical, F.col("value")).alias("record_value"),
    )


def judge_records(read: DataFrame) -> DataFrame:
    """Second step of :func:`parse_readings`: judge every record of :func:`read_canonical`'s output.

    Canonical records pass through as valid readings; every other one takes the JSON parse (see the module
    docstring), which gives its reading or its reason.

    Args:
        read: Rows with ``CANONICAL_COLUMNS`` (any subset of :func:`read_canonical`'s output).

    Returns:
        ``PARSED_COLUMNS``, one row per input row (see :func:`parse_readings`).
    """
    wrapped = _wrapped_payload()
    # The parts of the plan below run partly outside whole-stage code generation (the JSON parses, the detail
    # words) and copy every column of every row: canonical records carry only their short values through them.
    canonical = read.select(
        "topic",
        "partition",
        "offset",
        "kafka_timestamp",
        "record_key",
        F.col("record_value").alias("_bytes"),
        F.col("record_value").cast(T.StringType()).alias("_payload"),
        F.col("canonical").alias("_canonical"),
        F.col("value").alias("_canonical_value"),
        F.col("event_time").alias("_canonical_time"),
        *(F.col(name).alias(f"_c_{name}") for name in CANONICAL_STRINGS),
    )
    # 1. Typed parse of every other record.
    typed = canonical.select(
        "*", F.when(~F.col("_canonical"), F.from_json(wrapped, _TYPED_SCHEMA, _JSON_OPTIONS)).alias("_typed")
    )
    timestamp = F.col("_typed.p.timestamp")
    timed = typed.select(
        "*",
        F.when(F.col("_canonical"), F.col("_canonical_time"))
        .when(timestamp.rlike(ACCEPTED_TIMESTAMP), timestamp.try_cast(T.TimestampType()))
        .alias("_event_time"),
    )
    # 2. Records the typed parse proves valid: each typed value can only have come from a token of the right type.
    fast_valid = timed.select("*", _proven_valid().alias("_proven"))
    # 3. The others (malformed ones, and valid ones with a string field such as "123") are parsed again into
    #    VARIANT fields, whose exact JSON types decide the reason.
    exact = fast_valid.select(
        "*", F.when(~F.col("_proven"), F.from_json(wrapped, _VARIANT_SCHEMA, _JSON_OPTIONS)).alias("_exact")
    )
    #    Their values come from that parse too, so a record is always judged and read from the same parse.
    proven = F.col("_proven")
    kinds = exact.select(
        "*",
        *(F.schema_of_variant(F.col(f"_exact.p.{name}")).alias(f"_t_{name}") for name in PAYLOAD_FIELDS),
        *(
            F.when(F.col("_canonical"), _canonical_field(name))
            .when(proven, F.col(f"_typed.p.{name}"))
            .otherwise(
                F.try_variant_get(F.col(f"_exact.p.{name}"), "$", "double" if name in NUMBER_FIELDS else "string")
            )
            .alias(f"_{name}")
            for name in PAYLOAD_FIELDS
        ),
    )
    resolved = kinds.select(
        "*",
        F.when(proven, F.col("_event_time"))
        .when(F.col("_timestamp").rlike(ACCEPTED_TIMESTAMP), F.col("_timestamp").try_cast(T.TimestampType()))
        .alias("_instant"),
    )
    checked = resolved.select("*", _reason().alias("reason"))

    valid = F.col("reason").isNull()
    return checked.select(
        *(F.when(valid, F.col(f"_{name}")).alias(name) for name in PAYLOAD_FIELDS if name != "timestamp"),
        F.when(valid, F.col("_instant")).alias("event_time"),
        "topic",
        "partition",
        "offset",
        "kafka_timestamp",
        F.when(~valid, F.col("record_key")).alias("record_key"),
        "reason",
        F.when(~valid, _detail()).alias("detail"),
        F.when(
            ~valid, F.when(F.is_valid_utf8("_payload"), F.col("_payload")).otherwise(F.make_valid_utf8("_payload"))
        ).alias("raw_payload"),
    )


def _proven_valid() -> Column:
    """True when the canonical layout or the typed parse alone proves the record valid (false means: decide with
    the exact parse).

    A finite typed ``value`` only comes from a JSON number (the typed parse reads a string as NaN, Infinity or not
    at all), and a typed string that does not start like a number, quoted non-finite, object or array text, and is
    not ``true``/``false``, only comes from a JSON string. ``timestamp`` is proven by its accepted form.
    """
    value = F.col("_typed.p.value")
    strings_proven = [
        ~F.substring(F.col(f"_typed.p.{name}"), 1, 1).isin(*_NON_STRING_TEXT_START)
        & ~F.col(f"_typed.p.{name}").isin(*_NON_STRING_TEXTS)
        for name in STRING_FIELDS
        if name != _STRING_FIELD_CHECKED_BY_FORM
    ]
    return F.col("_canonical") | F.coalesce(
        F.col(f"_typed.{_END_KEY}")
        & F.col(f"_typed.{_CORRUPT}").isNull()
        & F.is_valid_utf8("_payload")
        & F.col("_event_time").isNotNull()
        & ~F.isnan(value)
        & (F.abs(value) != F.lit(float("inf")))
        & _all(strings_proven),
        F.lit(False),
    )


def canonical_reading_function(spark: SparkSession) -> Callable[[Column], Column]:
    """The canonical reader (``CANONICAL_READING_CLASS``) registered in ``spark``, as a column function.

    Raises:
        RuntimeError: the session's classpath lacks the platform's jar.
    """
    try:
        spark.udf.registerJavaFunction(CANONICAL_READING_FUNCTION, CANONICAL_READING_CLASS, _CANONICAL_READING_TYPE)
    except Exception as exc:  # py4j and analysis errors alike: the class cannot be loaded
        raise RuntimeError(
            f"this Spark session cannot load {CANONICAL_READING_CLASS}: start it with the platform's jars in "
            "spark.jars (iot_platform.clients.spark.spark_conf adds them)"
        ) from exc
    return lambda column: F.call_udf(CANONICAL_READING_FUNCTION, column)


def _canonical_field(name: str) -> Column:
    """A field's value read from the canonical layout (``timestamp``: its instant is ``_canonical_time``; the text is
    only needed for the words about a malformed record)."""
    if name in NUMBER_FIELDS:
        return F.col("_canonical_value")
    return F.col(f"_c_{name}") if name in CANONICAL_STRINGS else F.lit(None).cast(T.StringType())


def _is_string(name: str) -> Column:
    return F.col(f"_t_{name}") == F.lit("STRING")


def _is_number(name: str) -> Column:
    kind = F.col(f"_t_{name}")
    return kind.isin(*_NUMBER_TYPES) | kind.startswith("DECIMAL")


def _has_right_type(name: str) -> Column:
    return _is_number(name) if name in NUMBER_FIELDS else _is_string(name)


def _first_char() -> Column:
    """The payload's first character after JSON whitespace."""
    return F.regexp_extract(F.col("_payload"), r"^[ \t\r\n]*(.)", 1)


def _is_one_json_value() -> Column:
    """True when the payload is exactly one JSON value of any kind (parsed only for records that need it)."""
    parsed = F.from_json(_wrapped_payload(), _ANY_VALUE_SCHEMA, _JSON_OPTIONS)
    return F.coalesce(parsed.getField(_END_KEY) & parsed.getField(_CORRUPT).isNull(), F.lit(False))


def _wrapped_payload() -> Column:
    """``{"p": <payload>, "<end key>": true}``: parses to the end key only if nothing follows the payload."""
    return F.concat(F.lit('{"p":'), F.col("_payload"), F.lit(f',"{_END_KEY}":true}}'))


def _blank_payload() -> Column:
    return F.col("_payload").rlike(r"^[ \t\r\n]*$")


def _reason() -> Column:
    """The first reason code that applies, null for a valid record (evaluated lazily, cheapest checks first)."""
    exact = F.col("_exact")
    value = F.col("_value")
    return (
        F.when(F.col("_proven"), F.lit(None))
        .when(F.col("_bytes").isNull(), F.lit(EMPTY_PAYLOAD))
        .when(~F.is_valid_utf8("_payload"), F.lit(INVALID_UTF8))
        .when(
            exact.getField(_END_KEY).isNull() | exact.getField(_CORRUPT).isNotNull(),
            F.when(_blank_payload(), F.lit(EMPTY_PAYLOAD))
            .when(_first_char() != "{", F.when(_is_one_json_value(), F.lit(NOT_OBJECT)).otherwise(F.lit(NOT_JSON)))
            .otherwise(F.lit(NOT_JSON)),
        )
        .when(exact.getField("p").isNull(), F.lit(NOT_OBJECT))
        .when(_any(F.col(f"_t_{name}").isNull() for name in PAYLOAD_FIELDS), F.lit(MISSING_FIELD))
        .when(_any(~_has_right_type(name) for name in PAYLOAD_FIELDS), F.lit(WRONG_TYPE))
        .when(F.isnan(value) | (F.abs(value) == F.lit(float("inf"))), F.lit(NON_FINITE_VALUE))
        .when(F.col("_instant").isNull(), F.lit(BAD_TIMESTAMP))
        # Optimizer fence: a never-true nondeterministic branch keeps a filter on ``reason`` (such as the one in
        # split_valid_rejected) from being pushed below this projection, where Spark would inline the whole
        # CASE and re-run ``from_json`` for every reference to the parsed structs (several times the work).
        .when(F.spark_partition_id() < 0, F.lit(None))
    )


def _any(conditions: Iterable[Column]) -> Column:
    return functools.reduce(operator.or_, conditions)


def _all(conditions: Iterable[Column]) -> Column:
    return functools.reduce(operator.and_, conditions)


def _json_type(variant_type: Column) -> Column:
    """The JSON type name (string, number, boolean, null, object, array) of a ``schema_of_variant`` result."""
    kind = F.regexp_extract(variant_type, r"^[A-Z]+", 0)
    return F.coalesce(F.element_at(_map_literal(_JSON_TYPE_NAMES), kind), F.lower(kind))


def _map_literal(mapping: dict[str, str]) -> Column:
    return F.create_map(*(F.lit(part) for pair in mapping.items() for part in pair))


def _clip(text: Column) -> Column:
    return F.when(
        F.length(text) > _DETAIL_MAX_CHARS, F.concat(F.substring(text, 1, _DETAIL_MAX_CHARS), F.lit("..."))
    ).otherwise(text)


def _detail() -> Column:
    """Words for the reason of a malformed record: what is wrong, naming the fields."""
    reason = F.col("reason")
    top_level = F.coalesce(F.element_at(_map_literal(_TOP_LEVEL_NAMES), _first_char()), F.lit("a number"))
    # Per-field words with higher-order functions: interpreted, so the generated code stays small enough to be
    # JIT-compiled (a method over 8000 bytes of bytecode is not), and only ever run for rejected records.
    fields = F.array(
        *(
            F.struct(
                F.lit(name).alias("name"),
                F.lit("number" if name in NUMBER_FIELDS else "string").alias("expected"),
                F.col(f"_t_{name}").alias("kind"),
            )
            for name in PAYLOAD_FIELDS
        )
    )
    missing = F.array_join(F.transform(F.filter(fields, lambda f: f["kind"].isNull()), lambda f: f["name"]), ", ")
    wrong = F.array_join(
        F.transform(
            F.filter(fields, lambda f: f["kind"].isNotNull() & (_json_type(f["kind"]) != f["expected"])),
            lambda f: F.concat(f["name"], F.lit(": expected "), f["expected"], F.lit(", got "), _json_type(f["kind"])),
        ),
        "; ",
    )
    timestamp = _clip(F.col("_timestamp"))
    return (
        F.when(
            reason == EMPTY_PAYLOAD,
            F.when(F.col("_bytes").isNull(), F.lit("record value is null (tombstone)"))
            .when(F.length("_bytes") == 0, F.lit("record value is empty"))
            .otherwise(F.lit("record value is only whitespace")),
        )
        .when(
            reason == INVALID_UTF8,
            F.concat(F.lit("record value is not valid UTF-8; bytes (hex): "), F.hex(F.col("_bytes"))),
        )
        .when(
            reason == NOT_JSON,
            F.when(
                F.col(f"_exact.{_CORRUPT}").isNull() & F.col("_exact.p").isNotNull(),
                F.lit("invalid JSON: unexpected content after the JSON object"),
            ).otherwise(F.lit("invalid JSON (syntax error, or a duplicate key inside a field's value)")),
        )
        .when(reason == NOT_OBJECT, F.concat(F.lit("JSON value is "), top_level, F.lit(", not an object")))
        .when(reason == MISSING_FIELD, F.concat(F.lit("missing: "), missing))
        .when(reason == WRONG_TYPE, wrong)
        .when(
            reason == NON_FINITE_VALUE,
            F.concat(F.lit("value is not finite: "), F.col("_value").cast(T.StringType())),
        )
        .when(
            reason == BAD_TIMESTAMP,
            F.when(
                timestamp.rlike(ACCEPTED_TIMESTAMP),
                F.concat(F.lit("timestamp is not a real instant: "), timestamp),
            ).otherwise(
                F.concat(
                    F.lit("timestamp is not ISO-8601 with Z or a UTC offset (e.g. 2026-11-24T10:30:00.500Z): "),
                    timestamp,
                )
            ),
        )
    )


def split_valid_rejected(parsed: DataFrame, rejected_at: dt.datetime | None = None) -> tuple[DataFrame, DataFrame]:
    """Split :func:`parse_readings`' output into valid readings and rejected records.

    Args:
        parsed: The output of :func:`parse_readings`.
        rejected_at: When given (timezone-aware), the rejected frame gets a last column ``rejected_at`` with this
            instant; otherwise the writer adds it.

    Returns:
        ``(valid, rejected)``: ``valid`` has ``READING_COLUMNS`` (``READING_SCHEMA``); ``rejected`` has
        ``REJECTED_COLUMNS`` (``raw_payload``, ``topic``, ``partition``, ``offset``, ``reason``, ``detail``), then
        ``rejected_at`` if asked for.

    Raises:
        ValueError: ``rejected_at`` has no time zone (it would be read in the local zone).

    Both frames recompute the parse (and re-read the source) when each is written: persist ``parsed`` first when
    writing both from one read.
    """
    valid = parsed.where(F.col("reason").isNull()).select(*READING_COLUMNS)
    rejected = parsed.where(F.col("reason").isNotNull()).select(*REJECTED_COLUMNS)
    if rejected_at is not None:
        rejected = rejected.withColumn("rejected_at", _instant_literal(rejected_at, "rejected_at"))
    return valid, rejected


def dedupe_readings(valid: DataFrame) -> DataFrame:
    """Keep one reading per (``sensor_id``, ``event_time``): the one read first from Kafka.

    Two readings with the same sensor and event time are the same reading (contract section 1). The survivor is the
    one with the lowest (``partition``, ``offset``) (then ``topic``), so re-running a batch keeps the same row.

    Args:
        valid: Valid readings with ``READING_COLUMNS``.

    Returns:
        The same columns, one row per (``sensor_id``, ``event_time``).
    """
    return number_copies(valid).where(F.col("_copy") == 1).select(*READING_COLUMNS)


def number_copies(readings: DataFrame) -> DataFrame:
    """Number the copies of each reading: ``_copy`` is 1 for the one :func:`dedupe_readings` keeps, 2, 3... for
    the others (a window over sensor and event time, so one shuffle and sort of every row).

    Args:
        readings: Rows with ``READING_COLUMNS``.

    Returns:
        The same rows with a ``_copy`` column.
    """
    copies = Window.partitionBy("sensor_id", "event_time").orderBy("partition", "offset", "topic")
    return readings.withColumn("_copy", F.row_number().over(copies))


def reading_key() -> Column:
    """A 64-bit hash of (``sensor_id``, ``event_time``): equal for every copy of a reading (and, rarely, for two
    different readings; :func:`later_copies` compares the readings themselves)."""
    return F.xxhash64(F.col("sensor_id"), F.col("event_time"))


def shared_keys(keys: DataFrame) -> DataFrame:
    """The :func:`reading_key` values that occur more than once: every reading with copies has one of them.

    One hash aggregation of a fixed-width key, far cheaper than sorting every row by sensor and event time; in a
    batch without copies the result is empty (or holds a hash collision or two).

    Args:
        keys: Rows with ``sensor_id`` and ``event_time`` (only those columns are read).

    Returns:
        One column ``_key`` (long), one row per shared key.
    """
    return (
        keys.select(reading_key().alias("_key"))
        .groupBy("_key")
        .agg(F.count(F.lit(1)).alias("_n"))
        .where(F.col("_n") > 1)
        .select("_key")
    )


def batch_counts(records: DataFrame, *, shared: bool = True) -> DataFrame:
    """One row counting a batch in one pass: ``records``, ``canonical`` (readings the canonical reader proved
    valid), ``lo`` and ``hi`` (their lowest and highest event time in epoch microseconds, null without any) and,
    with ``shared``, ``shared``: how many :func:`reading_key` values occur more than once among them
    (``shared_keys(readings)``'s row count).

    With ``shared``, one hash aggregation by key and then a global one: a batch without copies needs no other pass
    to know it. Without, one global aggregation (no per-key state).

    Args:
        records: Rows with ``canonical``, ``sensor_id`` and ``event_time`` (e.g. :func:`expand_batch`'s output;
            the reading fields are null unless ``canonical``).
        shared: Also count the shared keys.
    """
    # Event times as epoch microseconds: collected datetimes would be in the driver's time zone.
    if not shared:
        return records.agg(
            F.count(F.lit(1)).alias("records"),
            F.count(F.when(F.col("canonical"), F.lit(1))).alias("canonical"),
            F.min(F.unix_micros("event_time")).alias("lo"),
            F.max(F.unix_micros("event_time")).alias("hi"),
        )
    key = F.col("_key")
    per_key = records.groupBy(F.when(F.col("canonical"), reading_key()).alias("_key")).agg(
        F.count(F.lit(1)).alias("_n"),
        F.min(F.unix_micros("event_time")).alias("_lo"),
        F.max(F.unix_micros("event_time")).alias("_hi"),
    )
    return per_key.agg(
        F.coalesce(F.sum("_n"), F.lit(0)).alias("records"),
        F.coalesce(F.sum(F.when(key.isNotNull(), F.col("_n"))), F.lit(0)).alias("canonical"),
        F.min("_lo").alias("lo"),
        F.max("_hi").alias("hi"),
        F.count(F.when(key.isNotNull() & (F.col("_n") > 1), F.lit(1))).alias("shared"),
    )


def later_copies(readings: DataFrame, keys: DataFrame) -> DataFrame:
    """The copies :func:`dedupe_readings` drops, among the readings whose :func:`reading_key` is in ``keys``.

    With ``keys`` from :func:`shared_keys` over the same readings, anti-joining the result on (``topic``,
    ``partition``, ``offset``) is exactly :func:`dedupe_readings`, but only the few readings with a shared key
    are sorted.

    Args:
        readings: Rows with ``READING_COLUMNS``.
        keys: One column ``_key``, e.g. :func:`shared_keys` of ``readings``.

    Returns:
        ``topic``, ``partition`` and ``offset`` of every later copy.
    """
    candidates = readings.withColumn("_key", reading_key()).join(keys, "_key", "left_semi").drop("_key")
    return number_copies(candidates).where(F.col("_copy") > 1).select("topic", "partition", "offset")


def compact_batch(read: DataFrame) -> DataFrame:
    """What ingestion keeps of :func:`read_canonical`'s output while a run uses it: small in memory.

    The reading's strings are kept as bytes (Spark's cache computes no per-value bounds for binary columns, and the
    casts between bytes and strings copy nothing); the Kafka time only for records that are not canonical; the
    topic not at all (it is the same for every record).

    Args:
        read: :func:`read_canonical`'s output.

    Returns:
        ``canonical``, the six reading columns (strings as binary), ``partition``, ``offset``, ``kafka_timestamp``
        and ``record_value``.
    """
    canonical = F.col("canonical")
    return read.select(
        "canonical",
        *(F.col(name).cast("binary") if name in CANONICAL_STRINGS else F.col(name) for name in READING_COLUMNS[:6]),
        "partition",
        "offset",
        F.when(~canonical, F.col("kafka_timestamp")).alias("kafka_timestamp"),
        "record_key",
        "record_value",
    )


def expand_batch(batch: DataFrame, topic: str) -> DataFrame:
    """:func:`compact_batch`'s rows with their strings and topic back: the columns of ``CANONICAL_COLUMNS``.

    Args:
        batch: :func:`compact_batch`'s output.
        topic: The topic every record was read from.

    Returns:
        Rows :func:`judge_records` and :func:`canonical_readings` take.
    """
    return batch.withColumns({name: F.col(name).cast("string") for name in CANONICAL_STRINGS}).withColumn(
        "topic", F.lit(topic)
    )


def canonical_readings(records: DataFrame) -> DataFrame:
    """The readings the canonical reader proved valid, with ``READING_COLUMNS``.

    Args:
        records: Rows with ``CANONICAL_COLUMNS`` (e.g. :func:`expand_batch`'s output).
    """
    return records.where(F.col("canonical")).select(*READING_COLUMNS)


def non_canonical(records: DataFrame) -> DataFrame:
    """The records the canonical reader did not prove valid: those :func:`judge_records` must judge.

    Args:
        records: Rows with ``CANONICAL_COLUMNS``.
    """
    return records.where(~F.col("canonical"))


def judged_valid(judged: DataFrame) -> DataFrame:
    """The valid readings among :func:`judge_records`' output, with ``READING_COLUMNS``.

    Args:
        judged: Rows with ``PARSED_COLUMNS``.
    """
    return judged.where(F.col("reason").isNull()).select(*READING_COLUMNS)


def without_copies(readings: DataFrame, copies: DataFrame) -> DataFrame:
    """``readings`` less the rows ``copies`` names by (``topic``, ``partition``, ``offset``).

    Args:
        readings: Rows with ``READING_COLUMNS``.
        copies: :func:`later_copies`' output over the same readings.
    """
    return readings.join(copies, ["topic", "partition", "offset"], "left_anti")


def not_stored(readings: DataFrame, stored: DataFrame) -> DataFrame:
    """The readings whose (``sensor_id``, ``event_time``) is not among ``stored``'s.

    Args:
        readings: Rows with ``sensor_id`` and ``event_time``.
        stored: Rows with ``sensor_id`` and ``event_time`` (other columns are ignored).
    """
    return readings.join(stored.select("sensor_id", "event_time"), ["sensor_id", "event_time"], "left_anti")


def stored_readings(readings: DataFrame, ingested_at: dt.datetime) -> DataFrame:
    """Readings in the columns of ``iot.sensor_readings``, in order.

    Args:
        readings: Rows with ``READING_COLUMNS``.
        ingested_at: When the run read them (timezone-aware).

    Raises:
        ValueError: ``ingested_at`` has no time zone.
    """
    return readings.select(
        "sensor_id",
        "sensor_type",
        "location",
        "value",
        "unit",
        "event_time",
        F.col("topic").alias("kafka_topic"),
        F.col("partition").alias("kafka_partition"),
        F.col("offset").alias("kafka_offset"),
        _instant_literal(ingested_at, "ingested_at").alias("ingested_at"),
    )


def new_rejected_records(rejected: DataFrame, stored: DataFrame, rejected_at: dt.datetime) -> DataFrame:
    """Rejected records in the columns of ``iot.rejected_readings``, less those ``stored`` already holds.

    Keyed by (topic, partition, offset), so a retried run stores each rejected record once.

    Args:
        rejected: Rows with ``REJECTED_COLUMNS`` (e.g. ``split_valid_rejected``'s ``rejected``).
        stored: Rows of ``iot.rejected_readings`` (only ``kafka_topic``, ``kafka_partition``, ``kafka_offset`` read).
        rejected_at: When the run rejected them (timezone-aware).

    Raises:
        ValueError: ``rejected_at`` has no time zone.
    """
    key = ["kafka_topic", "kafka_partition", "kafka_offset"]
    return (
        rejected.withColumn("rejected_at", _instant_literal(rejected_at, "rejected_at"))
        .withColumnRenamed("topic", "kafka_topic")
        .withColumnRenamed("partition", "kafka_partition")
        .withColumnRenamed("offset", "kafka_offset")
        .join(stored.select(*key), key, "left_anti")
        .select(
            "raw_payload",
            "kafka_topic",
            "kafka_partition",
            "kafka_offset",
            "kafka_timestamp",
            "record_key",
            "reason",
            "detail",
            "rejected_at",
        )
    )


def event_hours(readings: DataFrame) -> DataFrame:
    """The distinct UTC hours the readings' event times fall in.

    Args:
        readings: Readings with an ``event_time`` column.

    Returns:
        One column ``hour_start`` (timestamp, start of a UTC hour), one row per distinct hour.
    """
    return readings.select(utc_hour_start(F.col("event_time")).alias("hour_start")).distinct()


def hours_touched(readings: DataFrame) -> list[dt.datetime]:
    """The UTC hours the readings fall in, as Python datetimes, to know which hourly partitions to (re)build.

    Args:
        readings: Readings with an ``event_time`` column (for example the valid readings of a batch).

    Returns:
        Sorted, distinct, timezone-aware (UTC) datetimes, each the start of an hour.
    """
    rows = event_hours(readings).select(F.unix_micros("hour_start").alias("micros")).collect()
    # Collected as epoch microseconds: PySpark turns timestamps into naive datetimes in the local time zone.
    return sorted(
        dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=row["micros"])
        for row in rows
        if row["micros"] is not None
    )


def _instant_literal(value: dt.datetime, name: str) -> Column:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (got {value.isoformat()})")
    micros = (value - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)
    return F.timestamp_micros(F.lit(micros))
