"""Spark sessions on the platform's standalone master, with the Kafka source, the Iceberg catalog and the platform's
own Spark functions on the classpath: a session of the long-lived Spark Connect server (what platform runs use), or
an application of its own.

The jars are prepared beforehand (``iot-platform stack fetch`` / ``stack up``, or the image build); this module only
locates them, and says what to run when one is missing. Versions that must agree with the pinned pyspark (4.0.0,
Scala 2.13) live here and nowhere else in Python.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from iot_platform.errors import ConfigurationError, StackError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from iot_platform.settings import Settings

SPARK_VERSION = "4.0.0"
SCALA_BINARY = "2.13"
ICEBERG_VERSION = "1.10.1"

PREPARE_HINT = "run `iot-platform stack fetch` (or `iot-platform stack up`) to prepare it"
"""What to do about a missing jar: the stack builds and resolves every jar sessions need."""


@dataclass(frozen=True)
class ArtifactSet:
    """A named group of Maven artifacts, resolved with their runtime dependencies into one folder of the cache."""

    name: str
    coordinates: tuple[str, ...]
    exclude_spark_provided: bool = False
    """Drop jars that the pyspark wheel already ships (same artifact name), to keep one version on the classpath."""

    def folder(self, cache_dir: Path) -> Path:
        """Folder holding this set's jars (a classpath folder)."""
        return cache_dir / "jars" / self.name

    @property
    def stamp(self) -> str:
        """Content of the folder's ``.resolved`` file once the set is complete: the coordinates it holds."""
        return "\n".join(self.coordinates)


SPARK_JARS = ArtifactSet(
    "spark",
    (
        f"org.apache.spark:spark-sql-kafka-0-10_{SCALA_BINARY}:{SPARK_VERSION}",
        f"org.apache.iceberg:iceberg-spark-runtime-4.0_{SCALA_BINARY}:{ICEBERG_VERSION}",
        f"org.apache.iceberg:iceberg-aws-bundle:{ICEBERG_VERSION}",
        "org.xerial:sqlite-jdbc:3.53.4.0",
        "org.postgresql:postgresql:42.7.8",
    ),
    exclude_spark_provided=True,
)
"""Jars of every platform application: Kafka source, Iceberg runtime and S3 bundle, JDBC drivers."""

PLATFORM_MODULE = Path(__file__).resolve().parents[2] / "jvm"
"""Maven module of the platform's own Spark functions: in a source checkout; an installed image has only its jar."""

PLATFORM_JAR_PREFIX = "iot-platform-spark-"


def platform_module_files(module: Path = PLATFORM_MODULE) -> list[Path]:
    """The files a build of the platform's jar depends on (its build file and main sources), in a stable order."""
    return [module / "pom.xml", *sorted(path for path in (module / "src" / "main").rglob("*") if path.is_file())]


def platform_jar_path(cache_dir: Path, module: Path = PLATFORM_MODULE) -> Path:
    """Where the jar built from ``module`` goes: named after a digest of its sources, so changed sources (an
    upgrade) build a new jar instead of running an old one."""
    digest = hashlib.sha256(SPARK_VERSION.encode())
    for path in platform_module_files(module):
        digest.update(path.relative_to(module).as_posix().encode())
        digest.update(path.read_bytes())
    return cache_dir / "jars" / "platform" / f"{PLATFORM_JAR_PREFIX}{digest.hexdigest()[:16]}.jar"


def locate_platform_jar(cache_dir: Path, module: Path = PLATFORM_MODULE) -> Path:
    """The prepared jar of the platform's Spark functions.

    From a source checkout, the jar of the current sources; in an installed image (no sources), the jar its build
    prepared (the newest, should the cache hold several).

    Raises:
        StackError: the jar is not prepared (the message says what to run).
    """
    if (module / "pom.xml").exists():
        jar = platform_jar_path(cache_dir, module)
        if jar.exists():
            return jar
        raise StackError(
            f"the platform's Spark functions are not built for these sources ({jar} is missing): {PREPARE_HINT}"
        )
    folder = cache_dir / "jars" / "platform"
    built = sorted(folder.glob(f"{PLATFORM_JAR_PREFIX}*.jar"), key=lambda jar: jar.stat().st_mtime_ns)
    if not built:
        raise StackError(f"the platform's Spark functions are not built (no jar in {folder}): {PREPARE_HINT}")
    return built[-1]


