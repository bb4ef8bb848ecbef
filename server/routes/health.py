"""``GET /health`` (liveness), ``GET /ready`` (readiness) and ``GET /metrics`` (Prometheus)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from server.deps import ServiceDep
from server.schemas import Health, Readiness

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
async def health() -> Health:
    """The process answers (liveness); checks nothing else."""
    return Health()


@router.get("/ready", response_model=Readiness, responses={503: {"model": Readiness}})
async def ready(service: ServiceDep) -> Response:
    """Ready when the runbook index is loaded and the cluster source answers (503 otherwise)."""
    checks: dict[str, str] = {}
    index = service.deps.runbooks
    checks["runbook_index"] = "ok" if index is not None and index.ready else "not loaded"
    ping = await asyncio.to_thread(service.deps.reader.ping)
    checks["cluster_source"] = "ok" if ping.ok else ping.explain()
    body = Readiness(
        ready=all(v == "ok" for v in checks.values()),
        checks=checks,
        cluster_source=service.deps.reader.description,
        runbook_index=type(index).__name__ if index is not None else "none",
        model=service.model_description,
    )
    return JSONResponse(body.model_dump(), status_code=200 if body.ready else 503)


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
async def metrics(request: Request, service: ServiceDep) -> Response:
    """Prometheus metrics: requests, latency, diagnoses by category and mode, API calls, loops."""
    return Response(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)
