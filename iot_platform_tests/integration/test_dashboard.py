"""The operator dashboard in a real headless Chromium (Debian's ``chromium``, driven by Playwright) against the API
served over HTTP on the real test stack: Dagster webserver + daemon, Spark master + worker, Iceberg catalog.

Sensor data is written with pyiceberg, as ingestion and alert evaluation write it: hourly statistics of the last
two days for every registered sensor, their latest state, and alert episodes opened and resolved by the test. The
pages must show exactly what the API answers. Every wait polls for a condition with a generous deadline.

With ``IOT_DASHBOARD_SCREENSHOTS=<folder>`` the render test saves a screenshot of each page there (``docs/``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import random
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pytest
import uvicorn
from pyiceberg.catalog import Catalog
from pyiceberg.expressions import And, EqualTo, GreaterThanOrEqual, In

from iot_platform.api.main import create_app
from iot_platform.clients.dagster import GraphQLDagsterClient
from iot_platform.clients.iceberg import load_catalog
from iot_platform.partitions import partition_key
from iot_platform.registry import load_registry
from iot_platform.runs import HOURLY_STATS_JOB
from iot_platform.settings import Settings
from iot_platform.tables import HOURLY_STATS, SENSOR_ALERTS, SENSOR_STATE, TABLES

pytestmark = pytest.mark.integration

WAIT_MS = 60_000
"""How long a page may take to show a condition on a busy machine (it refreshes every 2 s in these tests)."""
HOURS = 48
HOUR = dt.timedelta(hours=1)
STOPPING_OR_ENDED = frozenset({"CANCELING", "CANCELED", "SUCCESS", "FAILURE"})
PAGES = ("overview", "sensors", "sensor", "alerts", "runs")


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("no chromium on PATH: `make browser` installs Debian's chromium package", pytrace=False)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def base_url(stack_settings: Settings) -> Iterator[str]:
    """The API (with the dashboard) served over HTTP by uvicorn in this process, on the test stack's engines."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(stack_settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the API did not start serving within 60 s")
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        yield browser
        browser.close()


# --- data, written as ingestion and evaluation write it ------------------------------------------------------
def _table(catalog: Catalog, name: str) -> Any:
    catalog.create_namespace_if_not_exists("iot")
    contract = TABLES[name]
    return catalog.create_table_if_not_exists(
        name, schema=contract.iceberg_schema(), partition_spec=contract.iceberg_partition_spec()
    )


def _arrow(table: Any, rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=table.schema().as_arrow())


def typical(registry: Any, sensor_id: str) -> tuple[float, float]:
    """The middle of a sensor's threshold band and a sixth of its width: values a healthy sensor shows."""
    params = registry.sensor_params(sensor_id)
    low, high = params.threshold_min or 0.0, params.threshold_max or 100.0
    return (low + high) / 2, (high - low) / 6


def stats_rows(registry: Any, first: dt.datetime, now: dt.datetime) -> list[dict[str, Any]]:
    rng = random.Random(17)
    rows = []
    for hour in (first + i * HOUR for i in range(HOURS)):
        for sensor in registry.sensors:
            middle, spread = typical(registry, sensor.id)
            avg = middle + rng.uniform(-spread, spread)
            rows.append(
                {
                    "window_start": hour,
                    "window_end": hour + HOUR,
                    "sensor_id": sensor.id,
                    "sensor_type": sensor.type,
                    "location": sensor.location,
                    "avg_value": avg,
                    "min_value": avg - rng.uniform(0.1, 0.5) * spread,
                    "max_value": avg + rng.uniform(0.1, 0.5) * spread,
                    "stddev_value": rng.uniform(0.05, 0.2) * spread,
                    "reading_count": 7200,
                    "processed_at": now,
                }
            )
    return rows


def alert_row(sensor: Any, started_at: dt.datetime, resolved_at: dt.datetime | None, now: dt.datetime) -> dict:
    alert_id = hashlib.sha256(f"threshold|{sensor.id}|{started_at.isoformat()}".encode()).hexdigest()[:32]
    return {
        "alert_id": alert_id,
        "sensor_id": sensor.id,
        "sensor_type": sensor.type,
        "location": sensor.location,
        "rule": "threshold",
        "severity": "critical",
        "state": "open" if resolved_at is None else "resolved",
        "started_at": started_at,
        "last_seen_at": resolved_at or now,
        "resolved_at": resolved_at,
        "peak_value": 71.5,
        "threshold": 60.0,
        "readings": 12,
        "detail": f"threshold on {sensor.id}",
        "evaluated_at": now,
    }


