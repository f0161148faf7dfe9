"""One class per engine of the local stack. Each knows how to prepare, start, check and stop itself."""

from __future__ import annotations

import base64
import glob
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import httpx
from pydantic import SecretStr

from iot_platform.errors import DownloadError, StackError
from iot_platform.settings import CATALOG_NAMESPACE, Profile, Settings
from iot_platform.stack import artifacts
from iot_platform.stack.process import (
    PidRecord,
    ensure_port_free,
    port_open,
    read_pid,
    spawn,
    stop_group,
)

MINIO_MODULE = "github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c"
"""The MinIO server, built from its Go module (MinIO publishes no binary to the registries reachable here)."""


@dataclass
class Health:
    """Result of one health probe."""

    ok: bool
    detail: str = ""


@dataclass
class ServiceStatus:
    """What ``stack status`` reports for one service."""

    name: str
    state: str  # healthy | unhealthy | stopped | off (left off on purpose)
    detail: str = ""
    pid: int | None = None
    log: str | None = None
    endpoints: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "state": self.state,
            "detail": self.detail,
            "pid": self.pid,
            "log": self.log,
            "endpoints": self.endpoints,
        }


class Service:
    """A process the stack starts and stops. Subclasses fill in the command and the health probe."""

    name: str = ""
    stop_signal: int = signal.SIGTERM
    stop_timeout_s: float = 30.0

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    # --- paths ---------------------------------------------------------------------------------------------
    @property
    def pid_file(self) -> Path:
        return self.settings.run_dir / f"{self.name}.pid"

    @property
    def off_file(self) -> Path:
        return self.settings.run_dir / f"{self.name}.off"

    def mark_off(self, off: bool) -> None:
        """Remember that the last full ``stack up`` left this service off on purpose (or not)."""
        if off:
            self.off_file.parent.mkdir(parents=True, exist_ok=True)
            self.off_file.touch()
        else:
            self.off_file.unlink(missing_ok=True)

    @property
    def log_file(self) -> Path:
        return self.settings.logs_dir / f"{self.name}.log"

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir / self.name

    # --- to override -----------------------------------------------------------------------------------------
    def ports(self) -> dict[str, int]:
        """Ports this service listens on, keyed by the setting that configures each."""
        return {}

    def endpoints(self) -> dict[str, str]:
        return {}

    def prepare(self) -> None:
        """Downloads and one-time initialisation (idempotent). Runs before the port check and start."""

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return child_environment(self.settings)

    def run_as(self) -> str | None:
        return None

    def health(self) -> Health:
        raise NotImplementedError

    def after_start(self) -> None:
        """Work once the service is healthy (e.g. create a topic). Idempotent."""

    # --- lifecycle -------------------------------------------------------------------------------------------
    def record(self) -> PidRecord | None:
        return read_pid(self.pid_file)

    def running(self) -> bool:
        record = self.record()
        return record is not None and record.alive()

    def start(self) -> bool:
        """Start unless running. Returns True if a process was started."""
        if self.running():
            return False
        self.prepare()
        for setting, port in self.ports().items():
            ensure_port_free(self.settings.bind_host, port, setting, self.name)
        spawn(
            self.command(),
            pid_file=self.pid_file,
            log_file=self.log_file,
            env=self.environment(),
            cwd=Path.cwd(),
            user=self.run_as(),
        )
        return True

    def wait_healthy(self, timeout_s: float) -> None:
        """Block until healthy; raise a one-line StackError naming the service, the reason and its log."""
        deadline = time.monotonic() + timeout_s
        last = Health(False, "no answer yet")
        while time.monotonic() < deadline:
            if not self.running():
                raise StackError(
                    f"{self.name} exited during start: {self.last_error() or 'no error in log'}; see {self.log_file}"
                )
            try:
                last = self.health()
            except Exception as exc:  # a probe error is a not-yet-healthy answer until the deadline
                last = Health(False, f"{type(exc).__name__}: {exc}")
            if last.ok:
                self.after_start()
                return
            time.sleep(0.5)
        raise StackError(f"{self.name} not healthy after {timeout_s:.0f}s: {last.detail}; see {self.log_file}")

    def stop(self) -> bool:
        record = self.record()
        if record is None:
            return False
        stopped = stop_group(record, sig=self.stop_signal, timeout_s=self.stop_timeout_s)
        self.pid_file.unlink(missing_ok=True)
        return stopped

    def status(self) -> ServiceStatus:
        record = self.record()
        if record is None or not record.alive():
            if self.off_file.exists():
                return ServiceStatus(self.name, "off", "left off by `stack up`", log=str(self.log_file))
            return ServiceStatus(self.name, "stopped", log=str(self.log_file))
        try:
            health = self.health()
        except Exception as exc:
            health = Health(False, f"{type(exc).__name__}: {exc}")
        return ServiceStatus(
            self.name,
            "healthy" if health.ok else "unhealthy",
            health.detail,
            record.pid,
            str(self.log_file),
            self.endpoints(),
        )

    def last_error(self) -> str:
        """The last line of the log that looks like an error, for one-line failure messages."""
        try:
            lines = self.log_file.read_text(errors="replace").splitlines()[-400:]
        except FileNotFoundError:
            return ""
        markers = ("ERROR", "Exception", "Error:", "FATAL", "error:")
        for line in reversed(lines):
            if any(marker in line for marker in markers):
                return line.strip()[:300]
        return ""


