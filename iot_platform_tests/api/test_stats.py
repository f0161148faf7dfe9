"""``/api/v1/stats/hourly``: query parameters, and the pyiceberg reader on a real (temporary) Iceberg catalog."""

from __future__ import annotations

import base64
import datetime as dt
import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.schema import Schema
from pyiceberg.types import LongType, NestedField

from iot_platform.api.errors import InvalidQuery
from iot_platform.api.stats_reader import COLUMNS, Cursor, IcebergHourlyStatsReader, StatsQuery, row_filter
from iot_platform.tables import HOURLY_STATS, hourly_stats_iceberg_schema
from iot_platform_tests.api.conftest import Api
from iot_platform_tests.clients.spark_master_fakes import master_down

URL = "/api/v1/stats/hourly"
T0 = dt.datetime(2025, 4, 1, 22, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


# --- the route -----------------------------------------------------------------------------------------------
def test_filters_reach_the_reader_with_times_in_utc(api: Api) -> None:
    response = api.client.get(
        URL,
        params={
            "sensor_id": "TEMP-001",
            "sensor_type": "temperature",
            "location": "factory-A",
            "start": "2025-04-01T10:00:00",
            "end": "2025-04-01T14:00:00+02:00",
            "limit": 5,
        },
    )
    assert response.status_code == 200
    (query,) = api.stats.queries
    assert (query.sensor_id, query.sensor_type, query.location, query.limit) == (
        "TEMP-001",
        "temperature",
        "factory-A",
        5,
    )
    assert query.start == dt.datetime(2025, 4, 1, 10, tzinfo=dt.UTC)
    assert query.end == dt.datetime(2025, 4, 1, 12, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"limit": 0}, "query.limit"),
        ({"limit": 10_001}, "query.limit"),
        ({"start": "yesterday"}, "query.start"),
        ({"start": "2025-04-01T12:00:00Z", "end": "2025-04-01T12:00:00Z"}, "is not before end"),
        ({"start": "2025-04-02T00:00:00Z", "end": "2025-04-01T00:00:00Z"}, "is not before end"),
        ({"cursor": "not-a-cursor"}, "cursor is not a cursor this API handed out"),
        ({"sensor_id": ""}, "query.sensor_id"),
        ({"start": "0001-01-01T00:00:00+01:00"}, "outside the years 1..9999"),
    ],
)
def test_bad_parameters_are_422_with_a_message(api: Api, params: dict[str, Any], message: str) -> None:
    response = api.client.get(URL, params=params)
    assert response.status_code == 422
    assert message in response.json()["detail"]


def test_catalog_down_is_503_naming_it(api: Api) -> None:
    from iot_platform.errors import ServiceUnavailable

    api.stats.down = ServiceUnavailable("Iceberg catalog", "sqlite:///nowhere: unable to open database file")
    response = api.client.get(URL)
    assert response.status_code == 503
    assert response.json()["detail"].startswith("Iceberg catalog unavailable")


def test_stats_do_not_need_the_spark_master(api: Api) -> None:
    api.master.down = master_down()
    assert api.client.get(URL).status_code == 200


def crafted_cursor(payload: str) -> str:
    """A cursor token a caller made up: the URL-safe base64 of ``payload``, unpadded."""
    return base64.urlsafe_b64encode(payload.encode("utf-8", "surrogatepass")).decode().rstrip("=")


@pytest.mark.parametrize(
    "payload",
    [
        '["9999-12-31T23:59:59-23:59", "x"]',  # past year 9999 once in UTC (the probe's 500)
        '["0001-01-01T00:00:00+23:59", "x"]',  # before year 1 once in UTC
        '["2026-11-24T10:00:00", "x"]',  # no offset
        '["2026-11-24T10:00:00Z", 7]',
        '["2026-11-24T10:00:00Z", "\\ud800"]',  # a lone surrogate
        f'["2026-11-24T10:00:00Z", "{"x" * 201}"]',
        '["2026-11-24T10:00:00Z"]',
        '{"a": 1, "b": 2}',
        "[" * 350 + "]" * 350,
        "null",
        "\udcff",
    ],
)
def test_a_crafted_cursor_is_422_never_500(api: Api, payload: str) -> None:
    response = api.client.get(URL, params={"cursor": crafted_cursor(payload)})
    assert response.status_code == 422, response.text
    assert "cursor is not a cursor this API handed out" in response.json()["detail"]
    assert api.stats.queries == []


def test_cursors_round_trip() -> None:
    cursor = Cursor(T0, "TEMP-ü/1")
    assert Cursor.decode(cursor.encode()) == cursor
    with pytest.raises(InvalidQuery):
        Cursor.decode(cursor.encode()[:-3])


