package org.iotplatform.spark;

import java.nio.charset.StandardCharsets;
import java.time.DateTimeException;
import java.time.LocalDate;
import java.util.Arrays;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.api.java.UDF1;

/**
 * Reads a Kafka record value that has the canonical layout of a sensor reading, in one pass over its bytes.
 *
 * <p>The canonical layout is the contract's six fields in its order, as one JSON object with nothing around it:
 * {@code {"sensor_id": "S", "sensor_type": "T", "location": "L", "value": N, "unit": "U", "timestamp": "TS"}},
 * where each {@code ": "} may be {@code ":"} and each {@code ", "} may be {@code ","}. String values hold printable
 * ASCII without a backslash; the number follows the JSON grammar and is finite; the timestamp is
 * {@code yyyy-MM-ddTHH:mm:ss[.f{1,9}]} followed by {@code Z} or an offset {@code ±HH:mm}, and names a real instant.
 *
 * <p>Returns the fields (strings as their UTF-8 bytes, which Spark turns into strings without decoding them;
 * {@code value} as a double; the timestamp as UTC epoch microseconds, the fraction truncated to microseconds) in the
 * struct type the platform registers it with ({@code iot_platform.transforms.readings._CANONICAL_READING_TYPE}), or
 * null. Null means "not proven here", never "malformed": the caller sends those records to the
 * strict JSON parse, which decides. So this reader may decline anything unusual, but whatever it accepts it must
 * read exactly as that parse does; the platform's tests compare the two on valid, malformed and near-canonical
 * records.
 */
public final class CanonicalReading implements UDF1<byte[], Row> {
  private static final long serialVersionUID = 1L;

