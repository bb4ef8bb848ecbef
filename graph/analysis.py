"""Running the analyzers and turning the winning finding into a draft Diagnosis."""

from __future__ import annotations

import logging
from typing import Any

from graph.analyzers import ANALYZERS
from graph.analyzers.base import Finding
from graph.analyzers.common import outside_focus
from graph.evidence import EvidenceView
from graph.taxonomy import precedence_rank

log = logging.getLogger(__name__)


# A failure of a pod beside the ones asked about is real but probably not this one: it may
# explain the paste only when nothing about the focus pods does.
OUTSIDE_FOCUS_CAP = 0.6


def _about_other_pods(view: EvidenceView, finding: Finding) -> bool:
    pods = [
        view.obj("Pod", str(obj.get("name")), obj.get("namespace"))
        for obj in finding.affected
        if obj.get("kind") == "Pod"
    ]
    found = [pod for pod in pods if pod is not None]
    return bool(found) and all(outside_focus(view, pod) for pod in found)


def run_analyzers(view: EvidenceView) -> list[Finding]:
    """Every analyzer's finding, strongest evidence first; ties go to the deeper cause."""
    findings = []
    for analyzer in ANALYZERS:
        finding = analyzer.analyze(view)
        if finding is None:
            continue
        if _about_other_pods(view, finding):
            finding.score = min(finding.score, OUTSIDE_FOCUS_CAP)
        findings.append(finding)
    return sorted(findings, key=lambda f: (-round(f.score, 3), precedence_rank(f.category)))


def draft_from_finding(finding: Finding) -> dict[str, Any]:
    """The Diagnosis fields a finding determines (runbooks, timings and counts come later)."""
    return {
        "category": finding.category,
        "root_cause": finding.root_cause,
        "confidence": round(max(0.05, min(0.99, finding.score)), 2),
        "evidence": list(dict.fromkeys(f.render() for f in finding.facts)),
        "fix_commands": list(dict.fromkeys(finding.fix_commands)),
        "prevention": list(dict.fromkeys(finding.prevention)),
        "root_cause_id": finding.root_cause_id,
        "summary": finding.summary or finding.root_cause.split(". ")[0][:200],
        "affected_objects": list(finding.affected),
        "gaps": list(finding.missing),
    }
