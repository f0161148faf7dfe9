"""The API service's token: minted once in the local profile, never when a token is configured."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from iot_platform.settings import Settings
from iot_platform.stack import service as service_module
from iot_platform.stack.api import Api


@pytest.fixture(autouse=True)
def _plain_child_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The child environment without looking for Java (not what these tests are about)."""
    monkeypatch.setattr(service_module, "child_environment", service_module.settings_environment)


def test_local_profile_mints_one_private_token_and_keeps_it(make_settings: Callable[..., Settings]) -> None:
    api = Api(make_settings())
    first = api.environment()["IOT_API_TOKEN"]
    assert len(first) >= 32
    assert api.environment()["IOT_API_TOKEN"] == first
    assert api.token_file.stat().st_mode & 0o777 == 0o600


def test_a_configured_token_wins(make_settings: Callable[..., Settings]) -> None:
    api = Api(make_settings(api_token="configured"))
    assert api.environment()["IOT_API_TOKEN"] == "configured"
    assert not api.token_file.exists()


def test_postgres_s3_profile_mints_no_token(make_settings: Callable[..., Settings]) -> None:
    api = Api(make_settings("postgres-s3"))
    assert "IOT_API_TOKEN" not in api.environment()
    assert not api.token_file.exists()
