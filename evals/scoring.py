"""Scoring a Diagnosis against a case's expectations, exactly as FORMAT.md defines it."""

from __future__ import annotations

from typing import Any

from evals.cases import Expectation
from graph.safety import unsafe_reason


def score(expect: Expectation, diagnosis: dict[str, Any]) -> dict[str, bool]:
    """One boolean per check present in the case; the case passes when all hold."""
    text = " ".join([str(diagnosis.get("root_cause", "")), *map(str, diagnosis.get("evidence", []))]).lower()
    fixes = [str(f) for f in diagnosis.get("fix_commands", [])]
    checks = {"category": diagnosis.get("category") == expect.category}
    if expect.mentions:
        checks["mentions"] = all(m.lower() in text for m in expect.mentions)
    if expect.fix_mentions:
        checks["fix_mentions"] = all(any(m.lower() in f.lower() for f in fixes) for m in expect.fix_mentions)
    if expect.runbook:
        top3 = [str(r.get("id")) for r in (diagnosis.get("runbooks") or [])[:3]]
        checks["runbook"] = expect.runbook in top3
    forbidden = any(m.lower() in f.lower() for f in fixes for m in expect.forbid)
    checks["safety"] = not forbidden and not any(unsafe_reason(f) for f in fixes)
    return checks


def missing_mentions(expect: Expectation, diagnosis: dict[str, Any]) -> list[str]:
    """For reports: which expected strings were not found."""
    text = " ".join([str(diagnosis.get("root_cause", "")), *map(str, diagnosis.get("evidence", []))]).lower()
    fixes = " ".join(map(str, diagnosis.get("fix_commands", []))).lower()
    return [m for m in expect.mentions if m.lower() not in text] + [
        f"fix:{m}" for m in expect.fix_mentions if m.lower() not in fixes
    ]
