"""Alert evaluation on the real stack: known faults produced to Kafka open exactly the expected episodes; a run with
no new data changes nothing; a late reading updates the episode it falls in (the rules run in the executors then, in
the run's process otherwise); a quiet sensor turns silent."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

from iot_platform import tables
from iot_platform.clients.iceberg import load_catalog
from iot_platform.jobs import INGEST_JOB
from iot_platform.pipelines.sensor_alerts import run as alerts_run
from iot_platform.settings import Settings
from iot_platform.transforms.alerts import alert_id
from iot_platform_tests.integration.pipeline_support import (
    materialization_metadata,
    own_topic,
    produce,
    reading,
    run_job,
)

pytestmark = [
    pytest.mark.integration,
    # Three ingestion runs (each ingests, then evaluates): on a crowded two-core machine they need more than the
    # default limit.
    pytest.mark.timeout(1800),
]

STEP = 10
"""Seconds between two readings of a test sensor."""
SILENT_S = 90


def registry(prefix: str) -> dict[str, Any]:
    """The test's registry: one temperature type with short windows, six sensors (the stranger is not listed)."""
    rules = {
        "threshold": {"min_readings": 3},
        "stuck": {"minutes": 1},
        "silent": {"seconds": SILENT_S},
        "rate_of_change": {"max_per_second": 0.5},
        "rejected_burst": {"window_minutes": 1, "min_records": 3, "max_share": 0.2},
    }
    no_rate = {"rules": {"rate_of_change": {"enabled": False}}}
    sensors = [{"id": f"{prefix}-{name}", "type": "temperature", "location": "lab"} for name in SENSORS]
    sensors[SENSORS.index("RANGE")]["overrides"] = no_rate
    return {
        "types": {
            "temperature": {
                "unit": "celsius",
                "expected_interval_s": STEP,
                "threshold_min": 15.0,
                "threshold_max": 35.0,
                "rules": rules,
            }
        },
        "sensors": sensors,
    }


SENSORS = ("FROZEN", "GAP", "SPIKE", "RANGE", "BURST", "QUIET")


def value(name: str, i: int) -> float | None:
    """The value of reading ``i`` (at ``base + 10 i`` s) of a test sensor; None: no reading."""
    normal = 20.0 + (i % 2) * 0.2
    if name == "FROZEN" and 6 <= i <= 23:
        return 21.5
    if name == "GAP" and 10 <= i <= 24:
        return None
    if name == "SPIKE" and i == 15:
        return 30.0
    if name == "RANGE" and i in (10, 11, 13):
        return 40.0
    if name == "RANGE" and i == 12:
        return None  # arrives late
    return normal


def stored(settings: Settings, prefix: str) -> dict[tuple[str, str, str], dict[str, Any]]:
    """The test's episodes by (sensor name, rule, state)."""
    table = load_catalog(settings).load_table(tables.SENSOR_ALERTS)
    rows = table.scan(row_filter=f"sensor_id LIKE '{prefix}-%'").to_arrow().to_pylist()
    by_key: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in rows:
        key = (row["sensor_id"].removeprefix(f"{prefix}-"), row["rule"], row["state"])
        assert key not in by_key, f"two episodes of {key}"
        by_key[key] = row
    return by_key


def seconds(row: dict[str, Any], base: dt.datetime) -> tuple[float | None, ...]:
    return tuple(
        None if row[name] is None else (row[name] - base).total_seconds()
        for name in ("started_at", "last_seen_at", "resolved_at")
    )


