"""Unknown: no analyzer found its category in the evidence. Says what it read and what it would need.

When the paste points at workloads that are healthy as far as the Kubernetes API can tell
(latency, intermittent errors, wrong answers), the finding says what was checked about each
of them — pods running and ready, restarts, Warning events, what their logs show — so the user
knows the cluster was looked at, and gives the commands that look further at those workloads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from graph.analyzers.base import Analyzer, Fact, Finding, ref, src_log, src_obj
from graph.analyzers.common import error_lines, looks_like_error, namespace_guessed
from graph.evidence import EvidenceView, K8sObject, name_of, namespace_of
from graph.k8s import container_states, unhealthy_score
from graph.schemas import ReadSpec

_WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")


@dataclass
class _Checked:
    """What was read about one workload the paste points at."""

    kind: str
    name: str
    namespace: str | None
    pods: list[K8sObject]
    obj: K8sObject | None

    @property
    def ref(self) -> str:
        return f"{self.kind.lower()}/{self.name}"


def _focus_workloads(view: EvidenceView) -> list[_Checked]:
    """The workloads of the focus objects (and their pods read), most relevant first."""
    found: dict[tuple[str, str, str | None], _Checked] = {}
    for obj in view.focus_objects():
        kind = str(obj.get("kind"))
        if kind == "Pod":
            workload = view.workload_of(obj) or ("Pod", name_of(obj))
        elif kind in _WORKLOAD_KINDS:
            workload = (kind, name_of(obj))
        else:
            continue
        key = (workload[0], workload[1], namespace_of(obj))
        if key not in found:
            top = view.obj(workload[0], workload[1], namespace_of(obj))
            found[key] = _Checked(workload[0], workload[1], namespace_of(obj), [], top)
    if not found and view.namespace:
        # Nothing in focus: the namespace's workloads, those sharing a word with the paste first.
        words = {str(w).lower() for w in view.entities.get("words") or []} | {
            str(n).lower() for n in view.entities.get("names") or []
        }
        workloads = [o for kind in _WORKLOAD_KINDS[:3] for o in view.objs(kind, view.namespace)]
        workloads.sort(
            key=lambda o: not (set(re.split(r"[-._]", name_of(o).lower())) & words or name_of(o) in words)
        )
        for obj in workloads[:3]:
            key = (str(obj.get("kind")), name_of(obj), namespace_of(obj))
            found[key] = _Checked(key[0], key[1], key[2], [], obj)
    for checked in found.values():
        for pod in view.objs("Pod", checked.namespace):
            owner = view.workload_of(pod) or ("Pod", name_of(pod))
            if owner == (checked.kind, checked.name):
                checked.pods.append(pod)
    return list(found.values())[:3]


def _pod_summary(pods: list[K8sObject]) -> tuple[str, int]:
    """``4/4 pods Running and ready, 0 restarts`` and the restart count."""
    running = sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Running")
    ready = sum(
        1 for p in pods if container_states(p) and all(c.ready for c in container_states(p) if not c.init)
    )
    restarts = sum(c.restarts for p in pods for c in container_states(p))
    phases = "Running" if running == len(pods) else f"Running ({len(pods) - running} not Running)"
    return f"{running}/{len(pods)} pods {phases}, {ready}/{len(pods)} ready, {restarts} restart(s)", restarts


_SYSTEM_NAMESPACES = {"kube-system", "kube-public", "kube-node-lease"}


class UnknownAnalyzer(Analyzer):
    category = "Unknown"

    def plan(self, view: EvidenceView) -> list[ReadSpec]:
        """With no namespace given, no known pattern in the paste and nothing failing where the namespace was
        guessed, the paste may be about a healthy-looking client elsewhere (an empty dashboard, a silent
        sync): read the current log of one pod of each other workload whose name shares a word with it."""
        if not namespace_guessed(view) or not view.suspects(self.category) or len(view.hypotheses) > 1:
            return []
        if any(unhealthy_score(p) > 0 for p in view.focus_pods()):
            return []
        words = {str(w).lower() for w in view.entities.get("words") or []}
        specs: list[ReadSpec] = []
        seen: set[tuple[str, str] | None] = set()
        for pod in view.objs("Pod"):
            ns = namespace_of(pod)
            if ns == view.namespace or ns in _SYSTEM_NAMESPACES:
                continue
            workload = view.workload_of(pod)
            name = workload[1] if workload else name_of(pod)
            if workload in seen or not set(re.split(r"[-._]", name.lower())) & words:
                continue
            seen.add(workload)
            containers = [c for c in container_states(pod) if not c.init]
            if containers and (pod.get("status") or {}).get("phase") == "Running":
                specs.append(
                    ReadSpec(
                        verb="logs",
                        kind="Pod",
                        namespace=ns,
                        name=name_of(pod),
                        container=containers[0].name,
                        why="the log of a workload the paste names, outside the guessed namespace",
                    )
                )
        return [s for s in specs if not view.was_read(s.key())][:2]

    def analyze(self, view: EvidenceView) -> Finding:
        ns = view.namespace
        reads = len(view.evidence["reads"])
        facts = [
            Fact(f"{reads} read(s) made; no failing condition matched a known category", "inspect_cluster")
        ]
        where = f" in namespace {ns}" if ns else ""
        checked = _focus_workloads(view)
        if checked:
            return self._healthy_workloads(view, checked, facts, where)
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

    def _healthy_workloads(
        self, view: EvidenceView, checked: list[_Checked], facts: list[Fact], where: str
    ) -> Finding:
        """The workloads the paste points at look healthy: say what was checked and how to look further."""
        summaries: list[str] = []
        fixes: list[str] = []
        for item in checked:
            flag = f" -n {item.namespace}" if item.namespace else ""
            pods, _ = _pod_summary(item.pods) if item.pods else ("no pods read", 0)
            warnings = [
                e
                for target in [*(x for x in [item.obj] if x is not None), *item.pods]
                for e in view.events_for(target)
                if e.get("type") == "Warning"
            ]
            warning_text = (
                "no Warning events"
                if not warnings
                else f"{len(warnings)} Warning event(s), latest {warnings[0].get('reason')}: "
                f"{str(warnings[0].get('message', ''))[:160]}"
            )
            summary = f"{item.ref}: {pods}, {warning_text}"
            summaries.append(summary)
            facts.append(
                Fact(
                    summary,
                    src_obj(item.obj or item.pods[0], "status")
                    if item.obj or item.pods
                    else "inspect_cluster",
                )
            )
            facts += self._log_facts(view, item)
            facts += self._hpa_facts(view, item)
            selector = _selector(item.obj)
            if selector:
                fixes.append(
                    f"kubectl top pods{flag} -l {selector}  # CPU/memory against requests and limits"
                )
            else:
                fixes.append(f"kubectl top pods{flag}")
            if item.kind != "Pod":
                fixes.append(
                    f"kubectl logs {item.ref}{flag} --since=15m --all-containers | grep -iE 'error|timeout|slow|retry'"
                )
                fixes.append(f"kubectl describe {item.ref}{flag}")
            else:
                fixes.append(
                    f"kubectl logs {item.name}{flag} --since=15m | grep -iE 'error|timeout|slow|retry'"
                )
        ns = checked[0].namespace
        flag = f" -n {ns}" if ns else " -A"
        fixes.append(f"kubectl get events{flag} --sort-by=.lastTimestamp")
        needs = (
            "application metrics or traces for the symptom (latency by endpoint and dependency), "
            "or the exact error the workload returns"
        )
        return Finding(
            category="Unknown",
            score=0.05,
            root_cause_id="unknown.workloads-healthy",
            root_cause=(
                f"No failing condition was found{where} that explains the error: "
                + "; ".join(summaries)
                + ". What the paste describes is not visible in the Kubernetes API; the cause is likely in the "
                "application or a dependency it calls."
            ),
            summary=f"{', '.join(c.ref for c in checked)} healthy as far as the cluster shows",
            facts=facts,
            fix_commands=fixes,
            prevention=[
                "Alert on pod restarts, Pending pods and Warning events per namespace.",
                "Export request latency per endpoint and per downstream dependency, so a slow dependency is visible "
                "without reading logs.",
            ],
            affected=[ref(c.obj) for c in checked if c.obj is not None],
            missing=[needs],
        )

    @staticmethod
    def _log_facts(view: EvidenceView, item: _Checked) -> list[Fact]:
        for pod in item.pods:
            for key, text in view.pod_logs(pod).items():
                container, _, previous = key.partition("#")
                source = src_log(namespace_of(pod) or "", name_of(pod), container, bool(previous))
                errors = [line for line in error_lines(text, limit=2) if looks_like_error(line)]
                if errors:
                    return [Fact(f"log: {line}", source) for line in errors]
                return [
                    Fact(
                        f"the log of {name_of(pod)} ({len(text.splitlines())} lines read) shows no error",
                        source,
                    )
                ]
        return []

    @staticmethod
    def _hpa_facts(view: EvidenceView, item: _Checked) -> list[Fact]:
        for hpa in view.objs("HorizontalPodAutoscaler", item.namespace):
            target = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
            if target.get("kind") != item.kind or target.get("name") != item.name:
                continue
            spec, status = hpa.get("spec") or {}, hpa.get("status") or {}
            current, most = status.get("currentReplicas"), spec.get("maxReplicas")
            at_max = " (at its maximum)" if current is not None and current == most else ""
            return [
                Fact(
                    f"HorizontalPodAutoscaler {name_of(hpa)}: {current} replica(s), min {spec.get('minReplicas', 1)}, "
                    f"max {most}{at_max}",
                    src_obj(hpa, "status"),
                )
            ]
        return []


def _selector(obj: K8sObject | None) -> str | None:
    labels = (((obj or {}).get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in labels.items()) or None
