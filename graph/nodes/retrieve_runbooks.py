"""retrieve_runbooks: rank runbooks for the hypotheses and what the cluster showed."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.context import Context, resolve
from graph.evidence import EvidenceView, empty_evidence
from graph.k8s import container_states
from graph.nodes.timing import timed
from graph.state import State

QUERY_CHARS = 2000


def _signals(view: EvidenceView) -> list[str]:
    """Status reasons and event reasons of the failing objects: the cluster's own words."""
    words: list[str] = []
    for pod in view.focus_pods()[:2]:
        for c in container_states(pod):
            words += [r for r in (c.waiting_reason, c.last_reason, c.terminated_reason) if r]
        for event in view.events_for(pod, with_owners=True)[:5]:
            if event.get("type") == "Warning":
                words.append(str(event.get("reason")))
    return list(dict.fromkeys(words))


def retrieve_runbooks(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    _, deps = resolve(runtime.context)
    timings: dict[str, float] = {}
    with timed("retrieve_runbooks", timings):
        if deps.runbooks is None:
            return {"runbooks": [], "timings_ms": timings}
        view = EvidenceView(state.get("evidence") or empty_evidence())
        categories = {h["category"]: h["score"] for h in state.get("hypotheses") or []}
        for finding in (state.get("findings") or [])[:2]:
            categories[finding["category"]] = max(categories.get(finding["category"], 0.0), finding["score"])
        query = " ".join([state.get("error_message", "")[:QUERY_CHARS], *_signals(view)])
        hits = deps.runbooks.search(query, top_k=5, categories=categories)
        runbooks = [
            {"id": h.id, "title": h.title, "score": round(float(h.score), 4), "section": h.section}
            for h in hits
        ]
    return {"runbooks": runbooks, "timings_ms": timings}
