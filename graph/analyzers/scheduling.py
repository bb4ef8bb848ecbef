"""FailedScheduling: a pod stays Pending because the scheduler finds no node for it.

The scheduler's message ("0/3 nodes are available: 3 Insufficient cpu, 1 node(s) had
untolerated taint {dedicated: gpu}. preemption: ...") counts the nodes each filter rejected.
The analyzer reads that message, then checks it against the objects the filters compare: the
pod's summed requests against the nodes' allocatable, its node selector against node labels,
node taints against its tolerations, its PersistentVolume's node affinity against the
nodes' zones, and its claims' binding.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from graph.analyzers.base import Analyzer, Fact, Finding, ns_flag, ref, src_event, src_obj
from graph.analyzers.common import candidate_pods, workload_ref
from graph.evidence import EvidenceView, K8sObject, name_of, namespace_of
from graph.k8s import (
    effective_requests,
    format_resource,
    parse_quantity,
    pod_condition,
    pod_spec,
)
from graph.schemas import ReadSpec

_AVAILABLE = re.compile(
    r"\d+/\d+ nodes are available:\s*(.*?)(?:\s*preemption:|$)", re.IGNORECASE | re.DOTALL
)
_PART_SPLIT = re.compile(r",\s+(?=\d+\s)")
_PART = re.compile(r"^(\d+)\s+(.*?)\.?$")
_INSUFFICIENT = re.compile(r"Insufficient ([\w./-]+)", re.IGNORECASE)
_TAINT = re.compile(r"taint \{([^:}]+):\s*([^}]*)\}")
# Taints the node lifecycle controller sets: a pod rejected by them is a node problem, not a
# scheduling constraint of the workload.
NODE_CONDITION_TAINTS = (
    "node.kubernetes.io/not-ready",
    "node.kubernetes.io/unreachable",
    "node.kubernetes.io/memory-pressure",
    "node.kubernetes.io/disk-pressure",
    "node.kubernetes.io/pid-pressure",
    "node.kubernetes.io/network-unavailable",
)
ZONE_LABELS = ("topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone")
_NODE_LIST = ReadSpec(verb="list", kind="Node", why="compare the pod's needs with every node")
_STORAGE_CLASSES = ReadSpec(
    verb="list", kind="StorageClass", why="the storage classes a claim naming a missing one could use"
)
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"


@dataclass
class Rejection:
    """One filter's verdict from the scheduler message: how many nodes it rejected and why."""

    count: int
    kind: str
    text: str
    detail: dict[str, str] = field(default_factory=dict)


def parse_rejections(message: str) -> list[Rejection]:
    """The per-filter counts of a scheduler message, most nodes first."""
    found: list[Rejection] = []
    lowered = message.lower()
    if "unbound immediate persistentvolumeclaims" in lowered:
        found.append(Rejection(0, "unbound-pvc", "pod has unbound immediate PersistentVolumeClaims"))
    missing_claim = re.search(r'persistentvolumeclaim "([\w.-]+)" (not found|is being deleted)', message)
    if missing_claim:
        found.append(Rejection(0, "missing-pvc", missing_claim.group(0), {"claim": missing_claim.group(1)}))
    if "no nodes available to schedule pods" in lowered:
        found.append(Rejection(0, "no-nodes", "no nodes available to schedule pods"))
    match = _AVAILABLE.search(message)
    if match:
        for part in _PART_SPLIT.split(match.group(1).strip()):
            parsed = _PART.match(part.strip())
            if not parsed:
                continue
            count, text = int(parsed.group(1)), parsed.group(2).strip()
            found.append(_classify_part(count, text))
    return sorted(found, key=lambda r: -r.count)


