"""Settings for unit tests of the stack's pure parts: built from arguments only, in a scratch state folder."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from iot_platform.settings import Settings

POSTGRES_S3_SECRETS = {
    "postgres_password": "catalog-password",
    "s3_access_key": "iot-access",
    "s3_secret_key": "object-store-secret",
}


@pytest.fixture
def make_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[..., Settings]:
    """Build settings from keyword arguments alone (no ``IOT_*`` variables, no ``.env``), state in ``tmp_path``."""
    for key in list(os.environ):
        if key.startswith("IOT_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)

    def build(profile: str = "local", **overrides: object) -> Settings:
        values: dict[str, object] = {"profile": profile, "state_dir": tmp_path / "state"}
        if profile == "postgres-s3":
            values.update(POSTGRES_S3_SECRETS)
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    return build
