"""Dagster's webserver and daemon on the platform's code location, and the instance's ``dagster.yaml``."""

from __future__ import annotations

import json
import time
from pathlib import Path

from iot_platform.clients.dagster import daemon_heartbeats
from iot_platform.errors import StackError
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


def _workspace() -> str:
    workspace = Path.cwd() / "workspace.yaml"
    if not workspace.exists():
        raise StackError(f"no workspace.yaml in {Path.cwd()}: run the stack from the platform's folder")
    return str(workspace)


class DagsterWebserver(Service):
    """Dagster's webserver (UI and GraphQL) on the platform's code location."""

    name = "dagster-webserver"

    def ports(self) -> dict[str, int]:
        return {"IOT_DAGSTER_PORT": self.settings.dagster_port}

    def endpoints(self) -> dict[str, str]:
        return {"url": self.settings.dagster_web_url}

    def prepare(self) -> None:
        write_dagster_yaml(self.settings)

    def command(self) -> list[str]:
        return [
            venv_bin("dagster-webserver"),
            "-w",
            _workspace(),
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
        write_dagster_yaml(self.settings)

    def command(self) -> list[str]:
        return [venv_bin("dagster-daemon"), "run", "-w", _workspace()]

    def health(self) -> Health:
        heartbeats = daemon_heartbeats(self.settings.dagster_home)
        fresh = [name for name, beat in heartbeats.items() if time.time() - beat < 90]
        missing = DAEMONS - set(fresh)
        if missing:
            return Health(False, f"no recent heartbeat from {', '.join(sorted(missing))}")
        return Health(True, f"{len(fresh)} daemons heartbeating")
