"""The analyzer interface (k8sgpt's shape): one category per module, listed in an explicit registry.

An analyzer is deterministic and pure. ``plan`` names the reads its category needs given what
is already known (the Kubernetes-tool node performs them); ``analyze`` decides from the
evidence whether its category explains the failure and writes the finding: the root cause
naming the object and the exact failing condition, facts with their sources, fix commands
with real object names, and prevention tips.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graph.evidence import EvidenceView, K8sObject, name_of, namespace_of
from graph.schemas import ReadSpec


@dataclass(frozen=True)
class Fact:
    """Something read from the cluster (or the pasted text) and where it came from."""

    text: str
    source: str

    def render(self) -> str:
        return f"{self.text} [source: {self.source}]"


@dataclass
class Finding:
    """An analyzer's conclusion. ``score`` is how strongly the evidence shows this cause (0..1)."""

    category: str
    score: float
    root_cause_id: str
    root_cause: str
    summary: str = ""
    facts: list[Fact] = field(default_factory=list)
    fix_commands: list[str] = field(default_factory=list)
    prevention: list[str] = field(default_factory=list)
    affected: list[dict[str, Any]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    """Facts this category needs that could not be established (lowers confidence)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "score": round(self.score, 3),
            "root_cause_id": self.root_cause_id,
            "root_cause": self.root_cause,
            "summary": self.summary,
            "facts": [{"text": f.text, "source": f.source} for f in self.facts],
            "fix_commands": list(self.fix_commands),
            "prevention": list(self.prevention),
            "affected": list(self.affected),
            "missing": list(self.missing),
        }


class Analyzer:
    """Base class: subclasses set ``category`` and override ``analyze`` (and ``plan`` when needed)."""

    category: str = "Unknown"

    def plan(self, view: EvidenceView) -> list[ReadSpec]:
        """Reads this category needs, given the evidence so far. Default: none."""
        return []

    def analyze(self, view: EvidenceView) -> Finding | None:
        raise NotImplementedError


# --- sources: how facts name where they came from ---


def ref(obj: K8sObject) -> dict[str, Any]:
    """An affected-object reference."""
    return {"kind": obj.get("kind"), "name": name_of(obj), "namespace": namespace_of(obj)}


def src_obj(obj: K8sObject, field_path: str = "") -> str:
    ns = namespace_of(obj)
    where = f"{ns}/" if ns else ""
    return f"{obj.get('kind')} {where}{name_of(obj)}" + (f" {field_path}" if field_path else "")


def src_event(event: K8sObject) -> str:
    inv = event.get("involvedObject") or {}
    count = event.get("count")
    times = f" x{count}" if count and int(count) > 1 else ""
    ns = inv.get("namespace") or event.get("metadata", {}).get("namespace")
    where = f"{ns}/" if ns else ""
    return f"Event {event.get('reason')} on {inv.get('kind')} {where}{inv.get('name')}{times}"


def src_log(namespace: str, pod: str, container: str, previous: bool = False) -> str:
    return f"log {namespace}/{pod}/{container}" + (" (previous instance)" if previous else "")


def ns_flag(namespace: str | None) -> str:
    return f" -n {namespace}" if namespace else ""
