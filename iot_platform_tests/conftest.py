"""Shared fixtures. Integration tests get a real running stack from :func:`stack_settings`.

The test stack has its own state folder and ports (so it never touches a stack a developer runs with the
defaults) and shares the download cache. It is started once per session and stopped at the end.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from iot_platform.settings import Settings, load_settings

REPO_ROOT = Path(__file__).resolve().parent.parent

TEST_PORTS = {
    "kafka_port": 29092,
    "kafka_controller_port": 29093,
    "spark_master_port": 27077,
    "spark_master_web_port": 28080,
    "spark_worker_web_port": 28081,
    "spark_connect_port": 25002,
    "spark_connect_ui_port": 24040,
    "dagster_port": 23000,
    "dagster_code_port": 24266,
    "api_port": 28000,
    "postgres_port": 25433,
    "s3_port": 29000,
}


SLOT_COUNT = 4
PORT_STEP = 5
"""Test sessions running at once on one machine (CI, a developer) each take a slot: ports shift by slot * step."""


def _acquire_slot() -> tuple[int, IO[str]]:
    for slot in range(SLOT_COUNT):
        handle = open(f"/tmp/iot-platform-test-slot-{slot}.lock", "w")  # noqa: SIM115 - held for the session
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        return slot, handle
    raise RuntimeError(f"all {SLOT_COUNT} test slots are taken by other test sessions on this machine")


SLOT, _SLOT_LOCK = _acquire_slot()


def test_settings(state_name: str = "test", **overrides: object) -> Settings:
    """Settings of a test stack: its own state folder under the repo's, the shared cache, test ports.

    Every port (the defaults here and any override) is shifted by this session's slot.
    """
    base = Path(os.environ.get("IOT_STATE_DIR", REPO_ROOT / ".iot-platform"))
    cache = Path(os.environ.get("IOT_CACHE_DIR", base / "cache"))
    values: dict[str, object] = {
        "state_dir": base / (state_name if SLOT == 0 else f"{state_name}-slot{SLOT}"),
        "IOT_CACHE_DIR": cache,
        "generator_enabled": False,
        "schedules_enabled": False,
        "api_token": "test-token",
        **TEST_PORTS,
    }
    values.update(overrides)
    for key, value in list(values.items()):
        if key.endswith("_port") and isinstance(value, int):
            values[key] = value + SLOT * PORT_STEP
    return load_settings(**values)


test_settings.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


@pytest.fixture(scope="session")
def stack_settings() -> Iterator[Settings]:
    """A running test stack (Kafka, Spark master + worker, Iceberg catalog, and Dagster/API when built).

    Fails loudly (never skips) when a service cannot start.
    """
    from iot_platform.stack.service import exported_environment, settings_environment
    from iot_platform.stack.stack import Stack

    settings = test_settings()
    stack = Stack(settings, echo=print)
    os.chdir(REPO_ROOT)
    try:
        stack.up(without=["generator"])
    except Exception as exc:
        stack.down()
        pytest.fail(f"the test stack did not start: {exc}", pytrace=False)
    try:
        # Code under test calls load_settings(): it reads the test stack's settings from the environment.
        with exported_environment(settings_environment(settings)):
            yield settings
    finally:
        stack.down()
