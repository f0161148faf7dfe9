"""``iot-platform api``: serve the REST API with uvicorn on ``IOT_BIND_HOST:IOT_API_PORT``."""

from __future__ import annotations

import click

from iot_platform.settings import load_settings


@click.command()
@click.option(
    "--access-log/--no-access-log", default=False, help="Log every request (default: off; errors are always logged)."
)
def api(access_log: bool) -> None:
    """Serve the REST API (OpenAPI at /docs) until stopped."""
    import uvicorn

    from iot_platform.api.limits import BoundedHttpToolsProtocol
    from iot_platform.api.main import create_app

    settings = load_settings()
    if settings.api_token is None:
        click.echo("warning: IOT_API_TOKEN is not set: calls that launch or stop work answer 503", err=True)
    uvicorn.run(
        create_app(settings),
        host=settings.bind_host,
        port=settings.api_port,
        access_log=access_log,
        log_level="info",
        timeout_graceful_shutdown=10,
        http=BoundedHttpToolsProtocol,
    )
