"""Which partitions compaction rewrites: closed ones holding several small files, and nothing on a re-run."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from iot_platform.pipelines.maintenance.compaction import bucket_start, partitions_to_compact, where_clause
from iot_platform.pipelines.maintenance.files import PartitionFiles, partition_files, table_files
from iot_platform.pipelines.maintenance.params import MaintenanceParams
from iot_platform.pipelines.maintenance.run import compact
from iot_platform_tests.pipelines.sensor_readings.iceberg_support import append, readings_table

HOUR = dt.datetime(2026, 11, 24, 10, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 11, 24, 14, 5, tzinfo=dt.UTC)


def hours(start: dt.datetime) -> int:
    return int((start - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)).total_seconds() // 3600)


def test_only_closed_hours_with_several_small_files_are_compacted() -> None:
    parts = [
        PartitionFiles((hours(HOUR),), files=12, small_files=12, bytes=12_000),  # closed, small files: yes
        PartitionFiles((hours(HOUR) + 1,), files=1, small_files=1, bytes=1_000),  # already one file: no
        PartitionFiles((hours(HOUR) + 2,), files=3, small_files=1, bytes=9_000),  # one small + big files: no
        PartitionFiles((hours(HOUR) + 3,), files=5, small_files=5, bytes=5_000),  # ends 14:00, delay 2 h: open
    ]
    assert partitions_to_compact(parts, "hours", now=NOW, delay=dt.timedelta(hours=2)) == [HOUR]
    assert partitions_to_compact(parts, "hours", now=NOW, delay=dt.timedelta(minutes=5)) == [
        HOUR,
        HOUR + dt.timedelta(hours=3),
    ]


def test_a_day_counts_when_any_of_its_partitions_needs_it() -> None:
    day = 20_000  # days since the epoch
    parts = [
        PartitionFiles((day, "humidity"), files=24, small_files=24, bytes=24_000),
        PartitionFiles((day, "pressure"), files=24, small_files=24, bytes=24_000),
        PartitionFiles((day + 1, "humidity"), files=1, small_files=1, bytes=1_000),
    ]
    start = bucket_start(day, "days")
    assert start == dt.datetime(2024, 10, 4, tzinfo=dt.UTC)
    assert partitions_to_compact(parts, "days", now=start + dt.timedelta(days=3), delay=dt.timedelta(hours=2)) == [
        start
    ]
    assert bucket_start(dt.date(2024, 10, 4), "days") == start


def test_contiguous_partitions_make_one_range_of_the_filter() -> None:
    starts = [HOUR, HOUR + dt.timedelta(hours=1), HOUR + dt.timedelta(hours=5)]
    assert where_clause("event_time", starts, dt.timedelta(hours=1)) == (
        "(event_time >= TIMESTAMP '2026-11-24 10:00:00.000000+00:00' "
        "AND event_time < TIMESTAMP '2026-11-24 12:00:00.000000+00:00') OR "
        "(event_time >= TIMESTAMP '2026-11-24 15:00:00.000000+00:00' "
        "AND event_time < TIMESTAMP '2026-11-24 16:00:00.000000+00:00')"
    )


def test_files_are_counted_per_partition_from_a_real_tables_manifests(tmp_path: Path) -> None:
    table = readings_table(tmp_path)
    for minute in range(3):
        append(table, [HOUR + dt.timedelta(minutes=minute)], {0: minute + 1}, "t")
    append(table, [HOUR + dt.timedelta(hours=1)], {0: 4}, "t")

    parts = partition_files(table, small_file_bytes=1024 * 1024)
    found = [(p.partition, p.files, p.small_files) for p in parts]
    assert found == [((hours(HOUR),), 3, 3), ((hours(HOUR) + 1,), 1, 1)]
    figures = table_files(table)
    assert (figures.data_files, figures.snapshots) == (4, 4)
    assert figures.data_bytes == sum(p.bytes for p in parts) > 0
    assert figures.manifests >= 1
    assert partitions_to_compact(parts, "hours", now=NOW, delay=dt.timedelta(hours=2)) == [HOUR]


def test_a_re_run_with_nothing_to_compact_only_reads_the_manifests(tmp_path: Path) -> None:
    table = readings_table(tmp_path)
    append(table, [HOUR], {0: 1}, "t")
    append(table, [HOUR + dt.timedelta(hours=1)], {0: 2}, "t")
    lines: list[str] = []
    params = MaintenanceParams("iot")
    report = compact(None, table.catalog, params, now=NOW, log=lines.append)  # type: ignore[arg-type]  # no Spark
    (result,) = report.compactions
    assert result.partitions == () and result.before == result.after and result.before.data_files == 2
    assert any("iot.hourly_stats does not exist yet" in line for line in lines)