def spark_jars(cache_dir: Path) -> list[str]:
    """Jar paths for ``spark.jars``: :data:`SPARK_JARS` and the platform's functions, as prepared in the cache.

    Every application gets all of them (the S3 bundle too), since a driver JVM keeps the jars of its first session.

    Raises:
        StackError: a jar is not prepared (the message says what to run).
    """
    folder = SPARK_JARS.folder(cache_dir)
    stamp = folder / ".resolved"
    if not stamp.exists() or stamp.read_text() != SPARK_JARS.stamp:
        raise StackError(f"the Spark jars (Kafka source, Iceberg runtime) are not in {folder}: {PREPARE_HINT}")
    return sorted(str(jar) for jar in folder.glob("*.jar")) + [str(locate_platform_jar(cache_dir))]


def application_conf(
    app_name: str,
    *,
    master_url: str,
    bind_host: str,
    driver_memory: str,
    executor_memory: str,
    shuffle_partitions: int,
    catalog_name: str,
    catalog_conf: Mapping[str, str],
    jars: list[str],
) -> dict[str, str]:
    """Every Spark setting of a platform application: master, jars, catalog, UTC, memory and cores."""
    conf = {
        "spark.master": master_url,
        "spark.app.name": app_name,
        "spark.jars": ",".join(jars),
        "spark.driver.host": bind_host,
        "spark.driver.bindAddress": bind_host,
        "spark.driver.memory": driver_memory,
        "spark.executor.memory": executor_memory,
        "spark.pyspark.python": sys.executable,
        "spark.pyspark.driver.python": sys.executable,
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(shuffle_partitions),
        "spark.sql.adaptive.enabled": "true",
        "spark.ui.showConsoleProgress": "false",
        "spark.ui.enabled": "false",
        # Should the UI be turned on, nobody stops the platform's work from it (terminate the run instead).
        "spark.ui.killEnabled": "false",
        "spark.sql.defaultCatalog": catalog_name,
        # Lets a job find a stopped master quickly instead of retrying for minutes.
        "spark.standalone.submit.waitAppCompletion": "false",
    }
    conf.update(catalog_conf)
    return conf


def spark_conf(settings: Settings, app_name: str) -> dict[str, str]:
    """:func:`application_conf` from the platform's settings.

    Raises:
        StackError: a jar is not prepared (the message says what to run).
    """
    return application_conf(
        app_name,
        master_url=settings.master_url,
        bind_host=settings.bind_host,
        driver_memory=settings.spark_driver_memory,
        executor_memory=settings.spark_executor_memory,
        shuffle_partitions=settings.spark_shuffle_partitions,
        catalog_name=settings.catalog_name,
        catalog_conf=settings.spark_catalog_conf(),
        jars=spark_jars(settings.cache_dir),
    )


@contextmanager
def open_session(conf: Mapping[str, str]) -> Iterator[SparkSession]:
    """A Spark application with ``conf`` for the duration of the block, stopped afterwards.

    Static settings (master, jars) only apply to a new session, so an existing one is stopped first.
    """
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()
    # Python workers start from $PYSPARK_PYTHON (pyspark reads it, not `spark.pyspark.python`, for a session started
    # from Python); unset, they would run `python3` from PATH, which lacks the platform's libraries.
    os.environ.setdefault("PYSPARK_PYTHON", conf.get("spark.pyspark.python", sys.executable))
    builder = SparkSession.builder
    for key, value in conf.items():
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


@contextmanager
def spark_session(
    settings: Settings, app_name: str, extra_conf: Mapping[str, str] | None = None
) -> Iterator[SparkSession]:
    """A Spark application on the platform's master for the duration of the block, stopped afterwards.

    Args:
        settings: The platform's settings (master, catalog, cache of prepared jars).
        app_name: The application's name on the master.
        extra_conf: Adds to or overrides :func:`spark_conf` (e.g. ``spark.cores.max``).

    Raises:
        StackError: a jar is not prepared (the message says what to run).
    """
    with open_session({**spark_conf(settings, app_name), **(extra_conf or {})}) as session:
        yield session


