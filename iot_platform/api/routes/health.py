"""``GET /health`` (the process is up) and ``GET /ready`` (Dagster and the Spark master answer).

``/ready`` is polled by load balancers and orchestrators: it answers from readings shared for about a second
(like ``/cluster/status``), and tells what is down, with versions and internal URLs, only to callers with the
API token.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from iot_platform.api.cluster_cache import CachedClusterState, TimedReading
from iot_platform.api.deps import ClusterDep, DagsterDep, DagsterStatusDep, TokenPresented
from iot_platform.api.schemas import DependencyCheck, Health, Readiness
from iot_platform.clients.dagster import DagsterStatus
from iot_platform.clients.spark_master import ClusterState
from iot_platform.errors import ServiceUnavailable, UpstreamError
from iot_platform.runs import HOURLY_STATS_JOB

router = APIRouter(tags=["health"])


@router.get("/health", summary="The API process is up")
async def health() -> Health:
    """Answers while the process serves requests; asks no engine (use ``/ready`` for that)."""
    return Health()


def dagster_check(found: DagsterStatus | ServiceUnavailable | UpstreamError, web_url: str) -> DependencyCheck:
    """The Dagster check of ``/ready`` from a reading of Dagster's status (or the error reading it raised)."""
    if isinstance(found, ServiceUnavailable | UpstreamError):
        return DependencyCheck(ok=False, detail=str(found))
    if HOURLY_STATS_JOB in found.jobs:
        return DependencyCheck(ok=True, detail=f"Dagster {found.version} at {web_url}")
    return DependencyCheck(
        ok=False,
        detail=f"Dagster unavailable: {web_url} answers but job {HOURLY_STATS_JOB} is not loaded; "
        "check the code location in the Dagster UI",
    )


def master_check(state: ClusterState | ServiceUnavailable) -> DependencyCheck:
    """The Spark master check of ``/ready`` from a reading of the master's state (or the error reading it raised)."""
    if isinstance(state, ServiceUnavailable):
        return DependencyCheck(ok=False, detail=str(state))
    return DependencyCheck(ok=True, detail=f"{state.master_url} {state.status}, {state.alive_workers} alive worker(s)")


def _dagster_reading(status: TimedReading[DagsterStatus]) -> DagsterStatus | ServiceUnavailable | UpstreamError:
    try:
        return status.get()
    except (ServiceUnavailable, UpstreamError) as exc:
        return exc


def _master_reading(cluster: CachedClusterState) -> ClusterState | ServiceUnavailable:
    try:
        return cluster.state()
    except ServiceUnavailable as exc:
        return exc


def readiness(checks: dict[str, DependencyCheck], *, detailed: bool) -> Readiness:
    """The answer for these checks; without ``detailed`` only which engines answer (no versions, no URLs)."""
    down = [name for name, check in checks.items() if not check.ok]
    if not detailed:
        checks = {name: DependencyCheck(ok=check.ok, detail=None) for name, check in checks.items()}
    if not down:
        return Readiness(status="ready", detail="Dagster and the Spark master answer", checks=checks)
    if detailed:
        detail = "; ".join(check.detail or name for name, check in checks.items() if not check.ok)
    else:
        detail = f"not answering: {', '.join(down)} (send the API token for details)"
    return Readiness(status="not ready", detail=detail, checks=checks)


@router.get(
    "/ready",
    summary="Dagster and the Spark master answer",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Not ready: `detail` names what is down."}},
)
def ready(
    dagster: DagsterDep, status: DagsterStatusDep, cluster: ClusterDep, detailed: TokenPresented
) -> Readiness | JSONResponse:
    """Ready when Dagster answers with the platform's jobs loaded and the Spark master answers; else HTTP 503.
    Readings are shared for about a second; each check's ``detail`` (versions, URLs, errors) is given only to
    callers that send the API token."""
    checks = {
        "dagster": dagster_check(_dagster_reading(status), dagster.web_url),
        "spark_master": master_check(_master_reading(cluster)),
    }
    body = readiness(checks, detailed=detailed)
    if body.status == "ready":
        return body
    return JSONResponse(status_code=503, content=body.model_dump(mode="json"))
