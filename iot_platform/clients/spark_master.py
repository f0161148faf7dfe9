"""The Spark standalone master as a plain client: its JSON state and killing applications (no Dagster here).

The master publishes its state at ``<web_url>/json/``. :class:`HttpSparkMasterClient` reads it into typed,
immutable :class:`ClusterState` values; ``resources/spark_master.py`` hands that client to assets and sensors.
Applications launched by the platform are named with :func:`spark_app_name` so every Spark application maps
back to the Dagster run that started it (:func:`parse_spark_app_name`).
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, runtime_checkable

import httpx

from iot_platform.errors import NotFound, PlatformError, ServiceUnavailable
from iot_platform.runs import RUN_ID_PATTERN

SERVICE_NAME = "Spark master"
"""How errors name the master (``ServiceUnavailable.service``)."""

APP_NAME_PREFIX = "iot-platform"
"""First part of the name of every Spark application the platform launches."""

_APP_NAME = re.compile(rf"^{APP_NAME_PREFIX}:(?P<kind>[^:\s]+):(?P<run_id>{RUN_ID_PATTERN})$")

WORKER_ALIVE = "ALIVE"
WORKER_DEAD = "DEAD"
MASTER_ALIVE = "ALIVE"
APP_WAITING = "WAITING"


# --- application names ------------------------------------------------------------------------------------
def spark_app_name(kind: str, run_id: str) -> str:
    """The Spark application name for a platform run: ``iot-platform:<kind>:<dagster_run_id>``.

    Args:
        kind: What the application computes, usually the job or asset name (e.g. ``hourly_stats``).
        run_id: The Dagster run id (a UUID) that launches the application.

    Returns:
        The name to pass to ``SparkSession.builder.appName``.

    Raises:
        ValueError: ``kind`` is empty or holds ``:`` or whitespace, or ``run_id`` is not a Dagster run id.
    """
    name = f"{APP_NAME_PREFIX}:{kind}:{run_id}"
    if _APP_NAME.match(name) is None:
        raise ValueError(
            f"cannot name a Spark application after kind {kind!r} and run id {run_id!r}: the kind must be a word "
            "without ':' or spaces and the run id a Dagster run id (UUID)"
        )
    return name


@dataclass(frozen=True)
class PlatformAppName:
    """The parts of a platform application name."""

    kind: str
    dagster_run_id: str


def parse_spark_app_name(name: str) -> PlatformAppName | None:
    """Split a name made by :func:`spark_app_name`; ``None`` for applications the platform did not launch.

    Args:
        name: A Spark application name as the master reports it.

    Returns:
        The kind and Dagster run id, or ``None`` when the name does not follow the platform's convention.
    """
    match = _APP_NAME.match(name.strip())
    if match is None:
        return None
    return PlatformAppName(kind=match["kind"], dagster_run_id=match["run_id"])


# --- typed cluster state ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SparkWorker:
    """One worker registered with the master."""

    id: str
    host: str
    port: int
    web_ui_url: str
    cores: int
    cores_used: int
    memory_mib: int
    memory_used_mib: int
    state: str
    """ALIVE, DEAD, DECOMMISSIONED or UNKNOWN."""
    last_heartbeat: dt.datetime | None

    @property
    def alive(self) -> bool:
        return self.state == WORKER_ALIVE


@dataclass(frozen=True)
class SparkApplication:
    """One application (a SparkSession's driver) known to the master."""

    id: str
    name: str
    state: str
    """WAITING, RUNNING, FINISHED, FAILED, KILLED or UNKNOWN."""
    cores: int
    """Cores granted right now (0 while the application waits for executors)."""
    memory_per_executor_mib: int
    user: str
    submitted_at: dt.datetime
    duration_ms: int
    """Time since submission for active applications, total run time for completed ones."""
    active: bool
    """Whether the master lists it among the active (not completed) applications."""
    dagster_run_id: str | None
    """The Dagster run that launched it, parsed from the name; ``None`` when not launched by the platform."""


@dataclass(frozen=True)
class SparkDriver:
    """A driver submitted in cluster deploy mode, running on a worker."""

    id: str
    state: str
    cores: int
    memory_mib: int
    submitted_at: dt.datetime | None
    worker_id: str | None
    main_class: str
    active: bool


@dataclass(frozen=True)
class ClusterState:
    """A snapshot of the master's ``/json/`` document. Totals are the master's own (alive workers only)."""

    web_url: str
    master_url: str
    status: str
    """ALIVE, STANDBY, RECOVERING or COMPLETING_RECOVERY."""
    alive_workers: int
    cores: int
    cores_used: int
    memory_mib: int
    memory_used_mib: int
    workers: tuple[SparkWorker, ...]
    active_apps: tuple[SparkApplication, ...]
    completed_apps: tuple[SparkApplication, ...]
    active_drivers: tuple[SparkDriver, ...]
    completed_drivers: tuple[SparkDriver, ...]

    @property
    def dead_workers(self) -> tuple[SparkWorker, ...]:
        return tuple(worker for worker in self.workers if worker.state == WORKER_DEAD)

    @property
    def waiting_apps(self) -> tuple[SparkApplication, ...]:
        """Active applications still waiting for their first executors."""
        return tuple(app for app in self.active_apps if app.state == APP_WAITING)

    def application(self, app_id: str) -> SparkApplication | None:
        """The active or completed application with this id, if the master still knows it."""
        for app in (*self.active_apps, *self.completed_apps):
            if app.id == app_id:
                return app
        return None


class MasterStateError(ValueError):
    """A document that does not look like a Spark master's ``/json/`` answer."""


def _epoch_ms(value: Any) -> dt.datetime | None:
    """A Spark timestamp (milliseconds since the epoch, as a number or a string) as an aware UTC datetime."""
    if value is None or value == "":
        return None
    return dt.datetime.fromtimestamp(int(value) / 1000, tz=dt.UTC)


def _required(raw: Mapping[str, Any], key: str, what: str) -> Any:
    try:
        return raw[key]
    except KeyError:
        raise MasterStateError(f"{what} has no {key!r} field") from None


def _parse_worker(raw: Mapping[str, Any]) -> SparkWorker:
    worker_id = str(_required(raw, "id", "a worker"))
    return SparkWorker(
        id=worker_id,
        host=str(raw.get("host", "")),
        port=int(raw.get("port", 0)),
        web_ui_url=str(raw.get("webuiaddress", "")),
        cores=int(raw.get("cores", 0)),
        cores_used=int(raw.get("coresused", 0)),
        memory_mib=int(raw.get("memory", 0)),
        memory_used_mib=int(raw.get("memoryused", 0)),
        state=str(_required(raw, "state", f"worker {worker_id}")),
        last_heartbeat=_epoch_ms(raw.get("lastheartbeat")),
    )


def _parse_app(raw: Mapping[str, Any], *, active: bool) -> SparkApplication:
    app_id = str(_required(raw, "id", "an application"))
    name = str(raw.get("name", ""))
    parsed = parse_spark_app_name(name)
    submitted = _epoch_ms(_required(raw, "starttime", f"application {app_id}"))
    assert submitted is not None
    return SparkApplication(
        id=app_id,
        name=name,
        state=str(_required(raw, "state", f"application {app_id}")),
        cores=int(raw.get("cores", 0)),
        memory_per_executor_mib=int(raw.get("memoryperexecutor", raw.get("memoryperslave", 0))),
        user=str(raw.get("user", "")),
        submitted_at=submitted,
        duration_ms=int(raw.get("duration", 0)),
        active=active,
        dagster_run_id=parsed.dagster_run_id if parsed else None,
    )


def _parse_driver(raw: Mapping[str, Any], *, active: bool) -> SparkDriver:
    driver_id = str(_required(raw, "id", "a driver"))
    worker = raw.get("worker")
    return SparkDriver(
        id=driver_id,
        state=str(_required(raw, "state", f"driver {driver_id}")),
        cores=int(raw.get("cores", 0)),
        memory_mib=int(raw.get("memory", 0)),
        submitted_at=_epoch_ms(raw.get("starttime")),
        worker_id=str(worker) if worker and worker != "None" else None,
        main_class=str(raw.get("mainclass", "")),
        active=active,
    )


def parse_master_state(document: Any, *, web_url: str) -> ClusterState:
    """Turn the master's ``/json/`` document into a :class:`ClusterState`.

    Args:
        document: The decoded JSON answer.
        web_url: The web UI URL it was read from (kept for messages).

    Returns:
        The typed snapshot.

    Raises:
        MasterStateError: the document lacks the fields every Spark master reports.
    """
    if not isinstance(document, Mapping):
        raise MasterStateError(f"expected a JSON object, got {type(document).__name__}")
    try:
        workers = tuple(_parse_worker(raw) for raw in _required(document, "workers", "the document"))
        return ClusterState(
            web_url=web_url.rstrip("/"),
            master_url=str(document.get("url", "")),
            status=str(_required(document, "status", "the document")),
            alive_workers=int(document.get("aliveworkers", sum(1 for worker in workers if worker.alive))),
            cores=int(document.get("cores", 0)),
            cores_used=int(document.get("coresused", 0)),
            memory_mib=int(document.get("memory", 0)),
            memory_used_mib=int(document.get("memoryused", 0)),
            workers=workers,
            active_apps=tuple(_parse_app(raw, active=True) for raw in document.get("activeapps", [])),
            completed_apps=tuple(_parse_app(raw, active=False) for raw in document.get("completedapps", [])),
            active_drivers=tuple(_parse_driver(raw, active=True) for raw in document.get("activedrivers", [])),
            completed_drivers=tuple(_parse_driver(raw, active=False) for raw in document.get("completeddrivers", [])),
        )
    except (TypeError, ValueError) as exc:
        if isinstance(exc, MasterStateError):
            raise
        raise MasterStateError(f"unexpected value in the master's state: {exc}") from exc


# --- clients ------------------------------------------------------------------------------------------------
@runtime_checkable
class SparkMasterClient(Protocol):
    """What the platform asks of a Spark master. :class:`HttpSparkMasterClient` is the real one."""

    @property
    def web_url(self) -> str:
        """The master's web UI URL, for messages."""
        ...

    def cluster_state(self) -> ClusterState:
        """Read the master's current state.

        Raises:
            ServiceUnavailable: the master cannot be reached or does not answer like a Spark master.
        """
        ...

    def kill_application(self, app_id: str) -> SparkApplication:
        """Stop an application and return its final state.

        Raises:
            NotFound: the master does not know the application.
            ServiceUnavailable: the master cannot be reached.
        """
        ...


class HttpSparkMasterClient:
    """Reads the master's ``/json/`` endpoint and posts to its kill endpoint, with short timeouts."""

    def __init__(
        self,
        web_url: str,
        *,
        timeout_s: float = 5.0,
        kill_wait_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """Open a client.

        Args:
            web_url: The master's web UI, e.g. ``http://127.0.0.1:8080``.
            timeout_s: Limit of each HTTP request (connecting takes at most 3 s of it).
            kill_wait_s: How long :meth:`kill_application` waits for the application to end.
            transport: An httpx transport (tests only).
        """
        self._web_url = web_url.rstrip("/")
        self._kill_wait_s = kill_wait_s
        self._http = httpx.Client(
            base_url=self._web_url,
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 3.0)),
            follow_redirects=False,
            transport=transport,
        )

    @property
    def web_url(self) -> str:
        return self._web_url

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HttpSparkMasterClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def cluster_state(self) -> ClusterState:
        """Read and parse ``<web_url>/json/``.

        Returns:
            The master's current state.

        Raises:
            ServiceUnavailable: no answer, an HTTP error, or an answer that is not a Spark master's state.
        """
        url = f"{self._web_url}/json/"
        try:
            response = self._http.get("/json/")
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(
                SERVICE_NAME,
                f"no answer from {url} ({type(exc).__name__}: {str(exc) or 'timed out'}); check that the master runs "
                "(`iot-platform stack status`) and that IOT_SPARK_WEB_URL points at its web UI",
            ) from exc
        if response.status_code != 200:
            raise ServiceUnavailable(SERVICE_NAME, f"{url} answered HTTP {response.status_code}")
        try:
            return parse_master_state(response.json(), web_url=self._web_url)
        except ValueError as exc:  # JSONDecodeError and MasterStateError are both ValueErrors
            raise ServiceUnavailable(
                SERVICE_NAME,
                f"{url} did not answer like a Spark master ({exc}); is IOT_SPARK_WEB_URL the master's web UI?",
            ) from exc

    def kill_application(self, app_id: str) -> SparkApplication:
        """Kill an application through the master UI's kill endpoint and wait until it has ended.

        Killing an application that already ended returns it unchanged. The endpoint only works while
        ``spark.ui.killEnabled`` is true on the master (Spark's default).

        Args:
            app_id: The application id, e.g. ``app-20261124015421-0000``.

        Returns:
            The application as the master reports it after the kill.

        Raises:
            NotFound: the master does not know the application.
            ServiceUnavailable: the master cannot be reached.
            PlatformError: the master accepted the request but the application is still active.
        """
        app = self.cluster_state().application(app_id)
        if app is None:
            raise NotFound(f"Spark application {app_id} is not known to the master at {self._web_url}")
        if not app.active:
            return app
        try:
            response = self._http.post("/app/kill/", data={"id": app_id, "terminate": "true"})
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(
                SERVICE_NAME, f"could not ask {self._web_url} to kill {app_id} ({type(exc).__name__}: {exc})"
            ) from exc
        if response.status_code >= 400:
            raise ServiceUnavailable(
                SERVICE_NAME, f"{self._web_url}/app/kill/ answered HTTP {response.status_code} for {app_id}"
            )
        deadline = time.monotonic() + self._kill_wait_s
        while True:
            current = self.cluster_state().application(app_id)
            if current is None or not current.active:
                return current or app
            if time.monotonic() >= deadline:
                raise PlatformError(
                    f"the Spark master at {self._web_url} did not stop {app_id} within {self._kill_wait_s:.0f}s; "
                    "check that spark.ui.killEnabled is not false on the master"
                )
            time.sleep(0.25)
