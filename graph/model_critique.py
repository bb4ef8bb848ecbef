"""The model's part in critique: judge a weak draft's evidence, and name reads that would settle it.

Asked only when the analyzers want no more reads, a loop is still allowed, calls are left and
the draft is weak (Unknown, or confidence below the critic's weak score): a sound rules
diagnosis never pays for a second opinion. The model's reads are filtered before anything is
read: known kinds only, never Secrets, within the diagnosed namespace (cluster-scoped kinds
by name), names that occur in the evidence, nothing already read, at most
:data:`MAX_MODEL_READS`. The deterministic checks in :mod:`graph.nodes.critique` still apply.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from graph.compaction import corpus, estimate_tokens, fenced, new_fence, pack_evidence
from graph.context import Context
from graph.evidence import EvidenceView
from graph.llm import Limits, ask_json, load_prompt
from graph.model_analysis import BUDGET_MARGIN, model_calls, schema_tokens, tokens
from graph.schemas import ReadSpec
from tools.kinds import KINDS

if TYPE_CHECKING:
    from graph.context import Deps
    from graph.state import State

MAX_MODEL_READS = 3
WEAK_CONFIDENCE = 0.6
# Reads the model may never ask for, whatever the evidence says.
_NEVER = frozenset({"Secret"})


class ModelRead(BaseModel):
    verb: Literal["get", "list", "logs"]
    kind: str = Field(max_length=80)
    namespace: str | None = Field(None, max_length=63)
    name: str | None = Field(None, max_length=253)
    container: str | None = Field(None, max_length=63)
    previous: bool = False
    why: str = Field("", max_length=300)


class CriticAnswer(BaseModel):
    """The model's verdict: reasons first, then whether the evidence suffices, then what to read."""

    reasons: list[str] = Field(default_factory=list, max_length=6)
    sufficient: bool
    fetch: list[ModelRead] = Field(default_factory=list, max_length=6)


def critic_will_loop(
    view: EvidenceView, findings: list[dict[str, Any]], draft: dict[str, Any], loops: int
) -> bool:
    """Whether the deterministic critic will send this pass back for reads (so a model answer now is wasted)."""
    from graph.nodes.critique import reads_wanted

    ctx = _context()
    supported = bool(draft.get("evidence")) and draft.get("category") != "Unknown"
    return loops < ctx.max_loops and bool(reads_wanted(view, findings, supported, ctx.max_reads_per_loop))


def _context() -> Context:
    from langgraph.runtime import get_runtime

    try:
        context = get_runtime(Context).context
    except RuntimeError:  # called outside a graph run (a unit test of one function)
        return Context()
    return context if isinstance(context, Context) else Context()


def consult_model(
    deps: Deps, state: State, view: EvidenceView, draft: dict[str, Any], ctx: Context
) -> tuple[list[ReadSpec], list[str], dict[str, Any], list[dict[str, str]]]:
    """(reads to make, reasons, the draft with its call count, model notes)."""
    notes = [dict(n) for n in state.get("model_notes") or []]
    limits = Limits.of(deps.settings)
    calls = int(draft.get("model_calls", model_calls(state)))
    weak = draft.get("category") == "Unknown" or float(draft.get("confidence", 0.0)) < WEAK_CONFIDENCE
    if not weak or calls >= limits.max_calls:
        return [], [], draft, notes

    system, user = critique_prompt(view, draft, limits)
    answer = ask_json(
        deps.model,
        CriticAnswer,
        system,
        user,
        limits=limits,
        calls_left=1,
        run_name="critique.model",
        metadata={"category": draft.get("category"), "loops": state.get("loops", 0)},
    )
    draft = {**draft, "model_calls": calls + answer.calls}
    if answer.value is None:
        notes.append({"what": "model critique", "reason": f"{answer.failure}; the rules' checks stand"})
        return [], [], draft, notes
    if answer.value.sufficient:
        return [], [f"model: {r}" for r in answer.value.reasons[:3]], draft, notes
    reads = allowed_reads(answer.value.fetch, view)
    reasons = [f"model: {r}" for r in answer.value.reasons[:3]]
    if len(reads) < len(answer.value.fetch):
        reasons.append(f"model: {len(answer.value.fetch) - len(reads)} proposed read(s) refused")
    return reads[: min(MAX_MODEL_READS, ctx.max_reads_per_loop)], reasons, draft, notes


def critique_prompt(view: EvidenceView, draft: dict[str, Any], limits: Limits) -> tuple[str, str]:
    fence = new_fence()
    system = load_prompt("system").substitute(fence=fence)
    shown = {k: draft.get(k) for k in ("category", "root_cause", "evidence", "confidence", "gaps")}
    fields = {
        "max_reads": str(MAX_MODEL_READS),
        "namespace": view.namespace or "(unknown)",
        "draft": fenced(fence, "draft diagnosis", json.dumps(shown, indent=1)[:4000]),
        "reads": "\n".join(sorted(view.evidence["reads"]))[:2000] or "(none)",
    }
    template = load_prompt("critique")
    bare = template.substitute(fields, evidence="", omitted="")
    room = (
        int(limits.input_budget_tokens * BUDGET_MARGIN)
        - estimate_tokens(system)
        - estimate_tokens(bare)
        - schema_tokens(CriticAnswer)
    )
    pack = pack_evidence(view, fence, max(0, room - 100) * 4)
    return system, template.substitute(fields, evidence=pack.text, omitted=pack.omitted_note())


def allowed_reads(proposed: list[ModelRead], view: EvidenceView) -> list[ReadSpec]:
    """The proposed reads that are read-only, targeted and about objects the evidence names."""
    known = tokens(corpus(view))
    out: dict[str, ReadSpec] = {}
    for read in proposed:
        info = KINDS.get("Pod" if read.verb == "logs" else read.kind)
        if info is None or info.kind in _NEVER:
            continue
        namespace = read.namespace if info.namespaced else None
        if info.namespaced and (namespace is None or (view.namespace and namespace != view.namespace)):
            continue
        if not info.namespaced and read.verb == "list":
            continue  # cluster-wide lists are the analyzers' call, not the model's
        if read.name is not None and read.name.lower() not in known:
            continue
        if read.verb in ("get", "logs") and not read.name or read.verb == "logs" and not read.container:
            continue
        kind = "Pod" if read.verb == "logs" else info.kind
        spec = ReadSpec(
            verb=read.verb,
            kind=kind,
            namespace=namespace,
            name=read.name,
            container=read.container if read.verb == "logs" else None,
            previous=read.previous if read.verb == "logs" else False,
            why=f"model: {read.why}"[:200],
        )
        if not view.was_read(spec.key()):
            out.setdefault(spec.key(), spec)
    return list(out.values())
