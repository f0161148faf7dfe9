"""The Iceberg SQL catalog: no process of its own, but prepared, checked and reported like a service."""

from __future__ import annotations

import sqlite3
from contextlib import closing, suppress
from pathlib import Path

from iot_platform.clients.iceberg import load_catalog
from iot_platform.errors import StackError
from iot_platform.profiles import profile_spec
from iot_platform.settings import CATALOG_NAMESPACE, Settings
from iot_platform.stack.service import Health, Service, ServiceStatus


class Catalog(Service):
    """The Iceberg SQL catalog. An embedded catalog (the ``local`` profile's SQLite file) runs no process."""

    name = "catalog"

    def endpoints(self) -> dict[str, str]:
        return {"name": self.settings.catalog_name, "uri": redact(self.settings.catalog_properties()["uri"])}

    def start(self) -> bool:
        spec = profile_spec(self.settings.profile)
        warehouse_dir = spec.warehouse_dir(self.settings)
        if warehouse_dir is not None:
            warehouse_dir.mkdir(parents=True, exist_ok=True)
        catalog_file = spec.catalog_file(self.settings)
        if catalog_file is not None:
            create_embedded_catalog(catalog_file)
        ensure_namespace(self.settings)
        return False

    def running(self) -> bool:
        return True

    def wait_healthy(self, timeout_s: float) -> None:
        health = self.health()
        if not health.ok:
            raise StackError(f"catalog not healthy: {health.detail}")

    def stop(self) -> bool:
        return False

    def health(self) -> Health:
        catalog = load_catalog(self.settings)
        namespaces = [ns[0] for ns in catalog.list_namespaces()]
        if CATALOG_NAMESPACE not in namespaces:
            return Health(False, f"namespace {CATALOG_NAMESPACE} missing")
        tables = len(catalog.list_tables(CATALOG_NAMESPACE))
        return Health(True, f"namespace {CATALOG_NAMESPACE} with {tables} tables")

    def status(self) -> ServiceStatus:
        health = self.probe()
        state = "healthy" if health.ok else "unhealthy"
        return ServiceStatus(self.name, state, health.detail, None, None, self.endpoints())


def create_embedded_catalog(catalog_file: Path) -> None:
    """Create the SQLite catalog file (if missing) with write-ahead logging on."""
    catalog_file.parent.mkdir(parents=True, exist_ok=True)
    # Write-ahead logging lets Spark's JDBC catalog and pyiceberg read while the other commits.
    with closing(sqlite3.connect(catalog_file)) as db:
        db.execute("PRAGMA journal_mode=WAL")


def ensure_namespace(settings: Settings) -> None:
    """Create the catalog tables and the ``iot`` namespace if missing."""
    from pyiceberg.exceptions import NamespaceAlreadyExistsError

    catalog = load_catalog(settings)
    with suppress(NamespaceAlreadyExistsError):
        catalog.create_namespace(CATALOG_NAMESPACE)


def redact(uri: str) -> str:
    """The URI with its password replaced by ``***``, for status output."""
    if "@" not in uri or "://" not in uri:
        return uri
    scheme, rest = uri.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"
