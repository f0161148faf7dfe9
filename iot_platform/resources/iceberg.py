"""The Iceberg catalog as a Dagster resource (pyiceberg)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dagster import ConfigurableResource

from iot_platform.clients.iceberg import load_catalog

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog


class IcebergResource(ConfigurableResource):
    """pyiceberg access to the platform's catalog, for assets and checks that read tables without Spark.

    The catalog (and its credentials) come from the ``IOT_*`` settings of the process that runs the step,
    so no secret appears in the resource's configuration in the UI.
    """

    def catalog(self) -> Catalog:
        from iot_platform.settings import load_settings

        return load_catalog(load_settings())
