"""The topic observation: totals, retained messages, rate between two looks, offsets as the data version."""

from __future__ import annotations

import json

from dagster import SensorResult, SkipReason, build_sensor_context

from iot_platform.errors import ServiceUnavailable
from iot_platform.resources.kafka import KafkaResource
from iot_platform.sensors.sensor_raw_observer import build_sensor_raw_observer, observation_from_watermarks
from iot_platform.settings import load_settings


def test_first_look_has_totals_and_no_rate() -> None:
    observation, cursor = observation_from_watermarks({0: (0, 10), 1: (2, 5)}, None, now=1000.0)
    meta = {key: value.value for key, value in observation.metadata.items()}
    assert meta["messages_total"] == 15
    assert meta["retained_messages"] == 13
    assert meta["messages_per_second"] == 0.0
    assert observation.tags["dagster/data_version"] == "0:10,1:5"
    assert cursor == {"total": 15, "at": 1000.0}


def test_rate_is_new_messages_over_elapsed_seconds() -> None:
    observation, _ = observation_from_watermarks({0: (0, 75)}, {"total": 15, "at": 1000.0}, now=1030.0)
    assert observation.metadata["messages_per_second"].value == 2.0


class FakeTopic(KafkaResource):
    """The readings topic: one partition holding ``high`` messages, or down when ``high`` is None."""

    high: int | None = None

    def watermarks(self, timeout_s: float = 10.0) -> dict[int, tuple[int, int]]:
        if self.high is None:
            raise ServiceUnavailable("Kafka", f"{self.bootstrap_servers}: connection refused")
        return {0: (0, self.high)}


def evaluate(kafka: KafkaResource) -> SensorResult | SkipReason:
    sensor = build_sensor_raw_observer(load_settings())
    result = sensor(build_sensor_context(resources={"kafka": kafka}))
    assert isinstance(result, SensorResult | SkipReason)
    return result


def test_the_sensor_observes_the_topic_of_its_kafka_resource() -> None:
    result = evaluate(FakeTopic(bootstrap_servers="kafka.test:9092", topic="readings", high=10))
    assert isinstance(result, SensorResult) and result.asset_events
    assert json.loads(result.cursor or "{}")["total"] == 10


def test_an_unreachable_topic_skips_naming_it() -> None:
    result = evaluate(FakeTopic(bootstrap_servers="kafka.test:9092", topic="readings"))
    assert isinstance(result, SkipReason)
    assert result.skip_message is not None and result.skip_message.startswith("cannot observe readings: Kafka")
