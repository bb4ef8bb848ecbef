"""LangSmith tracing: on only when settings say so, with run names and metadata a reader can filter by.

Tracing is on when ``LANGSMITH_TRACING`` is true *and* ``LANGSMITH_API_KEY`` is set. Otherwise
every run is wrapped in ``tracing_context(enabled=False)``: a stray ``LANGSMITH_TRACING=true``
without a key (or a key without the switch) then causes no network call and no warning.

Names: the whole diagnosis is one ``diagnose`` run; LangGraph names each node's run after the
node (``classify``, ``inspect_cluster``, ``analyze``, ...); model calls are ``analyze.model``
and ``critique.model``. Metadata: the case id (evals), then, when the run ends, the category,
mode, loops, API requests and model calls.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langsmith import Client

    from idp.settings import Settings

log = logging.getLogger(__name__)

RUN_NAME = "diagnose"
TAGS = ["idp-agent"]


def tracing_enabled(settings: Settings | None) -> bool:
    return bool(settings and settings.langsmith_tracing and settings.langsmith_api_key is not None)


def langsmith_client(settings: Settings) -> Client:
    """The process's LangSmith client for these settings (built on first use, never at import time)."""
    assert settings.langsmith_api_key is not None, "a LangSmith client needs LANGSMITH_API_KEY"
    return _client(settings.langsmith_api_key.get_secret_value(), settings.langsmith_endpoint)


@lru_cache(maxsize=4)
def _client(api_key: str, api_url: str | None) -> Client:
    # One client per process: each owns a background thread that batches uploads.
    from langsmith import Client

    return Client(api_key=api_key, api_url=api_url)


def flush_traces(settings: Settings | None) -> None:
    """Send buffered runs now (a short-lived command exits right after its last run)."""
    if tracing_enabled(settings) and settings is not None:
        langsmith_client(settings).flush()


def run_config(case_id: str | None = None, **metadata: Any) -> dict[str, Any]:
    """The RunnableConfig fields that name a diagnosis run and tag it."""
    meta = {k: v for k, v in {"case_id": case_id, **metadata}.items() if v is not None}
    return {"run_name": RUN_NAME, "tags": list(TAGS), "metadata": meta}


def outcome_metadata(diagnosis: dict[str, Any]) -> dict[str, Any]:
    """What a finished diagnosis adds to its run's metadata."""
    return {
        "category": diagnosis.get("category"),
        "mode": diagnosis.get("mode"),
        "loops": diagnosis.get("loops"),
        "api_requests": diagnosis.get("api_requests"),
        "root_cause_id": diagnosis.get("root_cause_id"),
    }


@dataclass
class TracedRun:
    """Handle on the parent run of one diagnosis; ``finish`` records its outcome (no-op untraced)."""

    run: Any | None = None

    def finish(self, diagnosis: dict[str, Any]) -> None:
        if self.run is None:
            return
        self.run.add_metadata(outcome_metadata(diagnosis))
        self.run.end(outputs={"diagnosis": diagnosis})


@contextmanager
def traced_run(
    settings: Settings | None, inputs: dict[str, Any], case_id: str | None = None
) -> Iterator[TracedRun]:
    """Wrap one diagnosis: a ``diagnose`` parent run when tracing is on, tracing forced off otherwise."""
    from langsmith import run_helpers

    if settings is None or not tracing_enabled(settings):
        with run_helpers.tracing_context(enabled=False):
            yield TracedRun()
        return
    client = langsmith_client(settings)
    metadata = {"case_id": case_id} if case_id else {}
    with (
        run_helpers.tracing_context(enabled=True, client=client, project_name=settings.langsmith_project),
        run_helpers.trace(
            RUN_NAME, "chain", inputs=inputs, metadata=metadata, tags=list(TAGS), client=client
        ) as run,
    ):
        yield TracedRun(run)
