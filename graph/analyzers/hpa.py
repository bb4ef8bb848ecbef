"""HPAFailure: a HorizontalPodAutoscaler cannot compute its metrics, so it never scales.

The HPA's ScalingActive=False condition and its FailedGetResourceMetric /
FailedComputeMetricsReplicas events say why: a container without a request for the metric's
resource ("missing request for cpu in container X"), the resource metrics API missing or down
(metrics-server), a custom/external metrics adapter missing, or a scale target that does not exist.
"""

from __future__ import annotations

import difflib
import re

from graph.analyzers.base import Analyzer, Fact, Finding, ns_flag, ref, src_event, src_log, src_obj
from graph.analyzers.common import error_lines, similar_names
from graph.evidence import EvidenceView, K8sObject, name_of, namespace_of
from graph.k8s import container_states, pod_spec
from graph.schemas import ReadSpec
from tools.kinds import KINDS

_EVENTS = (
    "FailedGetResourceMetric",
    "FailedComputeMetricsReplicas",
    "FailedGetPodsMetric",
    "FailedGetObjectMetric",
    "FailedGetExternalMetric",
    "FailedGetContainerResourceMetric",
    "FailedGetScale",
    "FailedRescale",
)
_MISSING_REQUEST = re.compile(r"missing request for (\w[\w.-]*) in container ([\w.-]+)(?: of Pod ([\w.-]+))?")
_METRICS_API = re.compile(
    r"unable to (?:get|fetch) metrics from resource metrics API|pods\.metrics\.k8s\.io|"
    r"no metrics returned from resource metrics API|(?<!custom\.)(?<!external\.)metrics\.k8s\.io",
    re.IGNORECASE,
)
_CUSTOM_API = re.compile(
    r"(custom|external)\.metrics\.k8s\.io|unable to get (external )?metric", re.IGNORECASE
)
_SCALE = re.compile(
    r"(\w+)/scale\.\w+ \"([\w.-]+)\" not found|the server could not find the requested resource"
)


def _failing_condition(hpa: K8sObject) -> K8sObject | None:
    for cond in (hpa.get("status") or {}).get("conditions") or []:
        if cond.get("type") in ("ScalingActive", "AbleToScale") and cond.get("status") == "False":
            return dict(cond)
    return None


def _hpa_events(view: EvidenceView, hpa: K8sObject) -> list[K8sObject]:
    return [e for e in view.events_for(hpa) if e.get("reason") in _EVENTS]