def child_environment(settings: Settings) -> dict[str, str]:
    """Environment for child processes: ours, with the state folders made absolute so every child agrees."""
    env = dict(os.environ)
    env.update(settings_environment(settings))
    env["DAGSTER_HOME"] = str(settings.dagster_home)
    env["SPARK_LOCAL_IP"] = settings.bind_host
    env["PYSPARK_PYTHON"] = sys.executable
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    java = artifacts.java_executable(settings.java_home)
    env["JAVA_HOME"] = str(Path(java).resolve().parent.parent)
    return env


def settings_environment(settings: Settings) -> dict[str, str]:
    """Every setting as its ``IOT_*`` variable, so a child process builds exactly the same settings."""
    env: dict[str, str] = {}
    for name, value in settings.model_dump(by_alias=False).items():
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, Enum):
            value = value.value
        env[f"IOT_{name.upper()}"] = str(value)
    env.pop("IOT_CACHE_DIR_OVERRIDE", None)
    env["IOT_STATE_DIR"] = str(settings.state_dir)
    env["IOT_CACHE_DIR"] = str(settings.cache_dir)
    return env


@contextmanager
def exported_environment(env: dict[str, str]) -> Iterator[None]:
    """Set these variables in this process's environment for the block, then restore what was there before."""
    previous = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def venv_bin(name: str) -> str:
    """A console script installed beside the running interpreter."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise StackError(f"{name} is not installed; run `pip install -e .` in the platform's environment")
    return found


def http_ok(url: str, timeout_s: float = 2.0) -> Health:
    try:
        response = httpx.get(url, timeout=timeout_s)
    except httpx.HTTPError as exc:
        return Health(False, f"{url}: {type(exc).__name__}")
    return Health(response.status_code == 200, f"{url}: HTTP {response.status_code}")


# --- Kafka ---------------------------------------------------------------------------------------------------
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
        s = self.settings
        host = s.bind_host
        self.config_dir.mkdir(parents=True, exist_ok=True)
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.bootstrap.servers": f"{host}:{s.kafka_controller_port}",
            "listeners": f"PLAINTEXT://{host}:{s.kafka_port},CONTROLLER://{host}:{s.kafka_controller_port}",
            "advertised.listeners": f"PLAINTEXT://{host}:{s.kafka_port},CONTROLLER://{host}:{s.kafka_controller_port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.data_dir / "logs"),
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
        server = self.config_dir / "server.properties"
        server.write_text("".join(f"{key}={value}\n" for key, value in props.items()))
        (self.config_dir / "log4j2.properties").write_text(
            "status = warn\n"
            "appender.out.type = Console\nappender.out.name = OUT\n"
            "appender.out.layout.type = PatternLayout\nappender.out.layout.pattern = [%d] %p %m (%c)%n\n"
            "rootLogger.level = INFO\nrootLogger.appenderRef.out.ref = OUT\n"
            "logger.state.name = state.change.logger\nlogger.state.level = WARN\n"
            "logger.request.name = kafka.request.logger\nlogger.request.level = WARN\n"
        )
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
        meta = self.data_dir / "logs" / "meta.properties"
        if meta.exists():
            return
        (self.data_dir / "logs").mkdir(parents=True, exist_ok=True)
        cluster_id = kafka_cluster_id()
        cmd = self._java(
            "kafka.tools.StorageTool", "format", "--standalone", "-t", cluster_id, "-c", str(server), heap_mb=256
        )
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            result = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, check=False)
        if result.returncode != 0:
            raise StackError(f"kafka: formatting storage failed: {self.last_error()}; see {self.log_file}")

    def command(self) -> list[str]:
        return self._java(
            "kafka.Kafka", str(self.config_dir / "server.properties"), heap_mb=self.settings.kafka_heap_mb
        )

    def _admin(self):  # type: ignore[no-untyped-def]
        from confluent_kafka.admin import AdminClient

        return AdminClient({"bootstrap.servers": self.settings.bootstrap_servers, "socket.timeout.ms": 2000})

    def health(self) -> Health:
        if not port_open(self.settings.bind_host, self.settings.kafka_port):
            return Health(False, f"{self.settings.bootstrap_servers} not accepting connections")
        metadata = self._admin().list_topics(timeout=3)
        if self.settings.kafka_topic not in metadata.topics:
            return Health(
                False, f"broker up ({len(metadata.brokers)} broker), topic {self.settings.kafka_topic} missing"
            )
        parts = len(metadata.topics[self.settings.kafka_topic].partitions)
        return Health(True, f"broker up, topic {self.settings.kafka_topic} with {parts} partitions")

    def wait_healthy(self, timeout_s: float) -> None:
        # The broker is healthy once it answers; the topic is created in after_start.
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.running():
                raise StackError(f"kafka exited during start: {self.last_error()}; see {self.log_file}")
            try:
                if port_open(self.settings.bind_host, self.settings.kafka_port):
                    self._admin().list_topics(timeout=3)
                    self.after_start()
                    return
            except Exception:  # the broker is still starting
                pass
            time.sleep(0.5)
        raise StackError(f"kafka not healthy after {timeout_s:.0f}s: {self.last_error()}; see {self.log_file}")

    def after_start(self) -> None:
        ensure_topic(self.settings)


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

    from iot_platform.clients.kafka import create_topic_if_missing

    admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers})
    create_topic_if_missing(admin, settings, topic or settings.kafka_topic, timeout_s=60)


# --- Spark ---------------------------------------------------------------------------------------------------
class _SparkDaemon(Service):
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

    def master_state(self) -> dict:  # type: ignore[type-arg]
        response = httpx.get(f"{self.settings.master_web_url}/json/", timeout=2.0)
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]


class SparkMaster(_SparkDaemon):
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
        return Health(
            state.get("status") == "ALIVE",
            f"status {state.get('status')}, {state.get('aliveworkers', 0)} workers alive",
        )


class SparkWorker(_SparkDaemon):
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
            "-Dspark.worker.cleanup.interval=3600"
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
        state = self.master_state()
        port = f":{self.settings.spark_worker_web_port}"
        for worker in state.get("workers", []):
            if worker.get("state") == "ALIVE" and str(worker.get("webuiaddress", "")).endswith(port):
                return Health(True, f"{worker['id']} ALIVE with {worker['cores']} cores, {worker['memory']} MiB")
        return Health(False, "not registered with the master")


# --- Catalog -------------------------------------------------------------------------------------------------
class Catalog(Service):
    """The Iceberg SQL catalog. In the ``local`` profile it is embedded (a SQLite file), so no process runs."""

    name = "catalog"

    def endpoints(self) -> dict[str, str]:
        return {"name": self.settings.catalog_name, "uri": _redact(self.settings.catalog_properties()["uri"])}

    def start(self) -> bool:
        if self.settings.profile is Profile.LOCAL:
            (self.settings.data_dir / "catalog").mkdir(parents=True, exist_ok=True)
            (self.settings.data_dir / "warehouse").mkdir(parents=True, exist_ok=True)
            # Write-ahead logging lets Spark's JDBC catalog and pyiceberg read while the other commits.
            with closing(sqlite3.connect(self.settings.data_dir / "catalog" / "catalog.db")) as db:
                db.execute("PRAGMA journal_mode=WAL")
        ensure_namespace(self.settings)
        return False

    def running(self) -> bool:
        return True

    def wait_healthy(self, timeout_s: float) -> None:
        health = self.health()
        if not health.ok:
            raise StackError(f"catalog not healthy: {health.detail}")

    def stop(self) -> bool:
        return False

    def health(self) -> Health:
        from iot_platform.clients.iceberg import load_catalog

        catalog = load_catalog(self.settings)
        namespaces = [ns[0] for ns in catalog.list_namespaces()]
        if CATALOG_NAMESPACE not in namespaces:
            return Health(False, f"namespace {CATALOG_NAMESPACE} missing")
        tables = len(catalog.list_tables(CATALOG_NAMESPACE))
        return Health(True, f"namespace {CATALOG_NAMESPACE} with {tables} tables")

    def status(self) -> ServiceStatus:
        try:
            health = self.health()
        except Exception as exc:
            health = Health(False, f"{type(exc).__name__}: {exc}")
        state = "healthy" if health.ok else "unhealthy"
        return ServiceStatus(self.name, state, health.detail, None, None, self.endpoints())


def ensure_namespace(settings: Settings) -> None:
    """Create the catalog tables and the ``iot`` namespace if missing."""
    from pyiceberg.exceptions import NamespaceAlreadyExistsError

    from iot_platform.clients.iceberg import load_catalog

    catalog = load_catalog(settings)
    with suppress(NamespaceAlreadyExistsError):
        catalog.create_namespace(CATALOG_NAMESPACE)


def _redact(uri: str) -> str:
    if "@" not in uri or "://" not in uri:
        return uri
    scheme, rest = uri.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


# --- PostgreSQL (postgres-s3 profile) ------------------------------------------------------------------------
class Postgres(Service):
    """PostgreSQL from Debian's packages, holding the Iceberg catalog and Dagster's storage."""

    name = "postgres"
    stop_signal = signal.SIGINT  # fast shutdown: roll back open transactions, then exit

    def ports(self) -> dict[str, int]:
        return {"IOT_POSTGRES_PORT": self.settings.postgres_port}

    def endpoints(self) -> dict[str, str]:
        return {"host": self.settings.postgres_host, "port": str(self.settings.postgres_port)}

    @property
    def socket_dir(self) -> Path:
        return self.settings.run_dir / "postgres"

    def bin_dir(self) -> Path:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
        if not found:
            if os.geteuid() != 0 or shutil.which("apt-get") is None:
                raise StackError("PostgreSQL server is not installed: apt-get install postgresql")
            for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "postgresql"]):
                with self.log_file.open("ab") as log:
                    result = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, check=False)
                if result.returncode != 0:
                    raise DownloadError(f"postgres: `{' '.join(cmd)}` failed; see {self.log_file}")
            found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
        return Path(found[-1]).parent

    def run_as(self) -> str | None:
        return "postgres" if os.geteuid() == 0 else None

    def prepare(self) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        bin_dir = self.bin_dir()
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        user = self.run_as()
        if user:
            shutil.chown(self.socket_dir, user, user)
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        if user:
            shutil.chown(self.data_dir, user, user)
        cmd = [
            str(bin_dir / "initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            "postgres",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
        ]
        with self.log_file.open("ab") as log:
            result = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, check=False, user=user)
        if result.returncode != 0:
            raise StackError(f"postgres: initdb failed: {self.last_error()}; see {self.log_file}")

    def command(self) -> list[str]:
        return [
            str(self.bin_dir() / "postgres"),
            "-D",
            str(self.data_dir),
            "-p",
            str(self.settings.postgres_port),
            "-k",
            str(self.socket_dir),
            "-c",
            f"listen_addresses={self.settings.bind_host}",
        ]

    def _connect(self, dbname: str = "postgres"):  # type: ignore[no-untyped-def]
        import psycopg2

        return psycopg2.connect(
            host=str(self.socket_dir),
            port=self.settings.postgres_port,
            user="postgres",
            dbname=dbname,
            connect_timeout=3,
        )

    def health(self) -> Health:
        with self._connect() as conn, conn.cursor() as cur:
            cur.execute("select version()")
            version = cur.fetchone()[0].split(",")[0]
        return Health(True, version)

    def after_start(self) -> None:
        s = self.settings
        assert s.postgres_password is not None
        conn = self._connect()
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("select 1 from pg_roles where rolname = %s", (s.postgres_user,))
            verb = "alter" if cur.fetchone() else "create"
            cur.execute(
                f'{verb} role "{s.postgres_user}" with login password %s', (s.postgres_password.get_secret_value(),)
            )
            for db in (s.postgres_db, dagster_database(s)):
                cur.execute("select 1 from pg_database where datname = %s", (db,))
                if not cur.fetchone():
                    cur.execute(f'create database "{db}" owner "{s.postgres_user}"')
        conn.close()


def dagster_database(settings: Settings) -> str:
    """PostgreSQL database of Dagster's storage in the postgres-s3 profile."""
    return f"{settings.postgres_db}_dagster"


