"""Unknown: no analyzer found its category in the evidence. Says what it read and what it would need."""

from __future__ import annotations

from graph.analyzers.base import Analyzer, Fact, Finding
from graph.evidence import EvidenceView


class UnknownAnalyzer(Analyzer):
    category = "Unknown"

    def analyze(self, view: EvidenceView) -> Finding:
        ns = view.namespace
        reads = len(view.evidence["reads"])
        facts = [
            Fact(f"{reads} read(s) made; no failing condition matched a known category", "inspect_cluster")
        ]
        where = f" in namespace {ns}" if ns else ""
        needs = (
            "the namespace and the pod or workload name"
            if not ns
            else "the name of the failing pod or workload, and the exact error text it shows"
        )
        return Finding(
            category="Unknown",
            score=0.05,
            root_cause_id="unknown.insufficient-evidence",
            root_cause=(
                f"No failing condition was found{where} that explains the error. "
                f"To diagnose it, provide {needs}."
            ),
            summary="Not enough evidence to name a cause",
            facts=facts,
            fix_commands=[
                f"kubectl get pods{' -n ' + ns if ns else ' -A'} -o wide",
                f"kubectl get events{' -n ' + ns if ns else ' -A'} --sort-by=.lastTimestamp",
            ],
            prevention=["Alert on pod restarts, Pending pods and Warning events per namespace."],
            missing=[needs],
        )
