"""Service logs stay bounded: the rotating writer every stack service runs under."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from iot_platform.stack.log_writer import RotatingLog, log_files, rotated_path, tail_lines
from iot_platform.stack.process import read_pid, spawn, stop_group


def test_the_log_rotates_at_the_cap_and_keeps_only_the_backups(tmp_path: Path) -> None:
    path = tmp_path / "svc.log"
    log = RotatingLog(path, max_bytes=100, backups=2)
    for index in range(10):
        log.write(f"line {index:02d} ".encode() * 4 + b"\n")  # 33 bytes: three lines per file
    log.close()
    assert log_files(path) == [rotated_path(path, 2), rotated_path(path, 1), path]
    assert all(file.stat().st_size <= 100 for file in log_files(path))
    assert tail_lines(path, 3)[0].startswith("line 07")
    assert tail_lines(path, 100)[0].startswith("line 03"), "the oldest lines beyond the backups are gone"


def test_a_log_from_before_the_cap_is_moved_aside_on_the_first_write(tmp_path: Path) -> None:
    path = tmp_path / "svc.log"
    path.write_bytes(b"x" * 500)
    log = RotatingLog(path, max_bytes=100, backups=1)
    log.write(b"fresh\n")
    log.close()
    assert path.read_bytes() == b"fresh\n"
    assert rotated_path(path, 1).stat().st_size == 500


def test_a_service_under_the_writer_is_bounded_and_stops_with_its_last_words(tmp_path: Path) -> None:
    path = tmp_path / "svc.log"
    pid_file = tmp_path / "svc.pid"
    script = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *_: (print('stopping cleanly', flush=True), sys.exit(0)))\n"
        "for i in range(2000): print(f'{i:06d} ' + 'y' * 120, flush=True)\n"
        "print('ready', flush=True)\n"
        "while True: time.sleep(0.1)\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    spawn([sys.executable, "-c", script], pid_file=pid_file, log_file=path, env=env, log_cap=(20_000, 2))
    record = read_pid(pid_file)
    assert record is not None
    deadline = time.monotonic() + 30
    while "ready" not in "".join(tail_lines(path, 1)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert tail_lines(path, 1) == ["ready"]
    assert stop_group(record, sig=signal.SIGTERM, timeout_s=20)
    assert tail_lines(path, 1) == ["stopping cleanly"], "the writer copies what the service writes while stopping"
    files = log_files(path)
    assert len(files) == 3
    assert sum(file.stat().st_size for file in files) <= 3 * (20_000 + 64 * 1024)
    assert not record.alive()
