"""analyze: the deterministic analyzers decide the category from evidence and write the draft.

This node is the model's seam: with a chat model configured, :mod:`graph.model_analysis`
may rewrite the draft from the same redacted evidence; the rules draft is always computed
first and stays the floor.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.analysis import draft_from_finding, run_analyzers
from graph.context import Context, resolve
from graph.evidence import EvidenceView, empty_evidence
from graph.nodes.timing import timed
from graph.state import State


def analyze(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    _, deps = resolve(runtime.context)
    timings: dict[str, float] = {}
    with timed("analyze", timings):
        view = EvidenceView(
            state.get("evidence") or empty_evidence(),
            state.get("error_message", ""),
            dict(state.get("entities") or {}),
            [dict(h) for h in state.get("hypotheses") or []],
        )
        findings = run_analyzers(view)
        draft = draft_from_finding(findings[0])
        mode = "rules"
        notes: list[dict[str, str]] = list(state.get("model_notes") or [])
        if deps.model is not None:
            from graph.model_analysis import refine_draft

            draft, mode, notes = refine_draft(deps, state, view, findings, draft, notes)
    return {
        "findings": [f.to_dict() for f in findings[:5]],
        "draft": draft,
        "mode": mode,
        "model_notes": notes,
        "timings_ms": timings,
    }