def _classify_part(count: int, text: str) -> Rejection:
    lowered = text.lower()
    insufficient = _INSUFFICIENT.search(text)
    if insufficient:
        return Rejection(count, "insufficient", text, {"resource": insufficient.group(1)})
    if "too many pods" in lowered:
        return Rejection(count, "insufficient", text, {"resource": "pods"})
    if "volume node affinity conflict" in lowered:
        return Rejection(count, "volume-zone", text)
    taint = _TAINT.search(text)
    if taint or "taint" in lowered:
        detail = {"key": taint.group(1).strip(), "value": taint.group(2).strip()} if taint else {}
        return Rejection(count, "taint", text, detail)
    if "node affinity/selector" in lowered or "node selector" in lowered or "node affinity" in lowered:
        return Rejection(count, "selector", text)
    if "topology spread" in lowered:
        return Rejection(count, "spread", text)
    if "anti-affinity" in lowered or "pod affinity" in lowered:
        return Rejection(count, "pod-affinity", text)
    if "unschedulable" in lowered:
        return Rejection(count, "cordoned", text)
    if "free ports" in lowered:
        return Rejection(count, "host-port", text)
    if "available persistent volumes" in lowered:
        return Rejection(count, "pv-bind", text)
    return Rejection(count, "other", text)


def scheduler_message(view: EvidenceView, pod: K8sObject) -> tuple[str, str] | None:
    """The newest FailedScheduling message for a pod and where it came from."""
    for event in view.events_for(pod):
        if event.get("reason") == "FailedScheduling" and event.get("message"):
            return str(event["message"]), src_event(event)
    cond = pod_condition(pod, "PodScheduled")
    if cond and cond.get("status") == "False" and cond.get("message"):
        return str(cond["message"]), src_obj(pod, "status.conditions[PodScheduled]")
    return None


def unscheduled_pods(view: EvidenceView) -> list[K8sObject]:
    """Pending pods the scheduler has not placed, focus pods first."""
    found = []
    for pod in candidate_pods(view):
        status = pod.get("status") or {}
        if status.get("phase") != "Pending" or (pod.get("spec") or {}).get("nodeName"):
            continue
        cond = pod_condition(pod, "PodScheduled")
        failed = any(e.get("reason") == "FailedScheduling" for e in view.events_for(pod))
        if failed or (cond and cond.get("status") == "False"):
            found.append(pod)
    return found


def claim_names(pod: K8sObject) -> list[str]:
    return [
        str(v["persistentVolumeClaim"]["claimName"])
        for v in (pod.get("spec") or {}).get("volumes") or []
        if (v.get("persistentVolumeClaim") or {}).get("claimName")
    ]


def controller_ref(view: EvidenceView, obj: K8sObject) -> str:
    """``kind/name`` of the object's top controller, following owner references past what was read
    (a Job's CronJob), since commands must change the object that recreates the pods."""
    target = workload_ref(view, obj)
    kind, name = target.split("/", 1)
    top = view.obj(WORKLOAD_KIND_NAMES.get(kind, kind), name, namespace_of(obj))
    if top is not None:
        for owner in view.owner_refs(top):
            if owner.get("controller", True) and owner.get("kind"):
                return f"{str(owner['kind']).lower()}/{owner.get('name')}"
    return target


WORKLOAD_KIND_NAMES = {
    "deployment": "Deployment",
    "statefulset": "StatefulSet",
    "daemonset": "DaemonSet",
    "job": "Job",
    "cronjob": "CronJob",
    "replicaset": "ReplicaSet",
}


def resources_command(
    view: EvidenceView, pod: K8sObject, container: str, kind: str, values: dict[str, str]
) -> str:
    """A kubectl command that sets ``kind`` (requests or limits) of one container of the pod's workload."""
    ns = namespace_of(pod)
    target = controller_ref(view, pod)
    workload_kind = target.split("/", 1)[0]
    if workload_kind == "cronjob":
        index = next(
            (i for i, c in enumerate(pod_spec(pod).get("containers") or []) if c.get("name") == container), 0
        )
        ops = [
            {
                "op": "add",
                "path": f"/spec/jobTemplate/spec/template/spec/containers/{index}/resources/{kind}/{resource}",
                "value": value,
            }
            for resource, value in values.items()
        ]
        return f"kubectl patch {target}{ns_flag(ns)} --type=json -p '{json.dumps(ops)}'"
    flags = ",".join(f"{resource}={value}" for resource, value in values.items())
    if workload_kind in ("pod", "job"):
        # Pod templates of Pods and Jobs are immutable: the object must be recreated.
        return (
            f"kubectl get {target}{ns_flag(ns)} -o yaml > {target.split('/', 1)[1]}.yaml  "
            f"# set {kind} {flags} on container {container}, then recreate it"
        )
    return f"kubectl set resources {target}{ns_flag(ns)} -c {container} --{kind}={flags}"


