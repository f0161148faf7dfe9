"""The sensor_alerts asset's checks and metadata from an evaluation's result."""

from __future__ import annotations

from iot_platform.assets.sensor_alerts import check_results, result_metadata
from iot_platform.pipelines.sensor_alerts.run import AlertsResult


def test_each_rule_family_warns_while_its_alerts_are_open() -> None:
    open_alerts = [
        {"rule": "silent", "sensor_id": "TEMP-002", "severity": "critical"},
        {"rule": "silent", "sensor_id": "TEMP-001", "severity": "critical"},
        {"rule": "stuck", "sensor_id": "PRESS-001", "severity": "warning"},
    ]
    results = {r.check_name: r for r in check_results(open_alerts)}
    assert sorted(name for name, r in results.items() if not r.passed) == ["silent_alerts", "stuck_alerts"]
    assert all(r.severity.value == "WARN" for r in results.values())
    assert results["silent_alerts"].metadata["open_alerts"].value == 2
    assert results["silent_alerts"].metadata["sensor_ids"].value == "TEMP-001, TEMP-002"
    assert results["threshold_alerts"].passed


def test_metadata_counts_open_alerts_by_rule_and_severity_with_zeros() -> None:
    result = AlertsResult(
        sensors_evaluated=3,
        episodes_written=2,
        open_alerts=[{"rule": "threshold", "sensor_id": "S", "severity": "critical"}],
        seconds={"read": 1.0, "evaluate": 2.0, "write": 0.5},
    )
    metadata = result_metadata(result, "app-1")
    assert metadata["open_total"] == 1 and metadata["open_threshold"] == 1 and metadata["open_critical"] == 1
    assert metadata["open_stuck"] == 0 and metadata["open_warning"] == 0
    assert (metadata["episodes_written"], metadata["sensors_evaluated"], metadata["seconds"]) == (2, 3, 3.5)
    assert metadata["seconds_evaluate"] == 2.0
