"""The Spark standalone master, and what every Spark daemon of the stack shares (``spark-class``, environment)."""

from __future__ import annotations

from iot_platform.clients.spark_master import ClusterState, HttpSparkMasterClient
from iot_platform.stack import artifacts
from iot_platform.stack.service import Health, Service


class SparkDaemon(Service):
    """A Spark standalone daemon run in the foreground by the pyspark wheel's ``spark-class``."""

    main_class = ""

    def environment(self) -> dict[str, str]:
        env = super().environment()
        env["SPARK_HOME"] = str(artifacts.spark_home())
        env["SPARK_DAEMON_MEMORY"] = "512m"
        env["SPARK_NO_DAEMONIZE"] = "1"
        env["SPARK_LOG_DIR"] = str(self.settings.logs_dir)
        return env

    def spark_class(self) -> list[str]:
        return ["bash", str(artifacts.spark_home() / "bin" / "spark-class"), self.main_class]

    def master_state(self) -> ClusterState:
        """The master's state, as the platform's Spark master client reads it."""
        with HttpSparkMasterClient(self.settings.master_web_url, timeout_s=2.0) as client:
            return client.cluster_state()


class SparkMaster(SparkDaemon):
    """Spark standalone master from the pyspark wheel."""

    name = "spark-master"
    main_class = "org.apache.spark.deploy.master.Master"

    def ports(self) -> dict[str, int]:
        return {
            "IOT_SPARK_MASTER_PORT": self.settings.spark_master_port,
            "IOT_SPARK_MASTER_WEB_PORT": self.settings.spark_master_web_port,
        }

    def endpoints(self) -> dict[str, str]:
        return {"master_url": self.settings.master_url, "web_url": self.settings.master_web_url}

    def prepare(self) -> None:
        artifacts.ensure_artifacts(self.settings.cache_dir, artifacts.SPARK)
        artifacts.platform_jar(self.settings.cache_dir, self.settings.java_home)  # compiled once, before any run

    def command(self) -> list[str]:
        s = self.settings
        return [
            *self.spark_class(),
            "--host",
            s.bind_host,
            "--port",
            str(s.spark_master_port),
            "--webui-port",
            str(s.spark_master_web_port),
        ]

    def health(self) -> Health:
        state = self.master_state()
        return Health(state.status == "ALIVE", f"status {state.status}, {state.alive_workers} workers alive")