# --- the reader on a real catalog ----------------------------------------------------------------------------
_BASE, SPEC = hourly_stats_iceberg_schema()
SCHEMA = Schema(*_BASE.fields, NestedField(len(_BASE.fields) + 1, "threshold_breaches", LongType()))
"""``iot.hourly_stats`` as the Spark DDL creates it, plus a later column the API must not serve."""


def stats_row(hour: dt.datetime, sensor_id: str, sensor_type: str, value: float, count: int = 2) -> dict[str, Any]:
    return {
        "window_start": hour,
        "window_end": hour + HOUR,
        "sensor_id": sensor_id,
        "sensor_type": sensor_type,
        "location": "factory-A" if sensor_id.endswith("1") else "factory-B",
        "avg_value": value,
        "min_value": value - 1,
        "max_value": value + 1,
        "stddev_value": None if count == 1 else 0.5,
        "reading_count": count,
        "processed_at": dt.datetime(2026, 11, 24, tzinfo=dt.UTC),
        "threshold_breaches": 0,
    }


def make_catalog(tmp_path: Path) -> SqlCatalog:
    (tmp_path / "warehouse").mkdir()
    return SqlCatalog("unit", uri=f"sqlite:///{tmp_path / 'catalog.db'}", warehouse=(tmp_path / "warehouse").as_uri())


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    """A catalog with ``iot.hourly_stats``: 4 hours across midnight x 4 sensors of 2 types, one file per write."""
    catalog = make_catalog(tmp_path)
    catalog.create_namespace("iot")
    table = catalog.create_table(HOURLY_STATS, schema=SCHEMA, partition_spec=SPEC)
    for i in range(4):
        hour = T0 + i * HOUR
        rows = [
            stats_row(hour, "TEMP-002", "temperature", 20.0 + i),
            stats_row(hour, "TEMP-001", "temperature", 21.0 + i),
            stats_row(hour, "HUMID-001", "humidity", 50.0 + i, count=1),
            stats_row(hour, "HUMID-002", "humidity", math.nan if i == 0 else 51.0 + i),
        ]
        table.append(pa.Table.from_pylist(rows, schema=table.schema().as_arrow()))
    return catalog


def reader_for(catalog: Catalog) -> IcebergHourlyStatsReader:
    return IcebergHourlyStatsReader(settings=None, catalog_factory=lambda: catalog)  # type: ignore[arg-type]


def keys(rows: list[dict[str, Any]]) -> list[tuple[int, str]]:
    return [(row["window_start"].hour, row["sensor_id"]) for row in rows]


def test_rows_are_ordered_by_hour_then_sensor_with_only_the_contract_columns(catalog: Catalog) -> None:
    rows = reader_for(catalog).read(StatsQuery()).rows
    assert len(rows) == 16
    assert keys(rows)[:4] == [(22, "HUMID-001"), (22, "HUMID-002"), (22, "TEMP-001"), (22, "TEMP-002")]
    assert [row["window_start"] for row in rows] == sorted(row["window_start"] for row in rows)
    assert all(tuple(row) == COLUMNS for row in rows)
    assert rows[0]["window_start"].tzinfo is not None


def test_non_finite_values_and_single_readings_come_back_as_null(catalog: Catalog) -> None:
    rows = reader_for(catalog).read(StatsQuery(start=T0, end=T0 + HOUR, sensor_type="humidity")).rows
    by_sensor = {row["sensor_id"]: row for row in rows}
    assert by_sensor["HUMID-002"]["avg_value"] is None
    assert by_sensor["HUMID-001"]["stddev_value"] is None


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (StatsQuery(sensor_id="TEMP-001"), [(22, "TEMP-001"), (23, "TEMP-001"), (0, "TEMP-001"), (1, "TEMP-001")]),
        (
            StatsQuery(sensor_type="humidity", start=T0 + 2 * HOUR),
            [(0, "HUMID-001"), (0, "HUMID-002"), (1, "HUMID-001"), (1, "HUMID-002")],
        ),
        (StatsQuery(location="factory-B", start=T0, end=T0 + HOUR), [(22, "HUMID-002"), (22, "TEMP-002")]),
        (StatsQuery(sensor_id="TEMP-001", sensor_type="humidity"), []),
        (StatsQuery(sensor_id="NOPE-'; drop table --"), []),
    ],
)
def test_filters_select_exactly_the_matching_rows(catalog: Catalog, query: StatsQuery, expected: list[Any]) -> None:
    assert keys(reader_for(catalog).read(query).rows) == expected


def test_filters_are_pushed_into_the_scan_and_prune_files(catalog: Catalog) -> None:
    table = catalog.load_table(HOURLY_STATS)
    everything = list(table.scan().plan_files())
    one_day_one_type = list(
        table.scan(row_filter=row_filter(StatsQuery(sensor_type="temperature", start=T0 + 2 * HOUR))).plan_files()
    )
    assert len(everything) == 8  # four writes, each split into a file per sensor type
    assert len(one_day_one_type) == 2


