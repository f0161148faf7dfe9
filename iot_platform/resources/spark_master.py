"""The Spark master as a Dagster resource, and the fail-fast check Spark-backed assets run before they start."""

from __future__ import annotations

from dagster import (
    Backoff,
    ConfigurableResource,
    Failure,
    InitResourceContext,
    Jitter,
    RetryPolicy,
    RetryRequested,
)
from pydantic import Field, PrivateAttr

from iot_platform.clients.spark import ConnectServerProbe, probe_connect_server
from iot_platform.clients.spark_master import (
    MASTER_ALIVE,
    ClusterState,
    HttpSparkMasterClient,
    SparkMasterClient,
)
from iot_platform.errors import ServiceUnavailable
from iot_platform.settings import Settings, SparkRunMode

SPARK_RETRY_POLICY = RetryPolicy(max_retries=3, delay=60, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS)
"""Retry policy of Spark-backed assets: a master or worker outage is retried after about 1, 2 and 4 minutes."""


class SparkMasterResource(ConfigurableResource):
    """The Spark standalone master's web endpoint, for cluster health sensors and fail-fast checks in assets, and
    the Spark Connect server platform runs work on (an application on that master)."""

    web_url: str = Field(description="The master's web UI URL, e.g. http://127.0.0.1:8080 (IOT_SPARK_WEB_URL).")
    timeout_s: float = Field(default=5.0, gt=0, description="Limit of each request to the master, in seconds.")
    master_url: str = Field(default="", description="The spark:// URL sessions use, named in failures.")
    min_workers: int = Field(default=1, ge=0, description="Alive workers needed to run anything.")
    connect_url: str = Field(
        default="",
        description=(
            "sc:// URL of the Spark Connect server platform runs use (IOT_SPARK_CONNECT_URL); empty when each run "
            "starts an application of its own (IOT_SPARK_RUN_MODE=application)."
        ),
    )

    _client: HttpSparkMasterClient | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        self._client = HttpSparkMasterClient(self.web_url, timeout_s=self.timeout_s)

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    @classmethod
    def from_settings(cls, settings: Settings) -> SparkMasterResource:
        return cls(
            web_url=settings.master_web_url,
            master_url=settings.master_url,
            min_workers=settings.spark_min_workers,
            connect_url=settings.connect_url if settings.spark_run_mode == SparkRunMode.CONNECT else "",
        )

    def require_alive(self) -> ClusterState:
        """:func:`require_master` for this master: fail within seconds (and retry later) when it cannot run work."""
        return require_master(self.get_client(), self.master_url or self.web_url, self.min_workers)

    def probe_connect_server(self) -> ConnectServerProbe | None:
        """Ask the Spark Connect server for a trivial query (within seconds); ``None`` when runs use no server."""
        return probe_connect_server(self.connect_url) if self.connect_url else None

    def get_client(self) -> SparkMasterClient:
        """The client for this master (made on first use when the resource is used outside Dagster)."""
        if self._client is None:
            self._client = HttpSparkMasterClient(self.web_url, timeout_s=self.timeout_s)
        return self._client


# --- fail fast ----------------------------------------------------------------------------------------------
def require_master(client: SparkMasterClient, master_url: str, min_workers: int = 1) -> ClusterState:
    """:func:`ensure_master_alive` for an asset body: when the master cannot run work, the step fails within
    seconds naming the master and asks Dagster to retry it later (``SPARK_RETRY_POLICY``'s count and delay).

    Retrying this way instead of with an op retry policy keeps a terminated run terminated: Dagster retries an
    interrupted step whenever the op has a retry policy.

    Raises:
        RetryRequested: the master is down, not ALIVE or has too few workers (the cause names the URL).
    """
    try:
        return ensure_master_alive(client, master_url, min_workers)
    except Failure as exc:
        raise RetryRequested(
            max_retries=SPARK_RETRY_POLICY.max_retries, seconds_to_wait=SPARK_RETRY_POLICY.delay or 60
        ) from exc


def ensure_master_alive(client: SparkMasterClient, master_url: str, min_workers: int = 1) -> ClusterState:
    """Check, within seconds, that the master can run an application before a Spark asset starts one.

    Without this a SparkSession against a dead master retries for minutes, and one against a master with no
    workers waits for cores forever.

    Args:
        client: The master's client (``SparkMasterResource.get_client()``).
        master_url: The ``spark://`` URL the asset's session uses, named in the failure.
        min_workers: Alive workers needed to run anything.

    Returns:
        The master's state, for metadata.

    Raises:
        Failure: the master is unreachable, not ALIVE, or has too few alive workers. Retries are allowed,
            so an asset with :data:`SPARK_RETRY_POLICY` tries again later.
    """
    metadata = {"spark_master_url": master_url, "spark_web_url": client.web_url}
    try:
        state = client.cluster_state()
    except ServiceUnavailable as exc:
        detail = str(exc).removeprefix(f"{exc.service} unavailable: ")
        raise Failure(
            description=f"Spark master {master_url} is unreachable: {detail}",
            metadata=metadata,
            allow_retries=True,
        ) from exc
    if state.status != MASTER_ALIVE:
        raise Failure(
            description=(
                f"Spark master {master_url} reports status {state.status}, not {MASTER_ALIVE}; see {client.web_url}"
            ),
            metadata=metadata,
            allow_retries=True,
        )
    if state.alive_workers < min_workers:
        dead = ", ".join(worker.id for worker in state.dead_workers) or "none registered"
        raise Failure(
            description=(
                f"Spark master {master_url} has {state.alive_workers} alive worker(s), {min_workers} needed "
                f"(dead: {dead}); an application would wait for cores. Start a worker "
                "(`iot-platform stack up --service spark-worker`)"
            ),
            metadata=metadata,
            allow_retries=True,
        )
    return state
