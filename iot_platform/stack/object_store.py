"""MinIO, the S3-compatible object store holding the warehouse in the postgres-s3 profile."""

from __future__ import annotations

import glob
import os
import shutil
from pathlib import Path

from iot_platform.errors import DownloadError
from iot_platform.stack.service import Health, Service, http_ok

MINIO_MODULE = "github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c"
"""The MinIO server, built from its Go module (MinIO publishes no binary to the registries reachable here)."""


class ObjectStore(Service):
    """MinIO, built once from its Go module into the cache, serving the Iceberg warehouse bucket."""

    name = "object-store"

    def ports(self) -> dict[str, int]:
        return {"IOT_S3_PORT": self.settings.s3_port}

    def endpoints(self) -> dict[str, str]:
        return {"endpoint": self.settings.s3_endpoint_url, "bucket": self.settings.s3_bucket}

    def binary(self) -> Path:
        return self.settings.cache_dir / "bin" / "minio"

    def prepare(self) -> None:
        """Build MinIO into the cache unless the pinned version is already there."""
        binary = self.binary()
        stamp = binary.with_suffix(".version")
        if binary.exists() and stamp.exists() and stamp.read_text() == MINIO_MODULE:
            return
        go = shutil.which("go") or next(iter(glob.glob("/usr/local/go/bin/go")), None)
        if go is None:
            raise DownloadError("object-store: Go is needed once to build MinIO from its module; install golang")
        gopath = self.settings.cache_dir / "go"
        env = dict(os.environ)
        env.update({"GOPATH": str(gopath), "GOMODCACHE": str(gopath / "mod"), "GOBIN": str(binary.parent)})
        self.run_logged([go, "install", MINIO_MODULE], what="building MinIO", error=DownloadError, env=env)
        stamp.write_text(MINIO_MODULE)

    def environment(self) -> dict[str, str]:
        env = super().environment()
        s = self.settings
        assert s.s3_secret_key is not None
        env.update(
            {
                "MINIO_ROOT_USER": s.s3_access_key or "",
                "MINIO_ROOT_PASSWORD": s.s3_secret_key.get_secret_value(),
                "MINIO_REGION": s.s3_region,
                "MINIO_BROWSER": "off",
                "MINIO_UPDATE": "off",
            }
        )
        return env

    def command(self) -> list[str]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return [
            str(self.binary()),
            "server",
            str(self.data_dir),
            "--address",
            f"{self.settings.bind_host}:{self.settings.s3_port}",
            "--quiet",
        ]

    def health(self) -> Health:
        return http_ok(f"{self.settings.s3_endpoint_url}/minio/health/live")

    def after_start(self) -> None:
        """Create the warehouse bucket if missing."""
        import s3fs

        s = self.settings
        assert s.s3_secret_key is not None
        fs = s3fs.S3FileSystem(
            key=s.s3_access_key,
            secret=s.s3_secret_key.get_secret_value(),
            client_kwargs={"endpoint_url": s.s3_endpoint_url, "region_name": s.s3_region},
        )
        if not fs.exists(s.s3_bucket):
            fs.mkdir(s.s3_bucket)
