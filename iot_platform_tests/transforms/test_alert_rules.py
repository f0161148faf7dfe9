"""Numbers in an episode's ``detail`` are written as Spark writes them (Java's rules), not as Python does."""

from __future__ import annotations

from iot_platform.transforms.alert_rules import java_double, java_fixed


def test_doubles_read_as_java_double_to_string() -> None:
    assert [java_double(v) for v in (35.0, -10.5, 0.001, 0.0, 1013.25)] == ["35.0", "-10.5", "0.001", "0.0", "1013.25"]
    assert [java_double(v) for v in (1e7, 12345678.0, 0.0001, -2.5e-5)] == ["1.0E7", "1.2345678E7", "1.0E-4", "-2.5E-5"]


def test_fixed_decimals_round_half_up_like_java_format() -> None:
    assert [java_fixed(v, 1) for v in (12.25, 0.05, 130.0, 2.449)] == ["12.3", "0.1", "130.0", "2.4"]
    assert [java_fixed(v, 0) for v in (12.5, 99.5, 0.4)] == ["13", "100", "0"]
    assert java_fixed(4.0005, 3) == "4.001"
