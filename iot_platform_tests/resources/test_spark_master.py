"""The Spark master resource: a client for its URL, and the fail-fast check Spark-backed assets run first."""

from __future__ import annotations

import pytest
from dagster import Failure

from iot_platform.resources.spark_master import SparkMasterResource, ensure_master_alive
from iot_platform_tests.clients.spark_master_fakes import WEB_URL, FakeMaster, load_fixture, master_down

load = load_fixture


def test_resource_gives_a_client_for_its_url() -> None:
    client = SparkMasterResource(web_url=WEB_URL + "/").get_client()
    assert client.web_url == WEB_URL


MASTER = "spark://master.test:7077"


def test_fail_fast_passes_a_healthy_master_through() -> None:
    state = ensure_master_alive(FakeMaster(load("master_one_worker_idle.json")), MASTER)
    assert state.alive_workers == 1


@pytest.mark.parametrize(
    ("client", "expected"),
    [
        (FakeMaster(master_down()), "unreachable"),
        (FakeMaster({**load("master_one_worker_idle.json"), "status": "STANDBY"}), "STANDBY"),
        (FakeMaster(load("master_worker_dead_app_without_cores.json")), "0 alive worker"),
    ],
)
def test_fail_fast_names_the_master_url(client: FakeMaster, expected: str) -> None:
    with pytest.raises(Failure) as raised:
        ensure_master_alive(client, MASTER)
    assert MASTER in str(raised.value.description)
    assert expected in str(raised.value.description)
