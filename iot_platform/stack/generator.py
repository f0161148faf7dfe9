"""The sensor generator as a service of the stack."""

from __future__ import annotations

from iot_platform.generator.command import live_command
from iot_platform.stack.service import Health, Service


class Generator(Service):
    """The sensor generator, publishing live readings to the topic."""

    name = "generator"

    def endpoints(self) -> dict[str, str]:
        return {"topic": self.settings.kafka_topic}

    def command(self) -> list[str]:
        return live_command()

    def health(self) -> Health:
        return Health(True, "producing")
