"""classify: the taxonomy's patterns over the pasted text, plus entity extraction.

Produces ranked hypotheses, not a verdict: the cluster decides.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.context import Context
from graph.entities import extract_entities
from graph.evidence import empty_evidence
from graph.nodes.timing import timed
from graph.patterns import match_patterns
from graph.schemas import DiagnoseRequest
from graph.state import Hypothesis, State
from tools.redact import redact_text


def rank_hypotheses(text: str) -> list[Hypothesis]:
    scores = match_patterns(text)
    if not scores:
        return [Hypothesis(category="Unknown", score=0.1, reasons=["no known pattern in the text"])]
    top = max(weight for weight, _ in scores.values())
    ranked = [
        Hypothesis(category=cat, score=round(min(1.0, weight / max(top, 1.0)), 3), reasons=labels)
        for cat, (weight, labels) in scores.items()
    ]
    return sorted(ranked, key=lambda h: -h["score"])


def classify(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    timings: dict[str, float] = {}
    with timed("classify", timings):
        # Validate here too: Studio and LangServe callers reach the graph without the REST layer.
        request = DiagnoseRequest.model_validate(
            {k: state.get(k) for k in ("error_message", "namespace", "pod", "workload")}
        )
        text = redact_text(request.error_message)
        entities = extract_entities(text)
        hypotheses = rank_hypotheses(text)
    return {
        # Downstream nodes, the checkpointer and the model only ever see the redacted paste.
        "error_message": text,
        "namespace": request.namespace,
        "pod": request.pod,
        "workload": request.workload,
        "entities": entities,
        "hypotheses": hypotheses,
        # A new question in a chat thread starts a new diagnosis: clear the previous run's work.
        "evidence": empty_evidence(request.namespace),
        "wanted": [],
        "findings": [],
        "runbooks": [],
        "model_notes": [],
        "loops": None,
        "timings_ms": timings,
    }
