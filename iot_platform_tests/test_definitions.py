"""The code location loads, with the contract's asset keys, job, schedule and partitions."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from iot_platform.definitions import build_definitions, defs
from iot_platform.errors import ConfigurationError
from iot_platform.settings import load_settings


def test_definitions_load_with_contract_names() -> None:
    loaded = defs() if callable(defs) and not isinstance(defs, dg.Definitions) else defs
    assert isinstance(loaded, dg.Definitions)
    keys = {key.to_user_string() for key in loaded.resolve_all_asset_keys()}
    assert {"sensor_raw", "sensor_readings", "rejected_readings", "hourly_stats", "spark_cluster"} <= keys
    job = loaded.resolve_job_def("hourly_stats_job")
    assert job.partitions_def is not None
    assert loaded.resolve_schedule_def("hourly_stats_schedule") is not None
    for name in ("sensor_raw_observer", "late_data_sensor", "platform_run_failures", "spark_cluster_health"):
        assert loaded.resolve_sensor_def(name).name == name


def test_hourly_partitions_are_utc_hours_from_the_configured_start() -> None:
    settings = load_settings(partitions_start="2026-11-01")
    job = build_definitions(settings).resolve_job_def("hourly_stats_job")
    partitions = job.partitions_def
    assert partitions is not None
    keys = partitions.get_partition_keys()
    assert keys[0] == "2026-11-01-00:00"
    assert keys[1] == "2026-11-01-01:00"


def test_schedule_runs_the_previous_hour_after_the_grace() -> None:
    settings = load_settings(schedule_grace_minutes=12)
    schedule = build_definitions(settings).resolve_schedule_def("hourly_stats_schedule")
    assert schedule.cron_schedule == "12 * * * *"
    assert schedule.execution_timezone in (None, "UTC")


def test_ingestion_runs_alert_evaluation_with_a_check_per_rule_family() -> None:
    loaded = build_definitions(load_settings())
    job = loaded.resolve_job_def("ingest_job")
    assert "sensor_alerts" in {key.to_user_string() for key in job.asset_layer.executable_asset_keys}
    specs = loaded.resolve_assets_def("sensor_alerts").check_specs
    assert {spec.name for spec in specs} == {
        "threshold_alerts",
        "stuck_alerts",
        "silent_alerts",
        "rate_of_change_alerts",
        "unknown_sensor_alerts",
        "rejected_burst_alerts",
    }


def test_a_bad_sensor_registry_fails_loading_naming_the_field(tmp_path: Path) -> None:
    registry = tmp_path / "sensors.yaml"
    registry.write_text("types:\n  t: {unit: x, expected_interval_s: 1, threshold_min: 5, threshold_max: 1}\n")
    with pytest.raises(ConfigurationError, match="threshold_min"):
        build_definitions(load_settings(sensor_registry=str(registry)))
