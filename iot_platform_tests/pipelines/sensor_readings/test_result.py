"""What an ingestion run reports before it reads: its ranges, gaps and next offsets come from its plan."""

from __future__ import annotations

from iot_platform.offsets import plan
from iot_platform.pipelines.sensor_readings.plan import IngestionPlan
from iot_platform.pipelines.sensor_readings.progress import Progress
from iot_platform.pipelines.sensor_readings.result import IngestionResult


def test_a_planned_result_names_the_ranges_gaps_and_offsets_of_its_plan() -> None:
    committed = {0: 5, 1: 40}
    offsets = plan("sensor-raw", committed, {0: (8, 12), 1: (0, 40), 2: (0, 3)})
    result = IngestionResult.planned(IngestionPlan(offsets=offsets, committed=committed, snapshot_id=42))
    assert result.ranges == [
        {"partition": 0, "start": 8, "end": 12},
        {"partition": 1, "start": 40, "end": 40},
        {"partition": 2, "start": 0, "end": 3},
    ]
    assert result.gaps == [{"partition": 0, "from": 5, "to": 8, "lost": 3}]
    assert result.next_offsets == {0: 12, 1: 40, 2: 3}
    assert result.snapshot_id == 42
    assert result.stored == 0 and result.hours_touched == []


def test_hours_touched_are_the_hours_with_stored_readings_in_order() -> None:
    result = IngestionResult(readings_per_hour={"2026-11-24-11:00": 3, "2026-11-24-09:00": 1})
    assert result.hours_touched == ["2026-11-24-09:00", "2026-11-24-11:00"]


def test_progress_lines_name_the_step_and_its_seconds() -> None:
    lines: list[str] = []
    progress = Progress(lines.append)
    progress("read 10 records")
    progress("committed 9 readings")
    assert [line.rsplit(" in ", 1)[0] for line in lines] == ["read 10 records", "committed 9 readings"]
    assert all(line.endswith("s") and float(line.rsplit(" in ", 1)[1][:-1]) >= 0 for line in lines)
