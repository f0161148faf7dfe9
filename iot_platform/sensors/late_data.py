"""Re-aggregates hours that received late readings: exactly the hourly_stats partitions those readings touch."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from dagster import (
    AssetRecordsFilter,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from iot_platform.assets.hourly_stats import HOURLY_STATS, LATE_DATA_TAG, LATE_READINGS_TAG
from iot_platform.assets.sensor_readings import SENSOR_READINGS
from iot_platform.partitions import partition_start
from iot_platform.settings import Settings


def late_hours(
    new_readings: Iterable[tuple[int, Mapping[str, int]]],
    last_aggregated: Mapping[str, int],
    now: dt.datetime,
    horizon_hours: int,
) -> dict[str, int]:
    """Hours whose statistics are out of date, with the number of late readings each got (pure: unit-tested).

    Args:
        new_readings: ``(storage_id, readings_per_hour)`` of each new ingestion event.
        last_aggregated: Storage id of the latest hourly_stats materialization per hour (absent: never built).
        now: Current time (UTC).
        horizon_hours: Hours older than this are left alone.

    Returns:
        ``{partition_key: late_readings}`` for hours built before readings for them arrived.
    """
    oldest = now - dt.timedelta(hours=horizon_hours)
    late: dict[str, int] = {}
    for storage_id, per_hour in new_readings:
        for key, count in per_hour.items():
            built = last_aggregated.get(key)
            if built is None or storage_id < built or count <= 0:
                continue
            if partition_start(key) < oldest:
                continue
            late[key] = late.get(key, 0) + int(count)
    return late


def build_late_data_sensor(settings: Settings, job_name: str):  # type: ignore[no-untyped-def]
    """Sensor that requests an hourly_stats run for each hour that received readings after it was built."""

    @sensor(
        name="late_data_sensor",
        job_name=job_name,
        minimum_interval_seconds=60,
        default_status=DefaultSensorStatus.RUNNING,
        description=(
            "Watches ingestion: when readings arrive for hours already aggregated (within "
            f"{settings.late_data_horizon_hours} h), it re-runs exactly those hourly_stats partitions."
        ),
    )
    def late_data_sensor(context: SensorEvaluationContext) -> SensorResult | SkipReason:
        after = int(context.cursor) if context.cursor else None
        if after is None:
            latest = context.instance.fetch_materializations(SENSOR_READINGS, limit=1)
            start_at = latest.records[0].storage_id if latest.records else 0
            return SensorResult(cursor=str(start_at), skip_reason="started watching ingestion")
        result = context.instance.fetch_materializations(
            AssetRecordsFilter(asset_key=SENSOR_READINGS, after_storage_id=after), limit=200, ascending=True
        )
        if not result.records:
            return SkipReason("no new ingestion since the last look")
        events = []
        touched: set[str] = set()
        for record in result.records:
            materialization = record.asset_materialization
            entry = materialization.metadata.get("readings_per_hour") if materialization else None
            per_hour = dict(entry.value) if entry is not None and isinstance(entry.value, dict) else {}
            events.append((record.storage_id, per_hour))
            touched.update(per_hour)
        last_aggregated: dict[str, int] = {}
        for key in sorted(touched):
            built = context.instance.fetch_materializations(
                AssetRecordsFilter(asset_key=HOURLY_STATS, asset_partitions=[key]), limit=1
            )
            if built.records:
                last_aggregated[key] = built.records[0].storage_id
        late = late_hours(events, last_aggregated, dt.datetime.now(dt.UTC), settings.late_data_horizon_hours)
        cursor = str(result.records[-1].storage_id)
        requests = [
            RunRequest(
                run_key=f"late:{key}:{cursor}",
                partition_key=key,
                tags={LATE_DATA_TAG: "true", LATE_READINGS_TAG: str(count)},
            )
            for key, count in sorted(late.items())
        ]
        if not requests:
            return SensorResult(cursor=cursor, skip_reason="new readings touch no hour built before them")
        context.log.info("late readings: " + ", ".join(f"{k}: {n}" for k, n in sorted(late.items())))
        return SensorResult(run_requests=requests, cursor=cursor)

    return late_data_sensor
