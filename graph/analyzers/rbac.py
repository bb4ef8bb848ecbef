"""RBACForbidden: (analyzer not written yet)."""

from __future__ import annotations

from graph.analyzers.base import Analyzer, Finding
from graph.evidence import EvidenceView


class RBACForbiddenAnalyzer(Analyzer):
    category = "RBACForbidden"

    def analyze(self, view: EvidenceView) -> Finding | None:
        return None
