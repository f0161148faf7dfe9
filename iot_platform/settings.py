"""The platform's settings: every value is an ``IOT_*`` environment variable, also read from ``.env``.

One model for every process (stack CLI, generator, API, Dagster code location). Nothing here reads the
environment at import time: call :func:`load_settings` (or build :class:`Settings` yourself).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from iot_platform.errors import ConfigurationError
from iot_platform.profiles import Profile, profile_spec

CATALOG_NAMESPACE = "iot"
"""Iceberg namespace of every platform table."""


class SparkRunMode(StrEnum):
    """Where a platform run's Spark work happens."""

    CONNECT = "connect"
    """On the stack's long-lived Spark Connect server (one application, warm executors): the default."""
    APPLICATION = "application"
    """In a Spark application of its own, started and stopped by the run (the design before the warm server)."""


class Settings(BaseSettings):
    """All platform settings. Field ``foo_bar`` is the environment variable ``IOT_FOO_BAR``."""

    model_config = SettingsConfigDict(
        env_prefix="IOT_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
        populate_by_name=True,
        env_ignore_empty=True,
    )

    # --- stack -------------------------------------------------------------------------------------------
    profile: Profile = Field(Profile.LOCAL, description="Catalog profile: local or postgres-s3.")
    state_dir: Path = Field(
        Path(".iot-platform"),
        description="Folder holding downloads (cache/), service data (data/), logs (logs/) and pid files (run/).",
    )
    cache_dir_override: Path | None = Field(
        None, alias="IOT_CACHE_DIR", description="Download cache (default: <state_dir>/cache); share it between stacks."
    )
    bind_host: str = Field("127.0.0.1", description="Address every local service binds to.")
    stack_start_timeout_s: float = Field(180.0, gt=0, description="How long `stack up` waits for each service.")
    java_home: str | None = Field(None, description="JDK for Kafka and Spark (default: JAVA_HOME or `java` on PATH).")

    # --- kafka -------------------------------------------------------------------------------------------
    kafka_port: int = Field(9092, ge=1, le=65535, description="Kafka client listener port.")
    kafka_controller_port: int = Field(9093, ge=1, le=65535, description="Kafka KRaft controller port.")
    kafka_bootstrap_servers: str | None = Field(
        None, description="Brokers clients use (default: bind_host:kafka_port of the local stack)."
    )
    kafka_topic: str = Field("sensor-raw", min_length=1, description="Topic the sensors publish to.")
    kafka_partitions: int = Field(3, ge=1, le=1000, description="Partitions of the topic when the platform creates it.")
    kafka_retention_hours: int = Field(168, ge=1, description="Retention of the topic when the platform creates it.")
    kafka_heap_mb: int = Field(512, ge=128, description="Kafka broker JVM heap (MiB).")

    # --- spark -------------------------------------------------------------------------------------------
    spark_master_port: int = Field(7077, ge=1, le=65535, description="Spark master RPC port.")
    spark_master_web_port: int = Field(8080, ge=1, le=65535, description="Spark master web UI / JSON port.")
    spark_worker_web_port: int = Field(8081, ge=1, le=65535, description="Spark worker web UI port.")
    spark_master_url: str | None = Field(None, description="spark://host:port (default: the local stack's master).")
    spark_web_url: str | None = Field(None, description="Master web UI URL (default: the local stack's).")
    spark_worker_cores: int = Field(2, ge=1, description="Cores the local worker offers.")
    spark_worker_memory: str = Field("6g", pattern=r"^\d+[mMgG]$", description="Memory the local worker offers.")
    spark_driver_memory: str = Field("1g", pattern=r"^\d+[mMgG]$", description="Driver memory of platform jobs.")
    spark_executor_memory: str = Field(
        "3g",
        pattern=r"^\d+[mMgG]$",
        description="Executor memory of platform jobs (an ingestion run keeps its batch in it while writing).",
    )
    spark_shuffle_partitions: int = Field(4, ge=1, description="spark.sql.shuffle.partitions of platform jobs.")
    spark_run_mode: SparkRunMode = Field(
        SparkRunMode.CONNECT,
        description="connect: every run works on the warm Spark Connect server; application: each run starts its own.",
    )
    spark_connect_port: int = Field(15002, ge=1, le=65535, description="Spark Connect server gRPC port.")
    spark_connect_ui_port: int = Field(
        4040, ge=1, le=65535, description="Spark UI of the Spark Connect server (every run's jobs; kill links off)."
    )
    spark_connect_url: str | None = Field(
        None, description="sc://host:port of the Spark Connect server (default: the local stack's)."
    )
    spark_connect_driver_memory: str = Field(
        "2g", pattern=r"^\d+[mMgG]$", description="Memory of the Spark Connect server (the shared driver)."
    )
    spark_connect_executor_memory: str = Field(
        "2g", pattern=r"^\d+[mMgG]$", description="Memory of each one-core executor of the Spark Connect server."
    )
    spark_connect_max_executors: int = Field(
        2, ge=1, description="Executors the server may hold under load; it keeps one, so an idle server holds one core."
    )
    spark_connect_idle_timeout_s: int = Field(
        60, ge=10, description="Seconds an extra executor of the server stays idle before it is released."
    )

    # --- catalog -----------------------------------------------------------------------------------------
    catalog_name: str = Field(
        "iot_catalog", min_length=1, description="Iceberg SQL catalog name (Spark and pyiceberg)."
    )
    postgres_host: str = Field("127.0.0.1", description="PostgreSQL host (postgres-s3 profile).")
    postgres_port: int = Field(5433, ge=1, le=65535, description="PostgreSQL port (postgres-s3 profile).")
    postgres_db: str = Field("iot_catalog", description="PostgreSQL database of the catalog.")
    postgres_user: str = Field("iot", description="PostgreSQL role of the catalog.")
    postgres_password: SecretStr | None = Field(None, description="PostgreSQL password (required for postgres-s3).")
    s3_endpoint: str | None = Field(None, description="S3 endpoint URL (default: the local stack's object store).")
    s3_port: int = Field(9000, ge=1, le=65535, description="Local S3-compatible object store port.")
    s3_bucket: str = Field("iot-warehouse", description="Bucket holding the Iceberg warehouse.")
    s3_region: str = Field("us-east-1", description="S3 region.")
    s3_access_key: str | None = Field(None, description="S3 access key (required for postgres-s3).")
    s3_secret_key: SecretStr | None = Field(None, description="S3 secret key (required for postgres-s3).")

    # --- dagster -----------------------------------------------------------------------------------------
    dagster_port: int = Field(3000, ge=1, le=65535, description="Dagster webserver port.")
    dagster_code_port: int = Field(
        4266,
        ge=1,
        le=65535,
        description="Dagster code server port (gRPC).",
    )
    dagster_url: str | None = Field(None, description="Dagster webserver URL (default: the local stack's).")
    dagster_fork_run_workers: bool = Field(
        True,
        description="Start each run as a fork of a code-server process with the platform loaded (false: a new "
        "Python process per run, Dagster's default).",
    )
    partitions_start: dt.date = Field(dt.date(2025, 1, 1), description="First hourly_stats partition (UTC).")
    schedule_grace_minutes: int = Field(10, ge=0, le=59, description="Minutes after the hour the schedule runs.")
    schedules_enabled: bool = Field(True, description="Whether the ingestion and hourly schedules start running.")
    ingest_interval_minutes: int = Field(5, ge=1, le=60, description="Ingestion schedule interval.")
    sensor_raw_observe_seconds: int = Field(60, ge=5, description="How often the Kafka topic is observed.")
    late_data_horizon_hours: int = Field(48, ge=1, description="Late readings re-open hours up to this age.")
    rejected_ratio_warn: float = Field(0.05, ge=0, le=1, description="Rejected/valid ratio that warns.")
    spark_health_interval_s: int = Field(30, ge=5, description="How often the Spark master is polled.")
    spark_min_workers: int = Field(1, ge=0, description="Alive workers below this fail the health check.")
    spark_max_app_wait_s: int = Field(300, ge=1, description="An app waiting for cores longer than this fails.")
    run_failure_webhook_url: str | None = Field(None, description="Optional URL that receives failed-run reports.")

    # --- sensor monitoring -------------------------------------------------------------------------------
    sensor_registry: Path | None = Field(None, description="YAML sensor registry (default: the built-in one).")
    alert_webhook_url: str | None = Field(None, description="Optional URL that receives alert transitions.")
    alert_webhook_timeout_s: float = Field(5.0, gt=0, le=60, description="Timeout of one webhook request.")
    alert_webhook_attempts: int = Field(4, ge=1, le=10, description="Attempts per transition and notifier tick.")
    alert_notify_interval_s: int = Field(15, ge=5, description="How often pending alert transitions are sent.")
    alert_notify_max_age_hours: int = Field(
        24, ge=1, description="Transitions older than this are recorded as skipped, not sent."
    )

    # --- retention ---------------------------------------------------------------------------------------
    retention_readings_days: int = Field(
        0, ge=0, description="Readings older than this many days are dropped by whole hours (0: keep all)."
    )
    retention_rejected_days: int = Field(
        90, ge=0, description="Rejected records older than this many days are dropped (0: keep all)."
    )
    retention_alerts_days: int = Field(
        365, ge=0, description="Resolved alert episodes older than this many days are dropped (0: keep all)."
    )
    retention_runs_days: int = Field(
        30, ge=0, description="Finished Dagster runs older than this many days are deleted (0: keep all)."
    )
    retention_ticks_days: int = Field(
        30, ge=1, description="Dagster keeps schedule ticks and non-skipped sensor ticks this many days."
    )
    retention_skipped_ticks_days: int = Field(3, ge=1, description="Dagster keeps skipped sensor ticks this many days.")
    retention_cron: str = Field(
        "20 3 * * *", min_length=9, description="When the daily retention job runs (cron, UTC)."
    )
    log_max_mb: int = Field(20, ge=1, description="Size of one service log file before it rotates (MiB).")
    log_backups: int = Field(3, ge=1, le=100, description="Rotated log files kept per service.")

    # --- api ---------------------------------------------------------------------------------------------
    api_port: int = Field(8000, ge=1, le=65535, description="REST API port.")
    api_url: str | None = Field(None, description="REST API URL (default: the local stack's).")
    api_token: SecretStr | None = Field(None, description="Bearer token for mutating API calls.")
    api_tokens: SecretStr | None = Field(
        None, description="More accepted bearer tokens, comma-separated (to rotate IOT_API_TOKEN without downtime)."
    )
    api_cors_origins: str = Field("", description="Comma-separated origins allowed by CORS.")
    api_max_range_hours: int = Field(24 * 31, ge=1, description="Largest partition range one submit may ask for.")

    # --- table maintenance -------------------------------------------------------------------------------
    maintenance_enabled: bool = Field(
        True, description="Whether the table maintenance schedules (compaction, expiry, orphans) start running."
    )
    maintenance_target_file_mb: int = Field(128, ge=1, description="Target size of compacted data files (MiB).")
    maintenance_compaction_delay_hours: int = Field(
        2, ge=1, description="An hour (a day for hourly_stats) is compacted once closed this many hours."
    )
    maintenance_compaction_minute: int = Field(
        25, ge=0, le=59, description="Minute of every hour the compaction schedule runs."
    )
    maintenance_daily_hour: int = Field(
        3, ge=0, le=23, description="UTC hour the daily expiry, orphan removal and manifest rewrite run."
    )
    maintenance_snapshot_keep_hours: int = Field(
        24, ge=0, description="Snapshots younger than this are kept (0: only the kept count matters)."
    )
    maintenance_snapshot_keep_count: int = Field(
        10, ge=1, description="Snapshots kept per table whatever their age (more to keep the offsets snapshot)."
    )
    maintenance_orphan_min_age_hours: int = Field(
        72, ge=24, description="Unreferenced files are removed once this old (24 hours at least)."
    )
    maintenance_manifest_threshold: int = Field(
        50, ge=1, description="Manifests of a table's current snapshot above which they are rewritten."
    )

    # --- generator ---------------------------------------------------------------------------------------
    generator_faults: str = Field(
        "off", min_length=1, description="Injected sensor faults: off, demo (a built-in schedule) or a YAML file."
    )
    generator_interval_s: float = Field(0.5, gt=0, description="Seconds between readings of one sensor.")
    generator_enabled: bool = Field(True, description="Whether `stack up` starts the generator.")
    generator_status_interval_s: float = Field(10.0, gt=0, description="Seconds between generator status lines.")

    @field_validator("state_dir")
    @classmethod
    def _absolute_state_dir(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @model_validator(mode="after")
    def _check_retention(self) -> Settings:
        days = self.retention_readings_days
        if days and days * 24 <= self.late_data_horizon_hours:
            raise ValueError(
                f"IOT_RETENTION_READINGS_DAYS={days} would drop readings that late data may still re-aggregate "
                f"(IOT_LATE_DATA_HORIZON_HOURS={self.late_data_horizon_hours}): keep more days"
            )
        return self

    @model_validator(mode="after")
    def _check_profile(self) -> Settings:
        ports = {
            "IOT_KAFKA_PORT": self.kafka_port,
            "IOT_KAFKA_CONTROLLER_PORT": self.kafka_controller_port,
            "IOT_SPARK_MASTER_PORT": self.spark_master_port,
            "IOT_SPARK_MASTER_WEB_PORT": self.spark_master_web_port,
            "IOT_SPARK_WORKER_WEB_PORT": self.spark_worker_web_port,
            "IOT_SPARK_CONNECT_PORT": self.spark_connect_port,
            "IOT_SPARK_CONNECT_UI_PORT": self.spark_connect_ui_port,
            "IOT_DAGSTER_PORT": self.dagster_port,
            "IOT_DAGSTER_CODE_PORT": self.dagster_code_port,
            "IOT_API_PORT": self.api_port,
        }
        spec = profile_spec(self.profile)
        ports.update(spec.ports(self))
        missing = spec.missing_secrets(self)
        if missing:
            raise ValueError(f"profile {self.profile.value} needs {', '.join(missing)} (no defaults for secrets)")
        seen: dict[int, str] = {}
        for name, port in ports.items():
            if port in seen:
                raise ValueError(f"{name} and {seen[port]} both use port {port}")
            seen[port] = name
        return self

    # --- derived values ----------------------------------------------------------------------------------
    @property
    def bootstrap_servers(self) -> str:
        return self.kafka_bootstrap_servers or f"{self.bind_host}:{self.kafka_port}"

    @property
    def master_url(self) -> str:
        return self.spark_master_url or f"spark://{self.bind_host}:{self.spark_master_port}"

    @property
    def connect_url(self) -> str:
        """sc://host:port of the Spark Connect server every platform run works on."""
        return (self.spark_connect_url or f"sc://{self.bind_host}:{self.spark_connect_port}").rstrip("/")

    @property
    def connect_ui_url(self) -> str:
        """The Spark UI of the local stack's Spark Connect server."""
        return f"http://{self.bind_host}:{self.spark_connect_ui_port}"

    @property
    def master_web_url(self) -> str:
        return (self.spark_web_url or f"http://{self.bind_host}:{self.spark_master_web_port}").rstrip("/")

    @property
    def dagster_web_url(self) -> str:
        return (self.dagster_url or f"http://{self.bind_host}:{self.dagster_port}").rstrip("/")

    @property
    def api_base_url(self) -> str:
        return (self.api_url or f"http://{self.bind_host}:{self.api_port}").rstrip("/")

    @property
    def s3_endpoint_url(self) -> str:
        return (self.s3_endpoint or f"http://{self.bind_host}:{self.s3_port}").rstrip("/")

    @property
    def cache_dir(self) -> Path:
        if self.cache_dir_override is not None:
            return self.cache_dir_override.expanduser().resolve()
        return self.state_dir / "cache"

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data"

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def dagster_home(self) -> Path:
        return self.data_dir / "dagster"

    @property
    def accepted_api_tokens(self) -> list[str]:
        """Every bearer token the API accepts: ``IOT_API_TOKEN`` and each of ``IOT_API_TOKENS`` (empty: none)."""
        tokens = [self.api_token.get_secret_value()] if self.api_token is not None else []
        if self.api_tokens is not None:
            tokens += self.api_tokens.get_secret_value().split(",")
        return [token.strip() for token in tokens if token.strip()]

    @property
    def cors_origins(self) -> list[str]:
        return [origin.strip() for origin in self.api_cors_origins.split(",") if origin.strip()]

    def catalog_properties(self, *, secrets: bool = True) -> dict[str, str]:
        """Properties for ``pyiceberg.catalog.load_catalog(catalog_name, **properties)``.

        The profile decides them (:func:`iot_platform.profiles.profile_spec`); Spark's catalog mounts the same.
        With ``secrets=False`` the database password and the S3 secret key are left out (for configuration
        that is shown, such as a Dagster resource's, which takes them from the environment instead).
        """
        return profile_spec(self.profile).catalog_properties(self, secrets=secrets)

    def spark_catalog_conf(self) -> dict[str, str]:
        """Spark settings that mount the same Iceberg catalog as :meth:`catalog_properties`."""
        prefix = f"spark.sql.catalog.{self.catalog_name}"
        conf = {
            "spark.sql.extensions": "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions",
            prefix: "org.apache.iceberg.spark.SparkCatalog",
            f"{prefix}.type": "jdbc",
        }
        conf.update(profile_spec(self.profile).spark_catalog_conf(self, prefix))
        return conf


def load_settings(**overrides: Any) -> Settings:
    """Build the settings from the environment and ``.env``, turning validation errors into one clear line.

    Raises:
        ConfigurationError: a variable is missing or has a bad value; the message names it.
    """
    from pydantic import ValidationError

    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = ".".join(str(part) for part in err["loc"])
            name = f"IOT_{loc.upper()}" if loc else "settings"
            problems.append(f"{name}: {err['msg']}")
        raise ConfigurationError("; ".join(problems)) from None
