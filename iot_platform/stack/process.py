"""Background processes of the local stack: start detached, remember by pid file, stop the whole group."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from iot_platform.errors import PortInUse
from iot_platform.stack.log_writer import wrapped_command


@dataclass(frozen=True)
class PidRecord:
    """A started process: its pid and its kernel start time, so a recycled pid is never mistaken for ours."""

    pid: int
    start_ticks: int

    def alive(self) -> bool:
        ticks = process_start_ticks(self.pid)
        return ticks is not None and ticks == self.start_ticks


def process_start_ticks(pid: int) -> int | None:
    """Start time of a process in clock ticks since boot (``/proc/<pid>/stat`` field 22), None if gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) may hold spaces; fields after the closing parenthesis are fixed.
    fields = raw[raw.rindex(")") + 2 :].split()
    if fields[0] == "Z":  # a zombie is not a running service
        return None
    return int(fields[19])


def read_pid(pid_file: Path) -> PidRecord | None:
    try:
        pid_text, ticks_text = pid_file.read_text().split()
        return PidRecord(int(pid_text), int(ticks_text))
    except (FileNotFoundError, ValueError):
        return None


def spawn(
    cmd: list[str],
    *,
    pid_file: Path,
    log_file: Path,
    env: dict[str, str],
    cwd: Path | None = None,
    user: str | None = None,
    log_cap: tuple[int, int] | None = None,
) -> PidRecord:
    """Start ``cmd`` in its own session (process group), output appended to ``log_file``, pid recorded.

    Args:
        log_cap: ``(max_bytes, backups)``: run ``cmd`` under the rotating log writer, so its output never takes
            more than about ``(backups + 1) * max_bytes``; None appends to ``log_file`` without bound.
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log, open(os.devnull, "rb") as devnull:
        log.write(f"\n=== {time.strftime('%Y-%m-%dT%H:%M:%S%z')} starting: {' '.join(cmd)}\n".encode())
        log.flush()
        if log_cap is not None:
            # The writer starts the service as ``user`` itself; its own errors (if any) land in the log.
            cmd, user = wrapped_command(cmd, log_file, *log_cap, user), None
        proc = subprocess.Popen(
            cmd,
            stdin=devnull,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
            user=user,
        )
    ticks = process_start_ticks(proc.pid) or 0
    record = PidRecord(proc.pid, ticks)
    pid_file.write_text(f"{record.pid} {record.start_ticks}\n")
    return record


def process_stats() -> Iterator[tuple[int, list[str]]]:
    """Every process's pid and the fields of its ``/proc/<pid>/stat`` after the command name (state first)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        yield int(entry.name), raw[raw.rindex(")") + 2 :].split()


def group_members(pgid: int) -> list[int]:
    """Pids of every live process in a process group (ours only: we created the group)."""
    return [pid for pid, fields in process_stats() if fields[0] != "Z" and int(fields[2]) == pgid]


def stop_group(record: PidRecord, *, sig: int = signal.SIGTERM, timeout_s: float = 30.0) -> bool:
    """Signal the process group of ``record``, wait, then SIGKILL what is left. True if it was running."""
    if not record.alive():
        # The leader is gone; children left in its group still go.
        leftovers = group_members(record.pid)
        for pid in leftovers:
            _kill(pid, signal.SIGKILL)
        return False
    try:
        os.killpg(record.pid, sig)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        _reap(record.pid)
        if not record.alive() and not group_members(record.pid):
            return True
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(record.pid, signal.SIGKILL)
    for _ in range(50):
        _reap(record.pid)
        if not record.alive() and not group_members(record.pid):
            break
        time.sleep(0.1)
    return True


def _kill(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _reap(pid: int) -> None:
    """Collect the exit status if ``pid`` is our own child (when the stack runs in-process, e.g. in tests)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def port_open(host: str, port: int, timeout_s: float = 0.5) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def ensure_port_free(host: str, port: int, setting: str, service: str) -> None:
    """Raise a one-line :class:`PortInUse` when another process holds a port a service needs."""
    if port_open(host, port):
        raise PortInUse(
            f"{service}: port {port} on {host} is in use by another process; stop it or set {setting} to a free port"
        )
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise PortInUse(
                f"{service}: cannot bind {host}:{port} ({exc.strerror}); set {setting} to a free port"
            ) from None