# --- S3-compatible object store (postgres-s3 profile) ---------------------------------------------------------
class ObjectStore(Service):
    """MinIO, built once from its Go module into the cache, serving the Iceberg warehouse bucket."""

    name = "object-store"

    def ports(self) -> dict[str, int]:
        return {"IOT_S3_PORT": self.settings.s3_port}

    def endpoints(self) -> dict[str, str]:
        return {"endpoint": self.settings.s3_endpoint_url, "bucket": self.settings.s3_bucket}

    def binary(self) -> Path:
        return self.settings.cache_dir / "bin" / "minio"

    def prepare(self) -> None:
        binary = self.binary()
        stamp = binary.with_suffix(".version")
        if binary.exists() and stamp.exists() and stamp.read_text() == MINIO_MODULE:
            return
        go = shutil.which("go") or next(iter(glob.glob("/usr/local/go/bin/go")), None)
        if go is None:
            raise DownloadError("object-store: Go is needed once to build MinIO from its module; install golang")
        gopath = self.settings.cache_dir / "go"
        env = dict(os.environ)
        env.update({"GOPATH": str(gopath), "GOMODCACHE": str(gopath / "mod"), "GOBIN": str(binary.parent)})
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            result = subprocess.run(
                [go, "install", MINIO_MODULE], stdout=log, stderr=subprocess.STDOUT, env=env, check=False
            )
        if result.returncode != 0:
            raise DownloadError(f"object-store: building MinIO failed: {self.last_error()}; see {self.log_file}")
        stamp.write_text(MINIO_MODULE)

    def environment(self) -> dict[str, str]:
        env = super().environment()
        s = self.settings
        assert s.s3_secret_key is not None
        env.update(
            {
                "MINIO_ROOT_USER": s.s3_access_key or "",
                "MINIO_ROOT_PASSWORD": s.s3_secret_key.get_secret_value(),
                "MINIO_REGION": s.s3_region,
                "MINIO_BROWSER": "off",
                "MINIO_UPDATE": "off",
            }
        )
        return env

    def command(self) -> list[str]:
        host = self.settings.bind_host
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return [
            str(self.binary()),
            "server",
            str(self.data_dir),
            "--address",
            f"{host}:{self.settings.s3_port}",
            "--quiet",
        ]

    def health(self) -> Health:
        return http_ok(f"{self.settings.s3_endpoint_url}/minio/health/live")

    def after_start(self) -> None:
        import s3fs

        s = self.settings
        assert s.s3_secret_key is not None
        fs = s3fs.S3FileSystem(
            key=s.s3_access_key,
            secret=s.s3_secret_key.get_secret_value(),
            client_kwargs={"endpoint_url": s.s3_endpoint_url, "region_name": s.s3_region},
        )
        if not fs.exists(s.s3_bucket):
            fs.mkdir(s.s3_bucket)


