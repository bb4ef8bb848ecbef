"""``GET /cluster-health``: a summary of nodes and pods, for dashboards and on-call."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from server.cluster_health import cluster_health
from server.deps import ServiceDep
from server.schemas import ClusterHealth

router = APIRouter(tags=["cluster"])


@router.get("/cluster-health", response_model=ClusterHealth)
async def get_cluster_health(service: ServiceDep) -> ClusterHealth:
    """Nodes Ready/NotReady and under pressure, pods by phase and waiting reason per namespace,
    and the most unhealthy pods. Reads are paginated and memory stays bounded."""
    return await asyncio.to_thread(cluster_health, service.deps.reader)
