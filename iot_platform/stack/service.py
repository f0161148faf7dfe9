"""What every service of the local stack shares: the lifecycle, health and status, and the child environment."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import httpx
from pydantic import SecretStr

from iot_platform.errors import StackError
from iot_platform.settings import Settings
from iot_platform.stack import artifacts
from iot_platform.stack.log_writer import tail_lines
from iot_platform.stack.process import PidRecord, ensure_port_free, read_pid, spawn, stop_group


@dataclass
class Health:
    """Result of one health probe."""

    ok: bool
    detail: str = ""


@dataclass
class ServiceStatus:
    """What ``stack status`` reports for one service."""

    name: str
    state: str  # healthy | unhealthy | stopped | off (left off on purpose)
    detail: str = ""
    pid: int | None = None
    log: str | None = None
    endpoints: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """The service's entry in ``stack status --json``."""
        return {
            "state": self.state,
            "detail": self.detail,
            "pid": self.pid,
            "log": self.log,
            "endpoints": self.endpoints,
        }


class Service:
    """A process the stack starts and stops. Subclasses fill in the command and the health probe."""

    name: str = ""
    stop_signal: int = signal.SIGTERM
    stop_timeout_s: float = 30.0

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    # --- paths ---------------------------------------------------------------------------------------------
    @property
    def pid_file(self) -> Path:
        return self.settings.run_dir / f"{self.name}.pid"

    @property
    def off_file(self) -> Path:
        return self.settings.run_dir / f"{self.name}.off"

    def mark_off(self, off: bool) -> None:
        """Remember that the last full ``stack up`` left this service off on purpose (or not)."""
        if off:
            self.off_file.parent.mkdir(parents=True, exist_ok=True)
            self.off_file.touch()
        else:
            self.off_file.unlink(missing_ok=True)

    @property
    def log_file(self) -> Path:
        return self.settings.logs_dir / f"{self.name}.log"

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir / self.name

    # --- to override -----------------------------------------------------------------------------------------
    def ports(self) -> dict[str, int]:
        """Ports this service listens on, keyed by the setting that configures each."""
        return {}

    def endpoints(self) -> dict[str, str]:
        return {}

    def prepare(self) -> None:
        """Downloads and one-time initialisation (idempotent). Runs before the port check and start."""

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return child_environment(self.settings)

    def run_as(self) -> str | None:
        return None

    def health(self) -> Health:
        raise NotImplementedError

    def after_start(self) -> None:
        """Work once the service is healthy (e.g. create a topic). Idempotent."""

    # --- lifecycle -------------------------------------------------------------------------------------------
    def record(self) -> PidRecord | None:
        return read_pid(self.pid_file)

    def running(self) -> bool:
        record = self.record()
        return record is not None and record.alive()

    def start(self) -> bool:
        """Start unless running. Returns True if a process was started."""
        if self.running():
            return False
        self.prepare()
        for setting, port in self.ports().items():
            ensure_port_free(self.settings.bind_host, port, setting, self.name)
        spawn(
            self.command(),
            pid_file=self.pid_file,
            log_file=self.log_file,
            env=self.environment(),
            cwd=Path.cwd(),
            user=self.run_as(),
            log_cap=(self.settings.log_max_mb * 1024 * 1024, self.settings.log_backups),
        )
        return True

    def wait_healthy(self, timeout_s: float) -> None:
        """Block until healthy; raise a one-line StackError naming the service, the reason and its log."""
        deadline = time.monotonic() + timeout_s
        last = Health(False, "no answer yet")
        while time.monotonic() < deadline:
            if not self.running():
                raise StackError(
                    f"{self.name} exited during start: {self.last_error() or 'no error in log'}; see {self.log_file}"
                )
            last = self.probe()
            if last.ok:
                self.after_start()
                return
            time.sleep(0.5)
        raise StackError(f"{self.name} not healthy after {timeout_s:.0f}s: {last.detail}; see {self.log_file}")

    def stop(self) -> bool:
        record = self.record()
        if record is None:
            return False
        stopped = stop_group(record, sig=self.stop_signal, timeout_s=self.stop_timeout_s)
        self.pid_file.unlink(missing_ok=True)
        return stopped

    def status(self) -> ServiceStatus:
        record = self.record()
        if record is None or not record.alive():
            if self.off_file.exists():
                return ServiceStatus(self.name, "off", "left off by `stack up`", log=str(self.log_file))
            return ServiceStatus(self.name, "stopped", log=str(self.log_file))
        health = self.probe()
        return ServiceStatus(
            self.name,
            "healthy" if health.ok else "unhealthy",
            health.detail,
            record.pid,
            str(self.log_file),
            self.endpoints(),
        )

    def probe(self) -> Health:
        """The health probe's answer; a probe that raises is an unhealthy answer naming the error."""
        try:
            return self.health()
        except Exception as exc:
            return Health(False, f"{type(exc).__name__}: {exc}")

    def run_logged(
        self,
        cmd: list[str],
        *,
        what: str,
        error: type[StackError] = StackError,
        user: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        """Run a one-off preparation command (format, initdb, install) with its output in the service's log.

        Args:
            cmd: The command line.
            what: What the command does, for the failure message.
            error: The error raised on failure (``DownloadError`` for installs).
            user: Run as this user (the service's own, when the stack runs as root).
            env: The command's environment (default: ours).

        Raises:
            StackError: the command failed; the message names what failed, the last error line and the log.
        """
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            result = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, user=user, check=False)
        if result.returncode != 0:
            raise error(f"{self.name}: {what} failed: {self.last_error() or 'no error in log'}; see {self.log_file}")

    def last_error(self) -> str:
        """The last line of the log that looks like an error, for one-line failure messages."""
        lines = tail_lines(self.log_file, 400)
        markers = ("ERROR", "Exception", "Error:", "FATAL", "error:")
        for line in reversed(lines):
            if any(marker in line for marker in markers):
                return line.strip()[:300]
        return ""


