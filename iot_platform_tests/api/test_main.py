"""The one place platform errors become HTTP answers, the OpenAPI document, and the ``iot-platform api`` command."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from iot_platform.api.errors import (
    AuthenticationRequired,
    InvalidQuery,
    PermissionDenied,
    TokenNotConfigured,
)
from iot_platform.api.main import status_for
from iot_platform.errors import (
    ConfigurationError,
    Conflict,
    InvalidPartition,
    NotFound,
    PlatformError,
    PortInUse,
    ServiceUnavailable,
    UnknownJob,
    UpstreamError,
)
from iot_platform_tests.api.conftest import Api


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (AuthenticationRequired("x"), 401),
        (PermissionDenied("x"), 403),
        (NotFound("x"), 404),
        (Conflict("x"), 409),
        (InvalidPartition("x"), 422),
        (InvalidQuery("x"), 422),
        (UnknownJob("x"), 422),
        (TokenNotConfigured("x"), 503),
        (ServiceUnavailable("Dagster", "x"), 503),
        (ConfigurationError("x"), 503),
        (UpstreamError("Dagster", "x"), 502),
        (PortInUse("x"), 502),
        (PlatformError("x"), 502),
    ],
)
def test_each_platform_error_has_one_http_status(error: PlatformError, status: int) -> None:
    assert status_for(error) == status


def test_the_openapi_document_lists_the_contracts_endpoints(api: Api) -> None:
    document = api.client.get("/openapi.json").json()
    operations = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert operations >= {
        ("GET", "/health"),
        ("GET", "/ready"),
        ("GET", "/api/v1/cluster/status"),
        ("GET", "/api/v1/cluster/workers"),
        ("GET", "/api/v1/jobs/apps"),
        ("GET", "/api/v1/jobs/apps/{app_id}"),
        ("DELETE", "/api/v1/jobs/apps/{app_id}"),
        ("POST", "/api/v1/jobs/submit"),
        ("GET", "/api/v1/jobs/runs/{run_id}"),
        ("DELETE", "/api/v1/jobs/runs/{run_id}"),
        ("GET", "/api/v1/stats/hourly"),
    }
    assert "HTTPBearer" in document["components"]["securitySchemes"]
    assert api.client.get("/docs").status_code == 200


def test_the_api_command_is_mounted_on_the_cli() -> None:
    from iot_platform import cli

    cli._mount()
    result = CliRunner().invoke(cli.cli, ["api", "--help"])
    assert result.exit_code == 0, result.output
    assert "Serve the REST API" in result.output
