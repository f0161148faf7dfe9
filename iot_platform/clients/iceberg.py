"""The Iceberg catalog as pyiceberg sees it (a plain client): the catalog Spark mounts as ``settings.catalog_name``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from iot_platform.errors import ServiceUnavailable

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

    from iot_platform.settings import Settings


def load_catalog(settings: Settings) -> Catalog:
    """Open the platform's Iceberg catalog with pyiceberg.

    Raises:
        ServiceUnavailable: the catalog database cannot be reached.
    """
    return catalog_from_properties(settings.catalog_name, settings.catalog_properties())


def catalog_from_properties(name: str, properties: dict[str, str]) -> Catalog:
    """Open a catalog from the properties ``stack status --json`` prints."""
    from pyiceberg.catalog import load_catalog as pyiceberg_load_catalog

    try:
        return pyiceberg_load_catalog(name, **properties)
    except Exception as exc:  # SQLAlchemy raises driver-specific errors; the user needs one message
        raise ServiceUnavailable("Iceberg catalog", f"{name} at {properties.get('uri', '?')}: {exc}") from exc


def with_secrets(
    properties: dict[str, str], *, database_password: str | None = None, s3_secret_key: str | None = None
) -> dict[str, str]:
    """Catalog properties with the secrets that are kept apart from them added back.

    Args:
        properties: Properties without secrets (``settings.catalog_properties(secrets=False)``).
        database_password: The catalog database's password, set into the ``uri``.
        s3_secret_key: The warehouse's S3 secret key.

    Returns:
        Properties for :func:`catalog_from_properties`.
    """
    result = dict(properties)
    if database_password:
        from sqlalchemy.engine import make_url

        url = make_url(result["uri"]).set(password=database_password)
        result["uri"] = url.render_as_string(hide_password=False)
    if s3_secret_key:
        result["s3.secret-access-key"] = s3_secret_key
    return result