def child_environment(settings: Settings) -> dict[str, str]:
    """Environment for child processes: ours, with the state folders made absolute so every child agrees."""
    env = dict(os.environ)
    env.update(settings_environment(settings))
    env["DAGSTER_HOME"] = str(settings.dagster_home)
    env["SPARK_LOCAL_IP"] = settings.bind_host
    env["PYSPARK_PYTHON"] = sys.executable
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    java = artifacts.java_executable(settings.java_home)
    env["JAVA_HOME"] = str(Path(java).resolve().parent.parent)
    return env


def settings_environment(settings: Settings) -> dict[str, str]:
    """Every setting as its ``IOT_*`` variable, so a child process builds exactly the same settings."""
    env: dict[str, str] = {}
    for name, value in settings.model_dump(by_alias=False).items():
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, Enum):
            value = value.value
        env[f"IOT_{name.upper()}"] = str(value)
    env.pop("IOT_CACHE_DIR_OVERRIDE", None)
    env["IOT_STATE_DIR"] = str(settings.state_dir)
    env["IOT_CACHE_DIR"] = str(settings.cache_dir)
    return env


@contextmanager
def exported_environment(env: dict[str, str]) -> Iterator[None]:
    """Set these variables in this process's environment for the block, then restore what was there before."""
    previous = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def venv_bin(name: str) -> str:
    """A console script installed beside the running interpreter."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise StackError(f"{name} is not installed; run `pip install -e .` in the platform's environment")
    return found


def http_ok(url: str, timeout_s: float = 2.0) -> Health:
    """Healthy when ``url`` answers HTTP 200 within the timeout."""
    try:
        response = httpx.get(url, timeout=timeout_s)
    except httpx.HTTPError as exc:
        return Health(False, f"{url}: {type(exc).__name__}")
    return Health(response.status_code == 200, f"{url}: HTTP {response.status_code}")