# --- Dagster, API, generator -----------------------------------------------------------------------------------
def write_dagster_yaml(settings: Settings) -> Path:
    """Write ``$DAGSTER_HOME/dagster.yaml``: telemetry off, one run at a time (Spark jobs share two cores)."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config: dict[str, object] = {
        "telemetry": {"enabled": False},
        "concurrency": {"runs": {"max_concurrent_runs": 1}, "pools": {"default_limit": 1}},
        "freshness": {"enabled": True},
        "run_monitoring": {"enabled": True, "poll_interval_seconds": 30},
        "sensors": {"use_threads": True, "num_workers": 4},
        "schedules": {"use_threads": True, "num_workers": 2},
    }
    if settings.profile is Profile.POSTGRES_S3:
        config["storage"] = {
            "postgres": {
                "postgres_db": {
                    "username": settings.postgres_user,
                    "password": {"env": "IOT_POSTGRES_PASSWORD"},
                    "hostname": settings.postgres_host,
                    "db_name": dagster_database(settings),
                    "port": settings.postgres_port,
                }
            }
        }
    path = home / "dagster.yaml"
    path.write_text(json.dumps(config, indent=2))  # JSON is YAML
    return path


def _workspace() -> str:
    workspace = Path.cwd() / "workspace.yaml"
    if not workspace.exists():
        raise StackError(f"no workspace.yaml in {Path.cwd()}: run the stack from the platform's folder")
    return str(workspace)


class DagsterWebserver(Service):
    """Dagster's webserver (UI and GraphQL) on the platform's code location."""

    name = "dagster-webserver"

    def ports(self) -> dict[str, int]:
        return {"IOT_DAGSTER_PORT": self.settings.dagster_port}

    def endpoints(self) -> dict[str, str]:
        return {"url": self.settings.dagster_web_url}

    def prepare(self) -> None:
        write_dagster_yaml(self.settings)

    def command(self) -> list[str]:
        return [
            venv_bin("dagster-webserver"),
            "-w",
            _workspace(),
            "-h",
            self.settings.bind_host,
            "-p",
            str(self.settings.dagster_port),
        ]

    def health(self) -> Health:
        return http_ok(f"{self.settings.dagster_web_url}/server_info")


class DagsterDaemon(Service):
    """Dagster's daemon: runs schedules, sensors and the run queue."""

    name = "dagster-daemon"

    def prepare(self) -> None:
        write_dagster_yaml(self.settings)

    def command(self) -> list[str]:
        return [venv_bin("dagster-daemon"), "run", "-w", _workspace()]

    def health(self) -> Health:
        from dagster import DagsterInstance

        os.environ.setdefault("DAGSTER_HOME", str(self.settings.dagster_home))
        with DagsterInstance.from_config(str(self.settings.dagster_home)) as instance:
            heartbeats = instance.get_daemon_heartbeats()
        fresh = [name for name, beat in heartbeats.items() if time.time() - beat.timestamp < 90]
        needed = {"SCHEDULER", "SENSOR", "QUEUED_RUN_COORDINATOR"}
        missing = needed - set(fresh)
        if missing:
            return Health(False, f"no recent heartbeat from {', '.join(sorted(missing))}")
        return Health(True, f"{len(fresh)} daemons heartbeating")


