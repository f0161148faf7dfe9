"""The REST API: ``create_app()`` builds it; ``iot-platform api`` serves it with uvicorn.

Every platform error is turned into an HTTP answer in one place, :data:`STATUS_BY_ERROR`: bad input is 4xx with
a message, an engine that cannot be reached is 503 naming it, and nothing a caller sends produces a 500.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse

from iot_platform.api.clients import ApiClients
from iot_platform.api.cluster_cache import DEFAULT_TTL_S
from iot_platform.api.docs import add_docs
from iot_platform.api.errors import (
    AuthenticationRequired,
    InvalidQuery,
    PermissionDenied,
    TokenNotConfigured,
)
from iot_platform.api.headers import ResponseHeaders
from iot_platform.api.limits import MAX_ERROR_ISSUES, RequestLimits, clip
from iot_platform.api.paging import NEXT_CURSOR_HEADER
from iot_platform.api.polled import PolledAnswers
from iot_platform.api.routes import alerts, cluster, dashboard, health, jobs, sensors, stats
from iot_platform.api.stats_reader import HourlyStatsReader
from iot_platform.clients.dagster import DagsterClient
from iot_platform.clients.spark_master import SparkMasterClient
from iot_platform.errors import (
    ConfigurationError,
    Conflict,
    InvalidPartition,
    NotFound,
    PlatformError,
    ServiceUnavailable,
    UnknownJob,
    UpstreamError,
)
from iot_platform.registry import SensorRegistry, load_registry
from iot_platform.settings import Settings, load_settings

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

API_PREFIX = "/api/v1"

STATUS_BY_ERROR: tuple[tuple[type[PlatformError], int], ...] = (
    (AuthenticationRequired, 401),
    (PermissionDenied, 403),
    (NotFound, 404),
    (Conflict, 409),
    (InvalidPartition, 422),
    (InvalidQuery, 422),
    (UnknownJob, 422),
    (TokenNotConfigured, 503),
    (ServiceUnavailable, 503),
    (ConfigurationError, 503),
    (UpstreamError, 502),
    (PlatformError, 502),
)
"""HTTP status of each platform error; the first class an error is an instance of wins."""


def status_for(error: PlatformError) -> int:
    """The HTTP status of a platform error (see :data:`STATUS_BY_ERROR`)."""
    for error_class, status in STATUS_BY_ERROR:
        if isinstance(error, error_class):
            return status
    return 502  # pragma: no cover - PlatformError is the last entry


async def platform_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Answer a platform error with its status and ``{"detail": message}``."""
    assert isinstance(exc, PlatformError)
    status = status_for(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 503:
        headers = {"Retry-After": "5"}
    return JSONResponse(status_code=status, content={"detail": str(exc)}, headers=headers)


def _location(loc: tuple[Any, ...] | list[Any]) -> list[str | int]:
    return [part if isinstance(part, int) else str(part) for part in loc]


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Answer a request that does not match the schema with 422, a one-line ``detail`` and every issue.

    The offending input is not echoed back (it may hold a token or be large); at most
    :data:`~iot_platform.api.limits.MAX_ERROR_ISSUES` issues are listed, each clipped, so the answer stays small.
    """
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    issues = [
        {
            "loc": [
                clip(str(part), 100) if isinstance(part, str) else part for part in _location(error.get("loc", ()))
            ],
            "msg": clip(str(error.get("msg", ""))),
            "type": clip(str(error.get("type", "")), 100),
        }
        for error in errors[:MAX_ERROR_ISSUES]
    ]
    summary = "; ".join(f"{'.'.join(str(part) for part in issue['loc'])}: {issue['msg']}" for issue in issues[:5])
    if len(errors) > len(issues):
        summary += f" (and {len(errors) - len(issues)} more issue(s); the first {len(issues)} are listed)"
    return JSONResponse(status_code=422, content={"detail": f"invalid request: {summary}", "errors": issues})


def create_app(
    settings: Settings | None = None,
    *,
    dagster: DagsterClient | None = None,
    spark_master: SparkMasterClient | None = None,
    stats_reader: HourlyStatsReader | None = None,
    connect_server_id: Callable[[], str | None] | None = None,
    cluster_ttl_s: float = DEFAULT_TTL_S,
    registry: SensorRegistry | None = None,
    catalog_factory: Callable[[], Catalog] | None = None,
) -> FastAPI:
    """Build the API.

    Args:
        settings: The platform's settings (default: :func:`~iot_platform.settings.load_settings`).
        dagster: A Dagster client (default: GraphQL against ``settings.dagster_web_url``).
        spark_master: A Spark master client (default: HTTP against ``settings.master_web_url``).
        stats_reader: A reader of ``iot.hourly_stats`` (default: pyiceberg on the platform's catalog).
        connect_server_id: Asks the Spark Connect server for its application id, ``None`` when it cannot
            (default: a short session at ``settings.connect_url``).
        cluster_ttl_s: How long one reading of the master's state answers concurrent requests.
        registry: The sensor registry (default: loaded from ``settings.sensor_registry``, once, here).
        catalog_factory: Opens the Iceberg catalog the readers share (default: the platform's).

    Returns:
        The FastAPI application; its lifespan closes the clients it made.

    Raises:
        ConfigurationError: the sensor registry cannot be read or is invalid (the message names the field).
    """
    settings = settings or load_settings()
    clients = ApiClients(
        settings,
        registry or load_registry(settings.sensor_registry),
        dagster=dagster,
        spark_master=spark_master,
        stats=stats_reader,
        connect_server_id=connect_server_id,
        cluster_ttl_s=cluster_ttl_s,
        catalog_factory=catalog_factory,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        """Clients are made on first use; close the ones this app made when it shuts down."""
        try:
            yield
        finally:
            clients.close()

    app = FastAPI(
        title="IoT platform API",
        version="1.0.0",
        summary="Launch and stop the platform's Dagster runs, watch the Spark cluster, read hourly statistics, "
        "sensors and their alerts.",
        description=(
            "Calls that launch or stop work need `Authorization: Bearer <IOT_API_TOKEN>` (or a token of "
            "IOT_API_TOKENS; 401 without, 403 with a wrong token, 503 when the API has no token configured). "
            'Errors answer `{"detail": "..."}`; 503 names the engine that is down. Links are paths; a body over '
            "64 KiB is 413, headers over 16 KiB 431."
        ),
        lifespan=lifespan,
        # The platform exports no OpenTelemetry; left on, FastAPI looks up the global providers on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.clients = clients
    app.add_exception_handler(PlatformError, platform_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_middleware(PolledAnswers, clients=clients)  # innermost: limits, headers and CORS apply to its answers
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=["Location", "Link", NEXT_CURSOR_HEADER],
        )
    app.add_middleware(ResponseHeaders)
    app.add_middleware(RequestLimits)  # outermost: oversized requests are refused before any other work
    add_docs(app)
    app.include_router(health.router)
    for router in (cluster.router, jobs.router, stats.router, alerts.router, sensors.router, dashboard.router):
        app.include_router(router, prefix=API_PREFIX)
    dashboard.mount_pages(app)
    return app
