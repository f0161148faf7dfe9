"""``/api/v1/dashboard/lag``: Kafka's high watermarks minus the offsets the last ingestion committed in the snapshot
summary of ``iot.sensor_readings`` (a real temporary catalog), and the newest reading's age."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from iot_platform import offsets
from iot_platform.api.cluster_cache import TimedReading
from iot_platform.api.ingestion_lag import committed_offsets, partition_lags
from iot_platform.errors import ServiceUnavailable
from iot_platform.tables import SENSOR_READINGS
from iot_platform_tests.api.conftest import Api
from iot_platform_tests.api.monitoring_tables import NOW, append, readings

URL = "/api/v1/dashboard/lag"
TOPIC = "sensor-raw"


def commit(api: Api, rows: list[dict[str, object]], next_offsets: dict[int, int] | None) -> None:
    """Append ``rows`` as ingestion does: with the next offsets in the snapshot summary (none: as maintenance)."""
    append(api.catalog, SENSOR_READINGS, [])  # creates the table on first use
    table = api.catalog.load_table(SENSOR_READINGS)
    properties = {offsets.SUMMARY_KEY: offsets.encode_summary(TOPIC, next_offsets)} if next_offsets else {}
    table.append(pa.Table.from_pylist(rows, schema=table.schema().as_arrow()), snapshot_properties=properties)


def watermarks(api: Api, marks: dict[int, tuple[int, int]] | ServiceUnavailable) -> None:
    def read() -> dict[int, tuple[int, int]]:
        if isinstance(marks, ServiceUnavailable):
            raise marks
        return marks

    api.client.app.state.clients.watermarks = TimedReading(read, ttl_s=0.0)  # type: ignore[attr-defined]


def test_partition_lags_count_from_the_committed_offset_or_what_kafka_still_holds() -> None:
    lags = partition_lags({0: (0, 120), 1: (50, 80), 2: (10, 10)}, {0: 100, 1: 20})
    assert [(p.partition, p.committed, p.lag) for p in lags] == [(0, 100, 20), (1, 20, 30), (2, None, 0)]


def test_lag_is_the_watermarks_minus_the_committed_offsets(api: Api) -> None:
    commit(api, readings("TEMP-001", [NOW - dt.timedelta(minutes=3)]), {0: 40, 1: 7})
    commit(api, readings("TEMP-002", [NOW - dt.timedelta(minutes=2)]), {0: 90, 1: 10})
    commit(api, [], None)  # a later snapshot without offsets (maintenance) is walked past
    watermarks(api, {0: (0, 100), 1: (0, 10), 2: (0, 5)})
    body = api.client.get(URL).json()
    assert body["topic"] == TOPIC
    assert body["lag_records"] == 10 + 0 + 5
    assert [(p["partition"], p["high_watermark"], p["committed"], p["lag"]) for p in body["partitions"]] == [
        (0, 100, 90, 10),
        (1, 10, 10, 0),
        (2, 5, None, 5),
    ]
    assert body["committed_at"] is not None
    assert dt.datetime.fromisoformat(body["newest_reading_at"]) == NOW - dt.timedelta(minutes=2)
    assert body["newest_reading_age_s"] == 120.0


def test_before_any_ingestion_every_record_kafka_holds_is_behind(api: Api) -> None:
    watermarks(api, {0: (3, 30)})
    body = api.client.get(URL).json()
    assert (body["lag_records"], body["committed_at"], body["newest_reading_at"]) == (27, None, None)
    assert committed_offsets(None, TOPIC) == ({}, None)


def test_kafka_down_is_503_naming_it(api: Api) -> None:
    watermarks(api, ServiceUnavailable("Kafka", "127.0.0.1:9092: transport failure"))
    response = api.client.get(URL)
    assert response.status_code == 503
    assert response.json()["detail"].startswith("Kafka unavailable")