def _node_label(node: K8sObject, keys: tuple[str, ...]) -> str | None:
    labels = (node.get("metadata") or {}).get("labels") or {}
    return next((str(labels[k]) for k in keys if k in labels), None)


def _schedulable_nodes(view: EvidenceView) -> list[K8sObject]:
    return [n for n in view.objs("Node") if not (n.get("spec") or {}).get("unschedulable")]


class FailedSchedulingAnalyzer(Analyzer):
    category = "FailedScheduling"

    def plan(self, view: EvidenceView) -> list[ReadSpec]:
        specs: list[ReadSpec] = []
        for pod in unscheduled_pods(view)[:2]:
            ns = namespace_of(pod)
            found = scheduler_message(view, pod)
            kinds = {r.kind for r in parse_rejections(found[0])} if found else set()
            node_bound = kinds - {"unbound-pvc", "missing-pvc"}
            if (node_bound or not found) and not view.was_read(_NODE_LIST.key()):
                specs.append(_NODE_LIST)
            if kinds & {"unbound-pvc", "missing-pvc", "volume-zone", "pv-bind"} or not found:
                for claim in claim_names(pod):
                    pvc = view.obj("PersistentVolumeClaim", claim, ns)
                    if pvc is None:
                        specs.append(
                            ReadSpec(
                                verb="get",
                                kind="PersistentVolumeClaim",
                                namespace=ns,
                                name=claim,
                                why="the pod's volume claim",
                            )
                        )
                        continue
                    volume = (pvc.get("spec") or {}).get("volumeName")
                    storage_class = (pvc.get("spec") or {}).get("storageClassName")
                    if volume and view.obj("PersistentVolume", volume) is None:
                        specs.append(
                            ReadSpec(
                                verb="get",
                                kind="PersistentVolume",
                                name=volume,
                                why="the zone the bound volume is pinned to",
                            )
                        )
                    elif not volume and storage_class and view.obj("StorageClass", storage_class) is None:
                        get_class = ReadSpec(
                            verb="get",
                            kind="StorageClass",
                            name=storage_class,
                            why="the storage class that should provision the claim",
                        )
                        specs.append(get_class)
                        if view.read_status(get_class.key()) == "no_data":
                            # The class does not exist: the existing ones are what the claim can use instead.
                            specs.append(_STORAGE_CLASSES)
        return specs

    def analyze(self, view: EvidenceView) -> Finding | None:
        pods = unscheduled_pods(view)
        if not pods:
            return None
        pod = pods[0]
        ns, pod_name = namespace_of(pod), name_of(pod)
        target = controller_ref(view, pod)
        found = scheduler_message(view, pod)
        facts: list[Fact] = []
        if len(pods) > 1:
            facts.append(Fact(f"{len(pods)} pods are Pending unscheduled", "pods in namespace"))
        if found is None:
            return Finding(
                category=self.category,
                score=0.55,
                root_cause_id="scheduling.unknown",
                root_cause=f"Pod {pod_name} ({target}) is Pending and not scheduled, but no scheduler message "
                "was read.",
                facts=[Fact("pod is Pending with no node assigned", src_obj(pod, "status.phase"))],
                fix_commands=[f"kubectl describe pod {pod_name}{ns_flag(ns)}"],
                prevention=_PREVENTION,
                affected=[ref(pod)],
                missing=["the FailedScheduling event of the pod"],
            )
        message, source = found
        facts.append(Fact(f"scheduler: {message}", source))
        for event in view.events_for(pod):
            if event.get("reason") == "NotTriggerScaleUp":
                facts.append(Fact(f"cluster-autoscaler: {event.get('message')}", src_event(event)))
                break
        rejections = parse_rejections(message)
        if len(rejections) > 1 and _selector_matches_some(pod, view.objs("Node")):
            # The nodes the selector rules out are simply not the pod's target pool; the
            # nodes it does select are rejected for the reason that matters.
            rejections.sort(key=lambda r: r.kind == "selector")
        explained = _Explain(view, pod, target)
        for rejection in rejections or [Rejection(0, "other", message)]:
            explained.add(rejection)
        primary = explained.primary
        facts.extend(explained.facts)
        score = 0.93
        if primary and primary.kind == "taint" and primary.detail.get("key") in NODE_CONDITION_TAINTS:
            # The nodes are NotReady or under pressure; that analyzer names the deeper cause.
            score = 0.7
        root = f"Pod {pod_name} ({target}) is Pending: {'; '.join(explained.causes) or message}."
        fixes = [*explained.fixes, f"kubectl describe pod {pod_name}{ns_flag(ns)}"]
        return Finding(
            category=self.category,
            score=score,
            root_cause_id=f"scheduling.{primary.kind if primary else 'other'}",
            root_cause=root,
            summary=f"{target} unschedulable: {explained.causes[0] if explained.causes else message}"[:200],
            facts=facts,
            fix_commands=fixes,
            prevention=_PREVENTION,
            affected=[ref(pod), *explained.affected],
            missing=explained.missing,
        )


