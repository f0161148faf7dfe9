"""Observes the Kafka topic: offsets as the data version, message totals and rates as plotted metadata."""

from __future__ import annotations

import json
import time

from dagster import (
    AssetObservation,
    DataVersion,
    DefaultSensorStatus,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from iot_platform.assets.sensor_raw import SENSOR_RAW
from iot_platform.errors import ServiceUnavailable
from iot_platform.resources.kafka import KafkaResource
from iot_platform.settings import Settings


def observation_from_watermarks(
    watermarks: dict[int, tuple[int, int]], previous: dict[str, object] | None, now: float
) -> tuple[AssetObservation, dict[str, object]]:
    """The observation for one look at the topic, and the cursor to remember (pure: unit-tested)."""
    total = sum(high for _, high in watermarks.values())
    retained = sum(high - low for low, high in watermarks.values())
    rate = 0.0
    if previous and isinstance(previous.get("total"), int) and isinstance(previous.get("at"), float | int):
        elapsed = now - float(previous["at"])  # type: ignore[arg-type]
        if elapsed > 0:
            rate = max(0.0, (total - int(previous["total"])) / elapsed)  # type: ignore[call-overload]
    version = ",".join(f"{p}:{high}" for p, (_, high) in sorted(watermarks.items()))
    observation = AssetObservation(
        asset_key=SENSOR_RAW,
        metadata={
            "messages_total": total,
            "retained_messages": retained,
            "messages_per_second": round(rate, 3),
            "partitions": len(watermarks),
            "high_watermarks": {str(p): high for p, (_, high) in sorted(watermarks.items())},
            "low_watermarks": {str(p): low for p, (low, _) in sorted(watermarks.items())},
        },
        tags={"dagster/data_version": DataVersion(version).value},
    )
    return observation, {"total": total, "at": now}


def build_sensor_raw_observer(settings: Settings):  # type: ignore[no-untyped-def]
    """Sensor recording an observation of ``sensor_raw`` every ``IOT_SENSOR_RAW_OBSERVE_SECONDS``."""

    @sensor(
        name="sensor_raw_observer",
        minimum_interval_seconds=settings.sensor_raw_observe_seconds,
        default_status=DefaultSensorStatus.RUNNING,
        asset_selection=[SENSOR_RAW],
        description="Observes the Kafka topic: offsets, messages in total and per second.",
    )
    def sensor_raw_observer(context: SensorEvaluationContext, kafka: KafkaResource) -> SensorResult | SkipReason:
        try:
            watermarks = kafka.watermarks(timeout_s=5.0)
        except ServiceUnavailable as exc:
            return SkipReason(f"cannot observe {kafka.topic}: {exc}")
        previous = json.loads(context.cursor) if context.cursor else None
        observation, cursor = observation_from_watermarks(watermarks, previous, time.time())
        return SensorResult(asset_events=[observation], cursor=json.dumps(cursor))

    return sensor_raw_observer
