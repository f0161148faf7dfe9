"""The platform's profiles: where the Iceberg catalog and warehouse live, and all that follows from that choice.

:func:`profile_spec` is the one place a profile is chosen; settings, the stack and its services ask the
:class:`ProfileSpec` it returns instead of comparing profiles themselves.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from iot_platform.settings import Settings


class Profile(StrEnum):
    """Where the Iceberg catalog and warehouse live."""

    LOCAL = "local"
    """Embedded: SQLite catalog file and a local warehouse folder under the state folder."""
    POSTGRES_S3 = "postgres-s3"
    """PostgreSQL catalog and an S3-compatible object store for the warehouse."""


class ProfileSpec:
    """What one profile decides: its own services and ports, its secrets, the catalog, Dagster's storage."""

    services: ClassVar[tuple[str, ...]] = ()
    """Services the profile adds, started before the engines."""
    mints_api_token: ClassVar[bool] = False
    """Whether ``stack up`` may give the API a random token when ``IOT_API_TOKEN`` is unset."""

    def ports(self, settings: Settings) -> dict[str, int]:
        """Ports of the profile's own services, keyed by the variable that sets each."""
        return {}

    def missing_secrets(self, settings: Settings) -> list[str]:
        """Variables the profile needs that have no value (secrets have no defaults)."""
        return []

    def catalog_file(self, settings: Settings) -> Path | None:
        """The SQLite file of an embedded catalog; None when the catalog is a server."""
        return None

    def warehouse_dir(self, settings: Settings) -> Path | None:
        """The local folder of the warehouse; None when the warehouse is an object store."""
        return None

    def catalog_properties(self, settings: Settings, *, secrets: bool = True) -> dict[str, str]:
        """Properties for ``pyiceberg.catalog.load_catalog(catalog_name, **properties)`` (``secrets=False``: without
        the database password and the S3 secret key)."""
        raise NotImplementedError

    def spark_catalog_conf(self, settings: Settings, prefix: str) -> dict[str, str]:
        """Spark settings under ``prefix`` (``spark.sql.catalog.<name>``) that mount the same catalog."""
        raise NotImplementedError

    def dagster_storage(self, settings: Settings) -> dict[str, object] | None:
        """The ``storage`` section of ``dagster.yaml``; None keeps Dagster's default (SQLite in DAGSTER_HOME)."""
        return None


class LocalProfile(ProfileSpec):
    """SQLite catalog file and a warehouse folder under the state folder; no extra services."""

    mints_api_token = True

    def catalog_file(self, settings: Settings) -> Path:
        return settings.data_dir / "catalog" / "catalog.db"

    def warehouse_dir(self, settings: Settings) -> Path:
        return settings.data_dir / "warehouse"

    def catalog_properties(self, settings: Settings, *, secrets: bool = True) -> dict[str, str]:
        return {
            "type": "sql",
            "uri": f"sqlite:///{self.catalog_file(settings)}?timeout=30",
            "warehouse": self.warehouse_dir(settings).as_uri(),
        }

    def spark_catalog_conf(self, settings: Settings, prefix: str) -> dict[str, str]:
        return {
            f"{prefix}.uri": f"jdbc:sqlite:{self.catalog_file(settings)}",
            f"{prefix}.jdbc.busy_timeout": "30000",
            f"{prefix}.warehouse": self.warehouse_dir(settings).as_uri(),
        }


class PostgresS3Profile(ProfileSpec):
    """PostgreSQL holds the catalog and Dagster's storage; an S3-compatible object store holds the warehouse."""

    services = ("postgres", "object-store")

    def ports(self, settings: Settings) -> dict[str, int]:
        return {"IOT_POSTGRES_PORT": settings.postgres_port, "IOT_S3_PORT": settings.s3_port}

    def missing_secrets(self, settings: Settings) -> list[str]:
        values = (
            ("IOT_POSTGRES_PASSWORD", settings.postgres_password),
            ("IOT_S3_ACCESS_KEY", settings.s3_access_key),
            ("IOT_S3_SECRET_KEY", settings.s3_secret_key),
        )
        return [name for name, value in values if not value]

    def catalog_properties(self, settings: Settings, *, secrets: bool = True) -> dict[str, str]:
        s = settings
        assert s.postgres_password is not None and s.s3_secret_key is not None
        password = f":{s.postgres_password.get_secret_value()}" if secrets else ""
        properties = {
            "type": "sql",
            "uri": (
                f"postgresql+psycopg2://{s.postgres_user}{password}@{s.postgres_host}:{s.postgres_port}/{s.postgres_db}"
            ),
            "warehouse": f"s3://{s.s3_bucket}/warehouse",
            "s3.endpoint": s.s3_endpoint_url,
            "s3.access-key-id": s.s3_access_key or "",
            "s3.secret-access-key": s.s3_secret_key.get_secret_value(),
            "s3.region": s.s3_region,
            "s3.path-style-access": "true",
        }
        if not secrets:
            del properties["s3.secret-access-key"]
        return properties

    def spark_catalog_conf(self, settings: Settings, prefix: str) -> dict[str, str]:
        s = settings
        assert s.postgres_password is not None and s.s3_secret_key is not None
        return {
            f"{prefix}.uri": f"jdbc:postgresql://{s.postgres_host}:{s.postgres_port}/{s.postgres_db}",
            f"{prefix}.jdbc.user": s.postgres_user,
            f"{prefix}.jdbc.password": s.postgres_password.get_secret_value(),
            f"{prefix}.warehouse": f"s3://{s.s3_bucket}/warehouse",
            f"{prefix}.io-impl": "org.apache.iceberg.aws.s3.S3FileIO",
            f"{prefix}.s3.endpoint": s.s3_endpoint_url,
            f"{prefix}.s3.path-style-access": "true",
            f"{prefix}.s3.access-key-id": s.s3_access_key or "",
            f"{prefix}.s3.secret-access-key": s.s3_secret_key.get_secret_value(),
            f"{prefix}.client.region": s.s3_region,
        }

    def dagster_storage(self, settings: Settings) -> dict[str, object]:
        return {
            "postgres": {
                "postgres_db": {
                    "username": settings.postgres_user,
                    "password": {"env": "IOT_POSTGRES_PASSWORD"},
                    "hostname": settings.postgres_host,
                    "db_name": dagster_database(settings),
                    "port": settings.postgres_port,
                }
            }
        }


def dagster_database(settings: Settings) -> str:
    """PostgreSQL database of Dagster's storage in the postgres-s3 profile."""
    return f"{settings.postgres_db}_dagster"


_SPECS: dict[Profile, ProfileSpec] = {Profile.LOCAL: LocalProfile(), Profile.POSTGRES_S3: PostgresS3Profile()}


def profile_spec(profile: Profile) -> ProfileSpec:
    """What the profile decides: the one place a profile is chosen.

    Args:
        profile: The configured profile (``IOT_PROFILE``).

    Returns:
        The profile's decisions.
    """
    return _SPECS[profile]
