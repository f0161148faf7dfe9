"""What every service shares: the settings handed to child processes, probes and preparation commands."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import pytest

from iot_platform.errors import DownloadError, StackError
from iot_platform.settings import Settings
from iot_platform.stack.service import Health, Service, exported_environment, settings_environment


class _Probe(Service):
    name = "probe"

    def __init__(self, settings: Settings, answer: Callable[[], Health]) -> None:
        super().__init__(settings)
        self.answer = answer

    def health(self) -> Health:
        return self.answer()


def test_a_child_builds_exactly_the_same_settings(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings("postgres-s3", kafka_port=19092, api_token="secret-token")
    env = settings_environment(settings)
    assert env["IOT_PROFILE"] == "postgres-s3"
    assert env["IOT_POSTGRES_PASSWORD"] == "catalog-password"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    child = Settings()
    assert settings_environment(child) == env
    assert child.catalog_properties() == settings.catalog_properties()
    assert child.cache_dir == settings.cache_dir


def test_exported_environment_restores_what_was_there(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOT_KAFKA_TOPIC", "before")
    monkeypatch.delenv("IOT_API_PORT", raising=False)
    with exported_environment({"IOT_KAFKA_TOPIC": "during", "IOT_API_PORT": "18000"}):
        assert os.environ["IOT_KAFKA_TOPIC"] == "during" and os.environ["IOT_API_PORT"] == "18000"
    assert os.environ["IOT_KAFKA_TOPIC"] == "before"
    assert "IOT_API_PORT" not in os.environ


def test_a_probe_that_raises_is_an_unhealthy_answer_naming_the_error(make_settings: Callable[..., Settings]) -> None:
    def refuse() -> Health:
        raise ConnectionRefusedError("connection refused")

    health = _Probe(make_settings(), refuse).probe()
    assert health == Health(False, "ConnectionRefusedError: connection refused")


def test_a_failed_preparation_names_the_service_the_step_the_error_and_the_log(
    make_settings: Callable[..., Settings],
) -> None:
    service = _Probe(make_settings(), lambda: Health(True))
    failing = [sys.executable, "-c", "import sys; print('ERROR: disk full'); sys.exit(3)"]
    with pytest.raises(DownloadError) as caught:
        service.run_logged(failing, what="installing", error=DownloadError)
    assert str(caught.value) == f"probe: installing failed: ERROR: disk full; see {service.log_file}"
    service.run_logged([sys.executable, "-c", "print('fine')"], what="formatting")
    assert "fine" in service.log_file.read_text()
    assert issubclass(DownloadError, StackError)