  private static final byte[][] KEYS = {
    bytes("{\"sensor_id\""), bytes("\"sensor_type\""), bytes("\"location\""),
    bytes("\"value\""), bytes("\"unit\""), bytes("\"timestamp\"")
  };
  private static final long NO_INSTANT = Long.MIN_VALUE;
  private static final int MIN_YEAR = 1000;
  private static final int MAX_OFFSET_HOURS = 17;

  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.US_ASCII);
  }

  @Override
  public Row call(byte[] value) {
    if (value == null) {
      return null;
    }
    return new Cursor(value).reading();
  }

  /** One pass over one record's bytes. */
  private static final class Cursor {
    private final byte[] b;
    private int pos;

    Cursor(byte[] b) {
      this.b = b;
    }

    Row reading() {
      byte[] sensorId = stringField(0);
      if (sensorId == null || !comma()) {
        return null;
      }
      byte[] sensorType = stringField(1);
      if (sensorType == null || !comma()) {
        return null;
      }
      byte[] location = stringField(2);
      if (location == null || !comma()) {
        return null;
      }
      if (!key(3)) {
        return null;
      }
      int start = pos;
      if (!number()) {
        return null;
      }
      double number = Double.parseDouble(new String(b, start, pos - start, StandardCharsets.ISO_8859_1));
      if (Double.isNaN(number) || Double.isInfinite(number) || !comma()) {
        return null;
      }
      byte[] unit = stringField(4);
      if (unit == null || !comma() || !key(5) || !at('"')) {
        return null;
      }
      int stampStart = ++pos;
      while (pos < b.length && b[pos] != '"') {
        pos++;
      }
      int stampEnd = pos;
      if (!at('"') || pos + 2 != b.length || b[pos + 1] != '}') {
        return null;
      }
      long micros = instant(stampStart, stampEnd);
      if (micros == NO_INSTANT) {
        return null;
      }
      return RowFactory.create(sensorId, sensorType, location, number, unit, micros);
    }

    private boolean at(char c) {
      return pos < b.length && b[pos] == c;
    }

    /** The key, then ":" or ": ". */
    private boolean key(int index) {
      byte[] k = KEYS[index];
      if (pos + k.length > b.length) {
        return false;
      }
      for (int i = 0; i < k.length; i++) {
        if (b[pos + i] != k[i]) {
          return false;
        }
      }
      pos += k.length;
      if (!at(':')) {
        return false;
      }
      pos++;
      if (at(' ')) {
        pos++;
      }
      return true;
    }

    /** "," or ", ". */
    private boolean comma() {
      if (!at(',')) {
        return false;
      }
      pos++;
      if (at(' ')) {
        pos++;
      }
      return true;
    }

    /**
     * The key, then a string of printable ASCII other than backslash: its bytes, which are its UTF-8 text (null
     * otherwise).
     */
    private byte[] stringField(int index) {
      if (!key(index) || !at('"')) {
        return null;
      }
      int start = ++pos;
      while (pos < b.length && b[pos] != '"') {
        byte c = b[pos];
        if (c < 0x20 || c == '\\') { // a control character, a backslash or a non-ASCII byte (negative)
          return null;
        }
        pos++;
      }
      if (!at('"')) {
        return null;
      }
      byte[] text = Arrays.copyOfRange(b, start, pos);
      pos++;
      return text;
    }

    private boolean digit(int i) {
      return i < b.length && b[i] >= '0' && b[i] <= '9';
    }

    /** A JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
    private boolean number() {
      if (at('-')) {
        pos++;
      }
      if (!digit(pos)) {
        return false;
      }
      if (b[pos] == '0') {
        pos++;
      } else {
        while (digit(pos)) {
          pos++;
        }
      }
      if (at('.')) {
        pos++;
        if (!digit(pos)) {
          return false;
        }
        while (digit(pos)) {
          pos++;
        }
      }
      if (at('e') || at('E')) {
        pos++;
        if (at('+') || at('-')) {
          pos++;
        }
        if (!digit(pos)) {
          return false;
        }
        while (digit(pos)) {
          pos++;
        }
      }
      return true;
    }

    /** {@code n} digits at {@code i} as a number, -1 if any is not a digit. */
    private int digits(int i, int n) {
      int v = 0;
      for (int j = i; j < i + n; j++) {
        if (!digit(j)) {
          return -1;
        }
        v = v * 10 + (b[j] - '0');
      }
      return v;
    }

    /** UTC epoch microseconds of the timestamp in [s, e), or NO_INSTANT. */
    private long instant(int s, int e) {
      if (e - s < 20
          || b[s + 4] != '-' || b[s + 7] != '-' || b[s + 10] != 'T' || b[s + 13] != ':' || b[s + 16] != ':') {
        return NO_INSTANT;
      }
      int year = digits(s, 4);
      int month = digits(s + 5, 2);
      int day = digits(s + 8, 2);
      int hour = digits(s + 11, 2);
      int minute = digits(s + 14, 2);
      int second = digits(s + 17, 2);
      if (year < MIN_YEAR || month < 0 || day < 0 || hour < 0 || hour > 23 || minute < 0 || minute > 59
          || second < 0 || second > 59) {
        return NO_INSTANT;
      }
      int p = s + 19;
      long micros = 0;
      if (b[p] == '.') {
        p++;
        int count = 0;
        while (p < e && digit(p)) {
          if (count < 6) {
            micros = micros * 10 + (b[p] - '0');
          }
          count++;
          p++;
        }
        if (count == 0 || count > 9) {
          return NO_INSTANT;
        }
        for (int i = count; i < 6; i++) {
          micros *= 10;
        }
      }
      long offsetSeconds;
      if (p == e - 1 && b[p] == 'Z') {
        offsetSeconds = 0;
      } else if (p == e - 6 && (b[p] == '+' || b[p] == '-') && b[p + 3] == ':') {
        int hours = digits(p + 1, 2);
        int minutes = digits(p + 4, 2);
        if (hours < 0 || hours > MAX_OFFSET_HOURS || minutes < 0 || minutes > 59) {
          return NO_INSTANT;
        }
        offsetSeconds = (b[p] == '+' ? 1 : -1) * (hours * 3600L + minutes * 60L);
      } else {
        return NO_INSTANT;
      }
      long days;
      try {
        days = LocalDate.of(year, month, day).toEpochDay();
      } catch (DateTimeException invalidDate) {
        return NO_INSTANT;
      }
      long seconds = days * 86_400L + hour * 3_600L + minute * 60L + second - offsetSeconds;
      return seconds * 1_000_000L + micros;
    }
  }
}
