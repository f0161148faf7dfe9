"""``/api/v1/sensors`` and ``/api/v1/sensors/{id}`` over a real (temporary) Iceberg catalog and the built-in
registry: who is listed, status, latest reading, readings of the last hour, open alerts, rule settings."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from pyiceberg.catalog import Catalog

from iot_platform.api.alerts_reader import IcebergAlertsReader
from iot_platform.api.iceberg_tables import CatalogTables
from iot_platform.api.sensors_reader import SensorsReader, recent_window
from iot_platform.errors import ConfigurationError
from iot_platform.registry import load_registry
from iot_platform.tables import SENSOR_ALERTS, SENSOR_READINGS, SENSOR_STATE
from iot_platform_tests.api.conftest import Api, make_api, unit_settings
from iot_platform_tests.api.monitoring_tables import NOW, alert, append, make_catalog, readings, state

URL = "/api/v1/sensors"
MINUTE = dt.timedelta(minutes=1)
REGISTERED = [
    *(f"TEMP-00{i}" for i in range(1, 5)),
    *(f"HUMID-00{i}" for i in range(1, 5)),
    *(f"PRESS-00{i}" for i in range(1, 5)),
]


def seed(catalog: Catalog) -> None:
    """TEMP-001 fine, TEMP-002 alerting, TEMP-003 silent, ODD-1 unknown with a state row, VIB-9 unknown with readings
    only; the other registered sensors are never seen."""
    append(
        catalog,
        SENSOR_STATE,
        [
            state("TEMP-001", NOW - 2 * MINUTE, 21.0),
            state("TEMP-002", NOW - 5 * MINUTE, 40.5),
            state("TEMP-003", NOW - 3 * dt.timedelta(hours=1), 19.0),
            state("ODD-1", NOW - 10 * MINUTE, 7.0),
        ],
    )
    append(
        catalog,
        SENSOR_READINGS,
        # TEMP-001: one reading just over an hour old (not counted), three inside the hour, one in the future.
        readings("TEMP-001", [NOW - 61 * MINUTE, NOW - 50 * MINUTE, NOW - 20 * MINUTE, NOW - MINUTE, NOW + MINUTE])
        + readings("TEMP-002", [NOW - 6 * MINUTE, NOW - 5 * MINUTE], start_value=40.0)
        + readings("VIB-9", [NOW - 30 * MINUTE]),
    )
    append(
        catalog,
        SENSOR_ALERTS,
        [
            alert("TEMP-002", "threshold", NOW - 6 * MINUTE, severity="critical"),
            alert("TEMP-002", "stuck", NOW - 2 * dt.timedelta(hours=1), resolved_at=NOW - dt.timedelta(hours=1)),
            alert("TEMP-003", "silent", NOW - 3 * dt.timedelta(hours=1), severity="critical"),
            alert("ODD-1", "unknown_sensor", NOW - 10 * MINUTE, sensor_type="vibration", location="factory-Q"),
        ],
    )


@pytest.fixture
def sensors_api(tmp_path: Path) -> Any:
    for api in make_api(unit_settings(tmp_path)):
        seed(api.catalog)
        yield api


def by_id(api: Api, **params: Any) -> dict[str, dict[str, Any]]:
    response = api.client.get(URL, params=params)
    assert response.status_code == 200, response.text
    return {sensor["sensor_id"]: sensor for sensor in response.json()}


def test_before_anything_is_stored_every_registered_sensor_is_listed_as_silent(api: Api) -> None:
    sensors = api.client.get(URL).json()
    assert [sensor["sensor_id"] for sensor in sensors] == REGISTERED
    assert {sensor["status"] for sensor in sensors} == {"silent"}
    first = sensors[0]
    assert (first["sensor_type"], first["location"], first["unit"]) == ("temperature", "factory-A", "celsius")
    assert (first["last_reading_at"], first["last_value"], first["readings_last_hour"], first["open_alerts"]) == (
        None,
        None,
        0,
        0,
    )


def test_registered_sensors_come_first_then_unknown_ones_with_their_status(sensors_api: Api) -> None:
    sensors = sensors_api.client.get(URL).json()
    assert [sensor["sensor_id"] for sensor in sensors] == [*REGISTERED, "ODD-1", "VIB-9"]
    status = {sensor["sensor_id"]: sensor["status"] for sensor in sensors}
    assert (status["TEMP-001"], status["TEMP-002"], status["TEMP-003"], status["TEMP-004"]) == (
        "ok",
        "alerting",
        "silent",
        "silent",
    )
    assert (status["ODD-1"], status["VIB-9"]) == ("unknown", "unknown")


def test_latest_reading_readings_of_the_last_hour_and_open_alerts(sensors_api: Api) -> None:
    sensors = by_id(sensors_api)
    fine = sensors["TEMP-001"]
    assert fine["readings_last_hour"] == 3
    assert dt.datetime.fromisoformat(fine["last_reading_at"]) == NOW - MINUTE, "the stored reading newer than state"
    assert fine["last_value"] == 21.5
    alerting = sensors["TEMP-002"]
    assert (alerting["readings_last_hour"], alerting["open_alerts"], alerting["last_value"]) == (2, 1, 40.5)
    silent = sensors["TEMP-003"]
    assert (silent["readings_last_hour"], silent["open_alerts"]) == (0, 1)
    assert dt.datetime.fromisoformat(silent["last_reading_at"]) == NOW - 3 * dt.timedelta(hours=1)
    odd = sensors["ODD-1"]
    assert (odd["sensor_type"], odd["location"], odd["unit"], odd["open_alerts"]) == (
        "temperature",
        "factory-X",
        "celsius",
        1,
    )
    vib = sensors["VIB-9"]
    assert (vib["readings_last_hour"], vib["last_value"]) == (1, 20.0)
    assert (vib["sensor_type"], vib["location"], vib["unit"]) == (None, None, None), "known once evaluation records it"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "alerting"}, ["TEMP-002"]),
        ({"status": "unknown"}, ["ODD-1", "VIB-9"]),
        ({"status": "ok"}, ["TEMP-001"]),
        ({"sensor_type": "humidity", "location": "factory-B"}, ["HUMID-002", "HUMID-003"]),
        ({"location": "factory-nowhere"}, []),
    ],
)
def test_filters(sensors_api: Api, params: dict[str, str], expected: list[str]) -> None:
    assert list(by_id(sensors_api, **params)) == expected


def test_a_bad_status_filter_is_422_naming_the_allowed_values(api: Api) -> None:
    response = api.client.get(URL, params={"status": "broken"})
    assert response.status_code == 422
    assert "'ok', 'alerting', 'silent' or 'unknown'" in response.json()["detail"]


def test_one_sensor_with_its_open_alerts_and_rule_settings(sensors_api: Api) -> None:
    response = sensors_api.client.get(f"{URL}/TEMP-002")
    assert response.status_code == 200
    sensor = response.json()
    assert (sensor["status"], sensor["open_alerts"], sensor["readings_last_hour"]) == ("alerting", 1, 2)
    assert [(a["rule"], a["state"], a["severity"]) for a in sensor["alerts"]] == [("threshold", "open", "critical")]
    rules = sensor["rules"]
    assert (rules["registered"], rules["threshold_min"], rules["threshold_max"]) == (True, 15.0, 35.0)
    assert (rules["rate_max_per_second"], rules["silent_seconds"], rules["stuck_seconds"]) == (4.0, 120.0, 300.0)


def test_an_unknown_sensor_of_a_known_type_shows_its_types_rules(sensors_api: Api) -> None:
    odd = sensors_api.client.get(f"{URL}/ODD-1").json()
    assert odd["status"] == "unknown"
    assert [a["rule"] for a in odd["alerts"]] == ["unknown_sensor"]
    assert (odd["rules"]["registered"], odd["rules"]["threshold_max"]) == (False, 35.0)
    assert sensors_api.client.get(f"{URL}/VIB-9").json()["rules"] is None, "its type is not known yet"


def test_a_sensor_neither_registered_nor_seen_is_404_with_a_message(sensors_api: Api) -> None:
    response = sensors_api.client.get(f"{URL}/NOPE-42")
    assert response.status_code == 404
    assert "NOPE-42" in response.json()["detail"] and "GET /api/v1/sensors" in response.json()["detail"]


def test_a_registered_sensor_never_seen_has_its_rules_and_no_alerts(api: Api) -> None:
    sensor = api.client.get(f"{URL}/PRESS-004").json()
    assert (sensor["status"], sensor["alerts"], sensor["rules"]["threshold_min"]) == ("silent", [], 990.0)


def test_the_last_hour_scan_reads_only_that_hours_partitions(tmp_path: Path) -> None:
    catalog = make_catalog(tmp_path)
    for hour in range(10, 5, -1):  # a file per hour 06..10, readings at minutes 05 and 55
        start = NOW.replace(hour=hour, minute=0)
        append(catalog, SENSOR_READINGS, readings("TEMP-001", [start + 5 * MINUTE, start + 55 * MINUTE]))
    table = catalog.load_table(SENSOR_READINGS)
    assert len(list(table.scan().plan_files())) == 5
    assert len(list(table.scan(row_filter=recent_window(NOW)).plan_files())) == 2


def test_counts_are_reused_briefly_and_a_new_commit_is_counted_after_the_ttl(tmp_path: Path) -> None:
    catalog = make_catalog(tmp_path)
    append(catalog, SENSOR_READINGS, readings("TEMP-001", [NOW - MINUTE]))
    clock = [0.0]
    tables = CatalogTables(lambda: catalog, ttl_s=0.0)
    reader = SensorsReader(
        tables, load_registry(), IcebergAlertsReader(tables), recent_ttl_s=10.0, clock=lambda: clock[0]
    )
    assert reader.recent(NOW)["TEMP-001"].count == 1
    assert reader.recent(NOW + 5 * MINUTE)["TEMP-001"].count == 1, "reused within the TTL"
    clock[0] = 11.0
    assert "TEMP-001" in reader.recent(NOW + 5 * MINUTE)
    append(catalog, SENSOR_READINGS, readings("TEMP-001", [NOW - 2 * MINUTE]))
    assert reader.recent(NOW)["TEMP-001"].count == 2, "a new snapshot is counted at once"


def test_a_bad_registry_fails_start_up_naming_the_field(tmp_path: Path) -> None:
    from iot_platform.api.main import create_app

    registry = tmp_path / "sensors.yaml"
    registry.write_text(
        "types:\n  temperature: {unit: celsius, expected_interval_s: 0, threshold_min: 1, threshold_max: 2}\n"
    )
    with pytest.raises(ConfigurationError, match=r"types\.temperature\.expected_interval_s"):
        create_app(unit_settings(tmp_path, sensor_registry=registry))
