"""The Spark Connect server: one long-lived application on the master that every platform run works on.

``python -m iot_platform.stack.spark_connect`` runs it in the foreground, as a container does (docker/compose.yaml).
"""

from __future__ import annotations

import os

from iot_platform.clients.spark import (
    CONNECT_SERVER_APP_NAME,
    application_id,
    connect_address,
    connect_server_command,
    connect_server_conf,
    connect_session,
)
from iot_platform.settings import Settings, load_settings
from iot_platform.stack import artifacts
from iot_platform.stack.service import Health
from iot_platform.stack.spark_master import SparkDaemon


class SparkConnect(SparkDaemon):
    """The warm Spark server: ``SparkConnectServer`` submitted to the stack's master with the platform's jars and
    catalog, serving Spark Connect sessions over gRPC. Healthy when it answers a query."""

    name = "spark-connect"

    def ports(self) -> dict[str, int]:
        if self.settings.spark_connect_url is not None:
            return {}  # a server elsewhere: nothing of ours listens
        return {
            "IOT_SPARK_CONNECT_PORT": self.settings.spark_connect_port,
            "IOT_SPARK_CONNECT_UI_PORT": self.settings.spark_connect_ui_port,
        }

    def endpoints(self) -> dict[str, str]:
        return {"connect_url": self.settings.connect_url, "ui_url": self.settings.connect_ui_url}

    def prepare(self) -> None:
        artifacts.ensure_artifacts(self.settings.cache_dir, artifacts.SPARK)
        artifacts.platform_jar(self.settings.cache_dir, self.settings.java_home)

    def command(self) -> list[str]:
        return foreground_command(self.settings)

    def health(self) -> Health:
        url = self.settings.connect_url
        connect_address(url)
        with connect_session(url) as session:
            session.sql("SELECT 1").collect()
            app_id = application_id(session)
        return Health(True, f"{CONNECT_SERVER_APP_NAME} {app_id} answering at {url}")


def foreground_command(settings: Settings) -> list[str]:
    """The server's command for the platform's settings: the one :class:`SparkConnect` starts in the local stack."""
    return connect_server_command(connect_server_conf(settings), artifacts.spark_home())


def main() -> None:
    """Replace this process with the Spark Connect server (``spark-submit`` in the foreground) for the settings in
    the environment, so a container's supervisor stops and restarts the server itself."""
    command = foreground_command(load_settings())
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
