"""``/health``, ``/ready`` and ``/api/v1/cluster`` on fakes; the shared master state under concurrent requests."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from iot_platform.api.cluster_cache import CachedClusterState
from iot_platform.errors import ServiceUnavailable
from iot_platform_tests.api.conftest import AUTH, Api
from iot_platform_tests.api.fakes import FakeMaster, dagster_down
from iot_platform_tests.clients.spark_master_fakes import master_down


def test_health_asks_no_engine(api: Api) -> None:
    api.dagster.down, api.master.down = dagster_down(), master_down()
    assert api.client.get("/health").json() == {"status": "ok"}


def test_ready_when_dagster_and_the_master_answer(api: Api) -> None:
    response = api.client.get("/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["dagster"]["ok"] and body["checks"]["spark_master"]["ok"]


@pytest.mark.parametrize(
    ("dagster", "master", "named"),
    [(True, False, ["Dagster"]), (False, True, ["Spark master"]), (True, True, ["Dagster", "Spark master"])],
)
def test_not_ready_is_503_naming_what_is_down(api: Api, dagster: bool, master: bool, named: list[str]) -> None:
    if dagster:
        api.dagster.down = dagster_down()
    if master:
        api.master.down = master_down()
    response = api.client.get("/ready", headers=AUTH)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready"
    for service in named:
        assert f"{service} unavailable" in body["detail"]
    assert body["checks"]["dagster"]["ok"] is not dagster
    assert body["checks"]["spark_master"]["ok"] is not master


def test_not_ready_while_dagster_has_not_loaded_the_platforms_jobs(api: Api) -> None:
    api.dagster.jobs = ()
    response = api.client.get("/ready", headers=AUTH)
    assert response.status_code == 503
    assert "hourly_stats_job is not loaded" in response.json()["detail"]


def test_ready_tells_versions_and_urls_only_to_callers_with_the_token(api: Api) -> None:
    detailed = api.client.get("/ready", headers=AUTH).json()
    assert detailed["checks"]["dagster"]["detail"] == "Dagster 1.13.27 at http://dagster.test:3000"
    api.dagster.down = dagster_down()
    api.client.app.state.clients.dagster_status.invalidate()  # type: ignore[attr-defined]
    anonymous = api.client.get("/ready", headers={"Authorization": "Bearer not-the-token"})
    assert anonymous.status_code == 503
    body = anonymous.json()
    assert body["detail"] == "not answering: dagster (send the API token for details)"
    assert body["checks"] == {"dagster": {"ok": False, "detail": None}, "spark_master": {"ok": True, "detail": None}}
    assert "dagster.test" not in anonymous.text and "1.13" not in anonymous.text


def test_ready_answers_many_callers_from_shared_readings(api: Api) -> None:
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: api.client.get("/ready").status_code, range(40)))
    assert codes == [200] * 40
    assert api.dagster.status_calls <= 3, "one reading per second, however many callers"


def test_cluster_status_reports_the_masters_totals(api: Api) -> None:
    body = api.client.get("/api/v1/cluster/status").json()
    assert body == {
        "status": "ALIVE",
        "total_cores": 1,
        "used_cores": 1,
        "total_memory": 1024,
        "used_memory": 512,
        "worker_count": 1,
        "dead_worker_count": 0,
        "active_app_count": 2,
        "waiting_app_count": 1,
        "master_url": "spark://127.0.0.1:17077",
    }


def test_workers_are_listed_with_their_resources(api: Api) -> None:
    (worker,) = api.client.get("/api/v1/cluster/workers").json()
    assert worker["id"] == "worker-20261124015356-127.0.0.1-39261"
    assert (worker["host"], worker["port"], worker["state"]) == ("127.0.0.1", 39261, "ALIVE")
    assert (worker["cores"], worker["cores_used"], worker["memory"], worker["memory_used"]) == (1, 1, 1024, 512)


def test_cluster_endpoints_answer_503_naming_the_master_when_it_is_down(api: Api) -> None:
    api.master.down = master_down()
    for path in ("/api/v1/cluster/status", "/api/v1/cluster/workers"):
        response = api.client.get(path)
        assert response.status_code == 503
        assert response.json()["detail"].startswith("Spark master unavailable: no answer from")


def test_concurrent_requests_share_one_reading_of_the_master(api: Api) -> None:
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(lambda _: api.client.get("/api/v1/cluster/status").status_code, range(64)))
    assert statuses == [200] * 64
    assert api.master.calls == 1


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_reading_is_reused_for_the_ttl_then_read_again() -> None:
    master, clock = FakeMaster(), Clock()
    cache = CachedClusterState(master, ttl_s=1.0, clock=clock)
    cache.state()
    clock.now += 0.9
    cache.state()
    assert master.calls == 1
    clock.now += 0.2
    cache.state()
    assert master.calls == 2
    cache.state(fresh=True)
    assert master.calls == 3


def test_a_failure_is_reused_for_the_ttl_too_and_recovery_is_seen_after_it() -> None:
    master, clock = FakeMaster(), Clock()
    cache = CachedClusterState(master, ttl_s=1.0, clock=clock)
    master.down = master_down()
    for _ in range(3):
        with pytest.raises(ServiceUnavailable):
            cache.state()
    assert master.calls == 1
    master.down = None
    clock.now += 1.0
    assert cache.state().status == "ALIVE"
