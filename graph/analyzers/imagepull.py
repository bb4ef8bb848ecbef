"""ImagePullBackOff: (analyzer not written yet)."""

from __future__ import annotations

from graph.analyzers.base import Analyzer, Finding
from graph.evidence import EvidenceView


class ImagePullBackOffAnalyzer(Analyzer):
    category = "ImagePullBackOff"

    def analyze(self, view: EvidenceView) -> Finding | None:
        return None
