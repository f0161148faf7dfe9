"""The bearer token on every call that launches or stops work: 401 without, 403 wrong, 503 when unset; CORS."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from iot_platform.api import deps
from iot_platform_tests.api.conftest import ALLOWED_ORIGIN, AUTH, TOKEN, Api, make_api, unit_settings
from iot_platform_tests.api.fakes import FOREIGN_APP_ID, PLATFORM_RUN_ID

RUN_ID = "0b8f9a52-8d51-4f7a-9d0e-1c2b3a4d5e6f"

MUTATING: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/api/v1/jobs/submit", {"job": "hourly_stats", "partition": "2025-04-01-10:00"}),
    ("POST", "/api/v1/jobs/submit", {"job": "hourly_stats", "start": "2025-04-01-00:00", "end": "2025-04-01-03:00"}),
    ("DELETE", f"/api/v1/jobs/runs/{RUN_ID}", None),
    ("DELETE", f"/api/v1/jobs/apps/{FOREIGN_APP_ID}", None),
    ("DELETE", "/api/v1/jobs/backfills/abcdefgh", None),
]


def call(api: Api, method: str, path: str, body: dict[str, Any] | None, headers: dict[str, str] | None = None) -> Any:
    return api.client.request(method, path, json=body, headers=headers or {})


def nothing_was_done(api: Api) -> bool:
    return not (api.dagster.submitted or api.dagster.backfilled or api.dagster.terminated or api.master.killed)


@pytest.mark.parametrize(("method", "path", "body"), MUTATING)
def test_without_a_token_the_call_is_refused_with_401_and_a_bearer_challenge(
    api: Api, method: str, path: str, body: dict[str, Any] | None
) -> None:
    api.dagster.add_run("STARTED", run_id=RUN_ID)
    response = call(api, method, path, body)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "Authorization: Bearer" in response.json()["detail"]
    assert nothing_was_done(api)


@pytest.mark.parametrize(
    "header",
    [f"Basic {TOKEN}", "Bearer", "Bearer ", TOKEN, f"Token {TOKEN}"],
    ids=["basic-scheme", "bearer-without-token", "bearer-empty", "no-scheme", "other-scheme"],
)
def test_a_header_without_a_bearer_token_counts_as_no_token(api: Api, header: str) -> None:
    response = call(api, *MUTATING[0], headers={"Authorization": header})
    assert response.status_code == 401
    assert nothing_was_done(api)


@pytest.mark.parametrize(("method", "path", "body"), MUTATING)
@pytest.mark.parametrize(
    "token",
    [TOKEN + "x", TOKEN[:-1], TOKEN.upper(), "ä" + TOKEN, "x" * 10_000],
    ids=["longer", "shorter", "case", "latin1", "huge"],
)
def test_a_wrong_token_is_refused_with_403(
    api: Api, method: str, path: str, body: dict[str, Any] | None, token: str
) -> None:
    api.dagster.add_run("STARTED", run_id=RUN_ID)
    # Header values travel as latin-1 octets, as a real client sends them.
    response = api.client.request(
        method, path, json=body, headers={"Authorization": f"Bearer {token}".encode("latin-1")}
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "the bearer token is not this API's token (IOT_API_TOKEN)"
    assert nothing_was_done(api)


def test_the_right_token_lets_the_call_through(api: Api) -> None:
    response = call(api, *MUTATING[0], headers=AUTH)
    assert response.status_code == 202
    assert len(api.dagster.submitted) == 1


def test_tokens_are_compared_in_constant_time(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    original = secrets.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return original(a, b)

    monkeypatch.setattr(deps.secrets, "compare_digest", spy)
    assert call(api, *MUTATING[0], headers={"Authorization": "Bearer nope"}).status_code == 403
    assert call(api, *MUTATING[0], headers=AUTH).status_code == 202
    assert compared == [(b"nope", TOKEN.encode()), (TOKEN.encode(), TOKEN.encode())]


def test_every_token_of_iot_api_tokens_is_accepted_besides_iot_api_token(tmp_path: Path) -> None:
    for api in make_api(unit_settings(tmp_path, api_tokens=" next-token , spare-token,")):
        for token in (TOKEN, "next-token", "spare-token"):
            assert call(api, *MUTATING[2][:2], None, {"Authorization": f"Bearer {token}"}).status_code == 404, token
        for wrong in ("", "next-token,spare-token", "nope"):
            assert call(api, *MUTATING[2][:2], None, {"Authorization": f"Bearer {wrong}"}).status_code in (401, 403)


def test_the_api_accepts_iot_api_tokens_alone(tmp_path: Path) -> None:
    for api in make_api(unit_settings(tmp_path, api_token=None, api_tokens="only-token")):
        assert call(api, *MUTATING[0], headers={"Authorization": "Bearer only-token"}).status_code == 202
        assert call(api, *MUTATING[0], headers=AUTH).status_code == 403


@pytest.fixture
def api_without_token(tmp_path: Path) -> Iterator[Api]:
    yield from make_api(unit_settings(tmp_path, api_token=None))


@pytest.mark.parametrize(("method", "path", "body"), MUTATING)
def test_without_a_configured_token_mutating_calls_answer_503_naming_the_setting(
    api_without_token: Api, method: str, path: str, body: dict[str, Any] | None
) -> None:
    response = call(api_without_token, method, path, body, {"Authorization": "Bearer anything"})
    assert response.status_code == 503
    assert "IOT_API_TOKEN is not set" in response.json()["detail"]
    assert nothing_was_done(api_without_token)


@pytest.mark.parametrize(
    "path",
    [
        "/health",
        "/ready",
        "/api/v1/cluster/status",
        "/api/v1/cluster/workers",
        "/api/v1/jobs/apps",
        f"/api/v1/jobs/apps/{FOREIGN_APP_ID}",
        "/api/v1/stats/hourly",
    ],
)
def test_reading_needs_no_token(api_without_token: Api, path: str) -> None:
    assert api_without_token.client.get(path).status_code == 200


def test_reading_a_run_needs_no_token(api: Api) -> None:
    api.dagster.add_run("STARTED", run_id=PLATFORM_RUN_ID)
    assert api.client.get(f"/api/v1/jobs/runs/{PLATFORM_RUN_ID}").status_code == 200


def test_cors_preflight_is_answered_for_allowed_origins_only(api: Api) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    allowed = api.client.options("/api/v1/jobs/submit", headers={"Origin": ALLOWED_ORIGIN, **preflight})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    other = api.client.options("/api/v1/jobs/submit", headers={"Origin": "https://evil.example", **preflight})
    assert other.status_code == 400
    assert "access-control-allow-origin" not in other.headers
    simple = api.client.get("/api/v1/cluster/status", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in simple.headers


def test_without_configured_origins_no_cors_headers_are_sent(tmp_path: Path) -> None:
    for api in make_api(unit_settings(tmp_path, api_cors_origins="")):
        response = api.client.get("/health", headers={"Origin": ALLOWED_ORIGIN})
        assert "access-control-allow-origin" not in response.headers