# --- the warm server: Spark Connect ---------------------------------------------------------------------------
CONNECT_SERVER_APP_NAME = "iot-platform:connect-server"
"""Name of the Spark Connect server's application on the master."""

CONNECT_SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"

CONNECT_USER = "iot-platform"
"""User id of every platform session on the server (sessions are keyed by user and session id)."""

RUN_TAG_PREFIX = "iot-platform-run-"
"""Operations of a Dagster run carry the tag ``iot-platform-run-<run id>``."""

CONNECT_TIMEOUT_S = 5.0
"""How long a session waits for the server's port before the run fails naming the server."""

_RETRY_POLICY = {"max_retries": 6, "initial_backoff": 100, "max_backoff": 2000}
"""Transient gRPC errors are retried for about 8 s, not the client's default 10 minutes, so a dead server fails a
run within seconds."""


EXTRA_EXECUTOR_BACKLOG_S = 4
"""Seconds tasks wait in the server's queue before it asks for an executor beyond the warm one. A scheduled run's
stages last about a second, so its work stays on the warm executor; at a 5-minute interval an extra executor would
be released between runs and every run would pay a new, cold executor JVM (its start and its JIT) for no gain. A
backlog waits these seconds for its second core."""


def connect_server_conf(settings: Settings) -> dict[str, str]:
    """Every Spark setting of the Spark Connect server: a platform application (jars, catalog, UTC) with its gRPC
    endpoint, and one-core executors under dynamic allocation.

    The server keeps one executor (one core) warm and adds executors up to ``spark_connect_max_executors`` while
    work is queued, releasing them after ``spark_connect_idle_timeout_s``: an idle server leaves the other cores of
    the cluster to anyone's ``spark-submit``.

    Raises:
        StackError: a jar is not prepared (the message says what to run).
    """
    conf = spark_conf(settings, CONNECT_SERVER_APP_NAME)
    conf.pop("spark.pyspark.driver.python", None)
    executors = settings.spark_connect_max_executors
    conf.update(
        {
            "spark.driver.memory": settings.spark_connect_driver_memory,
            "spark.executor.memory": settings.spark_connect_executor_memory,
            "spark.executor.cores": "1",
            "spark.default.parallelism": str(executors),
            "spark.dynamicAllocation.enabled": "true",
            "spark.dynamicAllocation.shuffleTracking.enabled": "true",
            "spark.dynamicAllocation.shuffleTracking.timeout": f"{settings.spark_connect_idle_timeout_s}s",
            "spark.dynamicAllocation.minExecutors": "1",
            "spark.dynamicAllocation.initialExecutors": "1",
            "spark.dynamicAllocation.maxExecutors": str(executors),
            "spark.dynamicAllocation.executorIdleTimeout": f"{settings.spark_connect_idle_timeout_s}s",
            # An executor still holding cached blocks (a run's kept frames that were not unpersisted) is released
            # too, later; Spark's default would keep it, and its core, forever.
            "spark.dynamicAllocation.cachedExecutorIdleTimeout": f"{2 * settings.spark_connect_idle_timeout_s}s",
            "spark.dynamicAllocation.schedulerBacklogTimeout": f"{EXTRA_EXECUTOR_BACKLOG_S}s",
            "spark.cleaner.periodicGC.interval": "5min",
            # The server's UI shows every run's jobs; nobody stops a run's work from it (terminate the run).
            "spark.ui.enabled": "true",
            "spark.ui.port": str(settings.spark_connect_ui_port),
            "spark.ui.killEnabled": "false",
            "spark.ui.retainedJobs": "500",
            "spark.ui.retainedStages": "500",
            "spark.sql.ui.retainedExecutions": "200",
            "spark.connect.grpc.binding.address": settings.bind_host,
            "spark.connect.grpc.binding.port": str(settings.spark_connect_port),
            # Sessions a crashed client left behind are closed after 30 minutes idle (default: 60).
            "spark.connect.session.manager.defaultSessionTimeout": "30m",
            # The warm executor lives as long as the server: its stdout/stderr in the worker's folder roll at the
            # stack's log cap instead of growing for months.
            "spark.executor.logs.rolling.strategy": "size",
            "spark.executor.logs.rolling.maxSize": str(settings.log_max_mb * 1024 * 1024),
            "spark.executor.logs.rolling.maxRetainedFiles": str(settings.log_backups),
        }
    )
    return conf


