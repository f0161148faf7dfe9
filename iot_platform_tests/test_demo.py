"""``iot-platform demo``: the hours it fills, the run it launches and waits for, and what it prints."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from click.testing import CliRunner
from pyiceberg.catalog.sql import SqlCatalog

from iot_platform.cli import _mount, cli
from iot_platform.demo import (
    DEMO_FAULTS,
    DEMO_SEED,
    AlertsSeen,
    DemoFailed,
    DemoWindow,
    alert_lines,
    evaluate_alerts,
    format_alerts,
    format_rows,
    materialize,
    read_alerts,
    wait_for_run,
    where_to_look,
)
from iot_platform.generator.command import backfill_command
from iot_platform.runs import HOURLY_STATS_JOB, INGEST_JOB
from iot_platform.settings import load_settings
from iot_platform.tables import SENSOR_ALERTS, SENSOR_ALERTS_TABLE
from iot_platform_tests.api.fakes import FakeDagster

NOW = dt.datetime(2026, 11, 24, 10, 5, tzinfo=dt.UTC)


def test_window_is_the_last_completed_hours() -> None:
    window = DemoWindow.last_hours(NOW, 2)
    assert (window.first, window.last) == ("2026-11-24-08:00", "2026-11-24-09:00")
    assert window.row_filter == (
        "window_start >= '2026-11-24T08:00:00+00:00' and window_start < '2026-11-24T10:00:00+00:00'"
    )


def test_rows_are_aligned_and_a_missing_stddev_is_a_dash() -> None:
    row = {
        "window_start": dt.datetime(2026, 11, 24, 8, tzinfo=dt.UTC),
        "sensor_id": "TEMP-001",
        "avg_value": 21.5,
        "min_value": 20.0,
        "max_value": 23.25,
        "stddev_value": None,
        "reading_count": 7200,
    }
    header, line = format_rows([row])
    assert header.split() == ["window_start", "sensor_id", "avg", "min", "max", "stddev", "count"]
    assert line.split() == ["2026-11-24", "08:00", "TEMP-001", "21.500", "20.000", "23.250", "-", "7200"]
    assert len(line) == len(format_rows([{**row, "stddev_value": 1.0}])[1])


def test_where_to_look_names_the_stacks_urls() -> None:
    settings = load_settings(dagster_port=3100, api_port=8100)
    lines = "\n".join(where_to_look(settings))
    assert "http://127.0.0.1:3100" in lines and "http://127.0.0.1:8100/docs" in lines


class Clock:
    """A clock that moves only when the demo sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def runs_end_with(status: str) -> FakeDagster:
    """A fake Dagster whose submitted runs have already ended with ``status`` when first looked at."""
    dagster = FakeDagster()
    submit = dagster.submit_partition_range

    def submit_and_end(job_name: str, first: str, last: str, tags: Mapping[str, str]) -> str:
        run_id = submit(job_name, first, last, tags)
        dagster.add_run(status, run_id=run_id, job_name=job_name, range_start=first, range_end=last)
        return run_id

    dagster.submit_partition_range = submit_and_end  # type: ignore[method-assign]
    return dagster


def test_a_run_is_launched_over_the_window_and_awaited() -> None:
    dagster = runs_end_with("SUCCESS")
    lines: list[str] = []
    materialize(dagster, DemoWindow.last_hours(NOW, 2), timeout_s=60, echo=lines.append)
    (run,) = dagster.runs.values()
    assert (run.job_name, run.range_start, run.range_end) == (HOURLY_STATS_JOB, "2026-11-24-08:00", "2026-11-24-09:00")
    assert lines == [
        f"2/3 launched {HOURLY_STATS_JOB} for 2026-11-24-08:00 .. 2026-11-24-09:00: {dagster.web_url}/runs/{run.run_id}"
    ]


def test_alerts_are_evaluated_by_one_ingestion_run_that_is_awaited() -> None:
    dagster = FakeDagster(jobs=(HOURLY_STATS_JOB, INGEST_JOB))
    submit = dagster.submit_run

    def submit_and_end(job_name: str, tags: Mapping[str, str]) -> str:
        run_id = submit(job_name, tags)
        dagster.add_run("SUCCESS", run_id=run_id, job_name=job_name)
        return run_id

    dagster.submit_run = submit_and_end  # type: ignore[method-assign]
    lines: list[str] = []
    evaluate_alerts(dagster, timeout_s=60, echo=lines.append)
    (run,) = dagster.runs.values()
    assert run.job_name == INGEST_JOB
    assert lines == [f"    launched {INGEST_JOB} to evaluate the alert rules: {dagster.web_url}/runs/{run.run_id}"]


def test_waiting_reports_the_status_and_stops_at_the_timeout() -> None:
    dagster = FakeDagster()
    run_id = dagster.add_run("STARTED").run_id
    clock, lines = Clock(), []
    status = wait_for_run(dagster, run_id, 25, lines.append, clock=clock, sleep=clock.sleep)
    assert status == "STARTED"
    assert lines == [f"    run {run_id[:8]}: STARTED"] * 3


