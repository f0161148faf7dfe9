"""Spark sessions on the platform's standalone master, with the Kafka source and the Iceberg catalog mounted."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

from dagster import ConfigurableResource

from iot_platform.stack import artifacts

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from iot_platform.settings import Settings


def spark_conf(settings: Settings, app_name: str) -> dict[str, str]:
    """Every Spark setting of a platform application: master, jars, catalog, UTC, memory and cores."""
    conf = {
        "spark.master": settings.master_url,
        "spark.app.name": app_name,
        "spark.jars": ",".join(_jars_for(settings)),
        "spark.driver.host": settings.bind_host,
        "spark.driver.bindAddress": settings.bind_host,
        "spark.driver.memory": settings.spark_driver_memory,
        "spark.executor.memory": settings.spark_executor_memory,
        "spark.pyspark.python": sys.executable,
        "spark.pyspark.driver.python": sys.executable,
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(settings.spark_shuffle_partitions),
        "spark.sql.adaptive.enabled": "true",
        "spark.ui.showConsoleProgress": "false",
        "spark.ui.enabled": "false",
        "spark.sql.defaultCatalog": settings.catalog_name,
        # Lets a job find a stopped master quickly instead of retrying for minutes.
        "spark.standalone.submit.waitAppCompletion": "false",
    }
    conf.update(settings.spark_catalog_conf())
    return conf


def _jars_for(settings: Settings) -> list[str]:
    """Jars of every application: the S3 bundle too, since a driver JVM keeps the jars of its first session."""
    return artifacts.spark_jars(settings.cache_dir, settings.java_home)


@contextmanager
def spark_session(
    settings: Settings, app_name: str, extra_conf: Mapping[str, str] | None = None
) -> Iterator[SparkSession]:
    """A Spark application on the master for the duration of the block, stopped afterwards.

    Static settings (master, jars) only apply to a new session, so an existing one is stopped first.
    ``extra_conf`` adds to or overrides :func:`spark_conf` (e.g. ``spark.cores.max``).
    """
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()
    builder = SparkSession.builder
    for key, value in {**spark_conf(settings, app_name), **(extra_conf or {})}.items():
        builder = builder.config(key, value)
    session = None
    try:
        session = builder.getOrCreate()
        yield session
    finally:
        if session is not None:
            session.stop()
        else:  # interrupted while starting (a run terminated early): stop what was started
            from pyspark import SparkContext

            if SparkContext._active_spark_context is not None:
                SparkContext._active_spark_context.stop()


class SparkResource(ConfigurableResource):
    """Opens one Spark application per run on the platform's standalone master.

    Master URL, jars and the Iceberg catalog come from the ``IOT_*`` settings of the run's process.
    """

    def settings(self) -> Settings:
        from iot_platform.settings import load_settings

        return load_settings()

    @contextmanager
    def session(self, app_name: str) -> Iterator[SparkSession]:
        with spark_session(self.settings(), app_name) as session:
            yield session
