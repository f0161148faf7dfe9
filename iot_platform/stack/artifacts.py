"""JVM artifacts the platform runs on, resolved once from Maven Central with ``mvn`` into the cache folder.

Versions that must agree with the pinned pyspark (4.0.0, Scala 2.13) live here and nowhere else.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from iot_platform.errors import DownloadError, StackError

SPARK_VERSION = "4.0.0"
SCALA_BINARY = "2.13"
KAFKA_VERSION = "4.1.1"
ICEBERG_VERSION = "1.10.1"
LOG4J_VERSION = "2.24.3"


@dataclass(frozen=True)
class ArtifactSet:
    """A named group of Maven artifacts copied, with their runtime dependencies, into one folder."""

    name: str
    coordinates: tuple[str, ...]
    exclude_spark_provided: bool = False
    """Drop jars that the pyspark wheel already ships (same artifact name), to keep one version on the classpath."""


KAFKA = ArtifactSet(
    "kafka",
    (
        f"org.apache.kafka:kafka_2.13:{KAFKA_VERSION}",
        f"org.apache.kafka:kafka-tools:{KAFKA_VERSION}",
        f"org.apache.logging.log4j:log4j-core:{LOG4J_VERSION}",
        f"org.apache.logging.log4j:log4j-slf4j2-impl:{LOG4J_VERSION}",
    ),
)

SPARK = ArtifactSet(
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

ALL_SETS = (KAFKA, SPARK)


def spark_home() -> Path:
    """The Spark distribution inside the pinned pyspark wheel."""
    import pyspark

    return Path(pyspark.__file__).parent


def artifacts_dir(cache_dir: Path, artifact_set: ArtifactSet) -> Path:
    """Folder holding the jars of one artifact set (a classpath folder)."""
    return cache_dir / "jars" / artifact_set.name


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


def _stamp(artifact_set: ArtifactSet) -> str:
    return "\n".join(artifact_set.coordinates)


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
    if stamp.exists() and stamp.read_text() == _stamp(artifact_set):
        return target
    mvn = shutil.which("mvn")
    if mvn is None:
        raise DownloadError("mvn (Apache Maven) is not on PATH; install it (apt-get install maven) and retry")
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
        stamp.write_text(_stamp(artifact_set))
        return target
    finally:
        shutil.rmtree(staging, ignore_errors=True)


PLATFORM_SOURCES = Path(__file__).resolve().parent.parent / "jvm"
"""Java sources of the platform's own Spark functions (compiled against the pinned pyspark's jars)."""


def platform_jar(cache_dir: Path, java_home: str | None = None) -> Path:
    """The platform's own Spark functions as a jar, compiled once per source version with ``javac``.

    Args:
        cache_dir: The platform's download cache (``Settings.cache_dir``).
        java_home: The JDK whose ``javac`` to use (default: ``JAVA_HOME``, else ``javac`` on PATH).

    Returns:
        The jar's path (named after a hash of the sources, so an upgrade compiles a new one).

    Raises:
        StackError: no ``javac`` (a JDK 17) is found, or the sources do not compile.
    """
    sources = sorted(PLATFORM_SOURCES.rglob("*.java"))
    digest = hashlib.sha256(SPARK_VERSION.encode())
    for source in sources:
        digest.update(source.relative_to(PLATFORM_SOURCES).as_posix().encode())
        digest.update(source.read_bytes())
    target = cache_dir / "jars" / "platform" / f"iot-platform-spark-{digest.hexdigest()[:16]}.jar"
    if target.exists():
        return target
    javac = _jdk_tool(
        "javac",
        java_home,
        "no javac found to compile the platform's Spark functions: install a JDK 17 "
        "(apt-get install openjdk-17-jdk-headless) or set IOT_JAVA_HOME to one",
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="jars-platform-", dir=target.parent))
    try:
        classes = staging / "classes"
        cmd = [
            javac,
            "--release",
            "17",
            "-nowarn",
            "-encoding",
            "UTF-8",
            "-cp",
            str(spark_home() / "jars" / "*"),
            "-d",
            str(classes),
            *map(str, sources),
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise StackError(f"the platform's Spark functions did not compile: {result.stderr.strip()[:2000]}")
        built = staging / target.name
        with zipfile.ZipFile(built, "w", zipfile.ZIP_DEFLATED) as jar:
            jar.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\nCreated-By: iot-platform\r\n\r\n")
            for item in sorted(classes.rglob("*.class")):
                jar.write(item, item.relative_to(classes).as_posix())
        built.replace(target)  # atomic: a process compiling at the same time finds a whole jar or none
        for old in target.parent.glob("iot-platform-spark-*.jar"):
            if old != target:
                old.unlink(missing_ok=True)
        return target
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def spark_jars(cache_dir: Path, java_home: str | None = None) -> list[str]:
    """Jar paths for ``spark.jars`` (Kafka source, Iceberg runtime, JDBC drivers, the platform's functions),
    resolving or compiling them if needed (``java_home``: see :func:`platform_jar`)."""
    folder = ensure_artifacts(cache_dir, SPARK)
    return sorted(str(jar) for jar in folder.glob("*.jar")) + [str(platform_jar(cache_dir, java_home))]


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
