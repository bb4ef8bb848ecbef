"""Workload and node analyzers: FailedScheduling, NodeNotReady, PodSandboxFailure, QuotaExceeded,
HPAFailure, RolloutStuck, JobFailed.

Table-driven over seeded evidence (the objects an inspection would have read), k8sgpt-style,
plus graph runs through the real SnapshotReader over the eval cases of these categories.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evals.cases import load_case
from evals.scoring import score
from graph.analysis import run_analyzers
from graph.analyzers.base import Analyzer, Finding
from graph.analyzers.hpa import HPAFailureAnalyzer
from graph.analyzers.job import JobFailedAnalyzer
from graph.analyzers.nodenotready import NodeNotReadyAnalyzer
from graph.analyzers.quota import QuotaExceededAnalyzer
from graph.analyzers.rollout import RolloutStuckAnalyzer
from graph.analyzers.sandbox import PodSandboxFailureAnalyzer
from graph.analyzers.scheduling import FailedSchedulingAnalyzer, parse_rejections
from graph.analyzers.unknown import UnknownAnalyzer
from graph.builder import graph
from graph.context import Context, Deps
from graph.evidence import EvidenceView, K8sObject, empty_evidence, key_of, log_key, name_of
from graph.k8s import effective_requests, format_resource
from graph.safety import unsafe_reason
from graph.schemas import ReadSpec
from tools.snapshot import SnapshotReader

NS = "shop"
CASES = Path(__file__).resolve().parents[1] / "evals" / "cases"


# --- builders: the smallest objects that still look like what the API returns ---


def _meta(name: str, ns: str | None = NS, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "uid": f"uid-{ns}-{name}"}
    if ns:
        meta["namespace"] = ns
    meta.update(extra)
    return meta


def _owner(kind: str, name: str) -> list[dict[str, Any]]:
    return [{"kind": kind, "name": name, "controller": True, "uid": f"uid-{NS}-{name}"}]


def container(
    name: str, requests: dict[str, str] | None = None, limits: dict[str, str] | None = None
) -> K8sObject:
    return {
        "name": name,
        "image": f"registry.example.com/{name}:1.0",
        "resources": {"requests": requests or {}, "limits": limits or {}},
    }


def node(
    name: str,
    *,
    zone: str = "eu-west-1a",
    cpu: str = "3920m",
    memory: str = "14745700Ki",
    taints: list[dict[str, str]] | None = None,
    ready: tuple[str, str, str] = ("True", "KubeletReady", "kubelet is posting ready status"),
    pressure: str | None = None,
    labels: dict[str, str] | None = None,
) -> K8sObject:
    conditions = [{"type": "Ready", "status": ready[0], "reason": ready[1], "message": ready[2]}]
    for kind in ("MemoryPressure", "DiskPressure", "PIDPressure"):
        status = "True" if kind == pressure else "False"
        conditions.append(
            {"type": kind, "status": status, "reason": f"Kubelet{kind}", "message": f"kubelet has {kind}"}
        )
    return {
        "kind": "Node",
        "metadata": _meta(name, None, labels={"topology.kubernetes.io/zone": zone, **(labels or {})}),
        "spec": {"taints": taints} if taints else {},
        "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": "58"}, "conditions": conditions},
    }


def pod(
    name: str,
    containers: list[K8sObject],
    *,
    owner: tuple[str, str] | None = None,
    phase: str = "Running",
    node_name: str | None = None,
    statuses: list[K8sObject] | None = None,
    conditions: list[K8sObject] | None = None,
    labels: dict[str, str] | None = None,
    spec: dict[str, Any] | None = None,
    terminating: bool = False,
    reason: str | None = None,
) -> K8sObject:
    meta = _meta(name, labels=labels or {})
    if owner:
        meta["ownerReferences"] = _owner(*owner)
    if terminating:
        meta["deletionTimestamp"] = "2024-05-01T10:00:00Z"
    body: dict[str, Any] = {"containers": containers, **(spec or {})}
    if node_name:
        body["nodeName"] = node_name
    status: dict[str, Any] = {
        "phase": phase,
        "conditions": conditions or [],
        "containerStatuses": statuses or [],
    }
    if reason:
        status["reason"] = reason
    return {"kind": "Pod", "metadata": meta, "spec": body, "status": status}


def running(name: str, ready: bool = True) -> K8sObject:
    return {
        "name": name,
        "ready": ready,
        "restartCount": 0,
        "state": {"running": {"startedAt": "2024-05-01T09:00:00Z"}},
    }


def waiting(name: str, reason: str) -> K8sObject:
    return {"name": name, "ready": False, "restartCount": 0, "state": {"waiting": {"reason": reason}}}


def terminated(name: str, reason: str = "Error", code: int = 1) -> K8sObject:
    return {
        "name": name,
        "ready": False,
        "restartCount": 0,
        "state": {"terminated": {"reason": reason, "exitCode": code}},
    }


def event(kind: str, name: str, reason: str, message: str, count: int = 1, ns: str = NS) -> K8sObject:
    return {
        "kind": "Event",
        "metadata": _meta(f"{name}.{abs(hash(reason + message)) % 10**8:08x}", ns),
        "involvedObject": {"kind": kind, "name": name, "namespace": ns if kind != "Node" else None},
        "reason": reason,
        "message": message,
        "count": count,
        "lastTimestamp": "2024-05-01T10:00:00Z",
    }


def unschedulable(message: str) -> list[K8sObject]:
    return [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message}]


def deployment(
    name: str, spec: dict[str, Any], status: dict[str, Any], containers: list[K8sObject]
) -> K8sObject:
    return {
        "kind": "Deployment",
        "metadata": _meta(name),
        "spec": {"replicas": 3, "template": {"spec": {"containers": containers}}, **spec},
        "status": status,
    }


def replicaset(
    name: str, deploy: str, revision: str, containers: list[K8sObject], replicas: int = 3
) -> K8sObject:
    return {
        "kind": "ReplicaSet",
        "metadata": _meta(
            name,
            ownerReferences=_owner("Deployment", deploy),
            annotations={"deployment.kubernetes.io/revision": revision},
            labels={"pod-template-hash": name.rsplit("-", 1)[1]},
        ),
        "spec": {"replicas": replicas, "template": {"spec": {"containers": containers}}},
        "status": {"replicas": replicas, "readyReplicas": replicas},
    }


def view_of(
    objects: list[K8sObject],
    *,
    logs: dict[tuple[str, str, bool], str] | None = None,
    text: str = "",
    hypotheses: dict[str, float] | None = None,
    focus: list[K8sObject] | None = None,
    reads: dict[str, str] | None = None,
    entities: dict[str, Any] | None = None,
) -> EvidenceView:
    evidence = empty_evidence(NS)
    for obj in objects:
        evidence["objects"][key_of(obj)] = obj
    for (pod_name, container_name, previous), text_ in (logs or {}).items():
        evidence["logs"][log_key(NS, pod_name, container_name, previous)] = text_
    evidence["focus"] = [key_of(o) for o in focus or []]
    evidence["reads"].update(reads or {})
    return EvidenceView(
        evidence,
        text,
        entities or {},
        [{"category": c, "score": s, "reasons": []} for c, s in (hypotheses or {}).items()],
    )


def analyze(analyzer: Analyzer, view: EvidenceView) -> Finding:
    finding = analyzer.analyze(view)
    assert finding is not None, f"{analyzer.category} found nothing"
    for command in finding.fix_commands:
        assert unsafe_reason(command) is None, command
    return finding


def text_of(finding: Finding) -> str:
    return " ".join([finding.root_cause, *(f.text for f in finding.facts)])


# --- quantities ---


def test_effective_requests_sum_app_containers_and_take_the_largest_init() -> None:
    p = pod(
        "p",
        [
            container("a", {"cpu": "1500m", "memory": "1Gi"}),
            container("b", {"cpu": "500m", "memory": "512Mi"}),
        ],
        spec={"initContainers": [container("init", {"cpu": "3", "memory": "256Mi"})]},
    )
    totals = effective_requests(p)
    assert format_resource("cpu", totals["cpu"]) == "3"
    assert format_resource("memory", totals["memory"]) == "1536Mi"


# --- FailedScheduling ---

_INSUFFICIENT = "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."


def _pending(message: str, containers: list[K8sObject], **kw: Any) -> K8sObject:
    return pod(
        "web-7d9f8c6b5-x2x9q",
        containers,
        owner=("ReplicaSet", "web-7d9f8c6b5"),
        phase="Pending",
        conditions=unschedulable(message),
        labels={"pod-template-hash": "7d9f8c6b5"},
        **kw,
    )


def test_parse_rejections_counts_each_filter_most_nodes_first() -> None:
    found = parse_rejections(
        "0/6 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 3 Insufficient memory, "
        "2 node(s) didn't match Pod's node affinity/selector. preemption: 0/6 nodes are available: 6 ..."
    )
    assert [(r.count, r.kind) for r in found] == [(3, "insufficient"), (2, "selector"), (1, "taint")]
    assert found[0].detail == {"resource": "memory"}
    assert found[2].detail == {"key": "dedicated", "value": "gpu"}


@pytest.mark.parametrize(
    ("name", "objects", "root_id", "in_text", "in_fix"),
    [
        (
            "request larger than any node",
            [
                _pending(_INSUFFICIENT, [container("app", {"cpu": "4"}), container("sidecar", {"cpu": "2"})]),
                node("n1", cpu="3920m"),
                node("n2", cpu="3500m"),
            ],
            "scheduling.insufficient",
            ["requests 6 cpu", "largest node allocatable cpu is 3920m", "never be scheduled"],
            ["kubectl set resources deployment/web -n shop -c app --requests=cpu=3500m"],
        ),
        (
            "nodes full of other pods",
            [_pending(_INSUFFICIENT, [container("app", {"cpu": "1"})]), node("n1", cpu="3920m")],
            "scheduling.insufficient",
            ["requests 1 cpu", "leave too little free"],
            ["Allocated resources"],
        ),
        (
            "untolerated taint",
            [
                _pending(
                    "0/2 nodes are available: 2 node(s) had untolerated taint {dedicated: batch}. preemption: ...",
                    [container("app", {"cpu": "100m"})],
                ),
                node("n1", taints=[{"key": "dedicated", "value": "batch", "effect": "NoSchedule"}]),
                node("n2", taints=[{"key": "dedicated", "value": "batch", "effect": "NoSchedule"}]),
            ],
            "scheduling.taint",
            ["dedicated=batch:NoSchedule", "n1, n2"],
            [
                '"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "batch", "effect": "NoSchedule"}]'
            ],
        ),
        (
            "node selector nobody matches",
            [
                _pending(
                    "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: ...",
                    [container("app")],
                    spec={"nodeSelector": {"pool": "highmem"}},
                ),
                node("n1", labels={"pool": "general"}),
            ],
            "scheduling.selector",
            ["nodeSelector pool=highmem", "nodes have pool=general"],
            ['"nodeSelector": {"pool": "general"}'],
        ),
        (
            "volume pinned to a zone without nodes",
            [
                _pending(
                    "0/2 nodes are available: 2 node(s) had volume node affinity conflict. preemption: ...",
                    [container("db")],
                    spec={"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data-db-0"}}]},
                ),
                {
                    "kind": "PersistentVolumeClaim",
                    "metadata": _meta("data-db-0"),
                    "spec": {"volumeName": "pvc-123"},
                    "status": {"phase": "Bound"},
                },
                {
                    "kind": "PersistentVolume",
                    "metadata": _meta("pvc-123", None),
                    "spec": {
                        "nodeAffinity": {
                            "required": {
                                "nodeSelectorTerms": [
                                    {
                                        "matchExpressions": [
                                            {
                                                "key": "topology.kubernetes.io/zone",
                                                "operator": "In",
                                                "values": ["eu-west-1c"],
                                            }
                                        ]
                                    }
                                ]
                            }
                        }
                    },
                },
                node("n1", zone="eu-west-1a"),
                node("n2", zone="eu-west-1b"),
            ],
            "scheduling.volume-zone",
            ["PersistentVolume pvc-123", "pinned to eu-west-1c", "eu-west-1a, eu-west-1b"],
            ["topology.kubernetes.io/zone=eu-west-1c"],
        ),
        (
            "topology spread",
            [
                _pending(
                    "0/3 nodes are available: 3 node(s) didn't match pod topology spread constraints. preemption: ...",
                    [container("app")],
                    spec={
                        "topologySpreadConstraints": [
                            {
                                "topologyKey": "topology.kubernetes.io/zone",
                                "maxSkew": 1,
                                "whenUnsatisfiable": "DoNotSchedule",
                            }
                        ]
                    },
                ),
                node("n1", zone="eu-west-1a"),
                node("n2", zone="eu-west-1a"),
            ],
            "scheduling.spread",
            ["topology.kubernetes.io/zone maxSkew=1 whenUnsatisfiable=DoNotSchedule", "eu-west-1a"],
            ["ScheduleAnyway"],
        ),
        (
            "cordoned nodes",
            [
                _pending(
                    "0/1 nodes are available: 1 node(s) were unschedulable. preemption: ...",
                    [container("app")],
                ),
                dict(node("n1"), spec={"unschedulable": True}),
            ],
            "scheduling.cordoned",
            ["cordoned (unschedulable): n1"],
            ["kubectl uncordon n1"],
        ),
    ],
)
def test_failed_scheduling_explains_each_filter(
    name: str, objects: list[K8sObject], root_id: str, in_text: list[str], in_fix: list[str]
) -> None:
    finding = analyze(FailedSchedulingAnalyzer(), view_of(objects, focus=[objects[0]]))
    assert finding.root_cause_id == root_id, name
    assert finding.score >= 0.9
    for expected in in_text:
        assert expected in text_of(finding), (name, expected, text_of(finding))
    for expected in in_fix:
        assert any(expected in f for f in finding.fix_commands), (name, expected, finding.fix_commands)
    assert not any("delete pv" in f for f in finding.fix_commands)


def test_unbound_claim_with_missing_storage_class() -> None:
    p = _pending(
        "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: ...",
        [container("app")],
        spec={"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]},
    )
    pvc = {
        "kind": "PersistentVolumeClaim",
        "metadata": _meta("data"),
        "spec": {"storageClassName": "fast"},
        "status": {"phase": "Pending"},
    }
    missing = ReadSpec(verb="get", kind="StorageClass", name="fast").key()
    finding = analyze(FailedSchedulingAnalyzer(), view_of([p, pvc], reads={missing: "no_data"}))
    assert "PersistentVolumeClaim data is Pending" in finding.root_cause
    assert "StorageClass fast does not exist" in finding.root_cause


def test_node_condition_taint_leaves_the_label_to_node_not_ready() -> None:
    p = _pending(
        "0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }. preemption: ...",
        [container("app")],
    )
    finding = analyze(
        FailedSchedulingAnalyzer(),
        view_of([p, node("n1", ready=("False", "KubeletNotReady", "PLEG is not healthy"))]),
    )
    assert finding.score < 0.9


@pytest.mark.parametrize(
    ("message", "wanted"),
    [
        (_INSUFFICIENT, {"list|Node||||||"}),
        (
            "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims.",
            {"get|PersistentVolumeClaim|shop|data||||"},
        ),
    ],
)
def test_scheduling_plan_reads_only_what_the_message_needs(message: str, wanted: set[str]) -> None:
    p = _pending(
        message,
        [container("app")],
        spec={"volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]},
    )
    keys = {s.key() for s in FailedSchedulingAnalyzer().plan(view_of([p]))}
    assert keys == wanted


def test_scheduling_is_silent_without_pending_pods() -> None:
    healthy = pod("web-1", [container("app")], node_name="n1", statuses=[running("app")])
    view = view_of([healthy])
    assert FailedSchedulingAnalyzer().analyze(view) is None
    assert FailedSchedulingAnalyzer().plan(view) == []


# --- NodeNotReady ---


def test_node_stopped_posting_status_with_pods_stuck_terminating() -> None:
    down = node("ip-10-0-1-5", ready=("Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status."))
    stuck = pod(
        "api-1",
        [container("api")],
        owner=("ReplicaSet", "api-5d"),
        node_name="ip-10-0-1-5",
        terminating=True,
        statuses=[running("api", False)],
    )
    finding = analyze(NodeNotReadyAnalyzer(), view_of([down, node("ip-10-0-2-9"), stuck], focus=[stuck]))
    assert finding.root_cause_id == "node.not-ready"
    assert finding.score >= 0.9
    assert "Kubelet stopped posting node status" in finding.root_cause
    assert "api-1" in text_of(finding)
    drain = [f for f in finding.fix_commands if "drain ip-10-0-1-5" in f]
    assert drain and "⚠" in drain[0]
    assert not any("delete node" in f for f in finding.fix_commands)


@pytest.mark.parametrize(
    ("pressure", "root_id", "fix"),
    [
        ("DiskPressure", "node.disk-pressure", "crictl rmi --prune"),
        ("MemoryPressure", "node.memory-pressure", "kubectl top pods -A --sort-by=memory"),
        ("PIDPressure", "node.pid-pressure", "podPidsLimit"),
    ],
)
def test_node_pressure(pressure: str, root_id: str, fix: str) -> None:
    hot = node("n1", pressure=pressure)
    victim = pod("api-1", [container("api")], node_name="n1", statuses=[running("api")])
    finding = analyze(NodeNotReadyAnalyzer(), view_of([hot, victim], focus=[victim]))
    assert finding.root_cause_id == root_id
    assert f"{pressure}=True" in finding.root_cause
    assert any(fix in f for f in finding.fix_commands)


def test_evicted_pods_leave_pressure_to_the_evicted_label() -> None:
    hot = node("n1", pressure="MemoryPressure")
    evicted = pod("api-1", [container("api")], node_name="n1", phase="Failed", reason="Evicted")
    finding = analyze(NodeNotReadyAnalyzer(), view_of([hot, evicted], focus=[evicted]))
    assert finding.score <= 0.6


def test_node_plan_gets_the_node_of_a_terminating_pod_then_its_events() -> None:
    stuck = pod("api-1", [container("api")], node_name="n9", terminating=True)
    plan = NodeNotReadyAnalyzer().plan(view_of([stuck], focus=[stuck]))
    assert [s.key() for s in plan] == ["get|Node||n9||||"]
    down = node("n9", ready=("Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status."))
    plan = NodeNotReadyAnalyzer().plan(view_of([stuck, down], focus=[stuck]))
    assert [(s.kind, s.namespace, s.field_selector) for s in plan] == [
        ("Event", "default", "involvedObject.kind=Node,involvedObject.name=n9")
    ]
    assert NodeNotReadyAnalyzer().analyze(view_of([node("n1")])) is None


# --- PodSandboxFailure ---

_AWS = (
    'Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for sandbox "0a1b2c3d4e5f": '
    'plugin type="aws-cni" name="aws-cni" failed (add): add cmd: failed to assign an IP address to container'
)
_CALICO = (
    'Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for sandbox "9f8e7d6c5b4a": '
    'plugin type="calico" failed (add): error getting ClusterInformation: connection is unauthorized: Unauthorized'
)


@pytest.mark.parametrize(
    ("message", "root_id", "daemonset"),
    [(_AWS, "sandbox.ip-exhausted", "aws-node"), (_CALICO, "sandbox.cni-api", "calico-node")],
)
def test_sandbox_names_the_cni_and_node(message: str, root_id: str, daemonset: str) -> None:
    stuck = pod(
        "api-1",
        [container("api")],
        phase="Pending",
        node_name="ip-10-0-41-190",
        statuses=[waiting("api", "ContainerCreating")],
    )
    finding = analyze(
        PodSandboxFailureAnalyzer(),
        view_of([stuck, event("Pod", "api-1", "FailedCreatePodSandBox", message, 40)], focus=[stuck]),
    )
    assert finding.root_cause_id == root_id
    assert "ip-10-0-41-190" in finding.root_cause
    assert any(daemonset in f for f in finding.fix_commands)


def test_sandbox_plan_finds_the_cni_pod_on_the_node_then_its_log() -> None:
    stuck = pod(
        "api-1",
        [container("api")],
        phase="Pending",
        node_name="n1",
        statuses=[waiting("api", "ContainerCreating")],
    )
    evt = event("Pod", "api-1", "FailedCreatePodSandBox", _AWS)
    plan = PodSandboxFailureAnalyzer().plan(view_of([stuck, evt, node("n1")]))
    assert [(s.verb, s.namespace, s.label_selector, s.field_selector) for s in plan] == [
        ("list", "kube-system", "k8s-app=aws-node", "spec.nodeName=n1")
    ]
    agent = pod(
        "aws-node-x1",
        [container("aws-node")],
        node_name="n1",
        labels={"k8s-app": "aws-node"},
        statuses=[running("aws-node")],
    )
    agent["metadata"]["namespace"] = "kube-system"
    plan = PodSandboxFailureAnalyzer().plan(view_of([stuck, evt, node("n1"), agent]))
    assert [(s.verb, s.name, s.container) for s in plan] == [("logs", "aws-node-x1", "aws-node")]


def test_sandbox_ignores_pods_that_recovered() -> None:
    fine = pod("api-1", [container("api")], node_name="n1", statuses=[running("api")])
    assert (
        PodSandboxFailureAnalyzer().analyze(
            view_of([fine, event("Pod", "api-1", "FailedCreatePodSandBox", _AWS)])
        )
        is None
    )


# --- QuotaExceeded ---


def _rs_with_event(message: str, containers: list[K8sObject]) -> list[K8sObject]:
    dep = deployment("reports", {"replicas": 6}, {"replicas": 4}, containers)
    rs = replicaset("reports-59b7f8c6d4", "reports", "3", containers, replicas=6)
    rs["status"] = {"replicas": 4}
    return [
        dep,
        rs,
        event(
            "ReplicaSet",
            "reports-59b7f8c6d4",
            "FailedCreate",
            f'Error creating: pods "reports-59b7f8c6d4-x" is forbidden: {message}',
            12,
        ),
    ]


def test_quota_exhausted_quotes_the_numbers_and_sizes_the_raise() -> None:
    objects = _rs_with_event(
        "exceeded quota: team-quota, requested: limits.memory=1Gi, used: limits.memory=8Gi, limited: limits.memory=8Gi",
        [container("reports", {"memory": "512Mi"}, {"memory": "1Gi"})],
    )
    quota = {
        "kind": "ResourceQuota",
        "metadata": _meta("team-quota"),
        "status": {"hard": {"limits.memory": "8Gi"}, "used": {"limits.memory": "8Gi"}},
    }
    finding = analyze(QuotaExceededAnalyzer(), view_of([*objects, quota]))
    assert finding.root_cause_id == "quota.exceeded"
    assert "limits.memory: requested 1Gi, used 8Gi, limited 8Gi" in finding.root_cause
    assert "deployment/reports" in finding.root_cause
    # two replicas are missing: 8Gi + 2 x 1Gi
    assert any('"limits.memory": "10Gi"' in f for f in finding.fix_commands)


def test_must_specify_sets_limits_no_lower_than_requests() -> None:
    objects = _rs_with_event(
        "failed quota: compute: must specify limits.cpu for: reports; limits.memory for: reports",
        [container("reports", {"cpu": "250m", "memory": "768Mi"})],
    )
    finding = analyze(QuotaExceededAnalyzer(), view_of(objects))
    assert finding.root_cause_id == "quota.must-specify"
    assert (
        "kubectl set resources deployment/reports -n shop -c reports --limits=cpu=250m,memory=768Mi"
        in finding.fix_commands
    )


def test_limitrange_max_caps_the_request_too() -> None:
    objects = _rs_with_event(
        "maximum memory usage per Container is 2Gi, but limit is 4Gi",
        [container("reports", {"memory": "3Gi"}, {"memory": "4Gi"})],
    )
    lr = {
        "kind": "LimitRange",
        "metadata": _meta("container-limits"),
        "spec": {"limits": [{"type": "Container", "max": {"memory": "2Gi"}}]},
    }
    finding = analyze(QuotaExceededAnalyzer(), view_of([*objects, lr]))
    assert finding.root_cause_id == "quota.limitrange-max"
    assert "LimitRange container-limits" in finding.root_cause
    assert any(f.endswith("--limits=memory=2Gi --requests=memory=2Gi") for f in finding.fix_commands)


def test_quota_plan_is_targeted() -> None:
    assert QuotaExceededAnalyzer().plan(view_of([])) == []
    objects = _rs_with_event(
        "exceeded quota: q, requested: pods=1, used: pods=10, limited: pods=10", [container("a")]
    )
    kinds = [s.kind for s in QuotaExceededAnalyzer().plan(view_of(objects))]
    assert kinds == ["ResourceQuota", "LimitRange"]


# --- HPAFailure ---


def _hpa(
    condition_message: str,
    reason: str = "FailedGetResourceMetric",
    kind: str = "ScalingActive",
    target: str = "gateway",
) -> K8sObject:
    return {
        "kind": "HorizontalPodAutoscaler",
        "metadata": _meta("gateway"),
        "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": target},
            "minReplicas": 3,
            "maxReplicas": 20,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
                }
            ],
        },
        "status": {
            "currentReplicas": 3,
            "desiredReplicas": 3,
            "conditions": [{"type": kind, "status": "False", "reason": reason, "message": condition_message}],
        },
    }


def test_hpa_missing_request_names_every_container_without_one() -> None:
    containers = [container("gateway", {"cpu": "500m"}), container("log-shipper"), container("envoy")]
    dep = deployment("gateway", {}, {}, containers)
    hpa = _hpa(
        "failed to get cpu utilization: missing request for cpu in container log-shipper of Pod gateway-7d-x"
    )
    finding = analyze(HPAFailureAnalyzer(), view_of([dep, hpa]))
    assert finding.root_cause_id == "hpa.missing-request"
    assert "log-shipper, envoy" in text_of(finding)
    assert (
        "kubectl set resources deployment/gateway -n shop -c log-shipper --requests=cpu=50m"
        in finding.fix_commands
    )
    assert (
        "kubectl set resources deployment/gateway -n shop -c envoy --requests=cpu=50m" in finding.fix_commands
    )


def test_hpa_metrics_api_down_reads_metrics_server() -> None:
    hpa = _hpa(
        "unable to fetch metrics from resource metrics API: the server is currently unable to handle the request (get pods.metrics.k8s.io)"
    )
    plan = HPAFailureAnalyzer().plan(view_of([hpa], reads={"list|HorizontalPodAutoscaler|shop|||||": "ok"}))
    assert [(s.namespace, s.label_selector) for s in plan] == [("kube-system", "k8s-app=metrics-server")]
    finding = analyze(HPAFailureAnalyzer(), view_of([hpa]))
    assert finding.root_cause_id == "hpa.metrics-unavailable"
    assert any("metrics-server" in f for f in finding.fix_commands)


def test_hpa_scale_target_renamed_suggests_the_new_name() -> None:
    hpa = _hpa(
        'the HPA controller was unable to get the target\'s current scale: deployments/scale.apps "cart" not found',
        reason="FailedGetScale",
        kind="AbleToScale",
        target="cart",
    )
    finding = analyze(
        HPAFailureAnalyzer(), view_of([hpa, deployment("cart-service", {}, {}, [container("c")])])
    )
    assert finding.root_cause_id == "hpa.scale-target-missing"
    assert any('"name":"cart-service"' in f for f in finding.fix_commands)


def test_hpa_plan_needs_a_reason() -> None:
    assert HPAFailureAnalyzer().plan(view_of([])) == []
    assert [s.kind for s in HPAFailureAnalyzer().plan(view_of([], hypotheses={"HPAFailure": 0.7}))] == [
        "HorizontalPodAutoscaler"
    ]


# --- RolloutStuck ---


def _rollout(
    spec: dict[str, Any], status: dict[str, Any], new_pod_status: list[K8sObject]
) -> list[K8sObject]:
    old_c, new_c = [container("api")], [dict(container("api"), image="registry.example.com/api:2.0")]
    dep = deployment("api", spec, status, new_c)
    old_rs, new_rs = (
        replicaset("api-6b9d7c8f5", "api", "4", old_c),
        replicaset("api-7c5f8d9b6", "api", "5", new_c, replicas=1),
    )
    new_pod = pod(
        "api-7c5f8d9b6-abcde",
        new_c,
        owner=("ReplicaSet", "api-7c5f8d9b6"),
        statuses=new_pod_status,
        labels={"pod-template-hash": "7c5f8d9b6"},
    )
    return [dep, old_rs, new_rs, new_pod]


_DEADLINE = {
    "conditions": [
        {
            "type": "Progressing",
            "status": "False",
            "reason": "ProgressDeadlineExceeded",
            "message": 'ReplicaSet "api-7c5f8d9b6" has timed out progressing.',
        }
    ]
}


def test_paused_deployment() -> None:
    objects = _rollout(
        {"paused": True},
        {
            "updatedReplicas": 0,
            "conditions": [
                {
                    "type": "Progressing",
                    "status": "Unknown",
                    "reason": "DeploymentPaused",
                    "message": "Deployment is paused",
                }
            ],
        },
        [],
    )
    finding = analyze(RolloutStuckAnalyzer(), view_of(objects[:2]))  # paused: no new ReplicaSet exists
    assert finding.root_cause_id == "rollout.paused"
    assert "registry.example.com/api:1.0" in finding.root_cause  # what the pods still run
    assert "kubectl rollout resume deployment/api -n shop" in finding.fix_commands


def test_progress_deadline_with_healthy_pods_and_min_ready_seconds() -> None:
    objects = _rollout({"minReadySeconds": 900, "progressDeadlineSeconds": 600}, _DEADLINE, [running("api")])
    finding = analyze(RolloutStuckAnalyzer(), view_of(objects))
    assert finding.root_cause_id == "rollout.progress-deadline"
    assert finding.score >= 0.85
    assert "minReadySeconds (900s)" in finding.root_cause


def test_progress_deadline_steps_back_when_new_pods_fail_on_their_own() -> None:
    objects = _rollout({}, _DEADLINE, [waiting("api", "ImagePullBackOff")])
    finding = analyze(RolloutStuckAnalyzer(), view_of(objects))
    assert finding.root_cause_id == "rollout.new-pods-failing"
    assert finding.score < 0.5


def _sts(strategy: dict[str, Any], pod_status: list[K8sObject]) -> list[K8sObject]:
    sts = {
        "kind": "StatefulSet",
        "metadata": _meta("cache"),
        "spec": {
            "replicas": 2,
            "updateStrategy": strategy,
            "template": {"spec": {"containers": [container("redis")]}},
        },
        "status": {
            "currentRevision": "cache-111",
            "updateRevision": "cache-222",
            "updatedReplicas": 1,
            "readyReplicas": 1,
        },
    }
    pods = [
        pod(
            "cache-0",
            [container("redis")],
            owner=("StatefulSet", "cache"),
            statuses=[running("redis")],
            labels={"controller-revision-hash": "cache-222"},
        ),
        pod(
            "cache-1",
            [container("redis")],
            owner=("StatefulSet", "cache"),
            statuses=pod_status,
            labels={"controller-revision-hash": "cache-111"},
        ),
    ]
    return [sts, *pods]


@pytest.mark.parametrize(
    ("strategy", "pod_status", "root_id", "fix"),
    [
        (
            {"type": "OnDelete"},
            [running("redis")],
            "rollout.statefulset-ondelete",
            "kubectl delete pod cache-1 -n shop",
        ),
        (
            {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}},
            [running("redis")],
            "rollout.statefulset-partition",
            '"partition": 0',
        ),
        (
            {"type": "RollingUpdate"},
            [waiting("redis", "ImagePullBackOff")],
            "rollout.statefulset-stuck-revision",
            "kubectl delete pod cache-1 -n shop",
        ),
    ],
)
def test_statefulset_rollouts(
    strategy: dict[str, Any], pod_status: list[K8sObject], root_id: str, fix: str
) -> None:
    finding = analyze(RolloutStuckAnalyzer(), view_of(_sts(strategy, pod_status)))
    assert finding.root_cause_id == root_id
    assert any(fix in f for f in finding.fix_commands)
    assert not any("delete statefulset" in f for f in finding.fix_commands)


def test_rollout_silent_on_a_converged_deployment() -> None:
    dep = deployment(
        "api",
        {},
        {"conditions": [{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]},
        [container("api")],
    )
    assert RolloutStuckAnalyzer().analyze(view_of([dep])) is None


# --- JobFailed ---


def _job(name: str, reason: str, message: str, cron: str | None = None, **spec: Any) -> K8sObject:
    meta = _meta(name, labels={"batch.kubernetes.io/job-name": name})
    if cron:
        meta["ownerReferences"] = _owner("CronJob", cron)
    return {
        "kind": "Job",
        "metadata": meta,
        "spec": {"backoffLimit": 2, **spec, "template": {"spec": {"containers": [container("export")]}}},
        "status": {
            "failed": 3,
            "startTime": "2024-05-01T02:00:00Z",
            "conditions": [{"type": "Failed", "status": "True", "reason": reason, "message": message}],
        },
    }


def _job_pod(job: str, suffix: str, args: list[str] | None = None) -> K8sObject:
    c = dict(container("export"), args=args or [])
    return pod(
        f"{job}-{suffix}",
        [c],
        owner=("Job", job),
        phase="Failed",
        statuses=[terminated("export")],
        labels={"batch.kubernetes.io/job-name": job},
        spec={"serviceAccountName": "exporter"},
    )


_ACCESS_DENIED = (
    'Traceback (most recent call last):\n  File "upload.py", line 57\n'
    "botocore.exceptions.ClientError: An error occurred (AccessDenied) when calling the PutObject operation: Access Denied\n"
)


def test_backoff_limit_quotes_the_attempts_log_and_the_permission() -> None:
    job = _job(
        "export-281", "BackoffLimitExceeded", "Job has reached the specified backoff limit", cron="export"
    )
    pods = [_job_pod("export-281", s, ["--dest=s3://lake-exports/orders/"]) for s in ("a1b2c", "d3e4f")]
    sa = {
        "kind": "ServiceAccount",
        "metadata": _meta(
            "exporter", annotations={"eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/exporter"}
        ),
    }
    view = view_of(
        [job, *pods, sa],
        logs={("export-281-d3e4f", "export", False): _ACCESS_DENIED},
        entities={"names": ["export-281"]},
    )
    finding = analyze(JobFailedAnalyzer(), view)
    assert finding.root_cause_id == "job.backofflimitexceeded.accessdenied"
    assert "BackoffLimitExceeded" in finding.root_cause
    assert "AccessDenied when calling PutObject" in finding.root_cause
    assert any(
        "--action-names s3:PutObject --resource-arns arn:aws:s3:::lake-exports/orders/*" in f
        and "role/exporter" in f
        for f in finding.fix_commands
    )
    assert any("--from=cronjob/export" in f for f in finding.fix_commands)


def test_deadline_exceeded_without_pods() -> None:
    job = _job(
        "rollup-9",
        "DeadlineExceeded",
        "Job was active longer than specified deadline",
        cron="rollup",
        activeDeadlineSeconds=1800,
    )
    finding = analyze(JobFailedAnalyzer(), view_of([job]))
    assert finding.root_cause_id == "job.deadlineexceeded"
    assert "activeDeadlineSeconds (1800s)" in finding.root_cause
    assert any('"activeDeadlineSeconds":3600' in f and "cronjob/rollup" in f for f in finding.fix_commands)


def test_job_still_running_is_not_failed() -> None:
    job = _job("train-1", "BackoffLimitExceeded", "")
    job["status"] = {"active": 1}
    pending = pod("train-1-abcde", [container("t")], owner=("Job", "train-1"), phase="Pending")
    assert JobFailedAnalyzer().analyze(view_of([job, pending], focus=[pending])) is None


def test_job_plan_reads_pods_by_job_label_when_pods_were_not_listed() -> None:
    job = _job("export-281", "BackoffLimitExceeded", "Job has reached the specified backoff limit")
    plan = JobFailedAnalyzer().plan(
        view_of(
            [
                job,
                event(
                    "Job", "export-281", "BackoffLimitExceeded", "Job has reached the specified backoff limit"
                ),
            ],
            entities={"names": ["export-281"]},
        )
    )
    assert [(s.kind, s.label_selector) for s in plan] == [("Pod", "batch.kubernetes.io/job-name=export-281")]


# --- precedence between these categories and the rest ---


def test_failing_new_pods_win_over_the_stuck_rollout() -> None:
    objects = _rollout({}, _DEADLINE, [waiting("api", "ImagePullBackOff")])
    findings = run_analyzers(view_of(objects, focus=[objects[-1]]))
    assert findings[0].category != "RolloutStuck"
    assert "RolloutStuck" in {f.category for f in findings}


# --- graph runs over the eval cases of these categories (real SnapshotReader) ---

_MINE = ("pending-", "nodenotready-", "sandbox-", "quota-", "hpa-", "rollout-", "job-")
CASE_IDS = sorted(p.name for p in CASES.iterdir() if p.name.startswith(_MINE) and (p / "case.yaml").exists())


def test_every_category_has_several_cases() -> None:
    for prefix in _MINE:
        assert sum(c.startswith(prefix) for c in CASE_IDS) >= 3, prefix


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_case_diagnosis(case_id: str) -> None:
    case = load_case(CASES / case_id)
    out = graph.invoke(
        case.input, context=Context(deps=Deps(reader=SnapshotReader(case.path), runbooks=None))
    )
    diagnosis = out["diagnosis"]
    checks = {k: v for k, v in score(case.expect, diagnosis).items() if k != "runbook"}
    assert all(checks.values()), (checks, json.dumps(diagnosis, indent=1)[:3000])
    # The budget holds when the namespace is given; without one, finding it costs a cluster-wide pod
    # list and the reads of the namespace guessed first.
    assert diagnosis["api_requests"] <= (10 if case.input.get("namespace") else 12)


def test_named_cronjob_finds_its_failed_run_even_when_a_newer_one_runs() -> None:
    failed = _job(
        "rollup-100",
        "DeadlineExceeded",
        "Job was active longer than specified deadline",
        cron="rollup",
        activeDeadlineSeconds=600,
    )
    failed["metadata"]["creationTimestamp"] = "2024-05-01T09:00:00Z"
    running_job = _job("rollup-160", "", "", cron="rollup")
    running_job["metadata"]["creationTimestamp"] = "2024-05-01T10:00:00Z"
    running_job["status"] = {"active": 1}
    finding = analyze(JobFailedAnalyzer(), view_of([failed, running_job], entities={"names": ["rollup"]}))
    assert "Job rollup-100 failed with DeadlineExceeded" in finding.root_cause
    assert "1 of the last 2 runs of CronJob rollup failed" in text_of(finding)


# --- NodeNotReady: the pod that exhausts what the node is short of ---


def _on_node(name: str, node_name: str, *, limits: dict[str, str] | None = None, **kw: Any) -> K8sObject:
    workload, rs_hash = name.rsplit("-", 2)[0], name.rsplit("-", 2)[1]
    return pod(
        name,
        [container(workload, {"memory": "256Mi"}, limits if limits is not None else {"memory": "512Mi"})],
        owner=("ReplicaSet", f"{workload}-{rs_hash}"),
        node_name=node_name,
        labels={"pod-template-hash": rs_hash},
        **kw,
    )


_OOM_STATUS = {
    "name": "cruncher",
    "ready": True,
    "restartCount": 2,
    "state": {"running": {}},
    "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}},
}


@pytest.mark.parametrize(
    ("pressure", "pods", "logs", "culprit", "in_fix"),
    [
        (
            "PIDPressure",
            [
                _on_node("renderer-7f9c8-abcde", "n1", statuses=[running("renderer")]),
                _on_node("api-5d4c3-fghij", "n1", statuses=[running("api")]),
                # The same error on another node says nothing about n1.
                _on_node("worker-6b5a4-klmno", "n2", statuses=[running("worker")]),
            ],
            {
                ("renderer-7f9c8-abcde", "renderer", False): "render ok\nspawn /usr/bin/chromium EAGAIN\n",
                ("worker-6b5a4-klmno", "worker", False): "pthread_create: Resource temporarily unavailable\n",
            },
            "renderer",
            "kubectl rollout restart deployment/renderer -n shop",
        ),
        (
            "MemoryPressure",
            [
                _on_node("api-5d4c3-fghij", "n1", statuses=[running("api")]),
                _on_node("cruncher-8e7d6-pqrst", "n1", statuses=[_OOM_STATUS]),
            ],
            {},
            "cruncher",
            "kubectl set resources deployment/cruncher -n shop -c cruncher --limits=memory=<limit>",
        ),
        (
            "MemoryPressure",
            [
                _on_node("api-5d4c3-fghij", "n1", statuses=[running("api")]),
                _on_node("cache-9a8b7-uvwxy", "n1", limits={}, statuses=[running("cache")]),
            ],
            {},
            "cache",
            "kubectl set resources deployment/cache -n shop -c cache --limits=memory=<limit>",
        ),
    ],
)
def test_node_pressure_names_the_consuming_workload(
    pressure: str,
    pods: list[K8sObject],
    logs: dict[tuple[str, str, bool], str],
    culprit: str,
    in_fix: str,
) -> None:
    hot, other = node("n1", pressure=pressure), node("n2")
    finding = analyze(NodeNotReadyAnalyzer(), view_of([hot, other, *pods], logs=logs, focus=pods[:1]))
    assert f"(deployment/{culprit})" in finding.root_cause
    at = [i for i, f in enumerate(finding.fix_commands) if f.startswith(in_fix)]
    assert at, finding.fix_commands
    # Fixing the consumer comes before cordoning the node.
    assert at[0] < next(i for i, f in enumerate(finding.fix_commands) if f.startswith("kubectl cordon"))
    assert not any("worker" in f for f in finding.fix_commands)


def test_node_pressure_without_a_suspect_pod_names_none() -> None:
    hot = node("n1", pressure="PIDPressure")
    quiet = _on_node("api-5d4c3-fghij", "n1", statuses=[running("api")])
    finding = analyze(NodeNotReadyAnalyzer(), view_of([hot, quiet], focus=[quiet]))
    assert "likely consumer" not in finding.root_cause
    assert not any("rollout restart" in f for f in finding.fix_commands)


# --- FailedScheduling: a claim naming a StorageClass that does not exist ---


def _storage_class(name: str, default: bool = False) -> K8sObject:
    annotations = {"storageclass.kubernetes.io/is-default-class": "true"} if default else {}
    return {
        "kind": "StorageClass",
        "metadata": _meta(name, None, annotations=annotations),
        "provisioner": "ebs.csi.aws.com",
    }


@pytest.mark.parametrize(
    ("owner", "classes", "existing", "in_fix"),
    [
        (
            ("StatefulSet", "db"),
            [_storage_class("standard"), _storage_class("gp3", default=True)],
            "gp3",
            "kubectl delete statefulset db -n shop --cascade=orphan",
        ),
        (("ReplicaSet", "api-5d4c3"), [_storage_class("standard")], "standard", "re-create claim data"),
        (("StatefulSet", "db"), [], "<existing-class>", "--cascade=orphan"),
    ],
)
def test_missing_storage_class_fix_names_it_and_an_existing_one(
    owner: tuple[str, str], classes: list[K8sObject], existing: str, in_fix: str
) -> None:
    p = _pending(
        "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: ...",
        [container("app")],
        spec={"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]},
    )
    p["metadata"]["ownerReferences"] = _owner(*owner)
    pvc = {
        "kind": "PersistentVolumeClaim",
        "metadata": _meta("data"),
        "spec": {"storageClassName": "fast-ssd"},
        "status": {"phase": "Pending"},
    }
    missing = ReadSpec(verb="get", kind="StorageClass", name="fast-ssd").key()
    finding = analyze(FailedSchedulingAnalyzer(), view_of([p, pvc, *classes], reads={missing: "no_data"}))
    fixes = "\n".join(finding.fix_commands)
    assert "StorageClass named fast-ssd" in fixes
    assert f"kubectl get storageclass {existing} -o yaml" in fixes
    assert in_fix in fixes
    if classes:
        assert any("existing classes:" in f.text for f in finding.facts)


def test_scheduling_plan_lists_storage_classes_only_once_the_named_one_is_missing() -> None:
    p = _pending(
        "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims.",
        [container("app")],
        spec={"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]},
    )
    pvc = {
        "kind": "PersistentVolumeClaim",
        "metadata": _meta("data"),
        "spec": {"storageClassName": "fast-ssd"},
        "status": {"phase": "Pending"},
    }
    get_class = ReadSpec(verb="get", kind="StorageClass", name="fast-ssd").key()
    first = {s.key() for s in FailedSchedulingAnalyzer().plan(view_of([p, pvc]))}
    assert get_class in first and not any(k.startswith("list|StorageClass") for k in first)
    second = FailedSchedulingAnalyzer().plan(view_of([p, pvc], reads={get_class: "no_data"}))
    assert ("list", "StorageClass", None) in {(s.verb, s.kind, s.namespace) for s in second}


# --- QuotaExceeded: a LimitRange rejecting pods of a StatefulSet or DaemonSet ---


@pytest.mark.parametrize("kind", ["StatefulSet", "DaemonSet"])
def test_limitrange_max_on_a_controller_that_is_not_listed_by_default(kind: str) -> None:
    message = (
        f'create Pod vector-2 in {kind} vector failed error: pods "vector-2" is forbidden: maximum memory usage per '
        "Container is 2Gi, but limit is 3Gi"
    )
    rejected = event(kind, "vector", "FailedCreate", message, 9)
    lr = {
        "kind": "LimitRange",
        "metadata": _meta("container-limits"),
        "spec": {
            "limits": [
                {"type": "Pod", "max": {"cpu": "8"}},
                {"type": "Container", "max": {"cpu": "4", "memory": "2Gi"}},
            ]
        },
    }
    plan = QuotaExceededAnalyzer().plan(view_of([rejected]))
    assert (kind, "vector") in {(s.kind, s.name) for s in plan if s.verb == "get"}
    controller = {
        "kind": kind,
        "metadata": _meta("vector"),
        "spec": {
            "template": {"spec": {"containers": [container("qdrant", {"memory": "2Gi"}, {"memory": "3Gi"})]}}
        },
    }
    finding = analyze(QuotaExceededAnalyzer(), view_of([rejected, lr, controller]))
    assert "2Gi" in finding.root_cause and "3Gi" in finding.root_cause
    assert (
        f"kubectl set resources {kind.lower()}/vector -n shop -c qdrant --limits=memory=2Gi"
        in finding.fix_commands
    )
    assert any('"path":"/spec/limits/1/max/memory","value":"3Gi"' in f for f in finding.fix_commands)


# --- RolloutStuck: DaemonSets, and the old image below a StatefulSet partition ---


def _ds(strategy: dict[str, Any], updated: int, pod_statuses: list[list[K8sObject]]) -> list[K8sObject]:
    new = {"name": "shipper", "image": "cr.example.io/fluent-bit:3.2.2"}
    old = {"name": "shipper", "image": "cr.example.io/fluent-bit:3.1.9"}
    ds = {
        "kind": "DaemonSet",
        "metadata": _meta("shipper", generation=8),
        "spec": {"updateStrategy": strategy, "template": {"spec": {"containers": [new]}}},
        "status": {
            "desiredNumberScheduled": len(pod_statuses),
            "updatedNumberScheduled": updated,
            "numberReady": len(pod_statuses),
            "observedGeneration": 8,
        },
    }
    pods = [
        pod(
            f"shipper-{i}",
            [new if i < updated else old],
            owner=("DaemonSet", "shipper"),
            node_name=f"n{i}",
            statuses=statuses,
        )
        for i, statuses in enumerate(pod_statuses)
    ]
    return [ds, *pods]


@pytest.mark.parametrize(
    ("strategy", "updated", "statuses", "root_id", "in_fix"),
    [
        (
            {"type": "OnDelete"},
            0,
            [[running("shipper")]] * 3,
            "rollout.daemonset-ondelete",
            '"type": "RollingUpdate"',
        ),
        (
            {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
            1,
            [[waiting("shipper", "CrashLoopBackOff")], [running("shipper")], [running("shipper")]],
            "rollout.new-pods-failing",
            "kubectl describe pod shipper-0 -n shop",
        ),
        (
            {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
            1,
            [[running("shipper")], [running("shipper")], [running("shipper")]],
            "rollout.daemonset-rolling",
            "kubectl rollout status daemonset/shipper -n shop",
        ),
    ],
)
def test_daemonset_rollouts(
    strategy: dict[str, Any], updated: int, statuses: list[list[K8sObject]], root_id: str, in_fix: str
) -> None:
    finding = analyze(RolloutStuckAnalyzer(), view_of(_ds(strategy, updated, statuses)))
    assert finding.root_cause_id == root_id
    assert any(in_fix in f for f in finding.fix_commands)
    if root_id == "rollout.new-pods-failing":
        assert finding.score < 0.5  # the crash names the cause, not the rollout
    else:
        assert "fluent-bit:3.1.9" in text_of(finding) and "fluent-bit:3.2.2" in text_of(finding)


def test_daemonset_converged_or_not_yet_observed_is_not_stuck() -> None:
    converged = _ds({"type": "OnDelete"}, 2, [[running("shipper")]] * 2)
    assert RolloutStuckAnalyzer().analyze(view_of(converged)) is None
    unseen = _ds({"type": "OnDelete"}, 0, [[running("shipper")]] * 2)
    unseen[0]["metadata"]["generation"] = 9  # the controller has not observed the new template yet
    assert RolloutStuckAnalyzer().analyze(view_of(unseen)) is None


def test_rollout_plan_lists_daemonsets_of_daemonset_pods() -> None:
    objects = _ds({"type": "OnDelete"}, 0, [[running("shipper")]])
    pods_only = objects[1:]
    plan = RolloutStuckAnalyzer().plan(view_of(pods_only, hypotheses={"RolloutStuck": 0.5}))
    assert [(s.verb, s.kind) for s in plan] == [("list", "DaemonSet")]
    assert RolloutStuckAnalyzer().plan(view_of(objects, hypotheses={"RolloutStuck": 0.5})) == []
    assert RolloutStuckAnalyzer().plan(view_of(pods_only)) == []


def test_statefulset_partition_quotes_the_image_the_old_pods_run() -> None:
    objects = _sts({"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}, [running("redis")])
    objects[0]["spec"]["template"]["spec"]["containers"] = [{"name": "redis", "image": "redis:7.4.0"}]
    objects[1]["spec"]["containers"] = [{"name": "redis", "image": "redis:7.4.0"}]
    objects[2]["spec"]["containers"] = [{"name": "redis", "image": "redis:7.3.1"}]
    finding = analyze(RolloutStuckAnalyzer(), view_of(objects))
    assert finding.root_cause_id == "rollout.statefulset-partition"
    assert "old pods run redis:7.3.1 while the template asks for redis:7.4.0" in finding.root_cause


# --- held-out follow-ups (sets 3 and 4): custom metrics without an adapter, Unknown that says what it checked ---

_CUSTOM_METRIC = (
    "the HPA was unable to compute the replica count: unable to get metric http_requests_per_second: unable to "
    "fetch metrics from custom metrics API: the server could not find the requested resource "
    "(get pods.custom.metrics.k8s.io *)"
)


def _custom_hpa() -> K8sObject:
    hpa = _hpa(_CUSTOM_METRIC, reason="FailedGetPodsMetric")
    hpa["spec"]["metrics"] = [
        {
            "type": "Pods",
            "pods": {"metric": {"name": "http_requests_per_second"}, "target": {"type": "AverageValue"}},
        }
    ]
    return hpa


@pytest.mark.parametrize(
    ("apiservice", "read_status", "root_id", "in_fix"),
    [
        (None, "no_data", "hpa.custom-metrics-adapter-missing", "prometheus-adapter"),
        (
            {
                "kind": "APIService",
                "metadata": _meta("v1beta1.custom.metrics.k8s.io", None),
                "spec": {"service": {"name": "prometheus-adapter", "namespace": "monitoring"}},
                "status": {
                    "conditions": [
                        {"type": "Available", "status": "False", "reason": "MissingEndpoints", "message": "x"}
                    ]
                },
            },
            "ok",
            "hpa.custom-metrics-adapter-down",
            "kubectl -n monitoring get endpoints prometheus-adapter",
        ),
        (
            None,
            None,
            "hpa.custom-metrics-unavailable",
            "kubectl get apiservice v1beta1.custom.metrics.k8s.io",
        ),
    ],
)
def test_hpa_on_a_custom_metric_names_the_metric_and_its_adapter(
    apiservice: K8sObject | None, read_status: str | None, root_id: str, in_fix: str
) -> None:
    key = ReadSpec(verb="get", kind="APIService", name="v1beta1.custom.metrics.k8s.io").key()
    objects = [_custom_hpa(), *([apiservice] if apiservice else [])]
    finding = analyze(
        HPAFailureAnalyzer(), view_of(objects, reads={key: read_status} if read_status else None)
    )
    assert finding.root_cause_id == root_id
    assert "http_requests_per_second" in finding.root_cause
    assert any(in_fix in c for c in finding.fix_commands), finding.fix_commands
    # A custom metric is not the resource metrics API: metrics-server is not what to look at.
    assert not any("metrics-server" in c for c in finding.fix_commands)
    plan = HPAFailureAnalyzer().plan(
        view_of([_custom_hpa()], reads={"list|HorizontalPodAutoscaler|shop|||||": "ok"})
    )
    assert not any(s.label_selector == "k8s-app=metrics-server" for s in plan)


def _healthy(name: str, replicas: int) -> list[K8sObject]:
    rs = f"{name}-5d6f7c8b9"
    dep = deployment(name, {"selector": {"matchLabels": {"app": name}}}, {}, [container(name)])
    pods = [
        pod(
            f"{rs}-{i:05d}",
            [container(name)],
            owner=("ReplicaSet", rs),
            statuses=[running(name)],
            labels={"app": name, "pod-template-hash": "5d6f7c8b9"},
        )
        for i in range(replicas)
    ]
    return [dep, replicaset(rs, name, "1", [container(name)], replicas), *pods]


def test_unknown_says_what_it_checked_about_the_workload_in_focus() -> None:
    objects = [*_healthy("storefront", 3), *_healthy("search", 2)]
    focus = [o for o in objects if o["kind"] == "Deployment" and name_of(o) == "storefront"]
    view = view_of(objects, focus=focus)
    finding = UnknownAnalyzer().analyze(view)
    assert finding.root_cause_id == "unknown.workloads-healthy"
    assert (
        "deployment/storefront: 3/3 pods Running, 3/3 ready, 0 restart(s), no Warning events"
        in finding.root_cause
    )
    assert "search" not in finding.root_cause
    assert (
        "kubectl top pods -n shop -l app=storefront  # CPU/memory against requests and limits"
        in finding.fix_commands
    )
    assert any(c.startswith("kubectl logs deployment/storefront -n shop") for c in finding.fix_commands)


def test_unknown_without_focus_checks_the_workloads_sharing_a_word_with_the_paste_first() -> None:
    objects = [*_healthy("billing", 2), *_healthy("auth-gateway", 3)]
    warning = event("Pod", name_of(objects[-1]), "BackOff", "Back-off restarting failed container")
    warning["type"] = "Warning"
    view = view_of([*objects, warning], entities={"words": ["auth", "logged"]})
    finding = UnknownAnalyzer().analyze(view)
    assert finding.root_cause.index("deployment/auth-gateway") < finding.root_cause.index(
        "deployment/billing"
    )
    assert "1 Warning event(s), latest BackOff" in finding.root_cause


def test_unknown_without_workloads_asks_for_what_it_needs() -> None:
    finding = UnknownAnalyzer().analyze(view_of([]))
    assert finding.root_cause_id == "unknown.insufficient-evidence"


def test_unknown_reads_the_log_of_a_named_workload_outside_a_guessed_namespace() -> None:
    objects = [*_healthy("payments-api", 1)]
    dashboard = pod(
        "ops-dashboard-5c6d7e8f9-abcde",
        [container("ops-dashboard")],
        owner=("ReplicaSet", "ops-dashboard-5c6d7e8f9"),
        statuses=[running("ops-dashboard")],
    )
    dashboard["metadata"]["namespace"] = "platform-tools"
    guessed = {ReadSpec(verb="list", kind="Pod").key(): "ok"}
    focus = [o for o in objects if o["kind"] == "Pod"]
    words = {"words": ["payments", "dashboard", "empty"]}
    unknown_only = {"Unknown": 0.1}
    plan = UnknownAnalyzer().plan(
        view_of([*objects, dashboard], reads=guessed, focus=focus, entities=words, hypotheses=unknown_only)
    )
    assert [(s.verb, s.namespace, s.name) for s in plan] == [
        ("logs", "platform-tools", "ops-dashboard-5c6d7e8f9-abcde")
    ]
    # A given namespace, or a paste another category recognises, reads nothing more.
    assert (
        UnknownAnalyzer().plan(
            view_of([*objects, dashboard], focus=focus, entities=words, hypotheses=unknown_only)
        )
        == []
    )
    assert (
        UnknownAnalyzer().plan(
            view_of(
                [*objects, dashboard],
                reads=guessed,
                focus=focus,
                entities=words,
                hypotheses={"DNSFailure": 0.6},
            )
        )
        == []
    )
