"""Dagster's code server, webserver and daemon, and the instance's ``dagster.yaml`` and ``workspace.yaml``.

The code server is a service of its own, as in the compose deployment: it loads the platform's definitions once and
launches the runs. The webserver and the daemon load the code location from it over gRPC; loaded from the module,
the daemon would start a fresh code server (and import the platform again) every minute.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from iot_platform.clients.dagster import code_server_status, daemon_heartbeats
from iot_platform.profiles import profile_spec
from iot_platform.settings import Settings
from iot_platform.stack.service import Health, Service, http_ok, venv_bin

DAEMONS = frozenset({"SCHEDULER", "SENSOR", "QUEUED_RUN_COORDINATOR"})
"""Daemons that must heartbeat for the platform's schedules, sensors and run queue to work."""


def dagster_config(settings: Settings) -> dict[str, object]:
    """The instance configuration: telemetry off, one run at a time (Spark jobs share two cores), the
    profile's storage."""
    config: dict[str, object] = {
        "telemetry": {"enabled": False},
        "concurrency": {"runs": {"max_concurrent_runs": 1}, "pools": {"default_limit": 1}},
        # A queued run is launched within a second (Dagster's default looks every 5 s): part of launch-to-commit.
        "run_coordinator": {
            "module": "dagster.core.run_coordinator",
            "class": "QueuedRunCoordinator",
            "config": {"dequeue_interval_seconds": 1},
        },
        "freshness": {"enabled": True},
        "run_monitoring": {"enabled": True, "poll_interval_seconds": 30},
        "sensors": {"use_threads": True, "num_workers": 4},
        "schedules": {"use_threads": True, "num_workers": 2},
    }
    config["retention"] = tick_retention(settings)
    storage = profile_spec(settings.profile).dagster_storage(settings)
    if storage is not None:
        config["storage"] = storage
    return config


def tick_retention(settings: Settings) -> dict[str, object]:
    """The ``retention`` section: the daemon purges schedule and sensor ticks older than the configured days.

    Sensors tick every 15-60 s, almost always skipped, so skipped sensor ticks get a shorter life
    (``IOT_RETENTION_SKIPPED_TICKS_DAYS``) than the ticks that launched runs or failed (``IOT_RETENTION_TICKS_DAYS``).
    """
    days = settings.retention_ticks_days
    sensor_days = {"skipped": settings.retention_skipped_ticks_days, "success": days, "failure": days, "started": days}
    return {
        "schedule": {"purge_after_days": days},
        "sensor": {"purge_after_days": sensor_days},
        "auto_materialize": {"purge_after_days": sensor_days},
    }


def write_dagster_yaml(settings: Settings) -> Path:
    """Write ``$DAGSTER_HOME/dagster.yaml`` from :func:`dagster_config`."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    path = home / "dagster.yaml"
    path.write_text(json.dumps(dagster_config(settings), indent=2))  # JSON is YAML
    return path


CODE_LOCATION = "iot_platform"
"""The code location's name (as in ``pyproject.toml`` and the compose deployment)."""
DEFINITIONS_MODULE = "iot_platform.definitions"


def workspace_config(settings: Settings) -> dict[str, object]:
    """The workspace of the stack's webserver and daemon: the code server's gRPC endpoint."""
    server = {"host": settings.bind_host, "port": settings.dagster_code_port, "location_name": CODE_LOCATION}
    return {"load_from": [{"grpc_server": server}]}


def workspace_path(settings: Settings) -> Path:
    """``$DAGSTER_HOME/workspace.yaml``: the workspace the stack's webserver and daemon read."""
    return settings.dagster_home / "workspace.yaml"


def write_instance_files(settings: Settings) -> Path:
    """Write ``$DAGSTER_HOME/dagster.yaml`` (:func:`dagster_config`) and :func:`workspace_path`
    (:func:`workspace_config`); return the workspace's path."""
    write_dagster_yaml(settings)
    path = workspace_path(settings)
    path.write_text(json.dumps(workspace_config(settings), indent=2))  # JSON is YAML
    return path


class DagsterCodeServer(Service):
    """The platform's Dagster code server: serves the definitions to the webserver and the daemon and runs every
    launched run in a process of its own."""

    name = "dagster-code"

    def ports(self) -> dict[str, int]:
        return {"IOT_DAGSTER_CODE_PORT": self.settings.dagster_code_port}

    def endpoints(self) -> dict[str, str]:
        return {"grpc": f"{self.settings.bind_host}:{self.settings.dagster_code_port}"}

    def prepare(self) -> None:
        write_instance_files(self.settings)

    def command(self) -> list[str]:
        return [
            venv_bin("dagster"),
            "code-server",
            "start",
            "-h",
            self.settings.bind_host,
            "-p",
            str(self.settings.dagster_code_port),
            "-m",
            DEFINITIONS_MODULE,
            "--location-name",
            CODE_LOCATION,
        ]

    def health(self) -> Health:
        return code_server_health(self.settings.bind_host, self.settings.dagster_code_port)


def code_server_health(host: str, port: int) -> Health:
    """Whether the code server at ``host:port`` answers and has loaded the definitions."""
    import socket

    try:  # the port first: gRPC's client prints every refused connection while the server starts
        socket.create_connection((host, port), timeout=1.0).close()
    except OSError as exc:
        return Health(False, f"no answer on {host}:{port} ({exc.strerror or type(exc).__name__})")
    try:
        status = code_server_status(host, port)
    except Exception as exc:  # any gRPC failure: not serving yet, or gone
        return Health(False, f"no answer on {host}:{port} ({type(exc).__name__})")
    if status != "SERVING":
        return Health(False, f"{host}:{port} answers {status}")
    return Health(True, f"serving {CODE_LOCATION} on {host}:{port}")


class DagsterWebserver(Service):
    """Dagster's webserver (UI and GraphQL) on the platform's code location."""

    name = "dagster-webserver"

    def ports(self) -> dict[str, int]:
        return {"IOT_DAGSTER_PORT": self.settings.dagster_port}

    def endpoints(self) -> dict[str, str]:
        return {"url": self.settings.dagster_web_url}

    def prepare(self) -> None:
        write_instance_files(self.settings)

    def command(self) -> list[str]:
        return [
            venv_bin("dagster-webserver"),
            "-w",
            str(workspace_path(self.settings)),
            "-h",
            self.settings.bind_host,
            "-p",
            str(self.settings.dagster_port),
        ]

    def health(self) -> Health:
        return http_ok(f"{self.settings.dagster_web_url}/server_info")


class DagsterDaemon(Service):
    """Dagster's daemon: runs schedules, sensors and the run queue."""

    name = "dagster-daemon"

    def prepare(self) -> None:
        write_instance_files(self.settings)

    def command(self) -> list[str]:
        return [venv_bin("dagster-daemon"), "run", "-w", str(workspace_path(self.settings))]

    def health(self) -> Health:
        heartbeats = daemon_heartbeats(self.settings.dagster_home)
        fresh = [name for name, beat in heartbeats.items() if time.time() - beat < 90]
        missing = DAEMONS - set(fresh)
        if missing:
            return Health(False, f"no recent heartbeat from {', '.join(sorted(missing))}")
        return Health(True, f"{len(fresh)} daemons heartbeating")