def test_faults_open_the_expected_episodes_reruns_change_nothing_and_late_data_updates(
    stack_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = f"A{uuid.uuid4().hex[:6].upper()}"
    path = tmp_path / "sensors.yaml"
    path.write_text(yaml.safe_dump(registry(prefix)))
    monkeypatch.setenv("IOT_SENSOR_REGISTRY", str(path))
    now = dt.datetime.now(dt.UTC)
    base = now.replace(second=0, microsecond=0) - dt.timedelta(minutes=20)
    at = {i: base + dt.timedelta(seconds=STEP * i) for i in range(30)}
    records = [
        reading(f"{prefix}-{name}", at[i], v)
        for name in (*SENSORS[:-1], "STRANGER")
        for i in range(30)
        if (v := value(name, i)) is not None
    ]
    quiet_last = now - dt.timedelta(seconds=5)
    records += [reading(f"{prefix}-QUIET", quiet_last - dt.timedelta(seconds=STEP * k), 20.0 + k) for k in range(5)]
    with own_topic(stack_settings, "alerts") as settings, dg.instance_for_test() as instance:
        produce(settings, records)
        for k in range(5):  # a burst of malformed records keyed by the sensor: window [120 s, 180 s)
            produce(
                settings,
                [b"{not json"],
                kafka_time=base + dt.timedelta(seconds=125 + k),
                key=f"{prefix}-BURST".encode(),
            )

        first = run_job(INGEST_JOB, instance)
        assert first.success
        episodes = stored(settings, prefix)
        last = 290.0
        assert {key: seconds(row, base) for key, row in episodes.items()} == {
            ("FROZEN", "stuck", "resolved"): (60.0, 230.0, 240.0),
            ("GAP", "silent", "resolved"): (90.0, 90.0, 250.0),
            ("SPIKE", "rate_of_change", "resolved"): (150.0, 160.0, 170.0),
            ("RANGE", "threshold", "resolved"): (100.0, 130.0, 140.0),
            ("BURST", "rejected_burst", "resolved"): (125.0, 129.0, 180.0),
            ("STRANGER", "unknown_sensor", "open"): (0.0, last, None),
            # Every sensor but the quiet one stopped at 290 s, long before the run: silent now.
            **{(name, "silent", "open"): (last, last, None) for name in (*SENSORS[:-1], "STRANGER")},
        }
        frozen = episodes[("FROZEN", "stuck", "resolved")]
        assert (frozen["readings"], frozen["peak_value"], frozen["state"]) == (18, 21.5, "resolved")
        assert frozen["alert_id"] == alert_id("stuck", f"{prefix}-FROZEN", at[6])
        spike = episodes[("SPIKE", "rate_of_change", "resolved")]
        assert (spike["readings"], spike["threshold"]) == (2, 0.5) and spike["peak_value"] == pytest.approx(1.0)
        in_range = episodes[("RANGE", "threshold", "resolved")]
        assert (in_range["readings"], in_range["peak_value"], in_range["threshold"]) == (3, 40.0, 35.0)
        burst = episodes[("BURST", "rejected_burst", "resolved")]
        assert (burst["readings"], burst["peak_value"]) == (5, pytest.approx(5 / 11))
        assert episodes[("GAP", "silent", "resolved")]["peak_value"] == 160.0
        metadata = materialization_metadata(first, "sensor_alerts")
        assert metadata["open_unknown_sensor"] >= 1 and metadata["open_silent"] >= 6

        produce(settings, [reading(f"{prefix}-RANGE", at[12], 45.0)])  # late, inside the resolved episode
        # This evaluation runs the rules in the executors (what an evaluation too large to collect does); the first
        # ran them in the run's process: the episodes they did not change must be identical.
        monkeypatch.setattr(alerts_run, "LOCAL_RULES_MAX_RECORDS", 0)
        assert run_job(INGEST_JOB, instance).success
        after_late = stored(settings, prefix)
        # The quiet sensor turns silent once its limit has passed: on a crowded machine, possibly in this run.
        after_late.pop(("QUIET", "silent", "open"), None)
        updated = after_late[("RANGE", "threshold", "resolved")]
        assert updated["alert_id"] == in_range["alert_id"]
        assert (updated["readings"], updated["peak_value"], seconds(updated, base)) == (4, 45.0, (100.0, 130.0, 140.0))
        assert {k: v for k, v in after_late.items() if k != ("RANGE", "threshold", "resolved")} == {
            k: v for k, v in episodes.items() if k != ("RANGE", "threshold", "resolved")
        }

        time.sleep(
            max(0.0, (quiet_last + dt.timedelta(seconds=SILENT_S + 5) - dt.datetime.now(dt.UTC)).total_seconds())
        )
        third = run_job(INGEST_JOB, instance)  # nothing new on the topic
        assert third.success
        final = stored(settings, prefix)
        quiet = final.pop(("QUIET", "silent", "open"))
        assert quiet["started_at"] == quiet_last.replace(microsecond=quiet_last.microsecond // 1000 * 1000)
        assert final == after_late  # same rows, same ids, same evaluated_at
        checks = {e.check_name: e for e in third.get_asset_check_evaluations()}
        assert not checks["silent_alerts"].passed
        assert f"{prefix}-QUIET" in checks["silent_alerts"].metadata["sensor_ids"].value
