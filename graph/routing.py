"""Edge functions: small, pure, never call a model."""

from __future__ import annotations

from typing import Literal

from graph.followups import is_followup
from graph.state import State


def route_start(state: State) -> Literal["answer_followup", "classify"]:
    """A chat thread that holds a diagnosis answers follow-ups; anything else is a new diagnosis."""
    if not state.get("diagnosis"):
        return "classify"
    if state.get("question") or is_followup(state.get("error_message") or ""):
        return "answer_followup"
    return "classify"


def after_critique(state: State) -> Literal["inspect_cluster", "finalize"]:
    verdict = (state.get("verdict") or {}).get("verdict")
    if verdict == "need_more_data":
        if not state.get("wanted"):
            raise ValueError("critic asked for more data without naming any read")
        return "inspect_cluster"
    if verdict in ("accept", "accept_with_gaps"):
        return "finalize"
    raise ValueError(f"impossible critic verdict: {verdict!r}")
