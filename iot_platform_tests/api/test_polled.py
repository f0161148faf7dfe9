"""The polled answers (``/api/v1/cluster/status``, anonymous ``/ready``) sent from fresh shared readings: the same
status, headers and body as the routes send, and every other request left to the routes."""

from __future__ import annotations

from typing import NoReturn

from iot_platform.api.deps import get_cluster, get_dagster_status
from iot_platform_tests.api.conftest import ALLOWED_ORIGIN, AUTH, Api
from iot_platform_tests.api.fakes import dagster_down
from iot_platform_tests.clients.spark_master_fakes import master_down


def _routes_refuse(api: Api) -> None:
    """Make the routes fail loudly, so an answer that still comes was sent from the shared readings."""

    def refuse() -> NoReturn:
        raise AssertionError("the route was asked")

    overrides = api.client.app.dependency_overrides  # type: ignore[attr-defined]
    overrides[get_cluster] = refuse
    overrides[get_dagster_status] = refuse


def _same_answer(first: object, second: object) -> None:
    for attribute in ("status_code", "text"):
        assert getattr(first, attribute) == getattr(second, attribute)
    for name in ("content-type", "content-length"):
        assert first.headers[name] == second.headers[name]  # type: ignore[attr-defined]


def test_cluster_status_from_a_fresh_reading_is_the_routes_answer(api: Api) -> None:
    by_route = api.client.get("/api/v1/cluster/status")
    _routes_refuse(api)
    polled = api.client.get("/api/v1/cluster/status", headers={"Origin": ALLOWED_ORIGIN})
    _same_answer(by_route, polled)
    assert polled.headers["access-control-allow-origin"] == ALLOWED_ORIGIN, "CORS still applies"
    assert api.master.calls == 1


def test_anonymous_ready_from_fresh_readings_is_the_routes_answer(api: Api) -> None:
    by_route = api.client.get("/ready")
    _routes_refuse(api)
    polled = api.client.get("/ready")
    _same_answer(by_route, polled)
    assert polled.json()["status"] == "ready"
    assert api.dagster.status_calls == 1


def test_anonymous_not_ready_from_fresh_readings_is_the_routes_answer(api: Api) -> None:
    api.dagster.down = dagster_down()
    by_route = api.client.get("/ready")
    _routes_refuse(api)
    polled = api.client.get("/ready")
    assert polled.status_code == 503
    _same_answer(by_route, polled)
    assert "dagster.test" not in polled.text


def test_ready_with_a_token_and_other_methods_go_to_the_routes(api: Api) -> None:
    api.client.get("/ready")
    detailed = api.client.get("/ready", headers=AUTH).json()
    assert detailed["checks"]["dagster"]["detail"] == "Dagster 1.13.27 at http://dagster.test:3000"
    refused = api.client.post("/api/v1/cluster/status")
    assert refused.status_code == 405
    assert refused.headers["allow"] == "GET"


def test_a_master_that_is_down_is_answered_by_the_route(api: Api) -> None:
    api.client.get("/api/v1/cluster/status")
    api.master.down = master_down()
    api.client.app.state.clients.cluster.invalidate()  # type: ignore[attr-defined]
    first = api.client.get("/api/v1/cluster/status")
    again = api.client.get("/api/v1/cluster/status")
    assert (first.status_code, again.status_code) == (503, 503)
    assert first.json() == again.json()
    assert first.headers["retry-after"] == again.headers["retry-after"] == "5"