class Data:
    """What the test wrote: the hours of statistics and the sensor whose alert it opens and resolves."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.catalog = load_catalog(settings)
        self.now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        self.first = self.now.replace(minute=0, second=0) - (HOURS - 1) * HOUR
        self.registry = load_registry(settings.sensor_registry)
        self.sensors = list(self.registry.sensors)
        self.faulty = self.sensors[0]
        self.started = self.now - dt.timedelta(minutes=30)

    def write(self) -> None:
        ids = [sensor.id for sensor in self.sensors]
        stats = _table(self.catalog, HOURLY_STATS)
        stats.overwrite(
            _arrow(stats, stats_rows(self.registry, self.first, self.now)),
            overwrite_filter=And(In("sensor_id", ids), GreaterThanOrEqual("window_start", self.first.isoformat())),
        )
        state = _table(self.catalog, SENSOR_STATE)
        state.overwrite(
            _arrow(
                state,
                [
                    {
                        "sensor_id": sensor.id,
                        "sensor_type": sensor.type,
                        "location": sensor.location,
                        "unit": self.registry.types[sensor.type].unit,
                        "first_reading_at": self.first,
                        "last_reading_at": self.now,
                        "last_value": round(typical(self.registry, sensor.id)[0], 2),
                        "updated_at": self.now,
                    }
                    for sensor in self.sensors
                ],
            )
        )
        alerts = _table(self.catalog, SENSOR_ALERTS)
        alerts.overwrite(_arrow(alerts, []), overwrite_filter=In("sensor_id", ids))

    def alert(self, resolved: bool) -> dict[str, Any]:
        """Open (or resolve) the faulty sensor's threshold episode, replacing its row as evaluation does."""
        row = alert_row(self.faulty, self.started, self.now if resolved else None, self.now)
        alerts = _table(self.catalog, SENSOR_ALERTS)
        alerts.overwrite(_arrow(alerts, [row]), overwrite_filter=EqualTo("alert_id", row["alert_id"]))
        return row


@pytest.fixture(scope="module")
def data(stack_settings: Settings) -> Data:
    data = Data(stack_settings)
    data.write()
    return data


def open_page(browser: Any, url: str) -> tuple[Any, list[str]]:
    """A page in a fresh browser context (its own session storage) and the console errors it logs."""
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    return page, errors


def wait_ready(page: Any, name: str) -> None:
    """Wait until page ``name`` shows and has been updated from the API."""
    page.wait_for_function(
        f"document.querySelector('main').dataset.page === '{name}' && "
        "document.querySelector('main').dataset.state === 'ready'",
        timeout=WAIT_MS,
    )


