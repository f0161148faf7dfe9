"""Settings: validated, one line per problem naming the variable, every variable documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from iot_platform.errors import ConfigurationError
from iot_platform.settings import Profile, Settings, load_settings

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _no_platform_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Settings come from the environment: start each test from none (a test stack may have exported some)."""
    import os

    for key in list(os.environ):
        if key.startswith("IOT_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)  # and no .env file


def _variables() -> set[str]:
    return {field.alias or f"IOT_{name.upper()}" for name, field in Settings.model_fields.items()}


def test_defaults_are_the_local_profile_on_loopback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.profile is Profile.LOCAL
    assert settings.bootstrap_servers == "127.0.0.1:9092"
    assert settings.master_url == "spark://127.0.0.1:7077"
    assert settings.kafka_topic == "sensor-raw" and settings.kafka_partitions == 3
    assert settings.catalog_properties()["uri"].startswith("sqlite:///")
    assert settings.state_dir == (tmp_path / ".iot-platform").resolve()


def test_bad_values_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOT_KAFKA_PARTITIONS", "0")
    monkeypatch.setenv("IOT_SPARK_WORKER_MEMORY", "lots")
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    assert "IOT_KAFKA_PARTITIONS" in str(info.value) and "IOT_SPARK_WORKER_MEMORY" in str(info.value)


def test_postgres_s3_needs_its_secrets_and_has_no_defaults_for_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOT_PROFILE", "postgres-s3")
    monkeypatch.setenv("IOT_POSTGRES_PASSWORD", "")  # empty counts as unset
    with pytest.raises(ConfigurationError, match="IOT_POSTGRES_PASSWORD, IOT_S3_ACCESS_KEY, IOT_S3_SECRET_KEY"):
        load_settings()
    settings = load_settings(postgres_password="p", s3_access_key="a", s3_secret_key="s")
    conf = settings.spark_catalog_conf()
    assert conf["spark.sql.catalog.iot_catalog.uri"].startswith("jdbc:postgresql://")
    assert settings.catalog_properties()["warehouse"] == "s3://iot-warehouse/warehouse"


def test_ports_must_differ() -> None:
    with pytest.raises(ConfigurationError, match="IOT_API_PORT and IOT_DAGSTER_PORT both use port 3000"):
        load_settings(api_port=3000)


def test_spark_and_pyiceberg_get_the_same_catalog() -> None:
    settings = load_settings()
    conf = settings.spark_catalog_conf()
    props = settings.catalog_properties()
    assert conf["spark.sql.catalog.iot_catalog.warehouse"] == props["warehouse"]
    assert props["uri"].split("?")[0].removeprefix("sqlite:///") == conf[
        "spark.sql.catalog.iot_catalog.uri"
    ].removeprefix("jdbc:sqlite:")


def test_every_setting_is_in_env_example_and_readme() -> None:
    example = set(re.findall(r"^(IOT_[A-Z0-9_]+)=", (REPO / ".env.example").read_text(), re.M))
    assert example == _variables()
    readme = (REPO / "README.md").read_text()
    missing = sorted(name for name in _variables() if f"`{name}`" not in readme)
    assert missing == []


def test_readings_retention_must_outlast_the_late_data_horizon() -> None:
    with pytest.raises(ConfigurationError, match="IOT_RETENTION_READINGS_DAYS=2 would drop readings"):
        load_settings(retention_readings_days=2, late_data_horizon_hours=48)
    settings = load_settings(retention_readings_days=3, late_data_horizon_hours=48)
    assert (settings.retention_readings_days, settings.retention_rejected_days) == (3, 90)
