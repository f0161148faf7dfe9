"""Spark sessions' settings and jars: every application gets the prepared jars, and a missing one says what to run."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from iot_platform.clients import spark as client
from iot_platform.errors import StackError
from iot_platform.settings import load_settings

FETCH = r"run `iot-platform stack fetch`"


def prepare(cache_dir: Path, module: Path = client.PLATFORM_MODULE) -> list[Path]:
    """Stand-ins for what the stack prepares in ``cache_dir``: the Spark jar set and the platform's jar."""
    folder = client.SPARK_JARS.folder(cache_dir)
    folder.mkdir(parents=True)
    jars = [folder / "spark-sql-kafka-0-10_2.13-4.0.0.jar", folder / "iceberg-spark-runtime-4.0_2.13-1.10.1.jar"]
    for jar in jars:
        jar.write_bytes(b"jar")
    (folder / ".resolved").write_text(client.SPARK_JARS.stamp)
    platform = client.platform_jar_path(cache_dir, module)
    platform.parent.mkdir(parents=True)
    platform.write_bytes(b"jar")
    return [*sorted(jars), platform]


def test_conf_holds_the_master_the_jars_the_catalog_and_utc(tmp_path: Path) -> None:
    settings = load_settings(IOT_CACHE_DIR=tmp_path, spark_master_url="spark://master:7077", catalog_name="cat")
    jars = prepare(tmp_path)

    conf = client.spark_conf(settings, "iot-platform:ingest:run-1")

    assert conf["spark.master"] == "spark://master:7077"
    assert conf["spark.app.name"] == "iot-platform:ingest:run-1"
    assert conf["spark.jars"].split(",") == [str(jar) for jar in jars]
    assert conf["spark.sql.session.timeZone"] == "UTC"
    assert conf["spark.sql.defaultCatalog"] == "cat"
    assert conf["spark.sql.catalog.cat"] == "org.apache.iceberg.spark.SparkCatalog"
    assert conf["spark.sql.shuffle.partitions"] == str(settings.spark_shuffle_partitions)
    assert conf["spark.executor.memory"] == settings.spark_executor_memory


def test_the_server_keeps_one_executor_and_adds_one_only_for_sustained_work(tmp_path: Path) -> None:
    settings = load_settings(IOT_CACHE_DIR=tmp_path, spark_connect_max_executors=2, spark_connect_idle_timeout_s=60)
    prepare(tmp_path)

    conf = client.connect_server_conf(settings)

    assert conf["spark.executor.cores"] == "1"
    assert (conf["spark.dynamicAllocation.minExecutors"], conf["spark.dynamicAllocation.maxExecutors"]) == ("1", "2")
    assert conf["spark.dynamicAllocation.executorIdleTimeout"] == "60s"
    # A scheduled run's second-long stages stay on the warm executor (no cold JVM per run); a backlog gets a core.
    assert conf["spark.dynamicAllocation.schedulerBacklogTimeout"] == f"{client.EXTRA_EXECUTOR_BACKLOG_S}s"
    assert 2 <= client.EXTRA_EXECUTOR_BACKLOG_S < settings.spark_connect_idle_timeout_s


def test_missing_spark_jars_say_to_fetch(tmp_path: Path) -> None:
    with pytest.raises(StackError, match=f"Spark jars .* are not in {tmp_path}.*{FETCH}"):
        client.spark_conf(load_settings(IOT_CACHE_DIR=tmp_path), "app")


def test_jars_of_other_versions_are_not_used(tmp_path: Path) -> None:
    prepare(tmp_path)
    (client.SPARK_JARS.folder(tmp_path) / ".resolved").write_text("org.apache.spark:spark-sql-kafka-0-10_2.13:3.5.0")

    with pytest.raises(StackError, match=FETCH):
        client.spark_jars(tmp_path)


def test_changed_platform_sources_need_a_new_build(tmp_path: Path) -> None:
    module = tmp_path / "jvm"
    shutil.copytree(client.PLATFORM_MODULE / "src" / "main", module / "src" / "main")
    shutil.copy(client.PLATFORM_MODULE / "pom.xml", module)
    built = prepare(tmp_path / "cache", module)[-1]
    assert client.locate_platform_jar(tmp_path / "cache", module) == built

    source = next(module.rglob("CanonicalReading.java"))
    source.write_text(source.read_text() + "\n// changed\n")

    assert client.platform_jar_path(tmp_path / "cache", module) != built
    with pytest.raises(StackError, match=f"not built for these sources .*{FETCH}"):
        client.locate_platform_jar(tmp_path / "cache", module)


def test_without_sources_the_prepared_jar_is_used(tmp_path: Path) -> None:
    """An installed image has the jar its build prepared, not the module it came from."""
    no_module = tmp_path / "site-packages" / "jvm"
    folder = tmp_path / "cache" / "jars" / "platform"
    with pytest.raises(StackError, match=f"no jar in {folder}.*{FETCH}"):
        client.locate_platform_jar(tmp_path / "cache", no_module)

    folder.mkdir(parents=True)
    jar = folder / "iot-platform-spark-0123456789abcdef.jar"
    jar.write_bytes(b"jar")

    assert client.locate_platform_jar(tmp_path / "cache", no_module) == jar


def test_the_module_compiles_against_the_pinned_spark() -> None:
    pom = (client.PLATFORM_MODULE / "pom.xml").read_text()

    assert f"<spark.version>{client.SPARK_VERSION}</spark.version>" in pom
    assert f"<scala.binary.version>{client.SCALA_BINARY}</scala.binary.version>" in pom


def test_probe_of_an_absent_server_reports_url_and_reason_at_once() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    url = f"sc://127.0.0.1:{port}"
    probe = client.probe_connect_server(url)
    assert not probe.answered and probe.app_id is None
    assert url in (probe.error or "") and probe.elapsed_s < 3
    assert "SPARK_CONNECT_MODE_ENABLED" not in os.environ


def test_probe_of_a_server_that_never_answers_gives_up_within_its_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    released = threading.Event()

    @contextmanager
    def hanging_session(url: str) -> Iterator[None]:
        released.wait(30)  # a server that accepts the connection and never answers
        raise ConnectionError("released")
        yield

    monkeypatch.setattr(client, "connect_session", hanging_session)
    began = time.monotonic()
    probe = client.probe_connect_server("sc://silent.test:15002", timeout_s=0.5)
    assert time.monotonic() - began < 1.5
    assert not probe.answered and probe.error == "no answer to SELECT 1 within 0.5 s"
    released.set()


def test_the_connect_mark_pyspark_leaves_in_the_environment_goes_with_the_last_session(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SPARK_CONNECT_MODE_ENABLED", raising=False)
    with client._connect_mode():
        with client._connect_mode():
            os.environ["SPARK_CONNECT_MODE_ENABLED"] = "1"  # what pyspark does when it creates a Connect session
        assert os.environ.get("SPARK_CONNECT_MODE_ENABLED") == "1"  # another session of the process is open
    assert "SPARK_CONNECT_MODE_ENABLED" not in os.environ  # a classic SparkSession can start again
