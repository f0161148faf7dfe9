"""The platform's REST API as a service of the stack."""

from __future__ import annotations

import secrets
from pathlib import Path

from iot_platform.profiles import profile_spec
from iot_platform.stack.service import Health, Service, http_ok, venv_bin


class Api(Service):
    """The platform's REST API."""

    name = "api"

    def ports(self) -> dict[str, int]:
        return {"IOT_API_PORT": self.settings.api_port}

    def endpoints(self) -> dict[str, str]:
        return {"url": self.settings.api_base_url, "docs": f"{self.settings.api_base_url}/docs"}

    def command(self) -> list[str]:
        return [venv_bin("iot-platform"), "api"]

    @property
    def token_file(self) -> Path:
        return self.settings.run_dir / "api-token"

    def environment(self) -> dict[str, str]:
        env = super().environment()
        if "IOT_API_TOKEN" not in env and profile_spec(self.settings.profile).mints_api_token:
            env["IOT_API_TOKEN"] = self.minted_token()
        return env

    def minted_token(self) -> str:
        """A random token kept in the state folder (mode 600), made on first use and kept across restarts."""
        if not self.token_file.exists():
            self.token_file.parent.mkdir(parents=True, exist_ok=True)
            self.token_file.touch(mode=0o600)
            self.token_file.write_text(secrets.token_urlsafe(32))
        return self.token_file.read_text().strip()

    def health(self) -> Health:
        return http_ok(f"{self.settings.api_base_url}/health")
