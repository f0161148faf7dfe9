"""Dependencies of the API's endpoints, as ``Annotated`` aliases: settings, clients, the bearer-token check.

They do no I/O, so they are ``async``: FastAPI runs them on the event loop instead of handing each to the
threadpool (that hop dominated the latency of cached answers under load).
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from iot_platform.api.alerts_reader import IcebergAlertsReader
from iot_platform.api.clients import ApiClients
from iot_platform.api.cluster_cache import CachedClusterState, TimedReading
from iot_platform.api.errors import AuthenticationRequired, PermissionDenied, TokenNotConfigured
from iot_platform.api.sensors_reader import SensorsReader
from iot_platform.api.stats_reader import HourlyStatsReader
from iot_platform.clients.dagster import DagsterClient, RunInfo
from iot_platform.settings import Settings

_bearer = HTTPBearer(
    auto_error=False,
    description="The API token (IOT_API_TOKEN). Needed by every call that launches or stops work.",
)


async def get_settings(request: Request) -> Settings:
    """The settings the app was made with."""
    settings: Settings = request.app.state.settings
    return settings


async def get_dagster(request: Request) -> DagsterClient:
    """The Dagster client."""
    clients: ApiClients = request.app.state.clients
    return clients.dagster


async def get_cluster(request: Request) -> CachedClusterState:
    """The Spark master, with its state shared between requests for about a second."""
    clients: ApiClients = request.app.state.clients
    return clients.cluster


async def get_in_progress_runs(request: Request) -> TimedReading[tuple[RunInfo, ...]]:
    """Dagster's runs in progress with their tags, shared between requests for about a second."""
    clients: ApiClients = request.app.state.clients
    return clients.in_progress_runs


async def get_connect_server(request: Request) -> TimedReading[str | None]:
    """The Spark Connect server's application id (``None``: it cannot be asked), shared for a few seconds."""
    clients: ApiClients = request.app.state.clients
    return clients.connect_server


async def get_stats(request: Request) -> HourlyStatsReader:
    """The reader of ``iot.hourly_stats``."""
    clients: ApiClients = request.app.state.clients
    return clients.stats


async def get_alerts(request: Request) -> IcebergAlertsReader:
    """The reader of ``iot.sensor_alerts``."""
    clients: ApiClients = request.app.state.clients
    return clients.alerts


async def get_sensors(request: Request) -> SensorsReader:
    """The reader of the sensors' state, recent readings and open alerts."""
    clients: ApiClients = request.app.state.clients
    return clients.sensors


async def utc_now() -> dt.datetime:
    """The current time (a dependency so tests can fix it)."""
    return dt.datetime.now(dt.UTC)


def token_matches(presented: str, expected: str) -> bool:
    """Compare a presented token with the configured one in constant time (any characters, never an error)."""
    return secrets.compare_digest(presented.encode("utf-8", "surrogateescape"), expected.encode("utf-8"))


async def require_token(
    settings: Annotated[Settings, Depends(get_settings)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Let the call through only with ``Authorization: Bearer <IOT_API_TOKEN>``.

    Raises:
        TokenNotConfigured: the API has no token, so mutating calls are disabled (503).
        AuthenticationRequired: no bearer token in the request (401).
        PermissionDenied: a bearer token that is not the API's (403).
    """
    if settings.api_token is None or not settings.api_token.get_secret_value():
        raise TokenNotConfigured(
            "IOT_API_TOKEN is not set, so this API accepts no call that launches or stops work; "
            "set IOT_API_TOKEN and restart the API"
        )
    if credentials is None or not credentials.credentials:
        raise AuthenticationRequired("this call needs the header Authorization: Bearer <IOT_API_TOKEN>")
    if not token_matches(credentials.credentials, settings.api_token.get_secret_value()):
        raise PermissionDenied("the bearer token is not this API's token (IOT_API_TOKEN)")


SettingsDep = Annotated[Settings, Depends(get_settings)]
DagsterDep = Annotated[DagsterClient, Depends(get_dagster)]
ClusterDep = Annotated[CachedClusterState, Depends(get_cluster)]
InProgressRunsDep = Annotated[TimedReading[tuple[RunInfo, ...]], Depends(get_in_progress_runs)]
ConnectServerDep = Annotated[TimedReading[str | None], Depends(get_connect_server)]
StatsDep = Annotated[HourlyStatsReader, Depends(get_stats)]
AlertsDep = Annotated[IcebergAlertsReader, Depends(get_alerts)]
SensorsDep = Annotated[SensorsReader, Depends(get_sensors)]
NowDep = Annotated[dt.datetime, Depends(utc_now)]
Authorized = Annotated[None, Depends(require_token)]
"""Add ``_: Authorized`` to an endpoint to require the bearer token."""
