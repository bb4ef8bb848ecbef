"""``GET /cluster-health``: nodes, pods by phase and waiting reason per namespace, the worst pods.

Memory stays bounded on a large cluster: pods are read one namespace at a time (each list
capped at :data:`PODS_PER_NAMESPACE`, paginated by the live reader), folded into counters,
and dropped before the next namespace; only the :data:`WORST` most unhealthy pods are kept,
in a heap.
"""

from __future__ import annotations

import heapq
from collections import Counter
from typing import Any

from graph.k8s import container_states, node_condition, unhealthy_score
from server.schemas import ClusterHealth, NamespaceHealth, NodeHealth, Offender
from tools.reader import ClusterReader, K8sObject
from tools.results import ReadStatus

PODS_PER_NAMESPACE = 5000
MAX_NAMESPACES = 1000
MAX_NODES = 5000
WORST = 10
PRESSURE = ("MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable")


def _node_health(node: K8sObject) -> NodeHealth:
    ready = node_condition(node, "Ready")
    pressure = [c for c in PRESSURE if (node_condition(node, c) or {}).get("status") == "True"]
    return NodeHealth(
        name=str((node.get("metadata") or {}).get("name", "")),
        ready=bool(ready and ready.get("status") == "True"),
        pressure=pressure,
        unschedulable=bool((node.get("spec") or {}).get("unschedulable")),
    )


def _reason(pod: K8sObject) -> str:
    status = pod.get("status") or {}
    for c in container_states(pod):
        if c.waiting_reason:
            return c.waiting_reason
        if c.terminated_reason and c.terminated_reason != "Completed":
            return c.terminated_reason
    return str(status.get("reason") or status.get("phase") or "Unknown")


def _fold(
    namespace: str, pods: list[K8sObject], worst: list[tuple[float, int, Offender]], seq: int
) -> tuple[NamespaceHealth, int]:
    phases: Counter[str] = Counter()
    waiting: Counter[str] = Counter()
    restarts = 0
    for pod in pods:
        phases[str((pod.get("status") or {}).get("phase") or "Unknown")] += 1
        states = container_states(pod)
        for c in states:
            if c.waiting_reason:
                waiting[c.waiting_reason] += 1
        pod_restarts = sum(c.restarts for c in states)
        restarts += pod_restarts
        score = unhealthy_score(pod)
        if score <= 0:
            continue
        seq += 1
        offender = Offender(
            namespace=namespace,
            pod=str((pod.get("metadata") or {}).get("name", "")),
            phase=str((pod.get("status") or {}).get("phase") or "Unknown"),
            reason=_reason(pod),
            restarts=pod_restarts,
            score=round(score, 2),
        )
        entry = (score, -seq, offender)
        if len(worst) < WORST:
            heapq.heappush(worst, entry)
        elif entry[:2] > worst[0][:2]:
            heapq.heapreplace(worst, entry)
    health = NamespaceHealth(
        namespace=namespace,
        pods=len(pods),
        phases=dict(phases),
        waiting_reasons=dict(waiting),
        restarts=restarts,
        truncated=len(pods) >= PODS_PER_NAMESPACE,
    )
    return health, seq


def _namespaces(reader: ClusterReader, errors: list[str]) -> list[str] | None:
    listed = reader.list("Namespace", limit=MAX_NAMESPACES)
    if not listed.ok or not listed.data:
        # Snapshots (and RBAC that cannot list namespaces) fall back to one cluster-wide read.
        if listed.status is ReadStatus.ERROR:
            errors.append(listed.explain())
        return None
    return sorted(str((ns.get("metadata") or {}).get("name", "")) for ns in listed.data)


def cluster_health(reader: ClusterReader) -> ClusterHealth:
    """Read the cluster (blocking: call it in a worker thread) and summarise it."""
    before = reader.request_count
    errors: list[str] = []
    nodes_read = reader.list("Node", limit=MAX_NODES)
    nodes: list[NodeHealth] = []
    if nodes_read.ok:
        nodes = [_node_health(n) for n in nodes_read.data or []]
    elif nodes_read.status is ReadStatus.ERROR:
        errors.append(nodes_read.explain())
    worst: list[tuple[float, int, Offender]] = []
    per_namespace: list[NamespaceHealth] = []
    seq = 0
    names = _namespaces(reader, errors)
    if names is None:
        everything = reader.list("Pod", limit=PODS_PER_NAMESPACE)
        by_ns: dict[str, list[Any]] = {}
        for pod in everything.data or []:
            by_ns.setdefault(str((pod.get("metadata") or {}).get("namespace", "")), []).append(pod)
        if everything.status is ReadStatus.ERROR:
            errors.append(everything.explain())
        for namespace in sorted(by_ns):
            health, seq = _fold(namespace, by_ns[namespace], worst, seq)
            per_namespace.append(health)
    else:
        for namespace in names:
            listed = reader.list("Pod", namespace, limit=PODS_PER_NAMESPACE)
            if listed.status is ReadStatus.ERROR:
                errors.append(listed.explain())
                continue
            if listed.data:
                health, seq = _fold(namespace, listed.data, worst, seq)
                per_namespace.append(health)
    return ClusterHealth(
        source=reader.description,
        nodes=nodes,
        nodes_ready=sum(n.ready for n in nodes),
        nodes_not_ready=sum(not n.ready for n in nodes),
        namespaces=per_namespace,
        worst=[o for _, _, o in sorted(worst, key=lambda e: (-e[0], -e[1]))],
        api_requests=reader.request_count - before,
        errors=errors,
    )
