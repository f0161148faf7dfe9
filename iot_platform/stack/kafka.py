"""Kafka in KRaft mode: its configuration, storage formatting, and the readings topic."""

from __future__ import annotations

import base64
import time
import uuid
from pathlib import Path

from iot_platform.clients.kafka import create_topic_if_missing, topic_watermarks
from iot_platform.errors import ServiceUnavailable, StackError
from iot_platform.settings import Settings
from iot_platform.stack import artifacts
from iot_platform.stack.process import port_open
from iot_platform.stack.service import Health, Service

LOG4J2_PROPERTIES = (
    "status = warn\n"
    "appender.out.type = Console\nappender.out.name = OUT\n"
    "appender.out.layout.type = PatternLayout\nappender.out.layout.pattern = [%d] %p %m (%c)%n\n"
    "rootLogger.level = INFO\nrootLogger.appenderRef.out.ref = OUT\n"
    "logger.state.name = state.change.logger\nlogger.state.level = WARN\n"
    "logger.request.name = kafka.request.logger\nlogger.request.level = WARN\n"
)
"""The broker's logging: INFO to the console (the service log), the chatty state and request loggers at WARN."""


def server_properties(settings: Settings, log_dir: Path) -> dict[str, str]:
    """``server.properties`` of the one combined broker/controller node.

    Args:
        settings: Host, ports, partitions and retention.
        log_dir: Where the broker keeps its data (Kafka calls the data "logs").

    Returns:
        The properties, in file order.
    """
    s = settings
    host = s.bind_host
    listeners = f"PLAINTEXT://{host}:{s.kafka_port},CONTROLLER://{host}:{s.kafka_controller_port}"
    return {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.bootstrap.servers": f"{host}:{s.kafka_controller_port}",
        "listeners": listeners,
        "advertised.listeners": listeners,
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(log_dir),
        "num.partitions": str(s.kafka_partitions),
        "auto.create.topics.enable": "false",
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "log.retention.hours": str(s.kafka_retention_hours),
        "num.network.threads": "2",
        "num.io.threads": "4",
    }


def kafka_cluster_id() -> str:
    """A random KRaft cluster id: 16 bytes, URL-safe base64, never starting with '-' (Kafka's tools would read
    such an id as an option, and Kafka's own generator avoids it for that reason)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def ensure_topic(settings: Settings, topic: str | None = None) -> None:
    """Create the readings topic with the configured partitions and retention, if it is missing."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers})
    create_topic_if_missing(admin, settings, topic or settings.kafka_topic, timeout_s=60)


class Kafka(Service):
    """Apache Kafka in KRaft mode: one combined broker/controller node."""

    name = "kafka"

    def ports(self) -> dict[str, int]:
        return {
            "IOT_KAFKA_PORT": self.settings.kafka_port,
            "IOT_KAFKA_CONTROLLER_PORT": self.settings.kafka_controller_port,
        }

    def endpoints(self) -> dict[str, str]:
        return {"bootstrap_servers": self.settings.bootstrap_servers, "topic": self.settings.kafka_topic}

    @property
    def config_dir(self) -> Path:
        return self.settings.state_dir / "config" / "kafka"

    def _write_config(self) -> Path:
        self.config_dir.mkdir(parents=True, exist_ok=True)
        props = server_properties(self.settings, self.data_dir / "logs")
        server = self.config_dir / "server.properties"
        server.write_text("".join(f"{key}={value}\n" for key, value in props.items()))
        (self.config_dir / "log4j2.properties").write_text(LOG4J2_PROPERTIES)
        return server

    def _java(self, main: str, *args: str, heap_mb: int) -> list[str]:
        return [
            artifacts.java_executable(self.settings.java_home),
            f"-Xmx{heap_mb}m",
            f"-Xms{min(heap_mb, 256)}m",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile=file:{self.config_dir / 'log4j2.properties'}",
            "-cp",
            artifacts.kafka_classpath(self.settings.cache_dir),
            main,
            *args,
        ]

    def prepare(self) -> None:
        server = self._write_config()
        if (self.data_dir / "logs" / "meta.properties").exists():
            return
        (self.data_dir / "logs").mkdir(parents=True, exist_ok=True)
        cmd = self._java(
            "kafka.tools.StorageTool",
            "format",
            "--standalone",
            "-t",
            kafka_cluster_id(),
            "-c",
            str(server),
            heap_mb=256,
        )
        self.run_logged(cmd, what="formatting storage")

    def command(self) -> list[str]:
        return self._java(
            "kafka.Kafka", str(self.config_dir / "server.properties"), heap_mb=self.settings.kafka_heap_mb
        )

    def health(self) -> Health:
        s = self.settings
        if not port_open(s.bind_host, s.kafka_port):
            return Health(False, f"{s.bootstrap_servers} not accepting connections")
        try:
            partitions = topic_watermarks(s.bootstrap_servers, s.kafka_topic, timeout_s=3.0)
        except ServiceUnavailable as exc:
            return Health(False, f"broker up, topic {s.kafka_topic} not readable: {exc}")
        return Health(True, f"broker up, topic {s.kafka_topic} with {len(partitions)} partitions")

    def wait_healthy(self, timeout_s: float) -> None:
        # Health needs the topic, which after_start creates: the broker only has to answer first.
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.running():
                raise StackError(f"kafka exited during start: {self.last_error()}; see {self.log_file}")
            if port_open(self.settings.bind_host, self.settings.kafka_port):
                try:
                    self.after_start()
                    return
                except Exception:  # the broker is still starting
                    pass
            time.sleep(0.5)
        raise StackError(f"kafka not healthy after {timeout_s:.0f}s: {self.last_error()}; see {self.log_file}")

    def after_start(self) -> None:
        ensure_topic(self.settings)
