"""Profiles: each decides its catalog, its services, ports and secrets; Spark and pyiceberg see one catalog."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from iot_platform.profiles import Profile, profile_spec
from iot_platform.settings import Settings

SECRETS = {"postgres_password": "catalog-password", "s3_access_key": "iot-access", "s3_secret_key": "s3-secret"}


@pytest.fixture(autouse=True)
def _no_platform_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in list(os.environ):
        if key.startswith("IOT_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def test_every_profile_is_decided() -> None:
    for profile in Profile:
        assert profile_spec(profile).catalog_properties is not None


def test_local_spark_and_pyiceberg_open_the_same_sqlite_file_and_warehouse(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    props = settings.catalog_properties()
    conf = settings.spark_catalog_conf()
    prefix = f"spark.sql.catalog.{settings.catalog_name}"
    catalog_db = tmp_path / "data" / "catalog" / "catalog.db"
    assert props["uri"] == f"sqlite:///{catalog_db}?timeout=30"
    assert conf[f"{prefix}.uri"] == f"jdbc:sqlite:{catalog_db}"
    assert props["warehouse"] == conf[f"{prefix}.warehouse"] == (tmp_path / "data" / "warehouse").as_uri()
    assert profile_spec(Profile.LOCAL).catalog_file(settings) == catalog_db


def test_postgres_s3_spark_and_pyiceberg_open_the_same_database_and_bucket(tmp_path: Path) -> None:
    settings = Settings(profile=Profile.POSTGRES_S3, state_dir=tmp_path, postgres_port=15433, **SECRETS)  # type: ignore[arg-type]
    props = settings.catalog_properties()
    conf = settings.spark_catalog_conf()
    prefix = f"spark.sql.catalog.{settings.catalog_name}"
    assert props["uri"] == "postgresql+psycopg2://iot:catalog-password@127.0.0.1:15433/iot_catalog"
    assert conf[f"{prefix}.uri"] == "jdbc:postgresql://127.0.0.1:15433/iot_catalog"
    assert props["warehouse"] == conf[f"{prefix}.warehouse"] == "s3://iot-warehouse/warehouse"
    assert props["s3.endpoint"] == conf[f"{prefix}.s3.endpoint"] == "http://127.0.0.1:9000"
    assert profile_spec(Profile.POSTGRES_S3).catalog_file(settings) is None


def test_postgres_s3_names_every_missing_secret(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="IOT_POSTGRES_PASSWORD, IOT_S3_ACCESS_KEY, IOT_S3_SECRET_KEY"):
        Settings(profile=Profile.POSTGRES_S3, state_dir=tmp_path)


def test_postgres_s3_ports_take_part_in_the_collision_check(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="IOT_S3_PORT and IOT_KAFKA_PORT both use port 9092"):
        Settings(profile=Profile.POSTGRES_S3, state_dir=tmp_path, s3_port=9092, **SECRETS)  # type: ignore[arg-type]
    Settings(profile=Profile.LOCAL, state_dir=tmp_path, s3_port=9092)  # the local profile runs no object store
