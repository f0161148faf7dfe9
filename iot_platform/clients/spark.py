"""Spark sessions on the platform's standalone master, with the Kafka source, the Iceberg catalog and the platform's
own Spark functions on the classpath.

The jars are prepared beforehand (``iot-platform stack fetch`` / ``stack up``, or the image build); this module only
locates them, and says what to run when one is missing. Versions that must agree with the pinned pyspark (4.0.0,
Scala 2.13) live here and nowhere else in Python.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from iot_platform.errors import StackError

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
