"""Kafka as a plain client: the topic's partitions and watermarks, and creating the topic."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from iot_platform.errors import ServiceUnavailable

if TYPE_CHECKING:
    from confluent_kafka.admin import AdminClient

    from iot_platform.settings import Settings


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


def create_topic_if_missing(admin: AdminClient, settings: Settings, topic: str, timeout_s: float) -> bool:
    """Create the readings topic with the platform's partition count and retention if it does not exist.

    Args:
        admin: A connected admin client.
        settings: Partition count (``IOT_KAFKA_PARTITIONS``) and retention (``IOT_KAFKA_RETENTION_HOURS``).
        topic: The topic name.
        timeout_s: How long to wait for the broker.

    Returns:
        True if this call created the topic.

    Raises:
        ServiceUnavailable: the broker refused to create the topic.
    """
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import NewTopic

    if topic in admin.list_topics(timeout=timeout_s).topics:
        return False
    new_topic = NewTopic(
        topic,
        num_partitions=settings.kafka_partitions,
        replication_factor=-1,  # the broker's default.replication.factor
        config={"retention.ms": str(settings.kafka_retention_hours * 3_600_000)},
    )
    future = admin.create_topics([new_topic], operation_timeout=timeout_s)[topic]
    try:
        future.result(timeout=timeout_s)
    except KafkaException as exc:
        error = exc.args[0]
        if isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
            return False
        raise ServiceUnavailable("kafka", f"cannot create topic {topic!r}: {error}") from None
    logging.getLogger("iot_platform.kafka").info("created topic %s (%d partitions)", topic, settings.kafka_partitions)
    return True
