"""Kafka as a Dagster resource: the readings topic."""

from __future__ import annotations

from dagster import ConfigurableResource
from pydantic import Field

from iot_platform.clients.kafka import topic_watermarks
from iot_platform.settings import Settings


class KafkaResource(ConfigurableResource):
    """The readings topic on the platform's brokers."""

    bootstrap_servers: str = Field(description="Brokers, host:port[,host:port] (IOT_KAFKA_BOOTSTRAP_SERVERS).")
    topic: str = Field(description="The readings topic (IOT_KAFKA_TOPIC).")

    @classmethod
    def from_settings(cls, settings: Settings) -> KafkaResource:
        return cls(bootstrap_servers=settings.bootstrap_servers, topic=settings.kafka_topic)

    def watermarks(self, timeout_s: float = 10.0) -> dict[int, tuple[int, int]]:
        """``(low, high)`` offsets of every partition of the topic (raises ServiceUnavailable when unreachable)."""
        return topic_watermarks(self.bootstrap_servers, self.topic, timeout_s)
