"""Edge functions: small, pure, never call a model."""

from __future__ import annotations

from typing import Literal

from graph.state import State


def after_critique(state: State) -> Literal["inspect_cluster", "finalize"]:
    verdict = (state.get("verdict") or {}).get("verdict")
    if verdict == "need_more_data":
        if not state.get("wanted"):
            raise ValueError("critic asked for more data without naming any read")
        return "inspect_cluster"
    if verdict in ("accept", "accept_with_gaps"):
        return "finalize"
    raise ValueError(f"impossible critic verdict: {verdict!r}")