def test_a_failed_run_fails_the_demo_with_its_url() -> None:
    with pytest.raises(DemoFailed, match=r"ended FAILURE; see http://dagster.test:3000/runs/"):
        materialize(runs_end_with("FAILURE"), DemoWindow.last_hours(NOW, 1), timeout_s=60, echo=lambda line: None)


def test_demo_is_an_iot_platform_command_with_its_options() -> None:
    _mount()
    result = CliRunner().invoke(cli, ["demo", "--help"])
    assert result.exit_code == 0
    assert "--hours" in result.output and "--timeout" in result.output


# --- alerts ---------------------------------------------------------------------------------------------------
def alert_row(sensor_id: str, rule: str, started: dt.datetime, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "alert_id": f"{rule}-{sensor_id}-{started:%H%M%S}",
        "sensor_id": sensor_id,
        "sensor_type": "temperature",
        "location": "factory-A",
        "rule": rule,
        "severity": "critical",
        "state": "open",
        "started_at": started,
        "last_seen_at": started + dt.timedelta(seconds=30),
        "resolved_at": None,
        "peak_value": 40.0,
        "threshold": 35.0,
        "readings": 4,
        "detail": None,
        "evaluated_at": NOW,
    }
    row.update(fields)
    return row


def test_alerts_are_aligned_with_the_peak_and_when_they_resolved() -> None:
    started = dt.datetime(2026, 11, 24, 8, 0, 30, tzinfo=dt.UTC)
    row = alert_row("TEMP-002", "rate_of_change", started, severity="warning", peak_value=41.5)
    header, line = format_alerts([row])
    assert header.split() == ["sensor_id", "rule", "severity", "started", "peak"]
    assert line.split() == ["TEMP-002", "rate_of_change", "warning", "2026-11-24", "08:00:30", "41.500"]
    resolved = {**row, "resolved_at": started + dt.timedelta(seconds=2), "peak_value": None}
    header, line = format_alerts([resolved], resolved=True)
    assert header.split() == ["sensor_id", "rule", "severity", "started", "resolved", "peak"]
    assert line.split()[-3:] == ["2026-11-24", "08:00:32", "-"]
    assert len(line) == len(format_alerts([{**resolved, "peak_value": 1.0}], resolved=True)[1])


def test_alert_lines_say_when_there_is_no_alerts_table_or_no_alert() -> None:
    assert alert_lines(None) == ["    no iot.sensor_alerts table yet: alert evaluation has not run on this stack"]
    assert alert_lines(AlertsSeen(open=[], resolved=[])) == [
        "    open alerts: 0",
        "    alerts resolved within the window: 0",
    ]


def test_the_open_alerts_and_those_resolved_in_the_window_are_read_from_the_table(tmp_path: Path) -> None:
    catalog = SqlCatalog("unit", uri=f"sqlite:///{tmp_path / 'catalog.db'}", warehouse=tmp_path.as_uri())
    window = DemoWindow.last_hours(NOW, 2)
    assert read_alerts(catalog, window) is None  # no namespace, no table: nothing to show yet
    catalog.create_namespace("iot")
    table = catalog.create_table(
        SENSOR_ALERTS,
        schema=SENSOR_ALERTS_TABLE.iceberg_schema(),
        partition_spec=SENSOR_ALERTS_TABLE.iceberg_partition_spec(),
    )
    at = window.start + dt.timedelta(minutes=1)
    rows = [
        alert_row("TEMP-004", "stuck", at + dt.timedelta(minutes=5)),
        alert_row("TEMP-002", "threshold", at, state="resolved", resolved_at=at + dt.timedelta(seconds=2)),
        alert_row("PRESS-003", "silent", at, peak_value=None),
        alert_row("HUMID-002", "threshold", at, state="resolved", resolved_at=window.start - dt.timedelta(hours=3)),
    ]
    table.append(pa.Table.from_pylist(rows, schema=table.schema().as_arrow()))

    seen = read_alerts(catalog, window)
    assert seen is not None
    assert [(r["sensor_id"], r["rule"]) for r in seen.open] == [("PRESS-003", "silent"), ("TEMP-004", "stuck")]
    assert [(r["sensor_id"], r["rule"]) for r in seen.resolved] == [("TEMP-002", "threshold")]
    lines = alert_lines(seen)
    assert lines[0] == "    open alerts: 2" and lines[4] == "    alerts resolved within the window: 1"
    assert lines[2].split()[:3] == ["PRESS-003", "silent", "critical"]


def test_the_demo_backfill_injects_the_demo_faults() -> None:
    window = DemoWindow.last_hours(NOW, 2)
    command = backfill_command(window.start.isoformat(), window.end.isoformat(), seed=DEMO_SEED, faults=DEMO_FAULTS)
    assert command[-6:] == ["--end", window.end.isoformat(), "--faults", "demo", "--seed", str(DEMO_SEED)]