def connect_server_command(conf: Mapping[str, str], spark_home: Path) -> list[str]:
    """``spark-submit`` of the Spark Connect server with ``conf``, from the pinned pyspark's Spark."""
    jar = spark_home / "jars" / f"spark-connect_{SCALA_BINARY}-{SPARK_VERSION}.jar"
    command = ["bash", str(spark_home / "bin" / "spark-submit"), "--class", CONNECT_SERVER_CLASS]
    command += ["--name", conf.get("spark.app.name", CONNECT_SERVER_APP_NAME)]
    for key, value in conf.items():
        command += ["--jars", value] if key == "spark.jars" else ["--conf", f"{key}={value}"]
    return [*command, str(jar)]


def run_tag(run_id: str) -> str:
    """The tag every Spark operation of the Dagster run ``run_id`` carries."""
    return f"{RUN_TAG_PREFIX}{run_id}"


def connect_address(url: str) -> tuple[str, int]:
    """Host and port of ``sc://host:port[/;params]``.

    Raises:
        ConfigurationError: the URL is not an ``sc://host:port`` URL.
    """
    rest = url.removeprefix("sc://")
    host, _, port = rest.split("/", 1)[0].rpartition(":")
    if not url.startswith("sc://") or not host or not port.isdigit():
        raise ConfigurationError(f"{url!r} is not a Spark Connect URL (sc://host:port)")
    return host, int(port)


