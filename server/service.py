"""The running service: the clients built at start-up and the two ways to run the graph.

One :class:`Service` per app, built by the lifespan. A run without a ``thread_id`` uses the
graph compiled without a checkpointer (nothing to store, nothing to wait for); a run in a
thread uses the graph compiled with the thread store, and a follow-up question in a thread
that already holds a diagnosis is answered from that diagnosis (graph node answer_followup).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph

from graph.builder import RECURSION_LIMIT, build_graph
from graph.context import Context, Deps
from graph.followups import is_followup
from idp.settings import Settings
from server.cache import DiagnosisCache, request_key
from server.errors import BadRequest, NoDiagnosisInThread
from server.metrics import Metrics
from server.progress import progress_events
from server.schemas import GraphInput, graph_output

# Checkpoints are written when a run ends, not after every node: a thread needs the end state
# (the diagnosis), and one write per run keeps a threaded diagnosis close to a stateless one.
THREAD_DURABILITY: Literal["exit"] = "exit"


@dataclass
class Service:
    """What the routes use: settings, clients, the compiled graphs, metrics."""

    settings: Settings
    deps: Deps
    checkpointer: BaseCheckpointSaver[str]
    metrics: Metrics
    store_description: str
    model_description: str
    cache: DiagnosisCache = field(init=False)
    stateless: CompiledStateGraph[Any, Any, Any, Any] = field(init=False)
    threaded: CompiledStateGraph[Any, Any, Any, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.cache = DiagnosisCache(self.settings.diagnosis_cache_ttl_s)
        self.stateless = build_graph().compile(name="idp-diagnose")
        self.threaded = build_graph().compile(name="idp-diagnose", checkpointer=self.checkpointer)

    def context(self) -> Context:
        return Context(max_loops=self.settings.max_loops, deps=self.deps)

    def _config(self, thread_id: str | None, config: RunnableConfig | None = None) -> RunnableConfig:
        merged: dict[str, Any] = dict(config or {})
        merged["recursion_limit"] = RECURSION_LIMIT
        if thread_id:
            merged["configurable"] = {**(merged.get("configurable") or {}), "thread_id": thread_id}
        return merged  # type: ignore[return-value]

    async def _input(self, request: GraphInput, thread_id: str | None) -> dict[str, Any]:
        """The graph input: a new diagnosis, or in a thread with a diagnosis, a follow-up."""
        # A DiagnoseBody is a GraphInput too: its thread_id is not graph input.
        fields = request.model_dump(exclude={"question", "thread_id"}, exclude_none=True)
        if not thread_id:
            if request.question:
                raise BadRequest("thread_id: a follow-up question needs a thread_id")
            return fields
        state = await self.threaded.aget_state(self._config(thread_id))
        has_diagnosis = bool(state.values.get("diagnosis"))
        question = request.question
        if not question and has_diagnosis and is_followup(request.error_message or ""):
            question = request.error_message
        if question:
            if not has_diagnosis:
                raise NoDiagnosisInThread()
            # Only the question: the thread's paste, namespace and diagnosis stay as they were.
            return {"question": question}
        return fields

    def _graph(self, thread_id: str | None) -> CompiledStateGraph[Any, Any, Any, Any]:
        return self.threaded if thread_id else self.stateless

    async def run(
        self, request: GraphInput, thread_id: str | None = None, config: RunnableConfig | None = None
    ) -> dict[str, Any]:
        """One run to the end: ``{"diagnosis": ..., "answer"?: ...}``."""
        graph_input = await self._input(request, thread_id)
        if thread_id:
            return await self._timed(
                self.threaded.ainvoke(
                    graph_input,
                    self._config(thread_id, config),
                    context=self.context(),
                    durability=THREAD_DURABILITY,
                )
            )
        key = request_key(graph_input, self.settings.max_loops)
        result, shared = await self.cache.get_or_run(
            key, lambda: self._timed(self._stateless(graph_input, config))
        )
        if shared:
            self.metrics.cache_hits.inc()
        return result

    async def _stateless(self, graph_input: dict[str, Any], config: RunnableConfig | None) -> dict[str, Any]:
        if config and config.get("callbacks"):
            # Traced (LangServe): run on the loop so the callbacks see every node.
            output: dict[str, Any] = await self.stateless.ainvoke(
                graph_input, self._config(None, config), context=self.context()
            )
            return output
        # The nodes are sync: one worker thread runs the whole graph instead of a hop per node.
        output = await asyncio.to_thread(
            self.stateless.invoke, graph_input, self._config(None), context=self.context()
        )
        return output

    async def _timed(self, running: Awaitable[dict[str, Any]]) -> dict[str, Any]:
        start = time.perf_counter()
        result = graph_output(await running)
        self.metrics.record_run(result, time.perf_counter() - start)
        return result

    async def stream(
        self, request: GraphInput, thread_id: str | None = None, config: RunnableConfig | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Progress events as the nodes finish, then the diagnosis (or the answer)."""
        graph_input = await self._input(request, thread_id)
        graph = self._graph(thread_id)
        kwargs: dict[str, Any] = {"durability": THREAD_DURABILITY} if thread_id else {}
        start = time.perf_counter()
        final: dict[str, Any] = {}
        updates = graph.astream(
            graph_input,
            self._config(thread_id, config),
            context=self.context(),
            stream_mode="updates",
            **kwargs,
        )
        async for event in progress_events(updates):
            if event["event"] == "diagnosis":
                final["diagnosis"] = event["diagnosis"]
            elif event["event"] == "answer":
                final["answer"] = event["answer"]
            yield event
        if thread_id and "answer" in final and "diagnosis" not in final:
            state = await graph.aget_state(self._config(thread_id))
            final["diagnosis"] = state.values.get("diagnosis")
        self.metrics.record_run(final, time.perf_counter() - start)
