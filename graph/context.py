"""Per-run knobs (LangGraph's ``context_schema``) and the clients a run uses.

Clients are not part of the serialisable context: the service and the CLI pass them in
``Context.deps``; when a run has none (``langgraph dev``, Studio), they are built once from
the process settings on first use, never at import time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from idp.settings import Settings
    from runbooks.index import RunbookIndex
    from tools.reader import ClusterReader


@dataclass
class Deps:
    """The clients one run uses: a cluster reader, a runbook index, optionally a chat model."""

    reader: ClusterReader
    runbooks: RunbookIndex | None = None
    model: Any | None = None
    """A LangChain chat model, or None for the deterministic analyzers."""
    settings: Settings | None = None


@dataclass
class Context:
    """Knobs a caller may set per run."""

    max_loops: int = 3
    """How many times the critic may send the graph back for more cluster data."""
    max_reads_per_loop: int = 12
    """Cap on cluster reads one inspect_cluster step may make."""
    case_id: str | None = None
    """Eval case id, recorded as trace metadata."""
    deps: Any = field(default=None, metadata={"exclude": True})
    """In-process clients (:class:`Deps`); None means build them from the process settings."""


def build_deps(settings: Settings, reader: ClusterReader | None = None) -> Deps:
    """Clients chosen by settings: snapshot or live cluster, embedded or Weaviate index, model or none."""
    from graph.llm import build_model
    from runbooks.index import build_index
    from tools.sources import build_reader

    return Deps(
        reader=reader if reader is not None else build_reader(settings),
        runbooks=build_index(settings),
        model=build_model(settings),
        settings=settings,
    )


@lru_cache(maxsize=1)
def default_deps() -> Deps:
    """Deps from the process environment, built once (for Studio and LangServe without overrides)."""
    from idp.settings import Settings

    return build_deps(Settings())


def resolve(context: Context | None) -> tuple[Context, Deps]:
    ctx = context if context is not None else Context()
    deps = ctx.deps if isinstance(ctx.deps, Deps) else default_deps()
    return ctx, deps
