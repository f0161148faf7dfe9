"""A service's output, bounded: the stack runs every service under this writer, which copies the service's
stdout and stderr into its log file and rotates the file at a size cap (``<log>``, ``<log>.1`` ... ``<log>.K``).

Run as ``python -m iot_platform.stack.log_writer --log FILE --max-bytes N --backups K [--user U] -- CMD...``.
The writer and the service share a process group, so the stack stops both with one signal: the writer ignores
the stop signals, copies what the service writes while it shuts down, and exits with the service's exit code
once the service's output closes. Standard library only, so it starts fast and imports nothing of the platform.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

CHUNK_BYTES = 64 * 1024


class RotatingLog:
    """An append-only log file that moves aside when the next write would pass ``max_bytes``.

    At most ``backups`` rotated files are kept, so the log never takes more than ``(backups + 1) * max_bytes``
    (plus one chunk: a write is never split).
    """

    def __init__(self, path: Path, max_bytes: int, backups: int) -> None:
        if max_bytes < 1 or backups < 1:
            raise ValueError("max_bytes and backups must be at least 1")
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("ab")

    def write(self, data: bytes) -> None:
        """Append ``data``, rotating first when the file would grow past the cap."""
        # The file's own size, not a count of our writes: one-off preparation commands append to it too.
        size = os.fstat(self._file.fileno()).st_size
        if size > 0 and size + len(data) > self.max_bytes:
            self.rotate()
        self._file.write(data)
        self._file.flush()

    def rotate(self) -> None:
        """Shift ``<log>.i`` to ``<log>.i+1`` (dropping the oldest) and start an empty ``<log>``."""
        self._file.close()
        for index in range(self.backups - 1, 0, -1):
            older = rotated_path(self.path, index)
            if older.exists():
                older.replace(rotated_path(self.path, index + 1))
        if self.path.exists():
            self.path.replace(rotated_path(self.path, 1))
        self._file = self.path.open("ab")

    def close(self) -> None:
        self._file.close()


def rotated_path(path: Path, index: int) -> Path:
    """The ``index``-th rotated file of the log ``path`` (1 is the newest)."""
    return path.with_name(f"{path.name}.{index}")


def log_files(path: Path) -> list[Path]:
    """The log's existing files, oldest first, the current one last."""
    indexes = sorted(
        (
            int(file.name[len(path.name) + 1 :])
            for file in path.parent.glob(f"{path.name}.*")
            if file.name[len(path.name) + 1 :].isdigit()
        ),
        reverse=True,
    )
    return [rotated_path(path, index) for index in indexes] + ([path] if path.exists() else [])


def tail_lines(path: Path, lines: int) -> list[str]:
    """The last ``lines`` lines of the log, reaching into rotated files when the current one holds fewer."""
    collected: list[str] = []
    for file in reversed(log_files(path)):
        collected = file.read_text(errors="replace").splitlines() + collected
        if len(collected) >= lines:
            break
    return collected[-lines:] if lines > 0 else []


def wrapped_command(cmd: Sequence[str], log: Path, max_bytes: int, backups: int, user: str | None) -> list[str]:
    """The command line that runs ``cmd`` under the writer."""
    wrapped = [sys.executable, "-m", "iot_platform.stack.log_writer", "--log", str(log)]
    wrapped += ["--max-bytes", str(max_bytes), "--backups", str(backups)]
    if user:
        wrapped += ["--user", user]
    return [*wrapped, "--", *cmd]


def copy_output(proc: subprocess.Popen[bytes], log: RotatingLog) -> int:
    """Copy the service's output into ``log`` until it closes; the service's exit code."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    while True:
        try:
            data = os.read(fd, CHUNK_BYTES)
        except InterruptedError:  # pragma: no cover - PEP 475 retries, kept for clarity
            continue
        if not data:
            break
        log.write(data)
    return proc.wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Start the service, copy its output, return its exit code."""
    parser = argparse.ArgumentParser(prog="log_writer", description=__doc__)
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--max-bytes", type=int, required=True)
    parser.add_argument("--backups", type=int, required=True)
    parser.add_argument("--user")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command to run")
    log = RotatingLog(args.log, args.max_bytes, args.backups)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    try:
        with open(os.devnull, "rb") as devnull:
            proc = subprocess.Popen(
                command,
                stdin=devnull,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                user=args.user,
                # The service gets the default handlers back: it must stop on the signals the writer ignores.
                restore_signals=True,
                preexec_fn=_default_stop_signals,
            )
        return copy_output(proc, log)
    finally:
        log.close()


def _default_stop_signals() -> None:
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


if __name__ == "__main__":
    sys.exit(main())
