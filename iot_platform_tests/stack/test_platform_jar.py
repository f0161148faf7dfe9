"""The platform's own Spark functions: built by the stack with Maven once per source version into the cache, which
sessions then only locate; build failures are reported clearly."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from iot_platform.clients.spark import PLATFORM_MODULE, locate_platform_jar
from iot_platform.errors import StackError
from iot_platform.stack import artifacts
from iot_platform_tests.conftest import test_settings


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    """An empty cache that shares the platform's Maven repository (no plugin downloads per test)."""
    cache = tmp_path / "cache"
    cache.mkdir()
    shared = test_settings().cache_dir / "m2"
    shared.mkdir(parents=True, exist_ok=True)
    (cache / "m2").symlink_to(shared, target_is_directory=True)
    return cache


@pytest.fixture
def module(tmp_path: Path) -> Path:
    """A copy of the platform's Maven module (build file and main sources) to change."""
    copy = tmp_path / "jvm"
    shutil.copytree(PLATFORM_MODULE / "src" / "main", copy / "src" / "main")
    shutil.copy(PLATFORM_MODULE / "pom.xml", copy)
    return copy


def test_the_jar_is_built_once_holds_the_canonical_reader_and_is_what_sessions_locate(
    cache: Path, tmp_path: Path
) -> None:
    jar = artifacts.platform_jar(cache)
    built_at = jar.stat().st_mtime_ns

    assert jar.parent == cache / "jars" / "platform"
    with zipfile.ZipFile(jar) as archive:
        assert "org/iotplatform/spark/CanonicalReading.class" in archive.namelist()
    assert locate_platform_jar(cache) == jar
    assert artifacts.platform_jar(cache) == jar
    assert jar.stat().st_mtime_ns == built_at  # the second call found it and built nothing
    assert [p.name for p in jar.parent.iterdir()] == [jar.name]  # no staging folder left behind
    # An installed package (no sources) keeps the jar its image build prepared.
    assert artifacts.platform_jar(cache, module=tmp_path / "site-packages" / "jvm") == jar


def test_changed_sources_build_a_new_jar(cache: Path, module: Path) -> None:
    first = artifacts.platform_jar(cache, module=module)
    reader = next(module.rglob("CanonicalReading.java"))
    reader.write_text(reader.read_text() + "\n// changed\n")
    with pytest.raises(StackError, match="run `iot-platform stack fetch`"):
        locate_platform_jar(cache, module)

    second = artifacts.platform_jar(cache, module=module)

    assert second != first
    assert locate_platform_jar(cache, module) == second


def test_sources_that_do_not_compile_are_reported(cache: Path, module: Path) -> None:
    (module / "src" / "main" / "java" / "Broken.java").write_text("public class Broken { int x = ; }\n")

    with pytest.raises(StackError, match=r"did not build \(.*Broken.java.*\); see .*mvn-platform.log"):
        artifacts.platform_jar(cache, module=module)
    assert not list((cache / "jars" / "platform").glob("*.jar"))


def test_a_missing_jdk_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "a-jre-only"))

    with pytest.raises(StackError, match="no javac found.*openjdk-17-jdk-headless"):
        artifacts.platform_jar(tmp_path / "cache")
