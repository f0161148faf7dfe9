"""The safety rules of expiry and orphan removal, the conflict retry, and the figures shown in the UI."""

from __future__ import annotations

import datetime as dt

import pytest

from iot_platform.errors import ConfigurationError
from iot_platform.pipelines.maintenance.orphans import orphan_cutoff
from iot_platform.pipelines.maintenance.params import MaintenanceParams
from iot_platform.pipelines.maintenance.procedures import call, is_commit_conflict
from iot_platform.pipelines.maintenance.result import CompactionResult, ExpiryResult, MaintenanceReport, TableFiles
from iot_platform.pipelines.maintenance.snapshots import snapshots_to_retain
from iot_platform.settings import Settings

NOW = dt.datetime(2026, 11, 24, 14, tzinfo=dt.UTC)


def test_expiry_keeps_every_snapshot_down_to_the_newest_offsets_snapshot() -> None:
    assert snapshots_to_retain(10, offsets_depth=0) == 10
    assert snapshots_to_retain(1, offsets_depth=0) == 1
    assert snapshots_to_retain(1, offsets_depth=3) == 4  # three compactions committed above the offsets
    assert snapshots_to_retain(2, offsets_depth=None) == 2


def test_orphan_removal_refuses_young_files_and_a_simulated_clock_ahead_of_the_real_one() -> None:
    with pytest.raises(ConfigurationError, match="IOT_MAINTENANCE_ORPHAN_MIN_AGE_HOURS"):
        MaintenanceParams("iot", orphan_min_age=dt.timedelta(hours=1))
    age = dt.timedelta(hours=24)
    assert orphan_cutoff(NOW, NOW + dt.timedelta(hours=1), age) == NOW - age
    assert orphan_cutoff(NOW + dt.timedelta(days=20), NOW, age) == NOW - age


def test_parameters_come_from_the_settings() -> None:
    params = MaintenanceParams.from_settings(
        Settings(maintenance_target_file_mb=64, maintenance_snapshot_keep_count=3, catalog_name="cat")
    )
    assert params.catalog_name == "cat"
    assert params.target_file_bytes == 64 * 1024 * 1024 and params.small_file_bytes == 48 * 1024 * 1024
    assert params.snapshot_keep_count == 3 and params.orphan_min_age == dt.timedelta(hours=72)


class FlakySession:
    """Raises ``errors`` in turn, then answers: just enough of a session for the retry loop (pure logic)."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.statements: list[str] = []

    def sql(self, statement: str) -> FlakySession:
        self.statements.append(statement)
        if self.errors:
            raise self.errors.pop(0)
        return self

    def collect(self) -> list[object]:
        return []


def test_a_procedure_is_retried_on_commit_conflicts_only_and_a_bounded_number_of_times() -> None:
    conflict = RuntimeError("org.apache.iceberg.exceptions.CommitFailedException: metadata location changed")
    lines: list[str] = []
    session = FlakySession(conflict)
    assert call(session, "CALL x", attempts=3, log=lines.append) == ([], 2)  # type: ignore[arg-type]
    assert len(lines) == 1 and "retrying" in lines[0]

    with pytest.raises(RuntimeError, match="CommitFailedException"):
        call(FlakySession(conflict, conflict, conflict), "CALL x", attempts=3, log=lines.append)  # type: ignore[arg-type]
    wrong = ValueError("Cannot parse where clause")
    session = FlakySession(wrong)
    with pytest.raises(ValueError):
        call(session, "CALL x", attempts=3, log=lines.append)  # type: ignore[arg-type]
    assert len(session.statements) == 1 and not is_commit_conflict(wrong)


def test_the_report_flattens_one_tables_figures_for_the_ui() -> None:
    small, big = TableFiles(40, 4_000, 40, 41), TableFiles(2, 3_900, 3, 42)
    hours = ("2026-11-24T10:00:00+00:00",)
    report = MaintenanceReport(
        compactions=(CompactionResult("iot.sensor_readings", hours, small, big, 40, 2, 1, 1.234),),
        expiries=(ExpiryResult("iot.sensor_readings", big, TableFiles(2, 3_900, 3, 10), 32, 10, 7, 38, 40, 1, 0.5),),
        tables={"iot.sensor_readings": TableFiles(2, 3_900, 3, 10)},
    )
    meta = report.table_metadata("iot.sensor_readings")
    assert meta["data_files_before"] == 40 and meta["data_files_after"] == 2
    assert meta["snapshots_expired"] == 32 and meta["snapshots"] == 10 and meta["compaction_seconds"] == 1.23
    assert report.table_metadata("iot.hourly_stats") == {}
