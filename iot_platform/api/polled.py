"""The answers dashboards and load balancers poll, sent straight from the readings shared between requests.

``GET /api/v1/cluster/status`` and an anonymous ``GET /ready`` are answered from readings of the engines that are
shared for about a second (:mod:`iot_platform.api.cluster_cache`), so their body only changes once per reading.
Routing, dependency resolution and serialisation cost several times more than sending those bytes, and 50
clients polling made that the bulk of the API's time: while the readings are fresh, :class:`PolledAnswers` sends
the body rendered once per reading. Otherwise (a reading to take, a token to check, any other method or path) the
request goes on to the routes, which take the readings and answer exactly as they would without this middleware.
The size limits and response headers of :mod:`iot_platform.api.limits` and :mod:`iot_platform.api.headers` still
apply: this middleware sits inside them.
"""

from __future__ import annotations

from iot_platform.api.clients import ApiClients
from iot_platform.api.limits import ASGIApp, Receive, Scope, Send
from iot_platform.api.routes.cluster import status_body
from iot_platform.api.routes.health import dagster_check, master_check, readiness
from iot_platform.clients.dagster import DagsterStatus
from iot_platform.clients.spark_master import ClusterState
from iot_platform.errors import ServiceUnavailable

CLUSTER_STATUS_PATH = "/api/v1/cluster/status"
READY_PATH = "/ready"

Answer = tuple[int, bytes]
"""An HTTP status and its JSON body."""


def fresh_cluster_status(clients: ApiClients) -> Answer | None:
    """``/cluster/status``'s answer from a fresh reading of the master, ``None`` without one (or when the master
    is down: the route answers that with its 503)."""
    cluster = clients.cluster
    try:
        state = cluster.cached()
    except ServiceUnavailable:
        return None
    if state is None:
        return None
    return 200, cluster.derived(state, "status", status_body)


class _ReadyAnswers:
    """Anonymous ``/ready`` answers, each rendered once per pair of readings (Dagster's status, the master's)."""

    def __init__(self) -> None:
        self._last: tuple[object, object, Answer] | None = None

    def fresh(self, clients: ApiClients) -> Answer | None:
        """The anonymous answer from fresh readings of both engines, ``None`` unless both are fresh."""
        dagster, master = _fresh_dagster(clients), _fresh_master(clients)
        if dagster is None or master is None:
            return None
        last = self._last
        if last is not None and last[0] is dagster and last[1] is master:
            return last[2]
        checks = {"dagster": dagster_check(dagster, clients.dagster.web_url), "spark_master": master_check(master)}
        body = readiness(checks, detailed=False)
        answer = (200 if body.status == "ready" else 503, body.model_dump_json().encode())
        self._last = (dagster, master, answer)
        return answer


def _fresh_dagster(clients: ApiClients) -> DagsterStatus | ServiceUnavailable | None:
    """Dagster's fresh status (or the :class:`ServiceUnavailable` reading it ended in), ``None`` without one."""
    try:
        fresh, status = clients.dagster_status.peek()
    except ServiceUnavailable as exc:
        return exc
    return status if fresh else None


def _fresh_master(clients: ApiClients) -> ClusterState | ServiceUnavailable | None:
    """The master's fresh state (or the :class:`ServiceUnavailable` reading it ended in), ``None`` without one."""
    try:
        return clients.cluster.cached()
    except ServiceUnavailable as exc:
        return exc


class PolledAnswers:
    """ASGI middleware: send the polled answers from fresh shared readings (see the module's docstring)."""

    def __init__(self, app: ASGIApp, clients: ApiClients) -> None:
        self.app = app
        self.clients = clients
        self._ready = _ReadyAnswers()

    def _answer(self, scope: Scope) -> Answer | None:
        if scope["type"] != "http" or scope["method"] != "GET":
            return None
        path = scope["path"]
        if path == CLUSTER_STATUS_PATH:
            return fresh_cluster_status(self.clients)
        if path == READY_PATH and not any(name == b"authorization" for name, _ in scope["headers"]):
            return self._ready.fresh(self.clients)
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        answer = self._answer(scope)
        if answer is None:
            await self.app(scope, receive, send)
            return
        status, body = answer
        headers = [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