_PREVENTION = [
    "Size requests from observed usage (VPA recommendations) and keep the largest pod smaller than the "
    "smallest node of its pool.",
    "Run the cluster autoscaler (or Karpenter) with node groups in every zone your volumes and "
    "constraints use, and alert on pods Pending for more than a few minutes.",
    "Review nodeSelector, affinity, tolerations and topology spread constraints together with node-pool "
    "labels and taints whenever node pools change.",
]


class _Explain:
    """Turns each scheduler rejection into a cause sentence, facts and fixes from the objects read."""

    def __init__(self, view: EvidenceView, pod: K8sObject, target: str):
        self.view, self.pod, self.target = view, pod, target
        self.ns = namespace_of(pod)
        self.nodes = view.objs("Node")
        self.causes: list[str] = []
        self.facts: list[Fact] = []
        self.fixes: list[str] = []
        self.missing: list[str] = []
        self.affected: list[dict[str, Any]] = []
        self.primary: Rejection | None = None
        self._seen: set[str] = set()

    def add(self, rejection: Rejection) -> None:
        key = rejection.kind + rejection.detail.get("resource", "") + rejection.detail.get("key", "")
        if key in self._seen:
            return
        self._seen.add(key)
        if self.primary is None:
            self.primary = rejection
        handler = getattr(self, "_" + rejection.kind.replace("-", "_"), None)
        if handler is not None:
            handler(rejection)
        else:
            self.causes.append(rejection.text)

    # --- node resources ---
    def _insufficient(self, rejection: Rejection) -> None:
        resource = rejection.detail["resource"]
        requests = effective_requests(self.pod)
        wanted = requests.get(resource, Decimal(1) if resource == "pods" else None)
        nodes = _schedulable_nodes(self.view)
        allocs = [
            (amount, name_of(n))
            for n in nodes
            if (amount := parse_quantity(((n.get("status") or {}).get("allocatable") or {}).get(resource)))
            is not None
        ]
        cause = f"{rejection.count} node(s) report Insufficient {resource}"
        if resource == "pods":
            cause = f"{rejection.count} node(s) already run their maximum number of pods (Too many pods)"
            if allocs:
                cause += f"; allocatable pods per node: {', '.join(sorted({format_resource('pods', a) for a, _ in allocs}))}"
            self.causes.append(cause)
            self.fixes.append(
                "kubectl get nodes -o custom-columns=NAME:.metadata.name,PODS:.status.allocatable.pods"
            )
            return
        if wanted is None:
            self.causes.append(cause)
            return
        want_text = format_resource(resource, wanted)
        self.facts.append(
            Fact(
                f"pod {name_of(self.pod)} requests {want_text} {resource} in total "
                f"({self._per_container(resource)})",
                src_obj(self.pod, "spec.containers[*].resources.requests"),
            )
        )
        if not allocs:
            self.causes.append(f"{cause}: the pod requests {want_text} {resource}")
            self.missing.append("the nodes' allocatable resources (list Node)")
            return
        largest, largest_node = max(allocs)
        self.facts.append(
            Fact(
                f"largest node allocatable {resource} is {format_resource(resource, largest)} (node {largest_node}); "
                f"{len(allocs)} schedulable node(s)",
                f"Node {largest_node} status.allocatable.{resource}",
            )
        )
        container = self._biggest_container(resource)
        if wanted > largest:
            self.causes.append(
                f"{cause}: it requests {want_text} {resource}, more than any node can offer "
                f"(largest node allocatable {format_resource(resource, largest)} on {largest_node}), so it can "
                "never be scheduled on the current node types"
            )
            fit = _fitting(resource, largest)
            if container:
                self.fixes.append(
                    resources_command(self.view, self.pod, container, "requests", {resource: fit})
                )
            column = resource.upper().replace(".", "_").replace("/", "_")
            path = resource.replace(".", "\\.")
            self.fixes.append(
                f"kubectl get nodes -o custom-columns=NAME:.metadata.name,{column}:.status.allocatable.{path}  "
                f"# or add a node pool whose allocatable {resource} exceeds {want_text}"
            )
        else:
            self.causes.append(
                f"{cause}: it requests {want_text} {resource} and nodes offer at most "
                f"{format_resource(resource, largest)} allocatable, but the requests of pods already running "
                "leave too little free"
            )
            self.fixes.append("kubectl describe nodes | grep -A 8 'Allocated resources'")
            if container:
                self.fixes.append(
                    resources_command(
                        self.view,
                        self.pod,
                        container,
                        "requests",
                        {resource: f"<below {format_resource(resource, wanted)}>"},
                    )
                    + "  # only if the pod needs less; otherwise add nodes (cluster autoscaler max size)"
                )

    def _per_container(self, resource: str) -> str:
        parts = []
        spec = pod_spec(self.pod)
        for c in spec.get("containers") or []:
            value = ((c.get("resources") or {}).get("requests") or {}).get(resource)
            parts.append(f"{c.get('name')}={value or 0}")
        return ", ".join(parts)

    def _biggest_container(self, resource: str) -> str | None:
        best: tuple[Decimal, str | None] = (Decimal(-1), None)
        for c in pod_spec(self.pod).get("containers") or []:
            amount = parse_quantity(((c.get("resources") or {}).get("requests") or {}).get(resource))
            if amount is not None and amount > best[0]:
                best = (amount, str(c.get("name")))
        return best[1]

    # --- placement constraints ---
    def _selector(self, rejection: Rejection) -> None:
        spec = pod_spec(self.pod)
        selector = dict(spec.get("nodeSelector") or {})
        required = (
            ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
                "requiredDuringSchedulingIgnoredDuringExecution"
            )
            or {}
        ).get("nodeSelectorTerms") or []
        cause = f"{rejection.count} node(s) didn't match the pod's node affinity/selector"
        details = []
        if _selector_matches_some(self.pod, self.nodes) and self.primary is not rejection:
            matching = [name_of(n) for n in self.nodes if _selector_matches_some(self.pod, [n])]
            self.causes.append(
                f"the other {rejection.count} node(s) are outside its nodeSelector "
                f"{', '.join(f'{k}={v}' for k, v in selector.items())} (it targets {', '.join(matching[:5])})"
            )
            return
        for key, value in selector.items():
            present = sorted({v for n in self.nodes if (v := _node_label(n, (key,))) is not None})
            details.append(f"nodeSelector {key}={value}")
            where = f"nodes have {key}={', '.join(present)}" if present else f"no node has label {key}"
            self.facts.append(
                Fact(f"nodeSelector {key}={value}; {where}", src_obj(self.pod, "spec.nodeSelector"))
            )
            if self.nodes:
                if present:
                    patch = {"spec": {"template": {"spec": {"nodeSelector": {key: present[0]}}}}}
                    self.fixes.append(
                        f"kubectl patch {self.target}{ns_flag(self.ns)} -p '{json.dumps(patch)}'  "
                        f"# or label a node: kubectl label node <node> {key}={value}"
                    )
                else:
                    self.fixes.append(
                        f"kubectl label node <node> {key}={value}  # or remove the nodeSelector"
                    )
        for term in required:
            for expr in term.get("matchExpressions") or []:
                text = f"{expr.get('key')} {expr.get('operator')} {expr.get('values') or ''}".strip()
                details.append(f"required node affinity {text}")
                key = str(expr.get("key"))
                present = sorted({v for n in self.nodes if (v := _node_label(n, (key,))) is not None})
                self.facts.append(
                    Fact(
                        f"required node affinity {text}; nodes have {key}={', '.join(present) or '(none)'}",
                        src_obj(self.pod, "spec.affinity.nodeAffinity"),
                    )
                )
        if details:
            cause += f" ({'; '.join(details)})"
        self.causes.append(cause)
        self.fixes.append("kubectl get nodes --show-labels")

    def _taint(self, rejection: Rejection) -> None:
        key, value = rejection.detail.get("key", ""), rejection.detail.get("value", "")
        tainted = []
        effect = "NoSchedule"
        for node in self.nodes:
            for taint in (node.get("spec") or {}).get("taints") or []:
                if not key or taint.get("key") == key:
                    tainted.append(name_of(node))
                    effect = str(taint.get("effect") or effect)
                    key = key or str(taint.get("key"))
                    value = value or str(taint.get("value") or "")
        shown = f"{key}={value}:{effect}" if value else f"{key}:{effect}"
        cause = f"{rejection.count} node(s) have the taint {shown} that the pod does not tolerate"
        if tainted:
            cause += f" ({', '.join(sorted(set(tainted))[:5])})"
            self.facts.append(
                Fact(
                    f"nodes tainted {shown}: {', '.join(sorted(set(tainted))[:5])}",
                    f"Node {tainted[0]} spec.taints",
                )
            )
        tolerations = [t for t in pod_spec(self.pod).get("tolerations") or [] if not _default_toleration(t)]
        keys = sorted({str(t.get("key")) for t in tolerations if t.get("key")})
        self.facts.append(
            Fact(f"pod tolerates only: {', '.join(keys) or 'nothing'}", src_obj(self.pod, "spec.tolerations"))
        )
        self.causes.append(cause)
        if key in NODE_CONDITION_TAINTS:
            self.fixes.append(
                f"kubectl get nodes  # the {key} taint means nodes are NotReady or under pressure"
            )
            return
        toleration: dict[str, str] = {"key": key, "operator": "Equal", "value": value, "effect": effect}
        if not value:
            toleration = {"key": key, "operator": "Exists", "effect": effect}
        patch = {"spec": {"template": {"spec": {"tolerations": [*tolerations, toleration]}}}}
        if not self.target.startswith(("pod/", "job/", "cronjob/")):
            self.fixes.append(f"kubectl patch {self.target}{ns_flag(self.ns)} -p '{json.dumps(patch)}'")
        if tainted:
            self.fixes.append(
                f"kubectl taint nodes {tainted[0]} {shown}-  # only if these nodes are not reserved for other workloads"
            )

    def _spread(self, rejection: Rejection) -> None:
        constraints = pod_spec(self.pod).get("topologySpreadConstraints") or []
        described = [
            f"{c.get('topologyKey')} maxSkew={c.get('maxSkew')} whenUnsatisfiable={c.get('whenUnsatisfiable')}"
            for c in constraints
        ]
        cause = f"{rejection.count} node(s) didn't match the pod topology spread constraints"
        if described:
            cause += f" ({'; '.join(described)})"
            self.facts.append(
                Fact(
                    f"topologySpreadConstraints: {'; '.join(described)}",
                    src_obj(self.pod, "spec.topologySpreadConstraints"),
                )
            )
        keys = {str(c.get("topologyKey")) for c in constraints}
        for key in keys:
            values = sorted({v for n in self.nodes if (v := _node_label(n, (key,))) is not None})
            if values:
                self.facts.append(Fact(f"nodes span {key} values: {', '.join(values)}", "Node labels"))
        self.causes.append(cause)
        self.fixes.append(
            f"kubectl get nodes -L {','.join(sorted(keys)) or 'topology.kubernetes.io/zone'}  "
            "# add capacity in the domain with the fewest pods, or set whenUnsatisfiable: ScheduleAnyway"
        )

    def _pod_affinity(self, rejection: Rejection) -> None:
        self.causes.append(f"{rejection.count} {rejection.text}")
        self.fixes.append(
            f"kubectl get {self.target}{ns_flag(self.ns)} -o jsonpath='{{.spec.template.spec.affinity}}'  "
            "# relax requiredDuringScheduling pod (anti-)affinity to preferred, or add nodes"
        )

    def _cordoned(self, rejection: Rejection) -> None:
        cordoned = [name_of(n) for n in self.nodes if (n.get("spec") or {}).get("unschedulable")]
        self.causes.append(
            f"{rejection.count} node(s) are cordoned (unschedulable){': ' + ', '.join(cordoned) if cordoned else ''}"
        )
        for node in cordoned[:3]:
            self.fixes.append(f"kubectl uncordon {node}  # once its maintenance is over")

    def _no_nodes(self, rejection: Rejection) -> None:
        self.causes.append("the cluster has no schedulable nodes")
        self.fixes.append("kubectl get nodes")

    # --- volumes ---
    def _claims(self) -> list[tuple[str, K8sObject | None]]:
        return [(c, self.view.obj("PersistentVolumeClaim", c, self.ns)) for c in claim_names(self.pod)]

    def _volume_zone(self, rejection: Rejection) -> None:
        node_zones = sorted({z for n in self.nodes if (z := _node_label(n, ZONE_LABELS))})
        described = False
        for claim, pvc in self._claims():
            volume_name = ((pvc or {}).get("spec") or {}).get("volumeName")
            pv = self.view.obj("PersistentVolume", volume_name) if volume_name else None
            if pv is None:
                continue
            terms = (((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required") or {}).get(
                "nodeSelectorTerms"
            ) or []
            pinned = []
            for term in terms:
                for expr in term.get("matchExpressions") or []:
                    pinned.append((str(expr.get("key")), [str(v) for v in expr.get("values") or []]))
            if not pinned:
                continue
            described = True
            zones = sorted(
                {v for key, values in pinned if key in ZONE_LABELS or "zone" in key for v in values}
            )
            pin_text = "; ".join(f"{k} in {', '.join(v)}" for k, v in pinned)
            self.facts.append(
                Fact(
                    f"PersistentVolume {name_of(pv)} (bound to claim {claim}) has nodeAffinity {pin_text}",
                    src_obj(pv, "spec.nodeAffinity"),
                )
            )
            self.affected.append(ref(pv))
            if node_zones:
                self.facts.append(
                    Fact(
                        f"nodes are in zone(s) {', '.join(node_zones)}",
                        "Node labels topology.kubernetes.io/zone",
                    )
                )
            zone_text = ", ".join(zones) or pin_text
            self.causes.append(
                f"its volume claim {claim} is bound to PersistentVolume {name_of(pv)}, which is pinned to "
                f"{zone_text}, but no node runs there"
                + (f" (nodes are in {', '.join(node_zones)})" if node_zones else "")
                + " — volume node affinity conflict"
            )
            for zone in zones or ["<zone>"]:
                self.fixes.append(f"kubectl get nodes -l topology.kubernetes.io/zone={zone}")
                self.fixes.append(
                    f"# add node capacity in {zone} (e.g. a node group/subnet in {zone}, or set the cluster "
                    f"autoscaler node group for {zone} to min 1) so {self.target} can follow its volume"
                )
            self.fixes.append(
                f"# or move the data: snapshot PersistentVolume {name_of(pv)} and restore it in "
                f"{', '.join(node_zones) or 'a zone with nodes'}; keep the original volume until the copy is verified"
            )
        if not described:
            self.causes.append(f"{rejection.count} node(s) had a volume node affinity conflict")
            self.missing.append("the PersistentVolume bound to the pod's claim (its nodeAffinity zone)")

    def _pv_bind(self, rejection: Rejection) -> None:
        self.causes.append(f"{rejection.count} {rejection.text}")
        self.fixes.append(f"kubectl get pv,pvc{ns_flag(self.ns)}")

    def _unbound_pvc(self, rejection: Rejection) -> None:
        unbound = [
            (c, p) for c, p in self._claims() if p is None or (p.get("status") or {}).get("phase") != "Bound"
        ]
        if not unbound:
            self.causes.append(rejection.text)
            return
        for claim, pvc in unbound:
            if pvc is None:
                self.causes.append(f"its PersistentVolumeClaim {claim} does not exist")
                self.missing.append(f"PersistentVolumeClaim {claim}")
                continue
            self.affected.append(ref(pvc))
            storage_class = (pvc.get("spec") or {}).get("storageClassName")
            phase = (pvc.get("status") or {}).get("phase", "Pending")
            self.facts.append(
                Fact(
                    f"PersistentVolumeClaim {claim} is {phase} (storageClassName {storage_class or 'unset'})",
                    src_obj(pvc, "status.phase"),
                )
            )
            cause = f"its PersistentVolumeClaim {claim} is {phase} (unbound)"
            for event in self.view.events_for(pvc):
                if event.get("reason") in ("ProvisioningFailed", "FailedBinding"):
                    self.facts.append(
                        Fact(f"{event.get('reason')}: {event.get('message')}", src_event(event))
                    )
                    cause += f": {event.get('message')}"
                    break
            if storage_class:
                read = ReadSpec(verb="get", kind="StorageClass", name=storage_class)
                if self.view.read_status(read.key()) == "no_data":
                    cause += f"; StorageClass {storage_class} does not exist"
                    self._missing_storage_class(claim, storage_class)
            self.causes.append(cause)
            self.fixes.append(f"kubectl describe pvc {claim}{ns_flag(self.ns)}")

    def _missing_storage_class(self, claim: str, storage_class: str) -> None:
        """Fixes for a claim naming a StorageClass that does not exist: create it, or use an existing one."""
        classes = self.view.objs("StorageClass")
        default = next(
            (
                c
                for c in classes
                if ((c.get("metadata") or {}).get("annotations") or {}).get(DEFAULT_CLASS_ANNOTATION)
                == "true"
            ),
            classes[0] if classes else None,
        )
        if classes:
            names = ", ".join(name_of(c) + (" (default)" if c is default else "") for c in classes[:6])
            self.facts.append(
                Fact(
                    f"StorageClass {storage_class} does not exist; existing classes: {names}",
                    "list StorageClass",
                )
            )
        existing = name_of(default) if default is not None else "<existing-class>"
        self.fixes.append(f"kubectl get storageclass  # no class named {storage_class}")
        self.fixes.append(
            f"kubectl get storageclass {existing} -o yaml  # copy its provisioner and parameters into a new "
            f"StorageClass named {storage_class}, then kubectl apply -f it"
        )
        kind, _, name = self.target.partition("/")
        if kind == "statefulset":
            self.fixes.append(
                f"kubectl delete statefulset {name}{ns_flag(self.ns)} --cascade=orphan  # ⚠ only to switch "
                f"it to {existing}: volumeClaimTemplates are immutable, so re-apply it with storageClassName: "
                f"{existing} right after (its pods keep running), then remove the never-bound claim {claim}"
            )
        else:
            self.fixes.append(
                f"# or re-create claim {claim} with storageClassName: {existing} (a Pending claim holds no data; "
                "storageClassName cannot be changed in place)"
            )

    def _missing_pvc(self, rejection: Rejection) -> None:
        claim = rejection.detail.get("claim", "")
        self.causes.append(
            f"it mounts PersistentVolumeClaim {claim}, which {rejection.text.split(' ', 2)[-1]}"
        )
        self.fixes.append(
            f"kubectl get pvc{ns_flag(self.ns)}  # create claim {claim} or fix the pod's claimName"
        )


def _selector_matches_some(pod: K8sObject, nodes: list[K8sObject]) -> bool:
    selector = pod_spec(pod).get("nodeSelector") or {}
    if not selector:
        return False
    return any(
        all(((n.get("metadata") or {}).get("labels") or {}).get(k) == v for k, v in selector.items())
        for n in nodes
    )


def _default_toleration(toleration: dict[str, Any]) -> bool:
    """The not-ready/unreachable tolerations admission adds to every pod (not part of the template)."""
    return toleration.get("key") in NODE_CONDITION_TAINTS and toleration.get("tolerationSeconds") == 300


def _fitting(resource: str, largest: Decimal) -> str:
    """A request that fits the largest node with headroom for daemon pods (90%, rounded down)."""
    target = largest * Decimal("0.9")
    if resource.endswith("cpu"):
        return format_resource(resource, (target * 10).to_integral_value(rounding="ROUND_FLOOR") / 10)
    if resource.endswith("memory"):
        mib = Decimal(2**20)
        return f"{int(target / mib)}Mi"
    return format_resource(resource, target.to_integral_value(rounding="ROUND_FLOOR"))
