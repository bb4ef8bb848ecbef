"""The FastAPI app: ``create_app(settings)``; the lifespan builds every client, nothing at import time.

Routes: ``POST /diagnose`` (plain JSON for CI), LangServe's ``/diagnose/{invoke,batch,stream,
stream_events,...}``, ``POST /suggest-runbook``, ``GET /cluster-health``, ``GET /health``,
``GET /ready``, ``GET /metrics``, Swagger at ``/docs`` and the chat page at ``/``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from graph.context import Deps
from idp.settings import LLMProvider, Settings
from server.checkpointer import describe_store, open_checkpointer
from server.errors import install_error_handlers
from server.langserve_graph import DiagnoseRunnable
from server.logging_setup import install_redaction
from server.metrics import Metrics
from server.routes import cluster, diagnose, health, runbooks
from server.security import GateMiddleware
from server.service import Service

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"


def describe_model(settings: Settings, model: object | None) -> str:
    provider = settings.resolved_llm_provider()
    if model is None or provider is LLMProvider.NONE:
        return "none: deterministic analyzers"
    name = settings.gemini_model if provider is LLMProvider.GEMINI else settings.ollama_model
    return f"{provider.value}:{name}"


def _build_deps(settings: Settings) -> Deps:
    from graph.llm import build_model
    from runbooks.index import build_index
    from tools.sources import build_reader

    return Deps(
        reader=build_reader(settings),
        runbooks=build_index(settings),
        model=build_model(settings),
        settings=settings,
    )


def create_app(settings: Settings) -> FastAPI:
    """The service for ``settings``; clients are built when the app starts, closed when it stops."""
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        install_redaction()
        # Opening a snapshot or building the index reads files: keep the loop free meanwhile.
        deps = await asyncio.to_thread(_build_deps, settings)
        model = describe_model(settings, deps.model)
        log.info("cluster source: %s", deps.reader.description)
        log.info("runbook index: %s", _describe_index(deps))
        log.info("model provider: %s", model)
        log.info("threads: %s", describe_store(settings))
        try:
            async with open_checkpointer(settings) as checkpointer:
                app.state.service = Service(
                    settings=settings,
                    deps=deps,
                    checkpointer=checkpointer,
                    metrics=metrics,
                    store_description=describe_store(settings),
                    model_description=model,
                )
                yield
                app.state.service = None
        finally:
            _close(deps)

    app = FastAPI(
        title="idp-agent",
        summary="Diagnose failing Kubernetes workloads from a pasted error.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.service = None
    install_error_handlers(app)
    for router in (diagnose.router, runbooks.router, cluster.router, health.router):
        app.include_router(router)
    _add_langserve(app)
    _add_chat_page(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type"],
        )
    # Added last, so it runs first: refused requests cost nothing downstream.
    app.add_middleware(
        GateMiddleware,
        api_keys=[k.get_secret_value() for k in settings.api_keys],
        rate_limit_per_minute=settings.rate_limit_requests,
        max_body_bytes=settings.max_body_bytes,
        metrics=metrics,
    )
    return app


def _add_langserve(app: FastAPI) -> None:
    from langserve import add_routes

    def current() -> Service:
        service: Service | None = app.state.service
        if service is None:
            raise RuntimeError("the service is not started")
        return service

    add_routes(
        app,
        DiagnoseRunnable(current),
        path="/diagnose",
        enabled_endpoints=(
            "invoke",
            "batch",
            "stream",
            "stream_events",
            # The playground reads /stream_log.
            "stream_log",
            "input_schema",
            "output_schema",
            "config_schema",
            "playground",
        ),
        config_keys=("configurable", "tags", "metadata"),
    )


def _add_chat_page(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False, response_class=FileResponse)
    async def chat_page() -> FileResponse:
        return FileResponse(STATIC / "index.html")


def _describe_index(deps: Deps) -> str:
    index = deps.runbooks
    if index is None:
        return "none"
    return f"{type(index).__name__} ({len(index)} runbooks, ready={index.ready})"


def _close(deps: Deps) -> None:
    for client in (deps.runbooks, deps.reader):
        close = getattr(client, "close", None)
        if callable(close):
            close()
