"""An upgrade on the real stack: a table as the previous release created it is evolved in place by the next one's
``ensure_tables`` (columns added, no data file rewritten, old rows read with the new columns empty)."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from iot_platform import tables
from iot_platform.clients.iceberg import load_catalog
from iot_platform.clients.spark import connect_session
from iot_platform.settings import Settings

pytestmark = pytest.mark.integration


def test_a_previous_release_table_gains_the_new_columns_without_rewriting_its_files(
    stack_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"iot.upgrade_rejected_{uuid.uuid4().hex[:6]}"
    current = dataclasses.replace(tables.REJECTED_READINGS_TABLE, name=name)
    previous = dataclasses.replace(
        current, columns=tuple(column for column in current.columns if not column.added_later)
    )
    assert current.added_columns(), "the contract names columns a later release added"
    monkeypatch.setitem(tables.TABLES, name, current)  # the next release's contract for this table
    catalog = load_catalog(stack_settings)
    try:
        with connect_session(stack_settings.connect_url) as spark:
            spark.sql(previous.create_sql())
            spark.sql(
                f"INSERT INTO {name} VALUES ('{{}}', 't', 0, 7, 'not_object', null, TIMESTAMP '2025-03-01 10:00:00'),"
                f" ('x', 't', 1, 8, 'not_json', 'detail', TIMESTAMP '2025-03-02 10:00:00')"
            )
            table = catalog.load_table(name)
            files_before = {task.file.file_path for task in table.scan().plan_files()}
            snapshot_before = table.current_snapshot()

            tables.ensure_tables(spark, name)
            tables.ensure_tables(spark, name)  # idempotent: nothing left to add

            columns = spark.table(name).columns
            rows = sorted(
                tuple(row)
                for row in spark.table(name)
                .select("kafka_offset", *(column.name for column in current.added_columns()))
                .collect()
            )
        table = catalog.load_table(name)
        assert columns == list(current.column_names), "the new columns sit where the contract puts them"
        assert {task.file.file_path for task in table.scan().plan_files()} == files_before, "no file rewritten"
        after = table.current_snapshot()
        assert snapshot_before is not None and after is not None
        assert after.snapshot_id == snapshot_before.snapshot_id, "a schema change commits no data snapshot"
        assert rows == [(7, None, None), (8, None, None)], "old rows read with the new columns empty"
    finally:
        catalog.drop_table(name)
