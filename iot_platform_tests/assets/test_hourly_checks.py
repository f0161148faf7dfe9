"""The hourly_stats checks, from the numbers of a run (pure logic)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml

from iot_platform.assets.hourly_stats import CHECK_RECONCILED, CHECK_REJECTED, check_results, physical_ranges
from iot_platform.pipelines.hourly_stats import HourlyResult
from iot_platform.settings import load_settings

HOUR = dt.datetime(2026, 11, 24, 10, tzinfo=dt.UTC)


def result(**numbers: int) -> HourlyResult:
    base = {"readings": 1000, "stored_readings": 1000, "rejected": 0}
    return HourlyResult(start=HOUR, end=HOUR + dt.timedelta(hours=1), **{**base, **numbers})  # type: ignore[arg-type]


def by_name(run: HourlyResult, threshold: float = 0.05) -> dict[str, object]:
    return {check.check_name: check for check in check_results(run, threshold)}


def test_a_clean_hour_passes_every_check() -> None:
    checks = by_name(result())

    assert all(check.passed for check in checks.values())  # type: ignore[attr-defined]


def test_rejected_share_over_the_threshold_warns_with_its_numbers() -> None:
    check = by_name(result(rejected=100))[CHECK_REJECTED]

    assert not check.passed  # type: ignore[attr-defined]
    assert check.severity.value == "WARN"  # type: ignore[attr-defined]
    meta = {key: value.value for key, value in check.metadata.items()}  # type: ignore[attr-defined]
    assert meta == {"rejected": 100, "valid": 1000, "ratio": round(100 / 1100, 6), "threshold": 0.05}


def test_rejected_share_at_the_threshold_passes() -> None:
    assert by_name(result(rejected=50, stored_readings=950, readings=950), threshold=0.05)[CHECK_REJECTED].passed  # type: ignore[attr-defined]


def test_an_hour_without_records_does_not_divide_by_zero() -> None:
    check = by_name(result(readings=0, stored_readings=0))[CHECK_REJECTED]

    assert check.passed  # type: ignore[attr-defined]


def test_reconciliation_fails_when_counts_differ_and_says_how() -> None:
    check = by_name(result(readings=999))[CHECK_RECONCILED]

    assert not check.passed  # type: ignore[attr-defined]
    assert "999" in check.description and "1000" in check.description  # type: ignore[attr-defined]


def test_the_range_check_reads_the_configured_registry_without_a_generator(tmp_path: Path) -> None:
    registry = {
        "types": {"vibration": {"unit": "mm/s", "expected_interval_s": 1, "threshold_min": 0.0, "threshold_max": 8.0}},
        "sensors": [
            {"id": "VIB-1", "type": "vibration", "location": "hall"},
            {"id": "VIB-2", "type": "vibration", "location": "hall", "overrides": {"threshold_max": 4.0}},
        ],
    }
    path = tmp_path / "plant.yaml"
    path.write_text(yaml.safe_dump(registry))

    ranges = physical_ranges(load_settings(sensor_registry=path))
    assert ranges.by_sensor == {"VIB-1": (-4.0, 12.0), "VIB-2": (-2.0, 6.0)}
    assert ranges.by_type == {"vibration": (-4.0, 12.0)}
    assert physical_ranges(load_settings()).by_type["pressure"] == (967.5, 1057.5)
