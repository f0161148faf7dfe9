"""Spark as a Dagster resource: a session of the stack's Spark Connect server for each run (or, in the
``application`` run mode, one application per run on the standalone master)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from dagster import ConfigurableResource, DagsterInstance, EnvVar, InitResourceContext
from pydantic import Field, PrivateAttr

from iot_platform.clients.spark import (
    application_conf,
    application_id,
    connect_session,
    open_session,
    run_tag,
    spark_jars,
)
from iot_platform.clients.spark_master import spark_app_name
from iot_platform.runs import SPARK_APP_TAG, SPARK_MODE_TAG, SPARK_SESSION_TAG, SPARK_SINCE_TAG
from iot_platform.settings import SparkRunMode

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from iot_platform.settings import Settings

_SECRET_CATALOG_KEYS = {
    "jdbc.password": ("postgres_password", "IOT_POSTGRES_PASSWORD"),
    "s3.secret-access-key": ("s3_secret_key", "IOT_S3_SECRET_KEY"),
}
"""Catalog settings (after ``spark.sql.catalog.<name>.``) that hold secrets: the field and variable of each."""


class SparkResource(ConfigurableResource):
    """Hands each run a Spark session: of the warm Spark Connect server (run mode ``connect``, the default), or of
    an application of the run's own on the standalone master, with the prepared jars and the platform's Iceberg
    catalog (run mode ``application``). Secrets are environment variables, never values in the run's
    configuration."""

    run_mode: SparkRunMode = Field(
        default=SparkRunMode.CONNECT, description="connect or application (IOT_SPARK_RUN_MODE)."
    )
    connect_url: str = Field(description="sc://host:port of the Spark Connect server (IOT_SPARK_CONNECT_URL).")
    master_url: str = Field(description="spark://host:port of the master (IOT_SPARK_MASTER_URL).")
    bind_host: str = Field(description="Address the driver binds to and advertises (IOT_BIND_HOST).")
    driver_memory: str = Field(description="Driver memory, e.g. 1g (IOT_SPARK_DRIVER_MEMORY).")
    executor_memory: str = Field(description="Executor memory, e.g. 3g (IOT_SPARK_EXECUTOR_MEMORY).")
    shuffle_partitions: int = Field(description="spark.sql.shuffle.partitions (IOT_SPARK_SHUFFLE_PARTITIONS).")
    cache_dir: str = Field(description="Download cache holding the prepared jars (IOT_CACHE_DIR).")
    catalog_name: str = Field(description="The Iceberg catalog, Spark's default catalog (IOT_CATALOG_NAME).")
    catalog_conf: dict[str, str] = Field(description="Spark settings that mount the catalog, without its secrets.")
    postgres_password: str | None = Field(default=None, description="Catalog database password (postgres-s3).")
    s3_secret_key: str | None = Field(default=None, description="Warehouse object store secret key (postgres-s3).")

    _jars: list[str] | None = PrivateAttr(default=None)

    @classmethod
    def from_settings(cls, settings: Settings) -> SparkResource:
        """The resource for these settings; secrets as ``EnvVar("IOT_...")``, read when a run starts."""
        prefix = f"spark.sql.catalog.{settings.catalog_name}."
        catalog_conf = settings.spark_catalog_conf()
        secrets = {
            field: EnvVar(variable)
            for suffix, (field, variable) in _SECRET_CATALOG_KEYS.items()
            if catalog_conf.pop(prefix + suffix, None) is not None
        }
        return cls(
            run_mode=settings.spark_run_mode,
            connect_url=settings.connect_url,
            master_url=settings.master_url,
            bind_host=settings.bind_host,
            driver_memory=settings.spark_driver_memory,
            executor_memory=settings.spark_executor_memory,
            shuffle_partitions=settings.spark_shuffle_partitions,
            cache_dir=str(settings.cache_dir),
            catalog_name=settings.catalog_name,
            catalog_conf=catalog_conf,
            **secrets,
        )

    def setup_for_execution(self, context: InitResourceContext) -> None:
        if self.run_mode is SparkRunMode.APPLICATION:
            self._jars = spark_jars(Path(self.cache_dir))  # a missing jar fails the run before any Spark work

    def conf(self, app_name: str) -> dict[str, str]:
        """Every Spark setting of the application ``app_name``, secrets included.

        Raises:
            StackError: a jar is not prepared (the message says what to run).
        """
        if self._jars is None:
            self._jars = spark_jars(Path(self.cache_dir))
        catalog_conf = dict(self.catalog_conf)
        for suffix, (field, _) in _SECRET_CATALOG_KEYS.items():
            secret = getattr(self, field)
            if secret is not None:
                catalog_conf[f"spark.sql.catalog.{self.catalog_name}.{suffix}"] = secret
        return application_conf(
            app_name,
            master_url=self.master_url,
            bind_host=self.bind_host,
            driver_memory=self.driver_memory,
            executor_memory=self.executor_memory,
            shuffle_partitions=self.shuffle_partitions,
            catalog_name=self.catalog_name,
            catalog_conf=catalog_conf,
            jars=self._jars,
        )

    @contextmanager
    def session(self, job: str, run_id: str, instance: DagsterInstance | None = None) -> Iterator[SparkSession]:
        """A Spark session for the block's work of the Dagster run ``run_id``.

        In ``connect`` mode, a session of the Spark Connect server whose operations carry the run's tag
        (``iot-platform-run-<run id>``); leaving the block by an exception (the run terminated) interrupts them, and
        only them. In ``application`` mode, an application ``iot-platform:<job>:<run id>``, stopped afterwards.
        With ``instance``, the run records the application id, since when, the mode and its Connect session's id as
        its tags (:data:`~iot_platform.runs.SPARK_APP_TAG`), which is how the API knows where the run's work runs.

        Raises:
            StackError: the server does not answer, or a jar is not prepared (the message says what to run).
        """
        session_id = str(uuid.uuid4())
        if self.run_mode is SparkRunMode.CONNECT:
            opened = connect_session(self.connect_url, tag=run_tag(run_id), session_id=session_id)
        else:
            opened = open_session(self.conf(spark_app_name(job, run_id)))
        with opened as session:
            if instance is not None:
                tags = {
                    SPARK_APP_TAG: application_id(session),
                    SPARK_SINCE_TAG: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                    SPARK_MODE_TAG: self.run_mode.value,
                }
                if self.run_mode is SparkRunMode.CONNECT:
                    tags[SPARK_SESSION_TAG] = session_id
                instance.add_run_tags(run_id, tags)
            yield session