class HPAFailureAnalyzer(Analyzer):
    category = "HPAFailure"

    def plan(self, view: EvidenceView) -> list[ReadSpec]:
        ns = view.namespace
        if not ns:
            return []
        events = view.events(ns, reasons=_EVENTS)
        specs: list[ReadSpec] = []
        listing = ReadSpec(
            verb="list",
            kind="HorizontalPodAutoscaler",
            namespace=ns,
            why="the autoscalers and their conditions",
        )
        if (events or view.suspects(self.category, 0.5)) and not view.was_read(listing.key()):
            specs.append(listing)
        text = " ".join(str(e.get("message")) for e in events)
        for hpa in view.objs("HorizontalPodAutoscaler", ns):
            cond = _failing_condition(hpa) or {}
            text += " " + str(cond.get("message") or "")
            target = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
            kind, name = str(target.get("kind")), str(target.get("name"))
            if kind in ("StatefulSet",) and view.obj(kind, name, ns) is None:
                specs.append(
                    ReadSpec(verb="get", kind=kind, namespace=ns, name=name, why="the HPA's scale target")
                )
        custom = _CUSTOM_GROUP.search(text)
        if custom and not _MISSING_REQUEST.search(text) and "APIService" in KINDS:
            # Which adapter (if any) registers the custom/external metrics API: one APIService by name.
            apiservice = ReadSpec(
                verb="get",
                kind="APIService",
                name=f"v1beta1.{custom.group(0).lower()}",
                why="the metrics adapter registered for that API",
            )
            if not view.was_read(apiservice.key()):
                specs.append(apiservice)
        if not custom and _METRICS_API.search(text) and not _MISSING_REQUEST.search(text):
            server_pods = ReadSpec(
                verb="list",
                kind="Pod",
                namespace="kube-system",
                label_selector="k8s-app=metrics-server",
                why="metrics-server pods (they serve metrics.k8s.io)",
            )
            if not view.was_read(server_pods.key()):
                specs.append(server_pods)
            for pod in _metrics_server_pods(view)[:1]:
                for state in container_states(pod):
                    if state.restarts > 0 or not state.ready:
                        specs.append(
                            ReadSpec(
                                verb="logs",
                                kind="Pod",
                                namespace="kube-system",
                                name=name_of(pod),
                                container=state.name,
                                previous=state.restarts > 0,
                                why="why metrics-server is not serving",
                            )
                        )
                        break
        return specs

    @staticmethod
    def _custom_metrics(
        view: EvidenceView, hpa: K8sObject, target: str, text: str
    ) -> tuple[str, str, list[Fact], list[str]]:
        """A Pods/Object/External metric the HPA cannot read: is an adapter registered for that API at all?"""
        hpa_name = name_of(hpa)
        group_match = _CUSTOM_GROUP.search(text)
        group = group_match.group(0).lower() if group_match else "custom.metrics.k8s.io"
        metrics = _custom_metric_names(hpa)
        metric = next((m for m in metrics if m in text), metrics[0] if metrics else "its metric")
        name = f"v1beta1.{group}"
        apiservice = view.obj("APIService", name)
        read = view.read_status(ReadSpec(verb="get", kind="APIService", name=name).key())
        facts: list[Fact] = []
        adapter = (
            "prometheus-adapter (or KEDA for external metrics)"
            if group.startswith("custom")
            else "KEDA or another external metrics adapter"
        )
        install = (
            "helm upgrade --install prometheus-adapter prometheus-community/prometheus-adapter -n monitoring "
            "--set prometheus.url=http://<prometheus service>.<namespace>.svc"
            f"  # a metrics adapter serving {group}; add a rule that exposes {metric}"
        )
        check = f"kubectl get --raw /apis/{group}/v1beta1 | head -c 2000  # the metrics the adapter serves"
        if apiservice is None and read == "no_data":
            facts.append(
                Fact(f"APIService {name} does not exist: nothing serves {group}", f"get APIService {name}")
            )
            cause = (
                f"HPA {hpa_name} scales {target} on metric {metric}, which it reads from {group}, but no APIService "
                f"{name} is registered: no metrics adapter ({adapter}) is installed, so the metric is never "
                "available and the HPA cannot scale."
            )
            return (
                "hpa.custom-metrics-adapter-missing",
                cause,
                facts,
                [install, f"kubectl get apiservice {name}"],
            )
        if apiservice is not None:
            available, why = _available(apiservice)
            service = (apiservice.get("spec") or {}).get("service") or {}
            where = f"service {service.get('namespace')}/{service.get('name')}" if service else "its service"
            facts.append(
                Fact(
                    f"APIService {name} (served by {where}) Available={'True' if available else 'False'} ({why})",
                    src_obj(apiservice, "status.conditions"),
                )
            )
            if not available:
                cause = (
                    f"HPA {hpa_name} cannot read metric {metric} for {target}: the metrics adapter behind APIService "
                    f"{name} ({where}) is not available ({why})."
                )
                fixes = [f"kubectl get apiservice {name} -o yaml"]
                if service:
                    fixes.append(
                        f"kubectl -n {service.get('namespace')} get endpoints {service.get('name')}"
                        "  # the adapter pods behind it"
                    )
                return "hpa.custom-metrics-adapter-down", cause, facts, fixes
            cause = (
                f"HPA {hpa_name} cannot read metric {metric} for {target}: the adapter behind APIService {name} "
                f"answers but does not serve that metric ({text.strip()[:200]})."
            )
            return (
                "hpa.custom-metric-not-exposed",
                cause,
                facts,
                [check, f"# add a rule to the adapter that exposes {metric}"],
            )
        cause = (
            f"HPA {hpa_name} cannot read its custom/external metric {metric} for {target}: {text.strip()[:240]}. The "
            f"metrics adapter ({adapter}) is missing, down or does not expose that metric."
        )
        return (
            "hpa.custom-metrics-unavailable",
            cause,
            facts,
            [f"kubectl get apiservice {name}", check, install],
        )

    def analyze(self, view: EvidenceView) -> Finding | None:
        ns = view.namespace
        candidates = []
        for hpa in view.objs("HorizontalPodAutoscaler", ns):
            cond = _failing_condition(hpa)
            events = _hpa_events(view, hpa)
            if cond or events:
                candidates.append((hpa, cond, events))
        if not candidates:
            return None
        named = set(view.entities.get("names") or [])
        candidates.sort(key=lambda c: (name_of(c[0]) not in named, c[1] is None))
        hpa, cond, events = candidates[0]
        hpa_ns, hpa_name = namespace_of(hpa), name_of(hpa)
        spec = hpa.get("spec") or {}
        target_ref = spec.get("scaleTargetRef") or {}
        target_kind, target_name = str(target_ref.get("kind")), str(target_ref.get("name"))
        target = f"{target_kind.lower()}/{target_name}"
        facts: list[Fact] = []
        messages: list[str] = []
        if cond:
            facts.append(
                Fact(
                    f"{cond.get('type')}=False reason {cond.get('reason')}: {cond.get('message')}",
                    src_obj(hpa, f"status.conditions[{cond.get('type')}]"),
                )
            )
            messages.append(str(cond.get("message") or ""))
        for event in events[:2]:
            facts.append(Fact(f"{event.get('reason')}: {event.get('message')}", src_event(event)))
            messages.append(str(event.get("message") or ""))
        metrics = [
            f"{m.get('type')} {(m.get('resource') or {}).get('name', '')} "
            f"{((m.get('resource') or {}).get('target') or {}).get('averageUtilization', '')}".strip()
            for m in spec.get("metrics") or []
        ]
        status = hpa.get("status") or {}
        facts.append(
            Fact(
                f"HPA {hpa_name} targets {target} ({', '.join(metrics) or 'cpu'}%), replicas {spec.get('minReplicas', 1)}-"
                f"{spec.get('maxReplicas')}, current {status.get('currentReplicas')} desired {status.get('desiredReplicas')}",
                src_obj(hpa, "spec"),
            )
        )
        text = " ".join(messages)
        fixes: list[str] = []
        missing_request = _MISSING_REQUEST.search(text)
        if missing_request:
            resource, container = missing_request.group(1), missing_request.group(2)
            workload = view.obj(target_kind, target_name, hpa_ns)
            no_request = _containers_without(workload, resource) if workload else [container]
            if workload is not None:
                facts.append(
                    Fact(
                        f"containers of {target} without a {resource} request: {', '.join(no_request) or 'none now'}",
                        src_obj(workload, f"spec.template.spec.containers[*].resources.requests.{resource}"),
                    )
                )
            root_id, cause = (
                "hpa.missing-request",
                f"HPA {hpa_name} cannot compute {resource} utilization for {target}: container {container} has no "
                f'{resource} request ("missing request for {resource} in container {container}"), and utilization is '
                f"usage divided by the sum of every container's request, so the metric is invalid and the HPA never scales.",
            )
            default = "50m" if resource == "cpu" else "64Mi"
            for name in dict.fromkeys([container, *no_request]):
                fixes.append(
                    f"kubectl set resources {target}{ns_flag(hpa_ns)} -c {name} --requests={resource}={default}"
                )
        elif _METRICS_API.search(text):
            server_pods = _metrics_server_pods(view)
            state = "no metrics-server pod found in kube-system"
            for pod in server_pods[:1]:
                states = [c for c in container_states(pod) if not c.init]
                waiting = next((c.waiting_reason for c in states if c.waiting_reason), None)
                restarts = sum(c.restarts for c in states)
                ready = all(c.ready for c in states)
                state = (
                    f"pod {name_of(pod)} is {waiting or (pod.get('status') or {}).get('phase')}"
                    + (f" with {restarts} restart(s)" if restarts else "")
                    + ("" if ready else ", not Ready")
                )
                facts.append(Fact(f"metrics-server {state}", src_obj(pod, "status.containerStatuses")))
                for key, log in view.pod_logs(pod).items():
                    container, _, previous = key.partition("#")
                    for line in error_lines(log, limit=2):
                        facts.append(
                            Fact(
                                f"log: {line}",
                                src_log("kube-system", name_of(pod), container, bool(previous)),
                            )
                        )
            root_id, cause = (
                "hpa.metrics-unavailable",
                f"HPA {hpa_name} cannot read resource metrics for {target}: the resource metrics API (metrics.k8s.io, "
                f"served by metrics-server — {state}) does not answer, so the HPA has no utilization to act on.",
            )
            fixes += [
                "kubectl get apiservice v1beta1.metrics.k8s.io",
                "kubectl -n kube-system rollout status deployment/metrics-server",
                "kubectl -n kube-system logs deployment/metrics-server",
                "kubectl top pods" + ns_flag(hpa_ns),
            ]
        elif _CUSTOM_API.search(text):
            root_id, cause, more_facts, more_fixes = self._custom_metrics(view, hpa, target, text)
            facts += more_facts
            fixes += more_fixes
        elif (scale := _SCALE.search(text)) or (cond and cond.get("type") == "AbleToScale"):
            root_id, cause = (
                "hpa.scale-target-missing",
                f"HPA {hpa_name} cannot get the scale of its target {target}: "
                f"{scale.group(0) if scale else text.strip()[:240]}.",
            )
            targeted = {
                str(((h.get("spec") or {}).get("scaleTargetRef") or {}).get("name"))
                for h in view.objs("HorizontalPodAutoscaler", hpa_ns)
            }
            existing = [name_of(o) for o in view.objs(target_kind, hpa_ns) if name_of(o) not in targeted]
            for candidate in _renamed(target_name, existing)[:1]:
                patch = '{"spec":{"scaleTargetRef":{"name":"' + candidate + '"}}}'
                cause += f" {target_kind} {candidate} exists in the namespace and looks like its new name."
                fixes.append(f"kubectl patch hpa {hpa_name}{ns_flag(hpa_ns)} -p '{patch}'")
            fixes.append(
                f"kubectl get deploy,statefulset{ns_flag(hpa_ns)}  # the scaleTargetRef of HPA {hpa_name}"
            )
        else:
            root_id, cause = (
                "hpa.invalid-metrics",
                f"HPA {hpa_name} cannot compute its metrics for {target}: {text.strip()[:300]}.",
            )
        fixes.append(f"kubectl describe hpa {hpa_name}{ns_flag(hpa_ns)}")
        return Finding(
            category=self.category,
            score=0.92,
            root_cause_id=root_id,
            root_cause=cause,
            summary=f"HPA {hpa_name} not scaling: {root_id.split('.', 1)[1]}",
            facts=facts,
            fix_commands=fixes,
            prevention=[
                "Require cpu/memory requests on every container (sidecars included) with a policy (Kyverno, "
                "Gatekeeper) or a LimitRange default, since HPA utilization needs them all.",
                "Alert on HPA ScalingActive=False (kube_horizontalpodautoscaler_status_condition) and on the "
                "metrics.k8s.io APIService being unavailable.",
                "Load-test autoscaling before peak events and check `kubectl get hpa` shows real targets, not <unknown>.",
            ],
            affected=[ref(hpa)],
        )


