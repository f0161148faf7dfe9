"""KRaft cluster ids the stack formats Kafka's storage with."""

from __future__ import annotations

import base64

from iot_platform.stack.kafka import kafka_cluster_id


def test_cluster_ids_are_16_random_bytes_and_never_look_like_an_option() -> None:
    ids = {kafka_cluster_id() for _ in range(5000)}  # about 1 in 64 raw ids would start with '-'
    assert len(ids) == 5000
    for cluster_id in ids:
        assert not cluster_id.startswith("-")
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16
