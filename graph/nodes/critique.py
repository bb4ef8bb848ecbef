"""critique: check the draft against the evidence, and send the graph back for reads it lacks.

Checks: the category is supported by facts; the facts this category needs were read (else
ask for them, at most ``max_loops`` times); every object named exists in the evidence; no fix
command is unsafe. With a model configured, :mod:`graph.model_critique` may name further reads
when the analyzers want none; the checks above apply to the draft either way. When data is still short after the last loop, confidence drops and
``missing_data`` says what is missing.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.analyzers import ANALYZERS
from graph.context import Context, resolve
from graph.evidence import EvidenceView, empty_evidence, object_key
from graph.nodes.timing import timed
from graph.safety import unsafe_reason
from graph.schemas import CriticVerdict, ReadSpec
from graph.state import State

# Below this, the critic also asks the runner-up categories' analyzers what they would read.
WEAK_SCORE = 0.6


def _unread(specs: list[ReadSpec], view: EvidenceView) -> list[ReadSpec]:
    return [s for s in {s.key(): s for s in specs}.values() if not view.was_read(s.key())]


def critique(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    ctx, deps = resolve(runtime.context)
    timings: dict[str, float] = {}
    with timed("critique", timings):
        evidence = state.get("evidence") or empty_evidence()
        view = EvidenceView(
            evidence,
            state.get("error_message", ""),
            dict(state.get("entities") or {}),
            [dict(h) for h in state.get("hypotheses") or []],
        )
        draft = dict(state.get("draft") or {})
        findings = state.get("findings") or []
        reasons: list[str] = []

        # Fix commands are text for a human; unsafe ones never reach the answer.
        safe = []
        for command in draft.get("fix_commands", []):
            why = unsafe_reason(command)
            if why:
                reasons.append(f"dropped an unsafe fix command: {why}")
            else:
                safe.append(command)
        draft["fix_commands"] = safe

        # Every object the diagnosis names must be in the evidence (read, or read as absent).
        named = []
        for obj in draft.get("affected_objects", []):
            key = object_key(str(obj.get("kind")), str(obj.get("name")), obj.get("namespace"))
            if key in evidence["objects"] or _read_as_absent(obj, view):
                named.append(obj)
            else:
                reasons.append(f"{obj.get('kind')} {obj.get('name')} is not in the evidence")
        draft["affected_objects"] = named

        supported = bool(draft.get("evidence")) and draft.get("category") != "Unknown"
        if not supported:
            reasons.append("the category is not supported by facts read from the cluster")

        wanted = reads_wanted(view, findings, supported, ctx.max_reads_per_loop)
        loops = state.get("loops", 0)
        model_notes: dict[str, Any] = {}
        if not wanted and deps.model is not None and loops < ctx.max_loops:
            # The model may name reads the analyzers did not think of; its reads pass the same checks.
            from graph.model_critique import consult_model

            wanted, model_reasons, draft, notes = consult_model(deps, state, view, draft, ctx)
            reasons += model_reasons
            model_notes = {"model_notes": notes}

        if wanted and loops < ctx.max_loops:
            reasons.append(f"{len(wanted)} read(s) would complete the evidence")
            verdict = CriticVerdict(reasons=reasons, verdict="need_more_data", fetch=wanted)
            return {
                "verdict": verdict.model_dump(),
                "wanted": [w.model_dump() for w in wanted],
                "loops": 1,
                "draft": draft,
                "timings_ms": timings,
                **model_notes,
            }

        gaps = list(draft.get("gaps", []))
        if wanted:
            gaps += [
                f"not read after {loops} loop(s): {w.verb} {w.kind} {w.name or ''} ({w.why})".strip()
                for w in wanted
            ]
        if gaps or not supported:
            draft["confidence"] = round(min(draft.get("confidence", 0.5), 0.5 if supported else 0.3), 2)
        draft["gaps"] = gaps
        verdict = CriticVerdict(reasons=reasons, verdict="accept_with_gaps" if gaps else "accept")
    return {
        "verdict": verdict.model_dump(),
        "wanted": [],
        "draft": draft,
        "timings_ms": timings,
        **model_notes,
    }


def reads_wanted(
    view: EvidenceView, findings: list[dict[str, Any]], supported: bool, max_reads: int
) -> list[ReadSpec]:
    """Reads the leading categories' analyzers still want (the runners-up too when the lead is weak)."""
    categories = [f["category"] for f in findings[:1]]
    if not supported or (findings and findings[0]["score"] < WEAK_SCORE):
        categories += [f["category"] for f in findings[1:3]]
    wanted: list[ReadSpec] = []
    for analyzer in ANALYZERS:
        if analyzer.category in categories:
            wanted += analyzer.plan(view)
    return _unread(wanted, view)[:max_reads]


def _read_as_absent(obj: dict[str, Any], view: EvidenceView) -> bool:
    """A missing ConfigMap or Secret is a legitimate subject: it was looked up and not found."""
    spec = ReadSpec(
        verb="get", kind=str(obj.get("kind")), namespace=obj.get("namespace"), name=obj.get("name")
    )
    return view.read_status(spec.key()) == "no_data"
