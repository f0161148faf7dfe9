package org.iotplatform.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.charset.StandardCharsets;
import java.time.OffsetDateTime;
import java.time.temporal.ChronoUnit;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The canonical reader on valid, near-canonical and malformed record values. It must read canonical records exactly
 * as the strict JSON parse does, and return null (leave the record to that parse) for anything else.
 */
class CanonicalReadingTest {
  private static final String GOOD =
      "{\"sensor_id\": \"TEMP-001\", \"sensor_type\": \"temperature\", \"location\": \"factory-A\", "
          + "\"value\": 25.5, \"unit\": \"celsius\", \"timestamp\": \"2026-11-24T10:30:00.500Z\"}";

  private final CanonicalReading reader = new CanonicalReading();

  private Row read(String record) {
    return reader.call(record.getBytes(StandardCharsets.UTF_8));
  }

  /** The example reading with one field's JSON value (raw text, quotes included for strings) replaced. */
  private static String with(String field, String json) {
    String marker =
        switch (field) {
          case "sensor_id" -> "\"TEMP-001\"";
          case "location" -> "\"factory-A\"";
          case "value" -> "25.5";
          case "unit" -> "\"celsius\"";
          case "timestamp" -> "\"2026-11-24T10:30:00.500Z\"";
          default -> throw new IllegalArgumentException(field);
        };
    return GOOD.replace("\"" + field + "\": " + marker, "\"" + field + "\": " + json);
  }

  private static long micros(String isoInstant) {
    return ChronoUnit.MICROS.between(OffsetDateTime.parse("1970-01-01T00:00:00Z"), OffsetDateTime.parse(isoInstant));
  }

  private static String text(Row row, int field) {
    return new String((byte[]) row.get(field), StandardCharsets.UTF_8);
  }

  @Test
  void readsTheCanonicalLayoutIntoTheRegisteredStruct() {
    Row row = read(GOOD);

    assertNotNull(row);
    assertEquals(6, row.length());
    assertArrayEquals("TEMP-001".getBytes(StandardCharsets.UTF_8), (byte[]) row.get(0));
    assertEquals("temperature", text(row, 1));
    assertEquals("factory-A", text(row, 2));
    assertEquals(25.5, row.getDouble(3));
    assertEquals("celsius", text(row, 4));
    assertEquals(micros("2026-11-24T10:30:00.500Z"), row.getLong(5));
  }

  @Test
  void readsTheCompactSeparators() {
    String compact = GOOD.replace("\": ", "\":").replace(", \"", ",\"");
    Row row = read(compact);

    assertNotNull(row);
    assertEquals(micros("2026-11-24T10:30:00.500Z"), row.getLong(5));
    assertNotNull(read(GOOD.replace("\": ", "\":")));
    assertNotNull(read(GOOD.replace(", \"", ",\"")));
  }

  @ParameterizedTest
  @CsvSource({
    "25.5, 25.5",
    "-12.5, -12.5",
    "0, 0.0",
    "-0, -0.0",
    "-0.0e0, -0.0",
    "1E+2, 100.0",
    "1e-300, 1e-300",
    "1e-400, 0.0",
    "123456789012345678901234567890, 1.2345678901234568e29",
    "0.1000000000000000055511151231257827, 0.1",
  })
  void readsJsonNumbersAsDoubles(String json, double expected) {
    Row row = read(with("value", json));

    assertNotNull(row, json);
    assertEquals(expected, row.getDouble(3));
  }

