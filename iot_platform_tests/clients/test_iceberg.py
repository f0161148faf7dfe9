"""The Iceberg catalog client: secrets kept apart from the catalog properties are put back exactly."""

from __future__ import annotations

from iot_platform.clients.iceberg import with_secrets
from iot_platform.settings import load_settings


def test_secrets_put_back_give_the_settings_properties() -> None:
    settings = load_settings(
        profile="postgres-s3", postgres_password="pg-secret", s3_access_key="a", s3_secret_key="s3-secret"
    )
    shown = settings.catalog_properties(secrets=False)
    assert "pg-secret" not in repr(shown) and "s3-secret" not in repr(shown)
    properties = with_secrets(shown, database_password="pg-secret", s3_secret_key="s3-secret")
    assert properties == settings.catalog_properties()


def test_a_password_with_url_characters_is_escaped_in_the_uri() -> None:
    from sqlalchemy.engine import make_url

    uri = "postgresql+psycopg2://iot@db.test:5433/iot_catalog"
    properties = with_secrets({"uri": uri}, database_password="p@ss:w/rd")
    assert make_url(properties["uri"]).password == "p@ss:w/rd"


def test_local_properties_stay_as_they_are() -> None:
    properties = {"type": "sql", "uri": "sqlite:////tmp/catalog.db", "warehouse": "file:///tmp/warehouse"}
    assert with_secrets(properties) == properties
