"""What the stack reports about the catalog: never its password."""

from __future__ import annotations

from collections.abc import Callable

from iot_platform.settings import Settings
from iot_platform.stack.catalog import Catalog, redact


def test_redact_hides_the_password_and_keeps_user_host_and_database() -> None:
    uri = "postgresql+psycopg2://iot:p@ss:word@db.example:5433/iot_catalog"
    assert redact(uri) == "postgresql+psycopg2://iot:***@db.example:5433/iot_catalog"


def test_redact_leaves_uris_without_credentials_alone() -> None:
    assert redact("sqlite:////state/data/catalog/catalog.db?timeout=30") == (
        "sqlite:////state/data/catalog/catalog.db?timeout=30"
    )


def test_postgres_s3_catalog_endpoint_shows_no_password(make_settings: Callable[..., Settings]) -> None:
    endpoints = Catalog(make_settings("postgres-s3")).endpoints()
    assert "catalog-password" not in endpoints["uri"]
    assert endpoints["uri"].startswith("postgresql+psycopg2://iot:***@")
