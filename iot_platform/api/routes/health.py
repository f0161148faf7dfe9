"""``GET /health`` (the process is up) and ``GET /ready`` (Dagster and the Spark master answer)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from iot_platform.api.deps import ClusterDep, DagsterDep
from iot_platform.api.schemas import DependencyCheck, Health, Readiness
from iot_platform.errors import ServiceUnavailable, UpstreamError
from iot_platform.runs import HOURLY_STATS_JOB

router = APIRouter(tags=["health"])


@router.get("/health", summary="The API process is up")
async def health() -> Health:
    """Answers while the process serves requests; asks no engine (use ``/ready`` for that)."""
    return Health()


@router.get(
    "/ready",
    summary="Dagster and the Spark master answer",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Not ready: `detail` names what is down."}},
)
def ready(dagster: DagsterDep, cluster: ClusterDep) -> Readiness | JSONResponse:
    """Ready when Dagster answers with the platform's jobs loaded and the Spark master answers; else HTTP 503."""
    checks: dict[str, DependencyCheck] = {}
    try:
        status = dagster.status()
    except (ServiceUnavailable, UpstreamError) as exc:
        checks["dagster"] = DependencyCheck(ok=False, detail=str(exc))
    else:
        if HOURLY_STATS_JOB in status.jobs:
            checks["dagster"] = DependencyCheck(ok=True, detail=f"Dagster {status.version} at {dagster.web_url}")
        else:
            checks["dagster"] = DependencyCheck(
                ok=False,
                detail=f"Dagster unavailable: {dagster.web_url} answers but job {HOURLY_STATS_JOB} is not loaded; "
                "check the code location in the Dagster UI",
            )
    try:
        state = cluster.state(fresh=True)
    except ServiceUnavailable as exc:
        checks["spark_master"] = DependencyCheck(ok=False, detail=str(exc))
    else:
        checks["spark_master"] = DependencyCheck(
            ok=True, detail=f"{state.master_url} {state.status}, {state.alive_workers} alive worker(s)"
        )
    down = [check.detail for check in checks.values() if not check.ok]
    if not down:
        return Readiness(status="ready", detail="Dagster and the Spark master answer", checks=checks)
    body = Readiness(status="not ready", detail="; ".join(down), checks=checks)
    return JSONResponse(status_code=503, content=body.model_dump(mode="json"))
