"""Kafka as the platform's assets see it: the topic's partitions and their watermarks."""

from __future__ import annotations

from dagster import ConfigurableResource

from iot_platform.errors import ServiceUnavailable


def topic_watermarks(bootstrap_servers: str, topic: str, timeout_s: float = 10.0) -> dict[int, tuple[int, int]]:
    """``(low, high)`` offsets of every partition of ``topic``.

    Raises:
        ServiceUnavailable: the broker cannot be reached or the topic does not exist.
    """
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": "iot-platform-watermarks",
            "enable.auto.commit": False,
            "socket.timeout.ms": int(timeout_s * 1000),
            "socket.connection.setup.timeout.ms": int(timeout_s * 1000),
        }
    )
    try:
        try:
            metadata = consumer.list_topics(topic, timeout=timeout_s)
        except KafkaException as exc:
            raise ServiceUnavailable("Kafka", f"{bootstrap_servers}: {exc.args[0]}") from exc
        info = metadata.topics.get(topic)
        if info is None or info.error is not None or not info.partitions:
            reason = info.error if info is not None and info.error is not None else "no partitions"
            raise ServiceUnavailable("Kafka", f"topic {topic} on {bootstrap_servers}: {reason}")
        result = {}
        for partition in sorted(info.partitions):
            try:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout_s)
            except KafkaException as exc:
                raise ServiceUnavailable("Kafka", f"{bootstrap_servers}: {exc.args[0]}") from exc
            result[partition] = (int(low), int(high))
        return result
    finally:
        consumer.close()


class KafkaResource(ConfigurableResource):
    """The readings topic. Endpoints come from the ``IOT_*`` settings of the process that runs the step."""

    def bootstrap_servers(self) -> str:
        from iot_platform.settings import load_settings

        return load_settings().bootstrap_servers

    def topic(self) -> str:
        from iot_platform.settings import load_settings

        return load_settings().kafka_topic

    def watermarks(self, timeout_s: float = 10.0) -> dict[int, tuple[int, int]]:
        return topic_watermarks(self.bootstrap_servers(), self.topic(), timeout_s)