_CUSTOM_GROUP = re.compile(r"(?:custom|external)\.metrics\.k8s\.io", re.IGNORECASE)


def _custom_metric_names(hpa: K8sObject) -> list[str]:
    """Names of the Pods/Object/External metrics an HPA scales on."""
    names = []
    for metric in (hpa.get("spec") or {}).get("metrics") or []:
        for kind in ("pods", "object", "external"):
            name = ((metric.get(kind) or {}).get("metric") or {}).get("name")
            if name:
                names.append(str(name))
    return names


def _renamed(name: str, candidates: list[str]) -> list[str]:
    """Workloads that may be ``name`` after a rename: a close spelling, or the same first word."""
    close = similar_names(name, candidates)
    stem = name.split("-", 1)[0]
    same_stem = sorted(
        (c for c in candidates if c not in close and c.split("-", 1)[0] == stem),
        key=lambda c: -difflib.SequenceMatcher(None, name, c).ratio(),
    )
    return close + same_stem


def _available(apiservice: K8sObject) -> tuple[bool, str]:
    for cond in (apiservice.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Available":
            return cond.get("status") == "True", f"{cond.get('reason', '')}: {cond.get('message', '')}".strip(
                ": "
            )
    return False, "no Available condition"


def _metrics_server_pods(view: EvidenceView) -> list[K8sObject]:
    return [
        p
        for p in view.objs("Pod", "kube-system")
        if ((p.get("metadata") or {}).get("labels") or {}).get("k8s-app") == "metrics-server"
        or name_of(p).startswith("metrics-server-")
    ]


def _containers_without(workload: K8sObject, resource: str) -> list[str]:
    return [
        str(c.get("name"))
        for c in pod_spec(workload).get("containers") or []
        if resource not in ((c.get("resources") or {}).get("requests") or {})
    ]
