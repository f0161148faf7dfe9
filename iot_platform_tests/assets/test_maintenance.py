"""The maintenance assets, jobs and schedules as the UI shows them: one asset per table and operation, on by
default, off with ``IOT_MAINTENANCE_ENABLED=false``."""

from __future__ import annotations

import dagster as dg

from iot_platform.definitions import build_definitions
from iot_platform.settings import load_settings


def test_each_table_has_a_compaction_and_a_housekeeping_asset_in_the_maintenance_group() -> None:
    loaded = build_definitions(load_settings())
    names = ("sensor_readings", "hourly_stats", "rejected_readings")
    for job, operation in (("table_compaction_job", "compaction"), ("table_housekeeping_job", "housekeeping")):
        keys = {key.to_user_string() for key in loaded.resolve_job_def(job).asset_layer.executable_asset_keys}
        assert keys == {f"maintenance/{t}_{operation}" for t in names}
    key = dg.AssetKey(["maintenance", "sensor_readings_housekeeping"])
    spec = loaded.resolve_assets_def(key).specs_by_key[key]
    assert spec.group_name == "maintenance" and "Kafka offsets" in (spec.description or "")


def test_maintenance_schedules_run_by_default_at_the_configured_times() -> None:
    loaded = build_definitions(load_settings(maintenance_compaction_minute=7, maintenance_daily_hour=2))
    compaction = loaded.resolve_schedule_def("table_compaction_schedule")
    housekeeping = loaded.resolve_schedule_def("table_housekeeping_schedule")
    assert (compaction.cron_schedule, housekeeping.cron_schedule) == ("7 * * * *", "27 2 * * *")
    assert compaction.default_status == dg.DefaultScheduleStatus.RUNNING
    assert housekeeping.default_status == dg.DefaultScheduleStatus.RUNNING

    off = build_definitions(load_settings(maintenance_enabled=False))
    for name in ("table_compaction_schedule", "table_housekeeping_schedule"):
        assert off.resolve_schedule_def(name).default_status == dg.DefaultScheduleStatus.STOPPED
    assert off.resolve_schedule_def("ingest_schedule").default_status == dg.DefaultScheduleStatus.RUNNING
