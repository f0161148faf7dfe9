"""Shared pieces of the benchmarks: a private stack, peak-memory sampling of the JVMs and Python processes."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from iot_platform.settings import Settings, load_settings
from iot_platform.stack.service import exported_environment, settings_environment
from iot_platform.stack.stack import Stack

REPO = Path(__file__).resolve().parent.parent
CORE = ["kafka", "spark-master", "spark-worker", "catalog"]
BENCH_PORTS = {
    "kafka_port": 19192,
    "kafka_controller_port": 19193,
    "spark_master_port": 17177,
    "spark_master_web_port": 18180,
    "spark_worker_web_port": 18181,
    "spark_connect_port": 15102,
    "spark_connect_ui_port": 14140,
    "dagster_port": 13100,
    "dagster_code_port": 14266,
    "api_port": 18100,
}


@contextmanager
def bench_stack(name: str, services: Sequence[str] = CORE, **overrides: Any) -> Iterator[Settings]:
    """A private stack (default: Kafka, Spark master + worker, catalog) in a temporary state folder; every service
    it runs, including ones a benchmark starts later (``Stack(settings).up(only=[...])``), is stopped afterwards.

    The download cache is the repository's, so only the first benchmark on a machine downloads anything.
    ``overrides`` are further settings (e.g. ``api_token``, or ``schedules_enabled=True`` and
    ``generator_enabled=True`` for a stack that runs as the platform does; both are off by default).
    """
    root = Path(tempfile.mkdtemp(prefix=f"iot-bench-{name}-"))
    cache = Path(os.environ.get("IOT_CACHE_DIR", REPO / ".iot-platform" / "cache"))
    settings = load_settings(
        state_dir=root,
        IOT_CACHE_DIR=cache,
        **{"generator_enabled": False, "schedules_enabled": False, **BENCH_PORTS, **overrides},
    )
    stack = Stack(settings)
    # A benchmark stopped with SIGTERM (e.g. by `timeout`) still stops its stack.
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        stack.up(only=list(services))
        with exported_environment(settings_environment(settings)):
            yield settings
    finally:
        stack.down()
        shutil.rmtree(root, ignore_errors=True)
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def warm_server(settings: Settings) -> Iterator[None]:
    """The stack's Spark Connect server (``spark-connect``) running for the block, stopped afterwards.

    An idle server holds one core, so figures of the per-run-application design are taken before the block and
    figures of the warm server inside it.
    """
    stack = Stack(settings)
    stack.up(only=["spark-connect"])
    try:
        yield
    finally:
        stack.down(only=["spark-connect"])


def speed_verdict(warm_s: float, per_run_s: float) -> str:
    """``warm/per-run`` time ratio and whether the warm server is at least as fast (ratio <= 1)."""
    ratio = warm_s / per_run_s
    return f"time warm/per-run {ratio:.2f} ({'holds' if ratio <= 1.0 else 'SLOWER on the warm server'})"


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return 0
    return 0


class PeakMemory:
    """Samples the summed RSS of processes whose command line matches, every 0.2 s; keeps the peak."""

    def __init__(self, *needles: str) -> None:
        self.needles = needles
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _matching(self) -> list[int]:
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                continue
            if any(needle in cmdline for needle in self.needles):
                pids.append(int(entry.name))
        return pids

    def _run(self) -> None:
        while not self._stop.is_set():
            total = sum(_rss_kib(pid) for pid in self._matching())
            self.peak_kib = max(self.peak_kib, total)
            time.sleep(0.2)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mib(self) -> float:
        return self.peak_kib / 1024
