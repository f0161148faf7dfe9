"""PostgreSQL from Debian's packages: the catalog's and Dagster's database in the postgres-s3 profile."""

from __future__ import annotations

import glob
import os
import shutil
import signal
from pathlib import Path

from iot_platform.errors import DownloadError, StackError
from iot_platform.profiles import dagster_database
from iot_platform.stack.service import Health, Service


def initdb_command(bin_dir: Path, data_dir: Path) -> list[str]:
    """``initdb`` of a cluster whose superuser is ``postgres``: trusted over the socket, passwords over TCP."""
    return [
        str(bin_dir / "initdb"),
        "-D",
        str(data_dir),
        "-U",
        "postgres",
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        "-E",
        "UTF8",
    ]


class Postgres(Service):
    """PostgreSQL from Debian's packages, holding the Iceberg catalog and Dagster's storage."""

    name = "postgres"
    stop_signal = signal.SIGINT  # fast shutdown: roll back open transactions, then exit

    def ports(self) -> dict[str, int]:
        return {"IOT_POSTGRES_PORT": self.settings.postgres_port}

    def endpoints(self) -> dict[str, str]:
        return {"host": self.settings.postgres_host, "port": str(self.settings.postgres_port)}

    @property
    def socket_dir(self) -> Path:
        return self.settings.run_dir / "postgres"

    def bin_dir(self) -> Path:
        """The server's binaries, installed from Debian's packages on first use when running as root."""
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
        if not found:
            if os.geteuid() != 0 or shutil.which("apt-get") is None:
                raise StackError("PostgreSQL server is not installed: apt-get install postgresql")
            for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "postgresql"]):
                self.run_logged(cmd, what=f"`{' '.join(cmd)}`", error=DownloadError)
            found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
        return Path(found[-1]).parent

    def run_as(self) -> str | None:
        return "postgres" if os.geteuid() == 0 else None

    def prepare(self) -> None:
        bin_dir = self.bin_dir()
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        user = self.run_as()
        if user:
            shutil.chown(self.socket_dir, user, user)
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        if user:
            shutil.chown(self.data_dir, user, user)
        self.run_logged(initdb_command(bin_dir, self.data_dir), what="initdb", user=user)

    def command(self) -> list[str]:
        return [
            str(self.bin_dir() / "postgres"),
            "-D",
            str(self.data_dir),
            "-p",
            str(self.settings.postgres_port),
            "-k",
            str(self.socket_dir),
            "-c",
            f"listen_addresses={self.settings.bind_host}",
        ]

    def _connect(self, dbname: str = "postgres"):  # type: ignore[no-untyped-def]
        import psycopg2

        return psycopg2.connect(
            host=str(self.socket_dir),
            port=self.settings.postgres_port,
            user="postgres",
            dbname=dbname,
            connect_timeout=3,
        )

    def health(self) -> Health:
        with self._connect() as conn, conn.cursor() as cur:
            cur.execute("select version()")
            version = cur.fetchone()[0].split(",")[0]
        return Health(True, version)

    def after_start(self) -> None:
        """Create (or re-password) the platform's role, and the catalog's and Dagster's databases."""
        s = self.settings
        assert s.postgres_password is not None
        conn = self._connect()
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("select 1 from pg_roles where rolname = %s", (s.postgres_user,))
            verb = "alter" if cur.fetchone() else "create"
            cur.execute(
                f'{verb} role "{s.postgres_user}" with login password %s', (s.postgres_password.get_secret_value(),)
            )
            for db in (s.postgres_db, dagster_database(s)):
                cur.execute("select 1 from pg_database where datname = %s", (db,))
                if not cur.fetchone():
                    cur.execute(f'create database "{db}" owner "{s.postgres_user}"')
        conn.close()
