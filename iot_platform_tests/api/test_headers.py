"""What the API's answers say whatever the request claims: links without the caller's Host, a complete ``Allow``,
documentation pages that load nothing from outside."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from iot_platform.api.stats_reader import Cursor
from iot_platform_tests.api.conftest import AUTH, Api

FORGED = {"Host": "attacker.example"}
RUN_ID = "6f1c2a3e-1b7d-4c59-9a1e-2f0c3d4b5a61"


def test_the_next_page_link_is_a_path_whatever_the_host(api: Api) -> None:
    api.stats.next_cursor = Cursor(dt.datetime(2025, 4, 1, tzinfo=dt.UTC), "TEMP-001")
    response = api.client.get("/api/v1/stats/hourly", params={"limit": 1}, headers=FORGED)
    assert response.status_code == 200
    link = response.headers["Link"]
    assert link.startswith("</api/v1/stats/hourly?limit=1&cursor=") and link.endswith('>; rel="next"')
    assert "attacker" not in link


def test_a_submitted_runs_location_is_a_path_whatever_the_host(api: Api) -> None:
    body = {"job": "hourly_stats", "partition": "2025-04-01-10:00"}
    response = api.client.post("/api/v1/jobs/submit", json=body, headers={**AUTH, **FORGED})
    assert response.headers["Location"] == f"/api/v1/jobs/runs/{response.json()['run_id']}"


def test_a_redirect_to_the_path_without_a_slash_is_a_path(api: Api) -> None:
    response = api.client.get("/api/v1/cluster/status/", headers=FORGED, follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["Location"] == "/api/v1/cluster/status"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("OPTIONS", f"/api/v1/jobs/runs/{RUN_ID}", "DELETE, GET"),
        ("PUT", "/api/v1/jobs/apps/app-20261124015421-0000", "DELETE, GET"),
        ("OPTIONS", "/api/v1/jobs/backfills/abc", "DELETE, GET"),
        ("GET", "/api/v1/jobs/submit", "POST"),
        ("DELETE", "/api/v1/cluster/status", "GET"),
    ],
)
def test_a_method_the_path_does_not_take_is_405_allowing_every_method_it_does(
    api: Api, method: str, path: str, allow: str
) -> None:
    response = api.client.request(method, path, headers=AUTH)
    assert response.status_code == 405
    assert response.headers["Allow"] == allow


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_documentation_pages_load_only_assets_the_api_serves(api: Api, page: str) -> None:
    response = api.client.get(page)
    assert response.status_code == 200
    html = response.text
    assert "://" not in html, "nothing is loaded from another host"
    assets = re.findall(r'(?:src|href)="([^"]+)"', html) + re.findall(r"url: '([^']+)'", html)
    assert any(asset.endswith(".js") for asset in assets)
    for asset in assets:
        served = api.client.get(asset)
        assert served.status_code == 200, asset
        assert len(served.content) > 0
