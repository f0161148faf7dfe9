"""The retention assets on a real Dagster instance (the stack's dagster.yaml, SQLite storage) and a real pyiceberg
catalog."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
from dagster import DagsterInstance, asset, materialize
from pyiceberg.catalog.sql import SqlCatalog

from iot_platform import tables
from iot_platform.assets.retention import build_table_retention_asset, delete_old_runs
from iot_platform.resources.iceberg import IcebergResource
from iot_platform.settings import Settings
from iot_platform.stack.dagster import write_dagster_yaml


@asset
def chatty() -> int:
    """Prints, so the run has captured output to delete."""
    print("some output of the run")
    return 1


def test_old_finished_runs_go_with_their_events_and_output_and_newer_ones_stay(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path / "state")  # type: ignore[call-arg]
    write_dagster_yaml(settings)
    with DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        old_ids = [materialize([chatty], instance=instance).run_id for _ in range(3)]
        cutoff = dt.datetime.now(dt.UTC)
        new_id = materialize([chatty], instance=instance).run_id
        storage = settings.dagster_home / "storage"
        shard = settings.dagster_home / "history" / "runs" / f"{old_ids[0]}.db"
        assert (storage / old_ids[0]).is_dir() and shard.is_file()
        shard_bytes = shard.stat().st_size

        result = delete_old_runs(instance, cutoff, keep=old_ids[2])

        assert result.runs == 2
        remaining = {record.dagster_run.run_id for record in instance.get_run_records()}
        assert remaining == {old_ids[2], new_id}
        assert instance.all_logs(old_ids[0]) == []
        assert not (storage / old_ids[0]).exists(), "the captured output is gone"
        assert shard.stat().st_size < shard_bytes, "the run's event-log file shrank"
        assert instance.all_logs(new_id)
        assert delete_old_runs(instance, cutoff, keep=old_ids[2]).runs == 0


def test_the_table_retention_asset_reports_what_it_dropped(tmp_path: Path) -> None:
    uri, warehouse = f"sqlite:///{tmp_path}/catalog.db", f"file://{tmp_path}"
    catalog = SqlCatalog("test", uri=uri, warehouse=warehouse)
    catalog.create_namespace("iot")
    contract = tables.REJECTED_READINGS_TABLE
    table = catalog.create_table(
        contract.name, schema=contract.iceberg_schema(), partition_spec=contract.iceberg_partition_spec()
    )
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=200)
    rows = [
        {"kafka_topic": "t", "kafka_partition": 0, "kafka_offset": i, "reason": "r", "rejected_at": long_ago}
        for i in range(4)
    ]
    schema = table.schema().as_arrow()
    table.append(pa.Table.from_pylist([{n: row.get(n) for n in schema.names} for row in rows], schema=schema))
    settings = Settings(state_dir=tmp_path / "state")  # type: ignore[call-arg]
    resource = IcebergResource(catalog_name="test", properties={"uri": uri, "warehouse": warehouse})

    result = materialize([build_table_retention_asset(settings)], resources={"iceberg": resource})

    [materialization] = result.asset_materializations_for_node("table_retention")
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    assert (metadata["rows_dropped"], metadata["files_dropped"], metadata["partitions_dropped"]) == (4, 1, 1)
    assert metadata["tables"][tables.SENSOR_READINGS] == "kept (no retention set)"  # type: ignore[index]
    assert catalog.load_table(contract.name).scan().to_arrow().num_rows == 0