class Api(Service):
    """The platform's REST API."""

    name = "api"

    def ports(self) -> dict[str, int]:
        return {"IOT_API_PORT": self.settings.api_port}

    def endpoints(self) -> dict[str, str]:
        return {"url": self.settings.api_base_url, "docs": f"{self.settings.api_base_url}/docs"}

    def command(self) -> list[str]:
        return [venv_bin("iot-platform"), "api"]

    @property
    def token_file(self) -> Path:
        return self.settings.run_dir / "api-token"

    def environment(self) -> dict[str, str]:
        env = super().environment()
        if "IOT_API_TOKEN" not in env and self.settings.profile is Profile.LOCAL:
            # The local profile may have a default secret: a random token, kept in the state folder (mode 600).
            if not self.token_file.exists():
                import secrets

                self.token_file.parent.mkdir(parents=True, exist_ok=True)
                self.token_file.touch(mode=0o600)
                self.token_file.write_text(secrets.token_urlsafe(32))
            env["IOT_API_TOKEN"] = self.token_file.read_text().strip()
        return env

    def health(self) -> Health:
        return http_ok(f"{self.settings.api_base_url}/health")


class Generator(Service):
    """The sensor generator, publishing live readings to the topic."""

    name = "generator"

    def endpoints(self) -> dict[str, str]:
        return {"topic": self.settings.kafka_topic}

    def command(self) -> list[str]:
        return [venv_bin("iot-platform"), "generator", "run"]

    def health(self) -> Health:
        return Health(True, "producing")


def _module_exists(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def services_for(settings: Settings) -> list[Service]:
    """Every service of the stack for the settings' profile, in start order. The one place profiles diverge."""
    services: list[Service] = []
    if settings.profile is Profile.POSTGRES_S3:
        services += [Postgres(settings), ObjectStore(settings)]
    services += [Kafka(settings), SparkMaster(settings), SparkWorker(settings), Catalog(settings)]
    if _module_exists("iot_platform.definitions"):
        services += [DagsterWebserver(settings), DagsterDaemon(settings)]
    if _module_exists("iot_platform.api.main"):
        services.append(Api(settings))
    if _module_exists("iot_platform.generator.service"):
        services.append(Generator(settings))
    return services


SERVICE_NAMES = (
    "postgres",
    "object-store",
    "kafka",
    "spark-master",
    "spark-worker",
    "catalog",
    "dagster-webserver",
    "dagster-daemon",
    "api",
    "generator",
)
"""Every service a stack can have, in start order."""
