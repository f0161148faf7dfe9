"""The broker's configuration and the KRaft cluster ids the stack formats Kafka's storage with."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

from iot_platform.settings import Settings
from iot_platform.stack.kafka import kafka_cluster_id, server_properties


def test_cluster_ids_are_16_random_bytes_and_never_look_like_an_option() -> None:
    ids = {kafka_cluster_id() for _ in range(5000)}  # about 1 in 64 raw ids would start with '-'
    assert len(ids) == 5000
    for cluster_id in ids:
        assert not cluster_id.startswith("-")
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16


def test_broker_listens_and_advertises_the_configured_host_and_ports(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(bind_host="127.0.0.2", kafka_port=19092, kafka_controller_port=19093)
    props = server_properties(settings, Path("/data/kafka/logs"))
    listeners = "PLAINTEXT://127.0.0.2:19092,CONTROLLER://127.0.0.2:19093"
    assert props["listeners"] == props["advertised.listeners"] == listeners
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.2:19093"
    assert props["log.dirs"] == "/data/kafka/logs"


def test_topics_are_never_created_implicitly_and_take_the_configured_shape(
    make_settings: Callable[..., Settings],
) -> None:
    props = server_properties(make_settings(kafka_partitions=6, kafka_retention_hours=24), Path("/logs"))
    assert props["auto.create.topics.enable"] == "false"
    assert props["num.partitions"] == "6"
    assert props["log.retention.hours"] == "24"
