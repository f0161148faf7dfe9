"""The run names and the run-id shape shared by the Dagster definitions and the processes."""

from __future__ import annotations

import re

import pytest

from iot_platform import runs
from iot_platform.definitions import build_definitions
from iot_platform.settings import load_settings

RUN_ID = re.compile(rf"^{runs.RUN_ID_PATTERN}$")


def test_the_job_names_are_the_jobs_dagster_loads() -> None:
    defs = build_definitions(load_settings())
    assert defs.resolve_job_def(runs.INGEST_JOB).name == runs.INGEST_JOB
    assert defs.resolve_job_def(runs.HOURLY_STATS_JOB).name == runs.HOURLY_STATS_JOB


@pytest.mark.parametrize("run_id", ["0b6c6a1e-3f2d-4c1a-9a55-2d0e1f6b7c8d", "ABCDEF01-2345-6789-ABCD-EF0123456789"])
def test_a_dagster_run_id_matches(run_id: str) -> None:
    assert RUN_ID.match(run_id)


@pytest.mark.parametrize(
    "text", ["", "0b6c6a1e3f2d4c1a9a552d0e1f6b7c8d", "0b6c6a1e-3f2d-4c1a-9a55-2d0e1f6b7c8", "../etc/passwd", "g" * 36]
)
def test_anything_else_does_not(text: str) -> None:
    assert RUN_ID.match(text) is None
