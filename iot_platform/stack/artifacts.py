"""JVM artifacts the platform runs on, prepared before anything runs: jars resolved once from Maven Central with
``mvn`` into the cache folder, and the platform's own Spark functions built from their Maven module (``jvm/``).

``stack fetch``, ``stack up`` and the image build call this; Spark sessions only locate what it prepared
(:mod:`iot_platform.clients.spark`, which also holds the versions that must agree with the pinned pyspark).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from iot_platform.clients.spark import (
    PLATFORM_MODULE,
    SPARK_JARS,
    ArtifactSet,
    locate_platform_jar,
    platform_jar_path,
    spark_jars,
)
from iot_platform.errors import DownloadError, StackError

KAFKA_VERSION = "4.1.1"
LOG4J_VERSION = "2.24.3"

KAFKA = ArtifactSet(
    "kafka",
    (
        f"org.apache.kafka:kafka_2.13:{KAFKA_VERSION}",
        f"org.apache.kafka:kafka-tools:{KAFKA_VERSION}",
        f"org.apache.logging.log4j:log4j-core:{LOG4J_VERSION}",
        f"org.apache.logging.log4j:log4j-slf4j2-impl:{LOG4J_VERSION}",
    ),
)

SPARK = SPARK_JARS
"""The jars of every Spark application (defined with the sessions that locate them)."""

ALL_SETS = (KAFKA, SPARK)


def spark_home() -> Path:
    """The Spark distribution inside the pinned pyspark wheel."""
    import pyspark

    return Path(pyspark.__file__).parent


def artifacts_dir(cache_dir: Path, artifact_set: ArtifactSet) -> Path:
    """Folder holding the jars of one artifact set (a classpath folder)."""
    return artifact_set.folder(cache_dir)


def _pom(artifact_set: ArtifactSet) -> str:
    deps = []
    for coordinate in artifact_set.coordinates:
        group, artifact, version = coordinate.split(":")
        deps.append(
            f"<dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId>"
            f"<version>{version}</version></dependency>"
        )
    return (
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        f"<groupId>iot.platform</groupId><artifactId>jars-{artifact_set.name}</artifactId><version>1</version>"
        f"<packaging>pom</packaging><dependencies>{''.join(deps)}</dependencies></project>"
    )


def _artifact_name(jar: Path) -> str:
    """``kafka-clients-3.9.0.jar`` -> ``kafka-clients``."""
    stem = jar.stem
    parts = stem.split("-")
    while parts and parts[-1][:1].isdigit():
        parts.pop()
    return "-".join(parts)


def ensure_artifacts(cache_dir: Path, artifact_set: ArtifactSet, log: Path | None = None) -> Path:
    """Resolve one artifact set into the cache, once; later calls touch no network.

    Args:
        cache_dir: The platform's download cache (``Settings.cache_dir``).
        artifact_set: Which jars.
        log: Where mvn's output goes (default: a file in the cache).

    Returns:
        The folder of jars.

    Raises:
        DownloadError: mvn is missing or the registry cannot be reached / does not serve an artifact.
    """
    target = artifacts_dir(cache_dir, artifact_set)
    stamp = target / ".resolved"
    if stamp.exists() and stamp.read_text() == artifact_set.stamp:
        return target
    mvn = _maven()
    log = log or cache_dir / f"mvn-{artifact_set.name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"jars-{artifact_set.name}-", dir=cache_dir))
    try:
        (staging / "pom.xml").write_text(_pom(artifact_set))
        out_dir = staging / "out"
        cmd = [
            mvn,
            "-B",
            "-q",
            "-f",
            str(staging / "pom.xml"),
            f"-Dmaven.repo.local={cache_dir / 'm2'}",
            "dependency:copy-dependencies",
            f"-DoutputDirectory={out_dir}",
            "-DincludeScope=runtime",
        ]
        with log.open("w") as handle:
            result = subprocess.run(cmd, stdout=handle, stderr=subprocess.STDOUT, check=False)
        if result.returncode != 0:
            tail = [line for line in log.read_text().splitlines() if "ERROR" in line][:2]
            raise DownloadError(
                f"could not resolve the {artifact_set.name} jars from Maven Central "
                f"({'; '.join(tail) or 'mvn exit ' + str(result.returncode)}); see {log}"
            )
        if artifact_set.exclude_spark_provided:
            provided = {_artifact_name(jar) for jar in (spark_home() / "jars").glob("*.jar")}
            for jar in out_dir.glob("*.jar"):
                if _artifact_name(jar) in provided:
                    jar.unlink()
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        out_dir.rename(target)
        stamp.write_text(artifact_set.stamp)
        return target
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def platform_jar(cache_dir: Path, java_home: str | None = None, module: Path = PLATFORM_MODULE) -> Path:
    """The platform's own Spark functions as a jar in the cache, built once per source version with Maven.

    Args:
        cache_dir: The platform's download cache (``Settings.cache_dir``).
        java_home: The JDK Maven compiles with (default: ``JAVA_HOME``, else ``javac`` on PATH).
        module: The Maven module (default: the checkout's ``jvm/``). An installed package without it keeps the jar
            its image build prepared.

    Returns:
        The jar's path (named after a digest of the sources, so an upgrade builds a new one).

    Raises:
        StackError: no JDK 17 or no ``mvn`` is found, or the module does not build (the message names the log).
    """
    if not (module / "pom.xml").exists():
        return locate_platform_jar(cache_dir, module)
    target = platform_jar_path(cache_dir, module)
    if target.exists():
        return target
    env = _maven_environment(java_home)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="jars-platform-", dir=target.parent))
    log = cache_dir / "mvn-platform.log"
    try:
        cmd = [
            _maven(),
            "-B",
            "-q",
            "-f",
            str(module / "pom.xml"),
            f"-Dmaven.repo.local={cache_dir / 'm2'}",
            f"-Dplatform.build.directory={staging / 'target'}",
            "-DskipTests",  # the module's tests run in `make test`; preparing a stack only packages
            "package",
        ]
        with log.open("w") as handle:
            result = subprocess.run(cmd, stdout=handle, stderr=subprocess.STDOUT, env=env, check=False)
        if result.returncode != 0:
            errors = [line for line in log.read_text().splitlines() if "ERROR" in line][:3]
            reason = "; ".join(errors) or f"mvn exit {result.returncode}"
            raise StackError(f"the platform's Spark functions did not build ({reason}); see {log}")
        built = next((staging / "target").glob("*.jar"))
        # Atomic: a process building at the same time finds a whole jar or none. Jars of other source versions
        # stay: stacks of other checkouts may share this cache and run them.
        built.replace(target)
        return target
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _maven() -> str:
    """``mvn`` from PATH (DownloadError saying how to install it if missing)."""
    mvn = shutil.which("mvn")
    if mvn is None:
        raise DownloadError("mvn (Apache Maven) is not on PATH; install it (apt-get install maven) and retry")
    return mvn


def _maven_environment(java_home: str | None) -> dict[str, str]:
    """The environment Maven runs in: ``JAVA_HOME`` set to a JDK (one with ``javac``)."""
    javac = _jdk_tool(
        "javac",
        java_home,
        "no javac found to build the platform's Spark functions: install a JDK 17 "
        "(apt-get install openjdk-17-jdk-headless) or set IOT_JAVA_HOME to one",
    )
    return {**os.environ, "JAVA_HOME": str(Path(javac).resolve().parent.parent)}


def prepare_spark_jars(cache_dir: Path, java_home: str | None = None) -> list[str]:
    """Resolve and build every jar Spark sessions locate (:func:`iot_platform.clients.spark.spark_jars`).

    Raises:
        DownloadError: the registry cannot serve a jar.
        StackError: the platform's jar cannot be built.
    """
    ensure_artifacts(cache_dir, SPARK)
    platform_jar(cache_dir, java_home)
    return spark_jars(cache_dir)


def kafka_classpath(cache_dir: Path) -> str:
    """Java classpath of the Kafka broker and tools, resolving the jars if needed."""
    return str(ensure_artifacts(cache_dir, KAFKA) / "*")


def java_executable(java_home: str | None = None) -> str:
    """The ``java`` to run Kafka and Spark with.

    Raises:
        StackError: no Java installation can be found.
    """
    return _jdk_tool(
        "java", java_home, "no Java found: install a JDK 17 (apt-get install openjdk-17-jdk-headless) or set JAVA_HOME"
    )


def _jdk_tool(tool: str, java_home: str | None, missing: str) -> str:
    """``tool`` from ``java_home`` (default: ``JAVA_HOME``), else from PATH; StackError(``missing``) if neither."""
    home = java_home or os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / tool).exists():
        return str(Path(home) / "bin" / tool)
    found = shutil.which(tool)
    if found is None:
        raise StackError(missing)
    return found


if __name__ == "__main__":  # pragma: no cover - manual use: python -m iot_platform.stack.artifacts CACHE_DIR
    cache = Path(sys.argv[1] if len(sys.argv) > 1 else ".iot-platform/cache").resolve()
    for item in ALL_SETS:
        print(ensure_artifacts(cache, item))
    print(platform_jar(cache))
