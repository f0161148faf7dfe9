"""A fake Spark master client for unit tests of pure logic, answering with documents captured from a real master."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from iot_platform.clients.spark import ConnectServerProbe
from iot_platform.clients.spark_master import ClusterState, SparkApplication, parse_master_state
from iot_platform.errors import ServiceUnavailable

FIXTURES = Path(__file__).parent / "fixtures"
WEB_URL = "http://master.test:8080"


def load_fixture(name: str) -> dict[str, Any]:
    """A captured ``/json/`` document (a fresh copy, safe to edit)."""
    return json.loads((FIXTURES / name).read_text())  # type: ignore[no-any-return]


def master_down(url: str = WEB_URL) -> ServiceUnavailable:
    """The error the real client raises when nothing listens at ``url``."""
    return ServiceUnavailable("Spark master", f"no answer from {url}/json/ (ConnectError: connection refused)")


class FakeMaster:
    """Answers each ``cluster_state`` call with the next document or raises the next error; repeats the last."""

    def __init__(self, *answers: dict[str, Any] | ServiceUnavailable) -> None:
        self.answers = list(answers)
        self.calls = 0

    @property
    def web_url(self) -> str:
        return WEB_URL

    def cluster_state(self) -> ClusterState:
        answer = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        if isinstance(answer, ServiceUnavailable):
            raise answer
        return parse_master_state(answer, web_url=WEB_URL)

    def kill_application(self, app_id: str) -> SparkApplication:
        raise NotImplementedError("the fake master does not kill applications")


class FakeMasterResource:
    """Stands in for ``SparkMasterResource`` in sensors and checks, handing out a :class:`FakeMaster` and a fixed
    probe of the Spark Connect server (``None``: runs use no server)."""

    def __init__(self, client: FakeMaster, connect: ConnectServerProbe | None = None) -> None:
        self.client = client
        self.connect = connect
        self.probes = 0

    def get_client(self) -> FakeMaster:
        return self.client

    def probe_connect_server(self) -> ConnectServerProbe | None:
        self.probes += 1
        return self.connect
