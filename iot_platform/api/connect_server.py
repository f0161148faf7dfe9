"""The platform's Spark Connect server as the API sees it: its application id, which applications are it, and the
platform runs each application is executing.

The server is recognised by the id it gives itself, not by its name alone (any application can take a name).
When it cannot be asked, the ids that runs working on it recorded (their ``iot/spark_app_id`` tag) stand in, and
only then its name on the master.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from iot_platform.clients.dagster import RunInfo
from iot_platform.clients.spark import CONNECT_SERVER_APP_NAME, application_id, connect_session
from iot_platform.clients.spark_master import ClusterState
from iot_platform.settings import SparkRunMode

_UNKNOWN_SINCE = dt.datetime.max.replace(tzinfo=dt.UTC)


def server_application_id(url: str) -> str | None:
    """The application id of the Spark Connect server at ``url``, or ``None`` when it cannot be asked.

    Opens a short session on the server and releases it. Any failure (nothing listens, the server is starting,
    a bad URL) answers ``None``: the caller then recognises the server by runs' tags and its name.
    """
    try:
        with connect_session(url) as spark:
            return application_id(spark)
    except Exception:  # noqa: BLE001 - not reachable is an answer here: the caller falls back (see above)
        return None


def shared_server_ids(state: ClusterState, server_id: str | None, runs: Sequence[RunInfo]) -> frozenset[str]:
    """The application ids that are the platform's shared Spark Connect server.

    Args:
        state: The master's state.
        server_id: The id the server gave itself (:func:`server_application_id`), ``None`` if it cannot be asked.
        runs: The runs in progress, with their tags.

    Returns:
        ``{server_id}`` when the server answered; else the ids active runs in ``connect`` mode recorded; else the
        active applications named ``iot-platform:connect-server``.
    """
    if server_id is not None:
        return frozenset({server_id})
    tagged = {run.spark_app_id for run in runs if run.spark_mode == SparkRunMode.CONNECT.value and run.spark_app_id}
    if tagged:
        return frozenset(tagged)
    return frozenset(app.id for app in state.active_apps if app.name == CONNECT_SERVER_APP_NAME)


def runs_in(app_id: str, runs: Sequence[RunInfo]) -> list[RunInfo]:
    """The runs in progress whose Spark work runs in the application ``app_id`` (by their ``iot/spark_app_id``
    tag), oldest session first."""
    ours = [run for run in runs if run.spark_app_id == app_id]
    return sorted(ours, key=lambda run: run.spark_since or _UNKNOWN_SINCE)
