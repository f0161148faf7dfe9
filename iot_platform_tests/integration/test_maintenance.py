"""Table maintenance on the real stack: the same rows in fewer files, and ingestion continuing at exactly the right
offsets after our maintenance, after an operator's, and when maintenance commits in the middle of a run."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import dagster as dg
import pytest

from iot_platform import tables
from iot_platform.assets.sensor_readings import result_metadata
from iot_platform.clients.iceberg import load_catalog
from iot_platform.clients.kafka import topic_watermarks
from iot_platform.clients.spark import connect_session
from iot_platform.jobs import COMPACTION_JOB, HOUSEKEEPING_JOB
from iot_platform.pipelines.maintenance.files import partition_files
from iot_platform.pipelines.sensor_readings.offsets import recorded_offsets
from iot_platform.pipelines.sensor_readings.result import IngestionResult
from iot_platform.pipelines.sensor_readings.run import run_ingestion
from iot_platform.settings import Settings
from iot_platform.stack.service import exported_environment
from iot_platform_tests.integration.pipeline_support import (
    distinct_readings,
    fresh_hour,
    own_topic,
    produce,
    reading,
    run_job,
    stored_readings,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

pytestmark = pytest.mark.integration

HOUR_US = 3_600_000_000


def contents(settings: Settings, name: str) -> list[tuple[Any, ...]]:
    """Every row of a table, every column, in a stable order."""
    rows = load_catalog(settings).load_table(name).scan().to_arrow().to_pylist()
    return sorted((tuple(row.values()) for row in rows), key=repr)


def maintenance_metadata(result: dg.ExecuteInProcessResult, key: str) -> dict[str, Any]:
    """The metadata of one maintenance asset's materialization (keys like ``maintenance/x_compaction``)."""
    for event in result.get_asset_materialization_events():
        if event.asset_key == dg.AssetKey.from_user_string(key):
            return {name: value.value for name, value in event.materialization.metadata.items()}
    raise AssertionError(f"no materialization of {key}")


def starts(result: IngestionResult) -> dict[int, int]:
    return {r["partition"]: r["start"] for r in result.ranges}


def ingest(
    settings: Settings, on_plan: Callable[[SparkSession], None] | None = None, log: Callable[[str], None] = print
) -> IngestionResult:
    """One ingestion run of the settings' topic in a fresh server session, as a Dagster run has (the pipeline the
    ingestion asset runs, without the alert step). ``on_plan`` runs in that session once the run has planned."""

    def logged(line: str) -> None:
        log(line)
        if on_plan is not None and line.startswith("reading "):
            on_plan(session)

    with connect_session(settings.connect_url) as session:
        tables.ensure_tables(session)
        return run_ingestion(
            session,
            load_catalog(settings),
            lambda: topic_watermarks(settings.bootstrap_servers, settings.kafka_topic),
            topic=settings.kafka_topic,
            bootstrap_servers=settings.bootstrap_servers,
            run_id=f"maintenance-test-{uuid.uuid4().hex[:8]}",
            log=logged,
        )


