"""The Iceberg resource: typed fields from the settings, secrets only as environment variables."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import EnvVar

from iot_platform.resources.iceberg import IcebergResource
from iot_platform.settings import load_settings


def test_local_catalog_needs_no_secret_and_opens(tmp_path: Path) -> None:
    settings = load_settings(state_dir=tmp_path)
    (settings.data_dir / "catalog").mkdir(parents=True)
    resource = IcebergResource.from_settings(settings)
    assert resource.properties == settings.catalog_properties()
    assert resource.database_password is None and resource.s3_secret_key is None
    assert resource.catalog().name == settings.catalog_name


def test_postgres_s3_secrets_are_env_vars_not_values() -> None:
    settings = load_settings(
        profile="postgres-s3", postgres_password="pg-secret", s3_access_key="a", s3_secret_key="s3-secret"
    )
    resource = IcebergResource.from_settings(settings)
    shown = repr(resource.properties)
    assert "pg-secret" not in shown and "s3-secret" not in shown
    assert resource.database_password == EnvVar("IOT_POSTGRES_PASSWORD")
    assert resource.s3_secret_key == EnvVar("IOT_S3_SECRET_KEY")


def test_a_run_gets_the_secrets_from_its_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from dagster import build_resources

    settings = load_settings(
        profile="postgres-s3", postgres_password="pg-secret", s3_access_key="a", s3_secret_key="s3-secret"
    )
    monkeypatch.setenv("IOT_POSTGRES_PASSWORD", "from-env")
    monkeypatch.setenv("IOT_S3_SECRET_KEY", "s3-from-env")
    with build_resources({"iceberg": IcebergResource.from_settings(settings)}) as resources:
        assert (resources.iceberg.database_password, resources.iceberg.s3_secret_key) == ("from-env", "s3-from-env")