def screenshot(page: Any, name: str) -> None:
    """Save the page as ``dashboard-<name>.png`` in the folder IOT_DASHBOARD_SCREENSHOTS names, if set."""
    folder = os.environ.get("IOT_DASHBOARD_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"dashboard-{name}.png"), full_page=True)


def api_rows(base_url: str, path: str, params: dict[str, Any]) -> Any:
    response = httpx.get(f"{base_url}/api/v1{path}", params=params, timeout=60)
    response.raise_for_status()
    return response.json()


# --- tests -----------------------------------------------------------------------------------------------------
def test_every_page_renders_without_console_errors(base_url: str, browser: Any, data: Data) -> None:
    assert httpx.get(f"{base_url}/", follow_redirects=False, timeout=30).headers["location"] == "/dashboard"
    data.alert(resolved=False)
    routes = {
        "overview": "#/overview",
        "sensors": "#/sensors",
        "sensor": f"#/sensor/{data.faulty.id}",
        "alerts": "#/alerts?state=all",
        "runs": "#/runs",
    }
    page, errors = open_page(browser, f"{base_url}/dashboard?refresh=2{routes['overview']}")
    for name in PAGES:
        page.goto(f"{base_url}/dashboard?refresh=2{routes[name]}")
        wait_ready(page, name)
        assert page.locator("main").get_attribute("data-page") == name
        assert page.locator("#error").is_hidden(), page.locator("#error").inner_text()
        if name == "sensors":
            page.wait_for_selector(f".tile[data-sensor-id='{data.sensors[-1].id}'] .spark canvas", timeout=WAIT_MS)
        if name == "overview":
            assert page.locator("#workers").inner_text() != "0"
            lag = api_rows(base_url, "/dashboard/lag", {})
            page.wait_for_selector("#lag-records", timeout=WAIT_MS)
            assert page.locator("#lag-records").get_attribute("data-value") == str(lag["lag_records"])
        if name == "sensor":
            readings = api_rows(base_url, f"/sensors/{data.faulty.id}/readings", {"limit": 20})
            shown = page.locator("#latest-readings td[data-value]")
            assert shown.count() == len(readings)
            values = [shown.nth(i).get_attribute("data-value") for i in range(shown.count())]
            assert [float(value) if value else None for value in values] == [row["value"] for row in readings]
        screenshot(page, name)
        assert errors == [], f"{name}: {errors}"
    page.context.close()


def test_charts_show_the_numbers_the_api_serves(base_url: str, browser: Any, data: Data) -> None:
    sensor = data.sensors[1]
    start, end = data.first + 6 * HOUR, data.first + 30 * HOUR
    iso = {"start": start.strftime("%Y-%m-%dT%H:%M:%SZ"), "end": end.strftime("%Y-%m-%dT%H:%M:%SZ")}
    page, errors = open_page(
        browser, f"{base_url}/dashboard?refresh=2#/sensor/{sensor.id}?start={iso['start']}&end={iso['end']}"
    )
    wait_ready(page, "sensor")
    shown = page.evaluate("window.iotCharts.detail")
    rows = api_rows(base_url, "/stats/hourly", {"sensor_id": sensor.id, **iso, "limit": 1000})
    assert len(rows) == 24
    assert shown["x"] == [dt.datetime.fromisoformat(row["window_start"]).timestamp() for row in rows]
    assert shown["avg"] == [row["avg_value"] for row in rows]
    assert shown["minValue"] == [row["min_value"] for row in rows]
    assert shown["maxValue"] == [row["max_value"] for row in rows]
    assert shown["stddev"] == [row["stddev_value"] for row in rows]
    rules = api_rows(base_url, f"/sensors/{sensor.id}", {})["rules"]
    assert (shown["min"], shown["max"]) == (rules["threshold_min"], rules["threshold_max"])

    page.goto(f"{base_url}/dashboard?refresh=2#/sensors")
    wait_ready(page, "sensors")
    tile = page.locator(f".tile[data-sensor-id='{sensor.id}']")
    tile.scroll_into_view_if_needed()
    page.wait_for_selector(f".tile[data-sensor-id='{sensor.id}'] .spark canvas", timeout=WAIT_MS)
    spark = page.evaluate(f"window.iotCharts['spark:{sensor.id}']")
    assert len(spark["x"]) == 24
    first = dt.datetime.fromtimestamp(spark["x"][0], dt.UTC)
    served = {
        dt.datetime.fromisoformat(row["window_start"]).timestamp(): row["avg_value"]
        for row in api_rows(base_url, "/stats/hourly", {"sensor_id": sensor.id, "start": first.isoformat()})
    }
    assert len(served) >= 23  # the written hours reach the hour before the current one
    assert spark["avg"] == [served.get(x) for x in spark["x"]]
    assert (spark["min"], spark["max"]) == (rules["threshold_min"], rules["threshold_max"])
    assert errors == []
    page.context.close()


def test_an_injected_fault_turns_its_tile_to_alerting_and_back(base_url: str, browser: Any, data: Data) -> None:
    data.alert(resolved=True)
    page, errors = open_page(browser, f"{base_url}/dashboard?refresh=2#/sensors")
    tile = f".tile[data-sensor-id='{data.faulty.id}']"
    page.wait_for_selector(f"{tile}[data-status='ok']", timeout=WAIT_MS)
    opened = data.alert(resolved=False)
    page.wait_for_selector(f"{tile}[data-status='alerting']", timeout=WAIT_MS)

    page.goto(f"{base_url}/dashboard?refresh=2#/alerts?state=open")
    wait_ready(page, "alerts")
    link = page.locator(f"tr[data-alert-id='{opened['alert_id']}'] a")
    link.click()
    page.wait_for_function("window.iotCharts.detail && window.iotCharts.detail.episodes.length > 0", timeout=WAIT_MS)
    episodes = {episode["alert_id"]: episode for episode in page.evaluate("window.iotCharts.detail.episodes")}
    assert list(episodes) == [opened["alert_id"]]
    assert episodes[opened["alert_id"]]["from"] == data.started.timestamp()

    page.goto(f"{base_url}/dashboard?refresh=2#/sensors")
    page.wait_for_selector(f"{tile}[data-status='alerting']", timeout=WAIT_MS)
    data.alert(resolved=True)
    page.wait_for_selector(f"{tile}[data-status='ok']", timeout=WAIT_MS)
    assert errors == []
    page.context.close()


def test_a_submit_from_the_page_launches_a_run_and_cancel_stops_it(
    base_url: str, browser: Any, stack_settings: Settings
) -> None:
    hour = dt.datetime(2025, 6, 1, tzinfo=dt.UTC) + random.SystemRandom().randrange(0, 24 * 20) * HOUR
    key = partition_key(hour)
    page, _ = open_page(browser, f"{base_url}/dashboard?refresh=2#/runs")
    wait_ready(page, "runs")
    assert stack_settings.api_token is not None
    page.fill("input[name=token]", stack_settings.api_token.get_secret_value())
    page.click("#token-form button[type=submit]")
    page.fill("input[name=partition]", key)
    page.click("#submit-hour button[type=submit]")
    page.wait_for_selector("#action-result.ok[data-run-id]:not([data-run-id=''])", timeout=WAIT_MS)
    run_id = page.locator("#action-result").get_attribute("data-run-id")
    dagster = GraphQLDagsterClient(stack_settings.dagster_web_url)
    try:
        run = dagster.run(str(run_id))
        assert (run.job_name, run.partition) == (HOURLY_STATS_JOB, key)
        row = f"tr[data-run-id='{run_id}']"
        page.wait_for_selector(row, timeout=WAIT_MS)
        screenshot(page, "runs")
        if not run.finished:
            page.evaluate("document.getElementById('action-result').className = ''")
            page.click(f"{row} button.cancel")
            page.wait_for_selector("#action-result.ok, #action-result.refused", timeout=WAIT_MS)
            if page.locator("#action-result.refused").count():
                # The run may end between the look above and the click: then the API refuses to stop it.
                answer = page.locator("#action-result").text_content()
                assert dagster.run(str(run_id)).finished, f"cancel refused while run {run_id} was going: {answer}"
            # Dagster has the run stopping (a run still starting gets there once its process is up), or ended.
            deadline = time.monotonic() + 240
            while dagster.run(str(run_id)).status not in STOPPING_OR_ENDED:
                assert time.monotonic() < deadline, f"run {run_id} is not stopping after cancel"
                time.sleep(0.5)
            page.wait_for_selector(
                f"{row}[data-status=CANCELING], {row}[data-status=CANCELED], {row}[data-status=SUCCESS], "
                f"{row}[data-status=FAILURE]",
                timeout=WAIT_MS,
            )
    finally:
        dagster.close()
    page.context.close()


def test_without_the_token_the_actions_are_refused(base_url: str, browser: Any, stack_settings: Settings) -> None:
    key = partition_key(dt.datetime(2025, 7, 1, tzinfo=dt.UTC) + random.SystemRandom().randrange(0, 480) * HOUR)
    page, _ = open_page(browser, f"{base_url}/dashboard?refresh=2#/runs")
    wait_ready(page, "runs")
    assert "no token" in page.locator("#token-state").inner_text()
    page.fill("input[name=partition]", key)
    page.click("#submit-hour button[type=submit]")
    page.wait_for_selector("#action-result.refused", timeout=WAIT_MS)
    assert "refused" in page.locator("#action-result").inner_text()

    page.fill("input[name=token]", f"wrong-{uuid.uuid4().hex}")
    page.click("#token-form button[type=submit]")
    page.evaluate("document.querySelector('#action-result').className = ''")
    page.click("#submit-hour button[type=submit]")
    page.wait_for_selector("#action-result.refused", timeout=WAIT_MS)
    runs = api_rows(base_url, "/dashboard/runs", {"limit": 200})
    assert key not in [run["partition"] for run in runs]
    page.context.close()
