"""Late readings re-open exactly their hour, with no manual step: the real Dagster daemon does it."""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid

import pytest
from dagster import AssetKey, DagsterInstance, DagsterRunStatus, RunsFilter
from dagster_graphql import DagsterGraphQLClient

from iot_platform.assets.hourly_stats import LATE_DATA_TAG, LATE_READINGS_TAG
from iot_platform.jobs import HOURLY_STATS_JOB, INGEST_JOB
from iot_platform.settings import Settings
from iot_platform_tests.integration.pipeline_support import hour_key, produce, reading
from iot_platform_tests.integration.test_hourly_stats import assert_matches, expected_stats, stored_stats

pytestmark = pytest.mark.integration

TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}


def _wait(client: DagsterGraphQLClient, run_id: str, timeout_s: float = 600) -> str:
    deadline = time.monotonic() + timeout_s
    status = "QUEUED"
    while time.monotonic() < deadline:
        status = client.get_run_status(run_id).value
        if status in TERMINAL:
            return status
        time.sleep(3)
    return status


def test_late_readings_rebuild_their_hour_automatically(stack_settings: Settings) -> None:
    prefix = f"L{uuid.uuid4().hex[:6].upper()}"
    # A recent hour: late data re-opens hours inside IOT_LATE_DATA_HORIZON_HOURS (48 h) only.
    now = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    hour = now - dt.timedelta(hours=random.SystemRandom().randrange(3, 40))
    on_time = [reading(f"{prefix}-1", hour + dt.timedelta(seconds=20 * i), 20.0 + i % 7) for i in range(60)]
    late = [reading(f"{prefix}-1", hour + dt.timedelta(seconds=20 * i + 7), 30.0 + i % 3) for i in range(25)]
    late_other_sensor = [reading(f"{prefix}-2", hour + dt.timedelta(minutes=50), 25.0)]
    client = DagsterGraphQLClient(stack_settings.bind_host, port_number=stack_settings.dagster_port)

    produce(stack_settings, on_time)
    run_id = client.submit_job_execution(HOURLY_STATS_JOB, tags={"dagster/partition": hour_key(hour)})
    assert _wait(client, run_id) == "SUCCESS"
    assert_matches(stored_stats(stack_settings, prefix), expected_stats(on_time))

    produce(stack_settings, late + late_other_sensor)
    ingest_id = client.submit_job_execution(INGEST_JOB)
    assert _wait(client, ingest_id) == "SUCCESS"

    # No one asks for it: the late-data sensor (ticking every 60 s in the daemon) re-runs exactly this hour.
    deadline = time.monotonic() + 420
    late_runs = []
    with DagsterInstance.from_config(str(stack_settings.dagster_home)) as instance:
        while time.monotonic() < deadline:
            late_runs = instance.get_runs(RunsFilter(tags={LATE_DATA_TAG: "true", "dagster/partition": hour_key(hour)}))
            if late_runs and late_runs[0].status in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE):
                break
            time.sleep(5)
        assert late_runs, "the late-data sensor requested no run for the hour"
        assert late_runs[0].status == DagsterRunStatus.SUCCESS
        assert late_runs[0].tags[LATE_READINGS_TAG] == str(len(late) + len(late_other_sensor))
        record = instance.get_latest_materialization_event(
            AssetKey("hourly_stats")  # the latest is the late-data update
        )
        assert record is not None and record.asset_materialization is not None
        metadata = record.asset_materialization.metadata
        assert metadata["late_data_update"].value is True
        assert metadata["late_readings"].value == len(late) + len(late_other_sensor)
        assert len(late_runs) == 1  # one run for the hour, not one per tick

    assert_matches(stored_stats(stack_settings, prefix), expected_stats(on_time + late + late_other_sensor))
