"""``/api/v1/alerts`` over a real (temporary) Iceberg catalog: columns, order, filters, the time window, paging."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from iot_platform.api.alerts_reader import ALERT_COLUMNS, AlertsQuery, alerts_filter
from iot_platform.tables import SENSOR_ALERTS
from iot_platform_tests.api.conftest import Api, make_api, unit_settings
from iot_platform_tests.api.monitoring_tables import NOW, alert, append

URL = "/api/v1/alerts"
HOUR = dt.timedelta(hours=1)
T = NOW - 6 * HOUR

EPISODES = [
    alert("TEMP-001", "threshold", T, resolved_at=T + HOUR, severity="critical"),  # 04:30-05:30
    alert("TEMP-002", "stuck", T + 2 * HOUR),  # 06:30, open
    alert("HUMID-001", "silent", T + 3 * HOUR, resolved_at=T + 4 * HOUR, severity="critical", sensor_type="humidity"),
    alert("TEMP-001", "rate_of_change", T + 3 * HOUR, resolved_at=T + 3 * HOUR + dt.timedelta(seconds=1)),
    alert("ODD-7", "unknown_sensor", T + 5 * HOUR, location="factory-Z", sensor_type=None),  # 09:30, open
    alert("PRESS-001", "threshold", T - 30 * HOUR, resolved_at=T - 29 * HOUR, sensor_type="pressure"),  # a day before
]


@pytest.fixture
def alerts_api(tmp_path: Path) -> Any:
    """The API with the episodes above in ``iot.sensor_alerts``, written in three commits."""
    for api in make_api(unit_settings(tmp_path)):
        for chunk in (EPISODES[:2], EPISODES[2:4], EPISODES[4:]):
            append(api.catalog, SENSOR_ALERTS, chunk)
        yield api


def ids(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(row["sensor_id"], row["rule"]) for row in rows]


def get(api: Api, **params: Any) -> list[dict[str, Any]]:
    response = api.client.get(URL, params=params)
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()
    return rows


def test_without_an_alerts_table_the_answer_is_an_empty_page(api: Api) -> None:
    response = api.client.get(URL, params={"state": "open"})
    assert (response.status_code, response.json()) == (200, [])
    assert "X-Next-Cursor" not in response.headers


def test_every_column_is_served_newest_episode_first(alerts_api: Api) -> None:
    rows = get(alerts_api)
    assert ids(rows) == [
        ("ODD-7", "unknown_sensor"),
        *sorted(
            [("HUMID-001", "silent"), ("TEMP-001", "rate_of_change")],
            key=lambda key: next(e["alert_id"] for e in EPISODES if (e["sensor_id"], e["rule"]) == key),
        ),
        ("TEMP-002", "stuck"),
        ("TEMP-001", "threshold"),
        ("PRESS-001", "threshold"),
    ]
    assert all(tuple(row) == ALERT_COLUMNS for row in rows)
    first = rows[-2]
    assert first["alert_id"] == EPISODES[0]["alert_id"]
    assert dt.datetime.fromisoformat(first["started_at"]) == T
    assert dt.datetime.fromisoformat(first["resolved_at"]) == T + HOUR
    assert (first["state"], first["severity"], first["peak_value"], first["threshold"], first["readings"]) == (
        "resolved",
        "critical",
        41.5,
        35.0,
        3,
    )
    assert rows[0]["sensor_type"] is None and rows[0]["resolved_at"] is None


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"state": "open"}, [("ODD-7", "unknown_sensor"), ("TEMP-002", "stuck")]),
        ({"state": "all", "rule": "threshold"}, [("TEMP-001", "threshold"), ("PRESS-001", "threshold")]),
        ({"state": "resolved", "severity": "critical"}, [("HUMID-001", "silent"), ("TEMP-001", "threshold")]),
        ({"sensor_id": "TEMP-001", "rule": "rate_of_change"}, [("TEMP-001", "rate_of_change")]),
        ({"sensor_type": "humidity"}, [("HUMID-001", "silent")]),
        ({"location": "factory-Z"}, [("ODD-7", "unknown_sensor")]),
        ({"sensor_id": "TEMP-002", "state": "resolved"}, []),
    ],
)
def test_filters_select_exactly_the_matching_episodes(
    alerts_api: Api, params: dict[str, str], expected: list[tuple[str, str]]
) -> None:
    assert ids(get(alerts_api, **params)) == expected


def test_start_and_end_select_the_episodes_overlapping_the_window(alerts_api: Api) -> None:
    window = {"start": (T + 90 * dt.timedelta(minutes=1)).isoformat(), "end": (T + 3 * HOUR).isoformat()}
    # 06:00..07:30: TEMP-002 stuck (06:30, open) overlaps; the 04:30-05:30 episode ended before; the 07:30 ones
    # start at the (exclusive) end.
    assert ids(get(alerts_api, **window)) == [("TEMP-002", "stuck")]
    # An episode resolved exactly at start still overlaps; one started exactly at end does not.
    assert ids(get(alerts_api, start=(T + HOUR).isoformat(), end=(T + 2 * HOUR).isoformat())) == [
        ("TEMP-001", "threshold")
    ]
    # Open episodes overlap every window after their start.
    later = get(alerts_api, start=(NOW - dt.timedelta(minutes=1)).isoformat())
    assert ids(later) == [("ODD-7", "unknown_sensor"), ("TEMP-002", "stuck")]


def test_the_end_prunes_day_partitions_of_started_at(alerts_api: Api) -> None:
    table = alerts_api.catalog.load_table(SENSOR_ALERTS)
    everything = list(table.scan().plan_files())
    before_today = list(table.scan(row_filter=alerts_filter(AlertsQuery(end=T - 20 * HOUR))).plan_files())
    assert len(everything) == 4  # three commits, the last split into two days
    assert len(before_today) == 1


def test_pages_follow_the_cursor_without_gaps_or_repeats(alerts_api: Api) -> None:
    whole = get(alerts_api)
    seen: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 2}
    pages = 0
    while True:
        response = alerts_api.client.get(URL, params=params)
        assert response.status_code == 200
        seen += response.json()
        pages += 1
        if "X-Next-Cursor" not in response.headers:
            break
        assert response.headers["Link"].endswith('; rel="next"')
        assert "cursor=" in response.headers["Link"]
        params = {"limit": 2, "cursor": response.headers["X-Next-Cursor"]}
    assert pages == 3
    assert [row["alert_id"] for row in seen] == [row["alert_id"] for row in whole]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"rule": "overheat"},
            "'threshold', 'stuck', 'silent', 'rate_of_change', 'unknown_sensor' or 'rejected_burst'",
        ),
        ({"severity": "fatal"}, "'critical', 'warning' or 'info'"),
        ({"state": "closed"}, "'open', 'resolved' or 'all'"),
        ({"start": "2026-11-24T12:00:00Z", "end": "2026-11-24T11:00:00Z"}, "is not before end"),
        ({"cursor": "bm90LWEtY3Vyc29y"}, "cursor is not a cursor this API handed out"),
        ({"limit": 0}, "query.limit"),
        ({"end": "soon"}, "query.end"),
    ],
)
def test_bad_filters_are_422_naming_what_is_allowed(alerts_api: Api, params: dict[str, Any], message: str) -> None:
    response = alerts_api.client.get(URL, params=params)
    assert response.status_code == 422
    assert message in response.json()["detail"]


def test_an_unreachable_catalog_is_503_naming_it(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from iot_platform.api.main import create_app
    from iot_platform.clients.iceberg import catalog_from_properties

    properties = {"type": "sql", "uri": f"sqlite:///{tmp_path}/missing/catalog.db", "warehouse": tmp_path.as_uri()}
    app = create_app(unit_settings(tmp_path), catalog_factory=lambda: catalog_from_properties("unit", properties))
    with TestClient(app) as client:
        response = client.get(URL)
    assert response.status_code == 503
    assert response.json()["detail"].startswith("Iceberg catalog unavailable")
