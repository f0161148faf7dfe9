"""The platform's own Spark functions: compiled once per source version into the cache, with clear errors."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from iot_platform.errors import StackError
from iot_platform.stack import artifacts


def test_the_jar_is_compiled_once_and_holds_the_canonical_reader(tmp_path: Path) -> None:
    jar = artifacts.platform_jar(tmp_path)
    built_at = jar.stat().st_mtime_ns

    assert jar.parent == tmp_path / "jars" / "platform"
    with zipfile.ZipFile(jar) as archive:
        assert "org/iotplatform/spark/CanonicalReading.class" in archive.namelist()
    assert artifacts.platform_jar(tmp_path) == jar
    assert jar.stat().st_mtime_ns == built_at  # the second call found it and compiled nothing
    assert [p.name for p in jar.parent.iterdir()] == [jar.name]  # no staging folder left behind


def test_changed_sources_compile_a_new_jar_in_place_of_the_old(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sources = tmp_path / "jvm"
    shutil.copytree(artifacts.PLATFORM_SOURCES, sources)
    monkeypatch.setattr(artifacts, "PLATFORM_SOURCES", sources)
    first = artifacts.platform_jar(tmp_path / "cache")
    reader = next(sources.rglob("CanonicalReading.java"))
    reader.write_text(reader.read_text() + "\n// changed\n")

    second = artifacts.platform_jar(tmp_path / "cache")

    assert second != first
    assert sorted(p.name for p in second.parent.iterdir()) == [second.name]


def test_sources_that_do_not_compile_are_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sources = tmp_path / "jvm"
    sources.mkdir()
    (sources / "Broken.java").write_text("public class Broken { int x = ; }\n")
    monkeypatch.setattr(artifacts, "PLATFORM_SOURCES", sources)

    with pytest.raises(StackError, match="did not compile: .*Broken.java"):
        artifacts.platform_jar(tmp_path / "cache")
    assert not list((tmp_path / "cache" / "jars" / "platform").glob("*.jar"))


def test_a_missing_javac_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "a-jre-only"))

    with pytest.raises(StackError, match="no javac found.*openjdk-17-jdk-headless"):
        artifacts.platform_jar(tmp_path / "cache")