def test_maintenance_jobs_keep_every_row_in_fewer_files_and_ingestion_continues_exactly(
    stack_settings: Settings,
) -> None:
    prefix = f"M{uuid.uuid4().hex[:6].upper()}"
    day = fresh_hour().replace(hour=10)
    count_only = {"IOT_MAINTENANCE_SNAPSHOT_KEEP_HOURS": "0", "IOT_MAINTENANCE_SNAPSHOT_KEEP_COUNT": "1"}
    with (
        own_topic(stack_settings, "maint") as settings,
        exported_environment(count_only),
        dg.instance_for_test() as instance,
    ):
        sent: list[dict[str, Any]] = []
        for batch in range(2):  # two commits: small files in each of two hours
            for p in range(3):
                rs = [
                    reading(f"{prefix}-{p}", day + dt.timedelta(hours=i % 2, minutes=10 * batch + i), float(i))
                    for i in range(4)
                ]
                produce(settings, rs, partition=p)
                sent += rs
            produce(settings, [b"not json"], partition=2)
            assert ingest(settings).stored == 12
        names = (tables.SENSOR_READINGS, tables.HOURLY_STATS, tables.REJECTED_READINGS)
        before = {name: contents(settings, name) for name in names}

        compaction = run_job(COMPACTION_JOB, instance)
        assert compaction.success
        readings_meta = maintenance_metadata(compaction, "maintenance/sensor_readings_compaction")
        assert readings_meta["partitions_compacted"] >= 2
        assert readings_meta["data_files_after"] < readings_meta["data_files_before"]
        table = load_catalog(settings).load_table(tables.SENSOR_READINGS)
        ours = {int(day.timestamp() * 1_000_000) // HOUR_US + i for i in (0, 1)}
        assert [p.files for p in partition_files(table, 1) if p.partition[0] in ours] == [1, 1]
        assert {name: contents(settings, name) for name in names} == before

        housekeeping = run_job(HOUSEKEEPING_JOB, instance)
        assert housekeeping.success
        expiry = maintenance_metadata(housekeeping, "maintenance/sensor_readings_housekeeping")
        assert expiry["snapshots_expired"] > 0 and expiry["snapshots_after"] <= 2
        assert {name: contents(settings, name) for name in names} == before
        table.refresh()
        assert recorded_offsets(table, settings.kafka_topic) == {0: 8, 1: 8, 2: 10}

        more = [reading(f"{prefix}-{p}", day + dt.timedelta(minutes=50 + p), 9.0) for p in range(3)]
        for p, r in enumerate(more):
            produce(settings, [r], partition=p)
        after = ingest(settings)
        assert starts(after) == {0: 8, 1: 8, 2: 10} and not after.offsets_recovered
        assert (after.stored, after.duplicates_already_stored) == (3, 0)
        assert stored_readings(settings, prefix) == distinct_readings(sent + more)


def operator_maintenance(settings: Settings, hour: dt.datetime) -> Callable[[SparkSession], None]:
    """An operator's own maintenance by hand: rewrite the hour's files, then expire all but the last snapshot."""

    def run(session: SparkSession) -> None:
        end = hour + dt.timedelta(hours=1)
        where = (
            f"event_time >= TIMESTAMP '{hour:%Y-%m-%d %H}:00:00+00:00' "
            f"AND event_time < TIMESTAMP '{end:%Y-%m-%d %H}:00:00+00:00'"
        )
        session.sql(
            f"CALL {settings.catalog_name}.system.rewrite_data_files(table => 'iot.sensor_readings', "
            f"where => \"{where}\", options => map('rewrite-all', 'true'))"
        ).collect()
        now = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
        session.sql(
            f"CALL {settings.catalog_name}.system.expire_snapshots(table => 'iot.sensor_readings', "
            f"older_than => TIMESTAMP '{now:%Y-%m-%d %H:%M:%S}+00:00', retain_last => 1)"
        ).collect()

    return run


def test_offsets_survive_an_operators_maintenance_even_in_the_middle_of_a_run(stack_settings: Settings) -> None:
    prefix = f"O{uuid.uuid4().hex[:6].upper()}"
    hour = fresh_hour()
    with own_topic(stack_settings, "opmaint") as settings:
        sent: list[dict[str, Any]] = []

        def batch(first: int, copy_last_on_p0: bool = False) -> None:
            for p in range(3):
                rs = [reading(f"{prefix}-{p}", hour + dt.timedelta(seconds=first + i), float(i)) for i in range(3)]
                if p == 0 and copy_last_on_p0:
                    rs.append(dict(sent[0], value=-1.0))  # a copy of a stored reading, last on its partition
                produce(settings, rs, partition=p)
                sent.extend(rs)
            produce(settings, [b"{broken"], partition=1)  # the last record of partition 1 is rejected

        maintain = operator_maintenance(settings, hour)
        batch(0)
        assert ingest(settings).stored == 9
        batch(100)
        assert ingest(settings).stored == 9

        # The operator compacts and expires while a run is between its plan and its commit: the run commits.
        batch(200, copy_last_on_p0=True)
        # (In the run's own server session: the local stack's SQLite catalog refuses a commit from a connection
        # that read it before another connection wrote.)
        result = ingest(settings, on_plan=maintain)
        assert (result.stored, result.duplicates_already_stored) == (9, 1)
        assert result.next_offsets == {0: 10, 1: 12, 2: 9}
        assert stored_readings(settings, prefix) == distinct_readings(sent)

        # Again by hand: no snapshot carries offsets any more, so the next run recovers them from the rows.
        with connect_session(settings.connect_url) as operator:
            maintain(operator)
        table = load_catalog(settings).load_table(tables.SENSOR_READINGS)
        assert recorded_offsets(table, settings.kafka_topic) is None
        batch(300)
        lines: list[str] = []
        recovered = ingest(settings, log=lines.append)
        assert result_metadata(recovered)["offsets_recovered_from_rows"]
        assert any("recovered from the stored rows" in line for line in lines)
        # Partition 0 ended with a dropped copy: it is read again and dropped again, never stored twice.
        assert starts(recovered) == {0: 9, 1: 12, 2: 9}
        assert (recovered.stored, recovered.duplicates_already_stored) == (9, 1)
        assert recovered.next_offsets == {0: 13, 1: 16, 2: 12}
        assert stored_readings(settings, prefix) == distinct_readings(sent)
        rejected = load_catalog(settings).load_table(tables.REJECTED_READINGS)
        rows = rejected.scan(row_filter=f"kafka_topic == '{settings.kafka_topic}'").to_arrow().to_pylist()
        assert sorted(r["kafka_offset"] for r in rows) == [3, 7, 11, 15]
