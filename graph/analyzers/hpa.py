"""HPAFailure: (analyzer not written yet)."""

from __future__ import annotations

from graph.analyzers.base import Analyzer, Finding
from graph.evidence import EvidenceView


class HPAFailureAnalyzer(Analyzer):
    category = "HPAFailure"

    def analyze(self, view: EvidenceView) -> Finding | None:
        return None
