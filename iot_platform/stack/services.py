"""Every service a stack can have, and which of them a stack's profile runs, in start order."""

from __future__ import annotations

from iot_platform.profiles import profile_spec
from iot_platform.settings import Settings, SparkRunMode
from iot_platform.stack.api import Api
from iot_platform.stack.catalog import Catalog
from iot_platform.stack.dagster import DagsterCodeServer, DagsterDaemon, DagsterWebserver
from iot_platform.stack.generator import Generator
from iot_platform.stack.kafka import Kafka
from iot_platform.stack.object_store import ObjectStore
from iot_platform.stack.postgres import Postgres
from iot_platform.stack.service import Service
from iot_platform.stack.spark_connect import SparkConnect
from iot_platform.stack.spark_master import SparkMaster
from iot_platform.stack.spark_worker import SparkWorker

PROFILE_SERVICES: tuple[type[Service], ...] = (Postgres, ObjectStore)
"""Services only some profiles run (the profile names them), started first: the engines depend on them."""

PLATFORM_SERVICES: tuple[type[Service], ...] = (
    Kafka,
    SparkMaster,
    SparkWorker,
    Catalog,
    SparkConnect,
    DagsterCodeServer,
    DagsterWebserver,
    DagsterDaemon,
    Api,
    Generator,
)
"""Services every stack runs, in start order."""

SERVICE_NAMES = tuple(service.name for service in (*PROFILE_SERVICES, *PLATFORM_SERVICES))
"""Every service a stack can have, in start order."""


def services_for(settings: Settings) -> list[Service]:
    """Every service of the stack for the settings' profile, in start order.

    Args:
        settings: The stack's settings; their profile names its own services.

    Returns:
        One service object per process, ready to start. The Spark Connect server only when runs use it (run mode
        ``connect``).
    """
    chosen = set(profile_spec(settings.profile).services)
    classes = [service for service in PROFILE_SERVICES if service.name in chosen] + list(PLATFORM_SERVICES)
    if settings.spark_run_mode is SparkRunMode.APPLICATION:  # each run starts its own application: no server
        classes.remove(SparkConnect)
    return [service(settings) for service in classes]
