"""The Iceberg catalog as a Dagster resource (pyiceberg)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dagster import ConfigurableResource, EnvVar
from pydantic import Field

from iot_platform.clients.iceberg import catalog_from_properties, with_secrets
from iot_platform.settings import Settings

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog


class IcebergResource(ConfigurableResource):
    """pyiceberg access to the platform's catalog, for assets and checks that read tables without Spark.

    Secrets are ``EnvVar`` fields, read from the environment of the process that runs the step, so none
    appears in the resource's configuration in the UI.
    """

    catalog_name: str = Field(description="Iceberg catalog name (IOT_CATALOG_NAME).")
    properties: dict[str, str] = Field(
        description="pyiceberg catalog properties without secrets: type, uri, warehouse, s3.* (IOT_PROFILE)."
    )
    database_password: str | None = Field(
        default=None, description="Catalog database password, from IOT_POSTGRES_PASSWORD (postgres-s3)."
    )
    s3_secret_key: str | None = Field(
        default=None, description="Warehouse S3 secret key, from IOT_S3_SECRET_KEY (postgres-s3)."
    )

    @classmethod
    def from_settings(cls, settings: Settings) -> IcebergResource:
        """The resource for the settings' catalog; secrets stay in the ``IOT_*`` environment variables."""
        shown = settings.catalog_properties(secrets=False)
        complete = settings.catalog_properties()
        secrets: dict[str, str | None] = {}
        if complete["uri"] != shown["uri"]:  # the profile's catalog database has a password
            secrets["database_password"] = EnvVar("IOT_POSTGRES_PASSWORD")
        if "s3.secret-access-key" in complete:
            secrets["s3_secret_key"] = EnvVar("IOT_S3_SECRET_KEY")
        return cls(catalog_name=settings.catalog_name, properties=shown, **secrets)

    def catalog(self) -> Catalog:
        """Open the catalog (raises ServiceUnavailable when its database cannot be reached)."""
        properties = with_secrets(
            self.properties,
            database_password=_value(self.database_password),
            s3_secret_key=_value(self.s3_secret_key),
        )
        return catalog_from_properties(self.catalog_name, properties)


def _value(field: str | None) -> str | None:
    """A field's value; an ``EnvVar`` not yet resolved by Dagster (the resource used directly) is read now."""
    return field.get_value() if isinstance(field, EnvVar) else field