  @ParameterizedTest
  @CsvSource({
    "2026-11-24T10:30:00Z, 2026-11-24T10:30:00Z",
    "2026-11-24T10:30:00.5-00:00, 2026-11-24T10:30:00.5Z",
    "2026-11-24T10:30:00.1234567+05:30, 2026-11-24T05:00:00.123456Z",
    "2026-11-24T10:30:00.123456789Z, 2026-11-24T10:30:00.123456Z",
    "2026-11-24T10:30:00-09:45, 2026-11-24T20:15:00Z",
    "2026-11-24T10:30:00+17:59, 2026-11-23T16:31:00Z",
    "2024-02-29T12:00:00Z, 2024-02-29T12:00:00Z",
    "1969-12-31T23:59:59.999999Z, 1969-12-31T23:59:59.999999Z",
    "1000-01-01T00:00:00Z, 1000-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999Z, 9999-12-31T23:59:59.999999Z",
  })
  void readsTimestampsAsUtcEpochMicrosTruncated(String stamp, String utc) {
    Row row = read(with("timestamp", "\"" + stamp + "\""));

    assertNotNull(row, stamp);
    assertEquals(micros(utc), row.getLong(5), stamp);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "2026-11-24T10:30:00.500", // no zone
        "2026-02-30T10:30:00Z", // no such day
        "2023-02-29T12:00:00Z",
        "2026-04-31T12:00:00Z",
        "2026-13-01T12:00:00Z",
        "2026-00-10T12:00:00Z",
        "2026-11-00T12:00:00Z",
        "2026-11-24T24:00:00Z",
        "2026-11-24T23:60:00Z",
        "2026-11-24T23:59:60Z",
        "2026-11-24T10:30:00.1234567890Z", // more than nanoseconds
        "2026-11-24T10:30:00.Z",
        "2026-11-24T10:30:00+18:00",
        "2026-11-24T10:30:00-18:00",
        "2026-11-24T10:30:00+05:60",
        "2026-11-24T10:30:00+0530",
        "2026-11-24T10:30:00+05",
        "2026-11-24T10:30:00+5:30",
        "2026-11-24T10:30:00z",
        "2026-11-24t10:30:00Z",
        "2026-11-24 10:30:00Z",
        "2026-11-24T10:30Z",
        "0999-12-31T23:59:59Z",
        "+2026-11-24T10:30:00Z",
        "2026-11-24T10:30:00Z ",
        "",
      })
  void declinesTimestampsOutsideTheCanonicalForm(String stamp) {
    assertNull(read(with("timestamp", "\"" + stamp + "\"")), stamp);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "1e400", "-1e400", // not finite
        "1.e2", ".5", "+5", "5.", "0x1F", "1d", " 5 ", "\"5\"", "00", "025.5", "-", "1e", "true", "null",
      })
  void declinesNumbersOutsideTheJsonGrammarOrNotFinite(String json) {
    assertNull(read(with("value", json)), json);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "\"hall \\\"B\\\"\"", // an escape
        "\"tab\\there\"",
        "\"Z\\u00fcrich\"",
        "\"Zürich\"", // non-ASCII bytes
        "\"cel\001sius\"", // a control character
      })
  void declinesStringsThatAreNotPlainPrintableAscii(String json) {
    assertNull(read(with("location", json)), json);
  }

  @Test
  void readsPrintableAsciiAndEmptyStringsAsTheirBytes() {
    String printable = "~ printable ascii !#$%&'()*+,-./:;<=>?@[]^_`{|}";
    Row row = read(with("location", "\"" + printable + "\""));
    Row empty = read(with("sensor_id", "\"\""));

    assertNotNull(row);
    assertEquals(printable, text(row, 2));
    assertNotNull(empty);
    assertEquals(0, ((byte[]) empty.get(0)).length);
    assertEquals("}", text(read(with("unit", "\"}\"")), 4));
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "{\n \"sensor_id\": \"TEMP-001\", \"sensor_type\": \"temperature\", \"location\": \"factory-A\", "
            + "\"value\": 25.5, \"unit\": \"celsius\", \"timestamp\": \"2026-11-24T10:30:00.500Z\"\n}",
        "{ \"sensor_id\": \"TEMP-001\", \"sensor_type\": \"temperature\", \"location\": \"factory-A\", "
            + "\"value\": 25.5, \"unit\": \"celsius\", \"timestamp\": \"2026-11-24T10:30:00.500Z\"}",
        "{\"sensor_type\": \"temperature\", \"sensor_id\": \"TEMP-001\", \"location\": \"factory-A\", "
            + "\"value\": 25.5, \"unit\": \"celsius\", \"timestamp\": \"2026-11-24T10:30:00.500Z\"}",
        "{\"sensor_id\": \"TEMP-001\", \"sensor_type\": \"temperature\", \"location\": \"factory-A\", "
            + "\"value\": 25.5, \"Unit\": \"celsius\", \"timestamp\": \"2026-11-24T10:30:00.500Z\"}",
        "{\"sensor_id\": \"TEMP-001\", \"sensor_type\": \"temperature\", \"location\": \"factory-A\", "
            + "\"value\": 25.5, \"unit\": \"celsius\"}",
      })
  void declinesOtherLayoutsOfTheSameReading(String record) {
    assertNull(read(record));
  }

  @Test
  void declinesAnythingAroundOrInsideTheObject() {
    assertNull(read(" " + GOOD));
    assertNull(read(GOOD + "\n"));
    assertNull(read(GOOD + "}"));
    assertNull(read(GOOD.replace("}", " }")));
    assertNull(read(GOOD.replace("}", "},")));
    assertNull(read(GOOD.replace("\": \"", "\":  \"")));
    assertNull(read(GOOD.replace(", ", " , ")));
    assertNull(read(GOOD.replace(", ", ",  ")));
    assertNull(read(GOOD.replace("\"value\"", "\"value\" ")));
    assertNull(read(GOOD.substring(0, GOOD.length() - 1) + ", \"unit\": \"kelvin\"}"));
    assertNull(reader.call(concat(GOOD.getBytes(StandardCharsets.UTF_8), new byte[] {(byte) 0xff})));
  }

  @ParameterizedTest
  @ValueSource(strings = {"", " \r\n\t ", "hello", "42.5", "true", "\"TEMP-001\"", "[]", "{}", "{\"sensor_id\""})
  void declinesMalformedRecords(String record) {
    assertNull(read(record));
  }

  @Test
  void declinesEveryTruncationOfAValidRecord() {
    for (int end = 0; end < GOOD.length(); end++) {
      assertNull(read(GOOD.substring(0, end)), GOOD.substring(0, end));
    }
  }

  @Test
  void aTombstoneIsNull() {
    assertNull(reader.call(null));
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] both = new byte[a.length + b.length];
    System.arraycopy(a, 0, both, 0, a.length);
    System.arraycopy(b, 0, both, a.length, b.length);
    return both;
  }
}
