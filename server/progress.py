"""Turn the graph's per-node updates into the progress events a stream shows.

Events, in order: ``classified``, ``objects_read``, ``runbooks_found``, ``analysis``,
``critic`` (then again ``objects_read`` ... for each critic loop), and finally ``diagnosis``;
a follow-up in a thread yields a single ``answer``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any


def _event(node: str, update: dict[str, Any], loop: int) -> dict[str, Any] | None:
    if node == "classify":
        return {
            "event": "classified",
            "hypotheses": [
                {"category": h["category"], "score": h["score"]} for h in (update.get("hypotheses") or [])[:3]
            ],
            "namespace": update.get("namespace"),
        }
    if node == "inspect_cluster":
        evidence = update.get("evidence") or {}
        return {
            "event": "objects_read",
            "loop": loop,
            "objects": sorted(evidence.get("objects") or {})[:50],
            "logs": sorted(evidence.get("logs") or {})[:20],
            "api_requests": evidence.get("requests", 0),
            "missing": len(evidence.get("missing") or []),
        }
    if node == "retrieve_runbooks":
        return {
            "event": "runbooks_found",
            "runbooks": [{"id": r["id"], "title": r["title"]} for r in update.get("runbooks") or []],
        }
    if node == "analyze":
        findings = update.get("findings") or []
        return {
            "event": "analysis",
            "mode": update.get("mode", "rules"),
            "findings": [{"category": f["category"], "score": f["score"]} for f in findings[:3]],
        }
    if node == "critique":
        verdict = update.get("verdict") or {}
        return {
            "event": "critic",
            "loop": loop,
            "verdict": verdict.get("verdict"),
            "reasons": verdict.get("reasons", []),
            "fetch": [w.get("why") or w.get("kind") for w in update.get("wanted") or []],
        }
    if node == "finalize":
        return {"event": "diagnosis", "diagnosis": update.get("diagnosis")}
    if node == "answer_followup":
        return {"event": "answer", "answer": update.get("answer")}
    return None


async def progress_events(updates: AsyncIterator[Any]) -> AsyncIterator[dict[str, Any]]:
    """``graph.astream(..., stream_mode="updates")`` chunks in, progress events out."""
    loop = 0
    async for chunk in updates:
        for node, update in (chunk or {}).items():
            event = _event(node, update or {}, loop)
            if node == "critique" and (update or {}).get("loops"):
                loop += 1
            if event is not None:
                yield event
