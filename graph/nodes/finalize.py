"""finalize: the Diagnosis, with runbooks, missing data, counts, timings and a fingerprint."""

from __future__ import annotations

import hashlib
from typing import Any

from langgraph.runtime import Runtime

from graph.context import Context, resolve
from graph.evidence import empty_evidence
from graph.nodes.timing import timed
from graph.schemas import Diagnosis
from graph.state import State
from graph.taxonomy import runbook_id


def fingerprint(category: str, root_cause_id: str, affected: list[dict[str, Any]]) -> str:
    """Stable across runs and replicas: same cause on the same object, same fingerprint."""
    first = affected[0] if affected else {}
    # Pods come and go; the workload (or the first object) is what a bot de-duplicates on.
    subject = f"{first.get('kind', '')}/{first.get('namespace') or ''}/{first.get('name', '')}"
    digest = hashlib.sha256(f"{category}|{root_cause_id}|{subject}".encode()).hexdigest()
    return digest[:16]


def _runbooks(state: State, category: str, deps: Any) -> list[dict[str, Any]]:
    """Retrieval's ranking, with the runbook that covers the diagnosed category first."""
    hits = [dict(h) for h in state.get("runbooks") or []]
    wanted = runbook_id(category)
    top = max((h["score"] for h in hits), default=1.0)
    lead = next((h for h in hits if h["id"] == wanted), None)
    if lead is None and deps.runbooks is not None:
        book = deps.runbooks.get(wanted)
        if book is not None:
            lead = {"id": wanted, "title": book.title, "score": top, "section": None}
    if lead is not None:
        hits = [{**lead, "score": round(float(top), 4)}] + [h for h in hits if h["id"] != wanted]
    return hits[:5]


def finalize(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    _, deps = resolve(runtime.context)
    timings: dict[str, float] = {}
    with timed("finalize", timings):
        draft = dict(state.get("draft") or {})
        evidence = state.get("evidence") or empty_evidence()
        missing = [dict(m) for m in evidence["missing"]]
        missing += [
            {"what": gap, "reason": "needed by this category's checks"} for gap in draft.pop("gaps", [])
        ]
        missing += [dict(n) for n in state.get("model_notes") or []]
        category = draft.get("category", "Unknown")
        all_timings = dict(state.get("timings_ms") or {})
        all_timings["finalize"] = 0.0
        all_timings["total"] = round(sum(all_timings.values()), 3)
        diagnosis = Diagnosis(
            **draft,
            runbooks=_runbooks(state, category, deps),
            missing_data=missing,
            loops=state.get("loops", 0),
            mode=state.get("mode", "rules"),
            api_requests=evidence["requests"],
            timings_ms=all_timings,
            fingerprint=fingerprint(
                category, draft.get("root_cause_id", ""), draft.get("affected_objects", [])
            ),
        )
    return {"diagnosis": diagnosis.model_dump(mode="json"), "timings_ms": timings}
