"""``sensor_raw``: the Kafka topic the sensors publish to, an external asset observed by a sensor."""

from __future__ import annotations

from dagster import AssetKey, AssetSpec

from iot_platform.settings import Settings

SENSOR_RAW = AssetKey("sensor_raw")


def sensor_raw_asset(settings: Settings) -> AssetSpec:
    """The topic as an asset: observations carry offsets (data version), total messages and messages/s."""
    return AssetSpec(
        SENSOR_RAW,
        description=(
            f"Kafka topic `{settings.kafka_topic}`: every sensor reading as published, JSON, keyed by sensor_id. "
            f"Observed every {settings.sensor_raw_observe_seconds} s: per-partition high watermarks are the data "
            "version; `messages_total`, `messages_per_second` and `retained_messages` are plotted."
        ),
        kinds={"kafka"},
        group_name="ingestion",
        metadata={"topic": settings.kafka_topic, "partitions": settings.kafka_partitions},
    )
