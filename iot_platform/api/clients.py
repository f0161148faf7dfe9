"""The clients one API process shares between requests: Dagster (its runs in progress cached), the Spark master
(cached), the Spark Connect server's application id (cached), the Iceberg tables (statistics, alerts, sensors).

Each is made on first use (so a missing engine fails the requests that need it, not the process) and closed
when the app's lifespan ends. Unit tests pass fakes instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from iot_platform.api.alerts_reader import IcebergAlertsReader
from iot_platform.api.cluster_cache import CONNECT_SERVER_TTL_S, DEFAULT_TTL_S, CachedClusterState, TimedReading
from iot_platform.api.connect_server import server_application_id
from iot_platform.api.iceberg_tables import CatalogTables, SnapshotCache
from iot_platform.api.sensors_reader import SensorsReader
from iot_platform.api.stats_reader import HourlyStatsReader, IcebergHourlyStatsReader
from iot_platform.clients.dagster import DagsterClient, DagsterStatus, GraphQLDagsterClient, RunInfo
from iot_platform.clients.kafka import topic_watermarks
from iot_platform.clients.spark_master import HttpSparkMasterClient, SparkMasterClient

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

    from iot_platform.registry import SensorRegistry
    from iot_platform.settings import Settings


WATERMARKS_TTL_S = 5.0
"""How long the topic's watermarks (or the news that Kafka cannot be reached) are reused."""


class ApiClients:
    """Lazily made, shared clients of the engines behind the API."""

    def __init__(
        self,
        settings: Settings,
        registry: SensorRegistry,
        *,
        dagster: DagsterClient | None = None,
        spark_master: SparkMasterClient | None = None,
        stats: HourlyStatsReader | None = None,
        connect_server_id: Callable[[], str | None] | None = None,
        cluster_ttl_s: float = DEFAULT_TTL_S,
        catalog_factory: Callable[[], Catalog] | None = None,
    ) -> None:
        """Collect the clients; any not given is made from ``settings`` on first use.

        Args:
            settings: The API's settings.
            registry: The platform's sensor registry.
            dagster: A Dagster client (default: GraphQL against ``settings.dagster_web_url``).
            spark_master: A master client (default: HTTP against ``settings.master_web_url``).
            stats: A reader of ``iot.hourly_stats`` (default: pyiceberg on the platform's catalog).
            connect_server_id: Asks the Spark Connect server for its application id, ``None`` when it cannot
                (default: a short session at ``settings.connect_url``).
            cluster_ttl_s: How long a reading of the master's state (and of Dagster's runs in progress) is shared
                between requests.
            catalog_factory: Opens the Iceberg catalog (default: the platform's, from ``settings``).
        """
        from iot_platform.clients.iceberg import load_catalog

        self.tables = CatalogTables(catalog_factory or (lambda: load_catalog(settings)))
        """The catalog's tables, shared by the readers of statistics, alerts and sensors."""
        self.alerts = IcebergAlertsReader(self.tables)
        """The reader of ``iot.sensor_alerts``."""
        self.sensors = SensorsReader(self.tables, registry, self.alerts)
        """The reader of what ``GET /sensors`` shows."""
        self.answers: SnapshotCache[bytes] = SnapshotCache(entries=16)
        """Rendered answers of the dashboard's reads, keyed by the snapshot they were read at and the query."""
        self._settings = settings
        self._dagster = dagster
        self._spark_master = spark_master
        self._stats = stats
        self._cluster: CachedClusterState | None = None
        self._cluster_ttl_s = cluster_ttl_s
        self._in_progress: TimedReading[tuple[RunInfo, ...]] | None = None
        self._dagster_status: TimedReading[DagsterStatus] | None = None
        url = settings.connect_url
        self.connect_server = TimedReading(
            connect_server_id or (lambda: server_application_id(url)), ttl_s=CONNECT_SERVER_TTL_S
        )
        """The Spark Connect server's application id (``None``: it cannot be asked), reused for a few seconds."""
        servers, topic = settings.bootstrap_servers, settings.kafka_topic
        self.watermarks: TimedReading[dict[int, tuple[int, int]]] = TimedReading(
            lambda: topic_watermarks(servers, topic, timeout_s=3.0), ttl_s=WATERMARKS_TTL_S
        )
        """The topic's ``(low, high)`` offsets per partition, reused for a few seconds."""
        self._owned: list[GraphQLDagsterClient | HttpSparkMasterClient] = []
        self._lock = threading.Lock()

    @property
    def dagster(self) -> DagsterClient:
        """The Dagster client."""
        with self._lock:
            if self._dagster is None:
                client = GraphQLDagsterClient(self._settings.dagster_web_url)
                self._owned.append(client)
                self._dagster = client
            return self._dagster

    @property
    def in_progress_runs(self) -> TimedReading[tuple[RunInfo, ...]]:
        """Dagster's runs in progress with their tags, shared for ``cluster_ttl_s``."""
        dagster = self.dagster
        with self._lock:
            if self._in_progress is None:
                self._in_progress = TimedReading(lambda: dagster.in_progress_runs(), ttl_s=self._cluster_ttl_s)
            return self._in_progress

    @property
    def dagster_status(self) -> TimedReading[DagsterStatus]:
        """Dagster's version and loaded jobs (what ``/ready`` checks), shared for ``cluster_ttl_s``."""
        dagster = self.dagster
        with self._lock:
            if self._dagster_status is None:
                self._dagster_status = TimedReading(lambda: dagster.status(), ttl_s=self._cluster_ttl_s)
            return self._dagster_status

    @property
    def cluster(self) -> CachedClusterState:
        """The Spark master, its state shared for ``cluster_ttl_s``."""
        with self._lock:
            if self._cluster is None:
                if self._spark_master is None:
                    client = HttpSparkMasterClient(self._settings.master_web_url, timeout_s=5.0)
                    self._owned.append(client)
                    self._spark_master = client
                self._cluster = CachedClusterState(self._spark_master, ttl_s=self._cluster_ttl_s)
            return self._cluster

    @property
    def stats(self) -> HourlyStatsReader:
        """The reader of ``iot.hourly_stats``."""
        with self._lock:
            if self._stats is None:
                self._stats = IcebergHourlyStatsReader(self._settings, tables=self.tables)
            return self._stats

    def close(self) -> None:
        """Close the clients this object made (given ones belong to the caller); they are made anew on next use."""
        with self._lock:
            for client in self._owned:
                client.close()
            if self._spark_master in self._owned:
                self._spark_master, self._cluster = None, None
            if self._dagster in self._owned:
                self._dagster, self._in_progress, self._dagster_status = None, None, None
            self._owned.clear()
