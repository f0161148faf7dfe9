"""Cold and warm `stack up` times (services: Kafka, Spark master + worker, catalog).

Cold: a new state folder and an empty download cache (jars resolved from Maven Central).
Warm: the same state folder after `stack down` (nothing downloaded, storage already formatted).
Target: warm start <= 60 s on 2 cores. Run: .venv/bin/python bench/stack_startup.py
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from iot_platform.settings import load_settings
from iot_platform.stack.stack import Stack

CORE = ["kafka", "spark-master", "spark-worker", "catalog"]
PORTS = {
    "kafka_port": 19092,
    "kafka_controller_port": 19093,
    "spark_master_port": 17077,
    "spark_master_web_port": 18080,
    "spark_worker_web_port": 18081,
    "spark_connect_port": 16002,
    "spark_connect_ui_port": 14040,
    "dagster_port": 13000,
    "dagster_code_port": 14166,
    "api_port": 18000,
}


def timed_up(stack: Stack) -> float:
    began = time.monotonic()
    stack.up(only=CORE)
    return time.monotonic() - began


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="iot-bench-stack-"))
    try:
        settings = load_settings(state_dir=root / "state", generator_enabled=False, **PORTS)
        stack = Stack(settings)
        try:
            cold = timed_up(stack)
        finally:
            stack.down()
        warm_runs = []
        for _ in range(2):
            try:
                warm_runs.append(timed_up(stack))
            finally:
                stack.down()
        warm = min(warm_runs)
        print(f"stack up cold (empty cache, new state): {cold:6.1f} s")
        print(
            f"stack up warm (cached, formatted):      {warm:6.1f} s  (runs: {', '.join(f'{w:.1f}' for w in warm_runs)})"
        )
        print(f"warm/cold ratio: {warm / cold:.2f}   target warm <= 60 s: {'met' if warm <= 60 else 'MISSED'}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
