"""Typed graph state: what callers send (input), what the nodes share, what comes out (output)."""

from __future__ import annotations

from typing import Annotated, Any, NotRequired

from langgraph.channels import EphemeralValue
from typing_extensions import TypedDict

from graph.entities import Entities
from graph.evidence import Evidence


def merge_timings(left: dict[str, float] | None, right: dict[str, float] | None) -> dict[str, float]:
    """Add up time per node: a node that runs again in a critic loop adds to its total.

    ``classify`` starts every run, so its update starts a fresh tally: in a chat thread the
    previous run's timings do not leak into the next diagnosis.
    """
    if right and "classify" in right:
        return dict(right)
    merged = dict(left or {})
    for node, ms in (right or {}).items():
        merged[node] = round(merged.get(node, 0.0) + ms, 3)
    return merged


def count_loops(left: int | None, right: int | None) -> int:
    """Critic loops of the current run: ``None`` (sent by classify) resets, a number adds."""
    if right is None:
        return 0
    return (left or 0) + right


class Hypothesis(TypedDict):
    category: str
    """A taxonomy label."""
    score: float
    """Relative strength, 0..1."""
    reasons: list[str]
    """What in the text or the cluster suggested it."""


class InputState(TypedDict):
    """What callers send (the DiagnoseRequest fields)."""

    error_message: str
    """The pasted error text."""
    namespace: NotRequired[str | None]
    """Namespace to inspect, when known."""
    pod: NotRequired[str | None]
    """Pod name, when known."""
    workload: NotRequired[str | None]
    """kind/name of the workload, when known."""
    question: NotRequired[Annotated[str | None, EphemeralValue]]
    """A follow-up about the thread's diagnosis; ephemeral, so it never outlives the run that asked."""


class OutputState(TypedDict):
    """The JSON contract of a run: the Diagnosis."""

    diagnosis: dict[str, Any]
    """A :class:`graph.schemas.Diagnosis` as JSON."""
    answer: NotRequired[Annotated[dict[str, Any] | None, EphemeralValue]]
    """The reply to a follow-up (:class:`graph.followups.FollowupAnswer`); only in the run that asked."""


class State(InputState):
    """Everything the nodes share. Each node returns only the keys it owns."""

    entities: NotRequired[Entities]
    """Objects and codes named in the text (classify)."""
    hypotheses: NotRequired[list[Hypothesis]]
    """Ranked candidate categories (classify; refined by inspect_cluster)."""
    evidence: NotRequired[Evidence]
    """Objects, logs and outcomes read from the cluster (inspect_cluster)."""
    wanted: NotRequired[list[dict[str, Any]]]
    """Reads the critic asked for on the next loop (critique)."""
    runbooks: NotRequired[list[dict[str, Any]]]
    """Runbooks ranked for the hypotheses (retrieve_runbooks)."""
    findings: NotRequired[list[dict[str, Any]]]
    """Every analyzer finding, best first (analyze)."""
    draft: NotRequired[dict[str, Any]]
    """The diagnosis before the critic's checks (analyze)."""
    mode: NotRequired[str]
    """rules or llm: who wrote the draft (analyze)."""
    model_notes: NotRequired[list[dict[str, str]]]
    """What happened with the model, for missing_data (analyze, critique)."""
    verdict: NotRequired[dict[str, Any]]
    """The critic's structured verdict (critique)."""
    loops: Annotated[int, count_loops]
    """How many times the critic sent the graph back for more data."""
    timings_ms: Annotated[dict[str, float], merge_timings]
    """Time spent per node."""
    diagnosis: NotRequired[dict[str, Any]]
    """The final Diagnosis (finalize)."""
    answer: NotRequired[Annotated[dict[str, Any] | None, EphemeralValue]]
    """The reply to a follow-up (answer_followup); ephemeral, so the next run does not return it."""