def require_connect_server(url: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Fail at once, naming the server, when nothing listens at ``url``.

    Raises:
        StackError: the server's port does not accept connections.
    """
    host, port = connect_address(url)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return
    except OSError as exc:
        raise StackError(
            f"the Spark Connect server at {url} is not answering ({exc.strerror or exc}); "
            "`iot-platform stack up` starts it (`iot-platform stack status` shows its state)"
        ) from exc


@contextmanager
def connect_session(url: str, *, tag: str | None = None, session_id: str | None = None) -> Iterator[SparkSession]:
    """A session of the Spark Connect server at ``url`` for the duration of the block, released afterwards.

    Every operation the block starts carries ``tag``. When the block is left by an exception (a run terminated,
    a failure), the session's operations are interrupted first, so nothing of it keeps running on the server;
    other sessions are untouched.

    Raises:
        StackError: the server does not answer (at start, or stops answering during the block).
    """
    from pyspark.sql import SparkSession

    require_connect_server(url)
    session_id = session_id or str(uuid.uuid4())
    with _connect_mode():
        session = SparkSession.builder.remote(f"{url}/;session_id={session_id};user_id={CONNECT_USER}").create()
        with _interrupted_on_error(session, url, tag):
            yield session


_CONNECT_MODE_ENV = ("SPARK_CONNECT_MODE_ENABLED", "SPARK_REMOTE")
"""What pyspark marks in the process environment when a Connect session is created, and never unmarks."""

_connect_mode_lock = threading.Lock()
_connect_mode_open = 0
_connect_mode_saved: dict[str, str | None] = {}


@contextmanager
def _connect_mode() -> Iterator[None]:
    """Keep pyspark's Connect mark in the environment only while Connect sessions are open.

    pyspark marks the process for good when it creates a Connect session; every process started afterwards (a
    service the stack starts, a run's subprocess) would inherit the mark and fail to start a classic SparkSession.
    When the last open session of this process closes, the environment is put back as it was.
    """
    global _connect_mode_open
    with _connect_mode_lock:
        if _connect_mode_open == 0:
            _connect_mode_saved.update({name: os.environ.get(name) for name in _CONNECT_MODE_ENV})
        _connect_mode_open += 1
    try:
        yield
    finally:
        with _connect_mode_lock:
            _connect_mode_open -= 1
            if _connect_mode_open == 0:
                for name, value in _connect_mode_saved.items():
                    if value is None:
                        os.environ.pop(name, None)
                    else:
                        os.environ[name] = value


@contextmanager
def _interrupted_on_error(session: SparkSession, url: str, tag: str | None = None) -> Iterator[None]:
    """Tag the block's operations; on an exception interrupt them and name a server that stopped answering; release
    the session afterwards."""
    from pyspark.sql.connect.client.retries import DefaultPolicy

    session.client.set_retry_policies([DefaultPolicy(**_RETRY_POLICY)])  # type: ignore[attr-defined,operator]
    try:
        if tag is not None:
            session.addTag(tag)
        yield
    except BaseException as exc:
        _interrupt(session)
        if _server_gone(exc):
            raise StackError(
                f"the Spark Connect server at {url} stopped answering ({type(exc).__name__}); "
                "`iot-platform stack up` restarts it"
            ) from exc
        raise
    finally:
        _release(session)


def _interrupt(session: SparkSession) -> None:
    """Interrupt every operation of ``session`` (best effort: the server may be gone)."""
    with suppress(Exception):  # the server is gone or the session closed: nothing of it runs any more
        session.interruptAll()


def _release(session: SparkSession) -> None:
    """Release ``session`` on the server (best effort: the server may be gone)."""
    with suppress(Exception):
        session.stop()


def _server_gone(exc: BaseException) -> bool:
    """Whether ``exc`` says the server cannot be reached (as opposed to an error of the work itself)."""
    text = str(exc)
    return any(marker in text for marker in ("UNAVAILABLE", "Connection refused", "failed to connect", "Socket closed"))


PROBE_TIMEOUT_S = 5.0
"""How long :func:`probe_connect_server` waits for the server's answer: a hung server cannot hang a sensor."""


@dataclass(frozen=True)
class ConnectServerProbe:
    """What one trivial query told about the Spark Connect server at ``url``."""

    url: str
    app_id: str | None
    """The server's Spark application id; ``None`` when it did not answer."""
    error: str | None
    """Why it did not answer; ``None`` when it did."""
    elapsed_s: float

    @property
    def answered(self) -> bool:
        return self.error is None


def probe_connect_server(url: str, timeout_s: float = PROBE_TIMEOUT_S) -> ConnectServerProbe:
    """Ask the server at ``url`` for ``SELECT 1`` and its application id, within ``timeout_s``.

    The query runs in a short-lived session on a daemon thread, so a server that accepts connections but never
    answers costs ``timeout_s`` and no more.

    Returns:
        The answer, or why there was none (never raises for an absent or broken server).
    """
    importlib.import_module("pyspark.sql.connect.session")  # seconds on a process's first probe: not the server's
    began = time.monotonic()
    answer: dict[str, str] = {}

    def ask() -> None:
        try:
            with connect_session(url) as session:
                session.sql("SELECT 1").collect()
                answer["app_id"] = application_id(session)
        except Exception as exc:  # reported in the probe, which is this function's result
            answer["error"] = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]

    thread = threading.Thread(target=ask, name="spark-connect-probe", daemon=True)
    thread.start()
    thread.join(timeout_s)
    elapsed = time.monotonic() - began
    if thread.is_alive():
        return ConnectServerProbe(url, None, f"no answer to SELECT 1 within {timeout_s:g} s", elapsed)
    if "app_id" in answer:
        return ConnectServerProbe(url, answer["app_id"], None, elapsed)
    return ConnectServerProbe(url, None, answer.get("error", "no answer"), elapsed)


def is_connect(spark: SparkSession) -> bool:
    """Whether ``spark`` is a Spark Connect session (no SparkContext in this process)."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


def application_id(spark: SparkSession) -> str:
    """The id of the Spark application doing ``spark``'s work (the server's, for a Connect session)."""
    return str(spark.conf.get("spark.app.id"))


def default_parallelism(spark: SparkSession) -> int:
    """The cores ``spark``'s work can count on: ``spark.default.parallelism``, else the SparkContext's figure."""
    configured = spark.conf.get("spark.default.parallelism", None)
    if configured:
        return int(configured)
    if is_connect(spark):
        return 2
    return int(spark.sparkContext.defaultParallelism)
