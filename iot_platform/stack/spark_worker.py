"""One Spark standalone worker, registered with the stack's master."""

from __future__ import annotations

from iot_platform.stack.service import Health
from iot_platform.stack.spark_master import SparkDaemon


class SparkWorker(SparkDaemon):
    """One Spark standalone worker, sized to the machine (cores and memory from settings)."""

    name = "spark-worker"
    main_class = "org.apache.spark.deploy.worker.Worker"

    def ports(self) -> dict[str, int]:
        return {"IOT_SPARK_WORKER_WEB_PORT": self.settings.spark_worker_web_port}

    def endpoints(self) -> dict[str, str]:
        return {"web_url": f"http://{self.settings.bind_host}:{self.settings.spark_worker_web_port}"}

    def environment(self) -> dict[str, str]:
        env = super().environment()
        env["SPARK_WORKER_OPTS"] = (
            "-Dspark.worker.cleanup.enabled=true -Dspark.worker.cleanup.appDataTtl=86400 "
            "-Dspark.worker.cleanup.interval=3600 -Dspark.ui.killEnabled=false"
        )
        return env

    def command(self) -> list[str]:
        s = self.settings
        (self.data_dir / "work").mkdir(parents=True, exist_ok=True)
        return [
            *self.spark_class(),
            s.master_url,
            "--host",
            s.bind_host,
            "--cores",
            str(s.spark_worker_cores),
            "--memory",
            s.spark_worker_memory,
            "--webui-port",
            str(s.spark_worker_web_port),
            "--work-dir",
            str(self.data_dir / "work"),
        ]

    def health(self) -> Health:
        port = f":{self.settings.spark_worker_web_port}"
        for worker in self.master_state().workers:
            if worker.alive and worker.web_ui_url.endswith(port):
                return Health(True, f"{worker.id} ALIVE with {worker.cores} cores, {worker.memory_mib} MiB")
        return Health(False, "not registered with the master")
