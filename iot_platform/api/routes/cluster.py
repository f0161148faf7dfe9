"""``/api/v1/cluster``: the Spark master's totals and workers (its state is shared for about a second)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from iot_platform.api.deps import ClusterDep
from iot_platform.api.schemas import ClusterStatus, ErrorBody, Worker
from iot_platform.clients.spark_master import ClusterState

router = APIRouter(
    prefix="/cluster",
    tags=["cluster"],
    responses={503: {"model": ErrorBody, "description": "The Spark master cannot be reached."}},
)


def status_of(state: ClusterState) -> ClusterStatus:
    """The contract's summary of the master's state."""
    return ClusterStatus(
        status=state.status,
        total_cores=state.cores,
        used_cores=state.cores_used,
        total_memory=state.memory_mib,
        used_memory=state.memory_used_mib,
        worker_count=state.alive_workers,
        dead_worker_count=len(state.dead_workers),
        active_app_count=len(state.active_apps),
        waiting_app_count=len(state.waiting_apps),
        master_url=state.master_url,
    )


def status_body(state: ClusterState) -> bytes:
    """The JSON of :func:`status_of`: what ``/cluster/status`` sends for this reading of the master."""
    return status_of(state).model_dump_json().encode()


@router.get(
    "/status", summary="Cores, memory, workers and applications of the Spark cluster", response_model=ClusterStatus
)
async def cluster_status(cluster: ClusterDep) -> Response:
    """The master's totals over alive workers; memory in MiB. Dashboards poll this: the answer is rendered once
    per reading of the master (at most one a second) and sent from the event loop; reading the master runs in
    the threadpool."""
    state = await cluster.state_async()
    body = cluster.derived(state, "status", status_body)
    return Response(body, media_type="application/json")


@router.get("/workers", summary="Workers registered with the Spark master")
async def cluster_workers(cluster: ClusterDep) -> list[Worker]:
    """Every worker the master lists, alive or not; memory in MiB."""
    state = await cluster.state_async()
    return [
        Worker(
            id=worker.id,
            host=worker.host,
            port=worker.port,
            cores=worker.cores,
            cores_used=worker.cores_used,
            memory=worker.memory_mib,
            memory_used=worker.memory_used_mib,
            state=worker.state,
            last_heartbeat=worker.last_heartbeat,
        )
        for worker in state.workers
    ]