def test_pages_follow_the_cursor_without_gaps_or_repeats(catalog: Catalog) -> None:
    reader = reader_for(catalog)
    seen: list[tuple[int, str]] = []
    cursor = None
    pages = 0
    while True:
        page = reader.read(StatsQuery(limit=3, after=cursor))
        seen += keys(page.rows)
        pages += 1
        if page.next_cursor is None:
            break
        cursor = Cursor.decode(page.next_cursor.encode())
    assert pages == 6
    assert seen == keys(reader.read(StatsQuery()).rows)


def test_an_exact_last_page_has_no_next_cursor(catalog: Catalog) -> None:
    assert reader_for(catalog).read(StatsQuery(limit=16)).next_cursor is None


def test_before_the_first_hour_is_computed_there_are_no_rows(tmp_path: Path) -> None:
    catalog = make_catalog(tmp_path)
    assert reader_for(catalog).read(StatsQuery()).rows == []
    catalog.create_namespace("iot")
    assert reader_for(catalog).read(StatsQuery()).rows == []


def test_new_snapshots_are_seen_after_the_ttl(catalog: Catalog) -> None:
    now = [0.0]
    reader = IcebergHourlyStatsReader(settings=None, catalog_factory=lambda: catalog, ttl_s=1.0, clock=lambda: now[0])  # type: ignore[arg-type]
    assert len(reader.read(StatsQuery()).rows) == 16
    table = catalog.load_table(HOURLY_STATS)
    extra = stats_row(T0 + 10 * HOUR, "TEMP-009", "temperature", 1.0)
    table.append(pa.Table.from_pylist([extra], schema=table.schema().as_arrow()))
    assert len(reader.read(StatsQuery()).rows) == 16
    now[0] = 1.5
    assert len(reader.read(StatsQuery()).rows) == 17


def test_an_unreachable_catalog_is_service_unavailable_and_retried_on_the_next_read(tmp_path: Path) -> None:
    from iot_platform.clients.iceberg import catalog_from_properties
    from iot_platform.errors import ServiceUnavailable

    folder = tmp_path / "not-yet"
    properties = {"type": "sql", "uri": f"sqlite:///{folder}/catalog.db", "warehouse": tmp_path.as_uri()}
    reader = IcebergHourlyStatsReader(
        settings=None, catalog_factory=lambda: catalog_from_properties("unit", properties)
    )  # type: ignore[arg-type]
    with pytest.raises(ServiceUnavailable, match="Iceberg catalog"):
        reader.read(StatsQuery())
    folder.mkdir()
    assert reader.read(StatsQuery()).rows == []


def test_a_repeated_query_is_answered_from_the_page_of_its_snapshot(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pyiceberg.table import Table

    scans = []
    original = Table.scan

    def counting(self: Table, *args: Any, **kwargs: Any) -> Any:
        scans.append(kwargs.get("row_filter"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Table, "scan", counting)
    now = [0.0]
    reader = IcebergHourlyStatsReader(settings=None, catalog_factory=lambda: catalog, ttl_s=1.0, clock=lambda: now[0])  # type: ignore[arg-type]
    query = StatsQuery(sensor_type="temperature")
    first = reader.read(query)
    assert reader.read(StatsQuery(sensor_type="temperature")) == first
    assert len(scans) == 1
    reader.read(StatsQuery(sensor_type="humidity"))
    assert len(scans) == 2
    table = catalog.load_table(HOURLY_STATS)
    table.append(
        pa.Table.from_pylist(
            [stats_row(T0 + 9 * HOUR, "TEMP-009", "temperature", 1.0)], schema=table.schema().as_arrow()
        )
    )
    now[0] = 2.0
    assert len(reader.read(query).rows) == len(first.rows) + 1
    assert len(scans) == 3


MIN_UTC = dt.datetime.min.replace(tzinfo=dt.UTC)
MAX_UTC = dt.datetime.max.replace(tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("query", "rows"),
    [
        (StatsQuery(start=MIN_UTC, end=MAX_UTC), 16),
        (StatsQuery(after=Cursor(MIN_UTC, "")), 16),
        (StatsQuery(after=Cursor(MAX_UTC, "\U0010ffff" * 200)), 0),
        (StatsQuery(sensor_id="\x00", location="'; DROP TABLE x; --"), 0),
    ],
)
def test_the_extremes_of_every_bound_are_read_without_error(catalog: Catalog, query: StatsQuery, rows: int) -> None:
    assert len(reader_for(catalog).read(query).rows) == rows
