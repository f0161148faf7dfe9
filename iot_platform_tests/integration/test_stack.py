"""The local stack for real: every engine healthy, Kafka round trip, Spark on the master, one Iceberg catalog."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid

import httpx
import pytest

from iot_platform import tables
from iot_platform.clients.iceberg import catalog_from_properties, load_catalog
from iot_platform.clients.spark import spark_session
from iot_platform.errors import PortInUse
from iot_platform.settings import Settings
from iot_platform.stack.process import group_members
from iot_platform.stack.service import settings_environment
from iot_platform.stack.stack import Stack
from iot_platform_tests.conftest import REPO_ROOT, test_settings

pytestmark = pytest.mark.integration


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **settings_environment(settings)}
    return subprocess.run(
        [sys.executable, "-m", "iot_platform", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=120,
    )


def test_status_json_lists_every_service_healthy_with_endpoints(stack_settings: Settings) -> None:
    result = _cli(stack_settings, "stack", "status", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    doc = json.loads(result.stdout)
    s = stack_settings
    assert doc["kafka"] == {"bootstrap_servers": f"127.0.0.1:{s.kafka_port}", "topic": "sensor-raw"}
    assert doc["spark"] == {
        "master_url": f"spark://127.0.0.1:{s.spark_master_port}",
        "web_url": f"http://127.0.0.1:{s.spark_master_web_port}",
        "connect_url": f"sc://127.0.0.1:{s.spark_connect_port}",
    }
    assert doc["dagster"]["url"] == f"http://127.0.0.1:{s.dagster_port}"
    assert doc["api"]["url"] == f"http://127.0.0.1:{s.api_port}"
    assert {"kafka", "spark-master", "spark-worker", "catalog", "spark-connect"} <= set(doc["services"])
    states = {name: info["state"] for name, info in doc["services"].items()}
    assert states.pop("generator") == "off"  # the test stack runs without it
    assert states == dict.fromkeys(states, "healthy")
    # The printed catalog properties are enough to open the catalog from outside.
    catalog = catalog_from_properties(doc["catalog"]["name"], doc["catalog"]["properties"])
    assert ("iot",) in catalog.list_namespaces()


def test_produce_and_consume_on_the_readings_topic(stack_settings: Settings) -> None:
    from confluent_kafka import Consumer, Producer, TopicPartition

    marker = uuid.uuid4().hex
    producer = Producer({"bootstrap.servers": stack_settings.bootstrap_servers, "enable.idempotence": True})
    producer.produce(stack_settings.kafka_topic, key=b"TEMP-001", value=marker.encode(), partition=0)
    assert producer.flush(15) == 0

    consumer = Consumer(
        {"bootstrap.servers": stack_settings.bootstrap_servers, "group.id": f"t-{marker}", "enable.auto.commit": False}
    )
    low, high = consumer.get_watermark_offsets(TopicPartition(stack_settings.kafka_topic, 0), timeout=10)
    consumer.assign([TopicPartition(stack_settings.kafka_topic, 0, low)])
    seen = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and marker.encode() not in seen:
        message = consumer.poll(1.0)
        if message is not None and message.error() is None:
            seen.append(message.value())
    consumer.close()
    assert marker.encode() in seen
    assert high >= 1


def test_spark_job_runs_on_the_master_and_spark_and_pyiceberg_share_tables(stack_settings: Settings) -> None:
    import pyarrow as pa

    app_name = f"iot-platform:test:{uuid.uuid4().hex[:8]}"
    spark_table = f"iot.probe_spark_{uuid.uuid4().hex[:6]}"
    py_table = f"iot.probe_py_{uuid.uuid4().hex[:6]}"
    catalog = load_catalog(stack_settings)
    catalog.create_table(py_table, schema=pa.schema([("id", pa.int64()), ("name", pa.string())]))
    catalog.load_table(py_table).append(pa.table({"id": [7, 8], "name": ["x", "y"]}))

    with spark_session(stack_settings, app_name) as spark:
        app_id = spark.sparkContext.applicationId
        assert spark.sparkContext.master == stack_settings.master_url
        total = spark.range(0, 100_000, numPartitions=4).selectExpr("sum(id)").collect()[0][0]
        assert total == sum(range(100_000))
        spark.sql(f"CREATE TABLE {spark_table} (id bigint, name string) USING iceberg")
        spark.sql(f"INSERT INTO {spark_table} VALUES (1, 'a'), (2, 'b'), (3, 'c')")
        tables.ensure_tables(spark, tables.HOURLY_STATS)
        from_pyiceberg = sorted(tuple(row) for row in spark.table(py_table).collect())
        state = httpx.get(f"{stack_settings.master_web_url}/json/", timeout=5).json()
        assert app_id in [app["id"] for app in state["activeapps"]]

    assert from_pyiceberg == [(7, "x"), (8, "y")]
    rows = catalog.load_table(spark_table).scan().to_arrow().sort_by("id").to_pylist()
    assert rows == [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}, {"id": 3, "name": "c"}]
    catalog.drop_table(spark_table)
    catalog.drop_table(py_table)

    # The pyiceberg form of iot.hourly_stats (for tools without Spark) is what the Spark DDL creates.
    schema, spec = tables.hourly_stats_iceberg_schema()
    created = catalog.load_table(tables.HOURLY_STATS)
    assert [(f.name, f.field_type, f.required) for f in created.schema().fields] == [
        (f.name, f.field_type, f.required) for f in schema.fields
    ]
    assert [(f.name, str(f.transform)) for f in created.spec().fields] == [
        (f.name, str(f.transform)) for f in spec.fields
    ]


def test_up_is_idempotent_data_persists_and_down_leaves_no_process() -> None:
    settings = test_settings(
        "lifecycle",
        kafka_port=29192,
        kafka_controller_port=29193,
        spark_master_port=27177,
        spark_master_web_port=28180,
        spark_worker_web_port=28181,
        spark_connect_port=25102,
        spark_connect_ui_port=24140,
        dagster_port=23100,
        dagster_code_port=24366,
        api_port=28100,
    )
    stack = Stack(settings)
    only = ["kafka", "catalog"]
    try:
        stack.up(only=only)
        kafka = stack.service("kafka")
        first = kafka.record()
        assert first is not None and first.alive()
        stack.up(only=only)  # second up: nothing restarted
        assert kafka.record() == first

        from confluent_kafka import Producer

        producer = Producer({"bootstrap.servers": settings.bootstrap_servers})
        producer.produce(settings.kafka_topic, value=b"kept", partition=0)
        assert producer.flush(15) == 0
    finally:
        stack.down()
    assert not first.alive()
    assert group_members(first.pid) == []
    assert not kafka.pid_file.exists()

    try:
        stack.up(only=only)  # storage already formatted: the message is still there
        from confluent_kafka import Consumer, TopicPartition

        consumer = Consumer({"bootstrap.servers": settings.bootstrap_servers, "group.id": "persist"})
        low, high = consumer.get_watermark_offsets(TopicPartition(settings.kafka_topic, 0), timeout=10)
        consumer.close()
        assert high - low >= 1
    finally:
        stack.down()


def test_port_in_use_is_one_clear_line() -> None:
    settings = test_settings("portclash", kafka_port=29292, kafka_controller_port=29293)
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", settings.kafka_port))
        blocker.listen()
        with pytest.raises(PortInUse, match="IOT_KAFKA_PORT"):
            Stack(settings).up(only=["kafka"])
        result = _cli(settings, "stack", "up", "--service", "kafka")
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert f"port {settings.kafka_port}" in result.stderr and "IOT_KAFKA_PORT" in result.stderr
