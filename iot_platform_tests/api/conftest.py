"""An API wired to fakes of Dagster, the Spark master, the Spark Connect server and the stats table, and to a real
(temporary, empty) Iceberg catalog for the monitoring tables, with a fixed clock and token."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pyiceberg.catalog.sql import SqlCatalog

from iot_platform.api.deps import utc_now
from iot_platform.api.main import create_app
from iot_platform.settings import Settings, load_settings
from iot_platform_tests.api.fakes import FakeConnectServer, FakeDagster, FakeMaster, FakeStats
from iot_platform_tests.api.monitoring_tables import NOW, make_catalog

__all__ = ["NOW"]
"""``NOW``, the fixed current time: 2026-11-24-09:00 is the latest complete hour, 10:00 is still running."""
TOKEN = "unit-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ALLOWED_ORIGIN = "https://dashboard.example"


@dataclass
class Api:
    """A test client of the app and the fakes behind it."""

    client: TestClient
    dagster: FakeDagster
    master: FakeMaster
    stats: FakeStats
    settings: Settings
    connect_server: FakeConnectServer
    catalog: SqlCatalog
    """The catalog the alerts and sensors endpoints read (empty until a test writes to it)."""


def unit_settings(state_dir: Path, **overrides: object) -> Settings:
    """Settings for an API under unit test (no engine is contacted: every client is a fake)."""
    values: dict[str, object] = {
        "state_dir": state_dir,
        "api_token": TOKEN,
        "partitions_start": dt.date(2025, 1, 1),
        "api_max_range_hours": 48,
        "api_cors_origins": ALLOWED_ORIGIN,
    }
    values.update(overrides)
    return load_settings(**values)


def make_api(settings: Settings, *, fixture: str = "master_app_running_and_waiting.json") -> Iterator[Api]:
    """Build the app on fakes and yield a client inside its lifespan."""
    dagster, master, stats, server = FakeDagster(), FakeMaster(fixture), FakeStats(), FakeConnectServer()
    catalog = make_catalog(settings.state_dir / "iceberg")
    app = create_app(
        settings,
        dagster=dagster,
        spark_master=master,
        stats_reader=stats,
        connect_server_id=server,
        catalog_factory=lambda: catalog,
    )
    app.dependency_overrides[utc_now] = lambda: NOW
    with TestClient(app) as client:
        yield Api(client, dagster, master, stats, settings, server, catalog)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    """The API on fakes, with the token ``TOKEN`` and the clock at ``NOW``."""
    yield from make_api(unit_settings(tmp_path))
