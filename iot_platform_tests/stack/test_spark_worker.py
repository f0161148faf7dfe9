"""The worker is healthy once the master lists it alive on its own web UI port."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from iot_platform.clients.spark_master import ClusterState, parse_master_state
from iot_platform.settings import Settings
from iot_platform.stack.spark_worker import SparkWorker


def _state(*workers: dict[str, object]) -> ClusterState:
    return parse_master_state({"status": "ALIVE", "workers": list(workers)}, web_url="http://127.0.0.1:8080")


def _worker(worker_id: str, state: str, web_port: int) -> dict[str, object]:
    return {"id": worker_id, "state": state, "webuiaddress": f"http://127.0.0.1:{web_port}", "cores": 2, "memory": 4096}


@pytest.mark.parametrize(
    ("workers", "healthy"),
    [
        ([], False),
        ([_worker("other", "ALIVE", 9999)], False),
        ([_worker("ours-old", "DEAD", 8081)], False),
        ([_worker("ours-old", "DEAD", 8081), _worker("ours", "ALIVE", 8081)], True),
    ],
)
def test_worker_health_follows_its_registration(
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
    workers: list[dict[str, object]],
    healthy: bool,
) -> None:
    worker = SparkWorker(make_settings(spark_worker_web_port=8081))
    monkeypatch.setattr(worker, "master_state", lambda: _state(*workers))
    health = worker.health()
    assert health.ok is healthy
    if healthy:
        assert health.detail == "ours ALIVE with 2 cores, 4096 MiB"


def test_worker_command_offers_the_configured_cores_and_memory(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(spark_worker_cores=3, spark_worker_memory="2g")
    cmd = SparkWorker(settings).command()
    assert cmd[cmd.index("--cores") + 1] == "3"
    assert cmd[cmd.index("--memory") + 1] == "2g"
    assert settings.master_url in cmd


def test_the_workers_ui_has_no_kill_links(make_settings: Callable[..., Settings]) -> None:
    assert "-Dspark.ui.killEnabled=false" in SparkWorker(make_settings()).environment()["SPARK_WORKER_OPTS"].split()
