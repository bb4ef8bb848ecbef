"""The graph as a LangServe runnable, published at ``/diagnose/...``.

The compiled graph needs the clients and the thread store that the lifespan builds, after
the routes exist; so LangServe gets :class:`DiagnoseRunnable`, which looks the
:class:`~server.service.Service` up at call time. It declares its input and output types
(LangServe's ``/invoke`` cannot serialise undeclared dict output) and a ``thread_id``
configurable (LangServe drops config keys the runnable does not declare).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForChainRun
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.utils import ConfigurableFieldSpec
from pydantic import BaseModel

from server.errors import BadRequest, ServiceError
from server.schemas import THREAD_ID, GraphInput, GraphOutput
from server.service import Service


class DiagnoseRunnable(Runnable[dict[str, Any], dict[str, Any]]):
    """Runs the service's graph: ``ainvoke`` returns the output state, ``astream`` progress events."""

    name = "idp-diagnose"

    def __init__(self, service: Callable[[], Service]) -> None:
        self._service = service

    @property
    def InputType(self) -> type[BaseModel]:  # type: ignore[override]  # noqa: N802 - LangChain's name
        return GraphInput

    @property
    def OutputType(self) -> type[BaseModel]:  # type: ignore[override]  # noqa: N802 - LangChain's name
        return GraphOutput

    def get_input_schema(self, config: RunnableConfig | None = None) -> type[BaseModel]:
        return GraphInput

    def get_output_schema(self, config: RunnableConfig | None = None) -> type[BaseModel]:
        return GraphOutput

    @property
    def config_specs(self) -> list[ConfigurableFieldSpec]:
        return [
            ConfigurableFieldSpec(
                id="thread_id",
                annotation=str | None,
                name="Thread id",
                description="Keep the conversation in this chat thread.",
                default=None,
            )
        ]

    @staticmethod
    def _thread_id(config: RunnableConfig | None) -> str | None:
        thread_id = ((config or {}).get("configurable") or {}).get("thread_id")
        if thread_id is None or thread_id == "":
            return None
        if not isinstance(thread_id, str) or not THREAD_ID.match(thread_id):
            raise BadRequest("thread_id: must be 1-128 letters, digits or '_.:-', starting alphanumeric")
        return thread_id

    def invoke(
        self, input: dict[str, Any], config: RunnableConfig | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        raise NotImplementedError("the service runs the graph asynchronously; use ainvoke")

    async def _arun(
        self, input: dict[str, Any], run_manager: AsyncCallbackManagerForChainRun, config: RunnableConfig
    ) -> dict[str, Any]:
        request = GraphInput.model_validate(input)
        return await self._service().run(request, self._thread_id(config), config)

    async def ainvoke(
        self, input: dict[str, Any], config: RunnableConfig | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        return await self._acall_with_config(self._arun, _as_dict(input), config, **kwargs)

    async def _aevents(
        self,
        inputs: AsyncIterator[dict[str, Any]],
        run_manager: AsyncCallbackManagerForChainRun,
        config: RunnableConfig,
    ) -> AsyncIterator[dict[str, Any]]:
        async for item in inputs:
            request = GraphInput.model_validate(item)
            # Nested graph runs report to this run's callbacks (stream_events sees the nodes).
            child = {**config, "callbacks": run_manager.get_child()}
            try:
                thread_id = self._thread_id(config)
                async for event in self._service().stream(request, thread_id, child):  # type: ignore[arg-type]
                    yield event
            except ServiceError as exc:
                # LangServe turns any exception in a stream into an opaque 500 event; a domain
                # error is the caller's to fix, so it goes out as a data event with its detail.
                yield {"event": "error", "status_code": exc.status_code, "detail": exc.detail}

    async def astream(
        self, input: dict[str, Any], config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[dict[str, Any]]:
        async def once() -> AsyncIterator[dict[str, Any]]:
            yield _as_dict(input)

        async for event in self._atransform_stream_with_config(once(), self._aevents, config, **kwargs):
            yield event

    def stream(
        self, input: dict[str, Any], config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[dict[str, Any]]:
        raise NotImplementedError("the service streams asynchronously; use astream")


def _as_dict(value: Any) -> dict[str, Any]:
    """LangServe hands over the validated input model; the graph takes plain JSON."""
    if isinstance(value, BaseModel):
        return value.model_dump(exclude_none=True)
    return dict(value)
