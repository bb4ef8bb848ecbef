"""NodeNotReady: a node is NotReady or under pressure, and the failing pods sit on it.

The node's conditions say which: Ready Unknown with "Kubelet stopped posting node status"
(kubelet or the machine is down), Ready False with the kubelet's reason (container runtime or
network plugin not ready), NetworkUnavailable, or Memory/Disk/PID pressure. Pods stuck
Terminating, NodeNotReady and TaintManagerEviction events on pods point to the node.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from graph.analyzers.base import Analyzer, Fact, Finding, ns_flag, ref, src_event, src_log, src_obj
from graph.analyzers.common import candidate_pods, workload_ref
from graph.evidence import EvidenceView, K8sObject, name_of, namespace_of
from graph.k8s import container_states, is_terminating, node_condition, pod_spec
from graph.schemas import ReadSpec

_PRESSURE = ("MemoryPressure", "DiskPressure", "PIDPressure")
_POD_NODE_EVENTS = ("NodeNotReady", "TaintManagerEviction", "NodeControllerEviction")
_NODE_EVENTS = (
    "NodeNotReady",
    "EvictionThresholdMet",
    "FreeDiskSpaceFailed",
    "ImageGCFailed",
    "SystemOOM",
    "Rebooted",
    "ContainerGCFailed",
    "NodeHasDiskPressure",
    "NodeHasInsufficientMemory",
    "NodeHasInsufficientPID",
)
_NODE_LIST = ReadSpec(verb="list", kind="Node", why="find NotReady nodes or nodes under pressure")


@dataclass(frozen=True)
class NodeProblem:
    node: K8sObject
    kind: str
    """not-ready, network-unavailable, memory-pressure, disk-pressure, pid-pressure."""
    condition: dict[str, object]


def node_problems(node: K8sObject) -> list[NodeProblem]:
    """What is wrong with a node, by its conditions, most severe first."""
    found: list[NodeProblem] = []
    ready = node_condition(node, "Ready")
    if ready is not None and ready.get("status") != "True":
        found.append(NodeProblem(node, "not-ready", ready))
    network = node_condition(node, "NetworkUnavailable")
    if network is not None and network.get("status") == "True":
        found.append(NodeProblem(node, "network-unavailable", network))
    for type_ in _PRESSURE:
        cond = node_condition(node, type_)
        if cond is not None and cond.get("status") == "True":
            found.append(NodeProblem(node, type_.replace("Pressure", "").lower() + "-pressure", cond))
    return found


def _pods_on(view: EvidenceView, node: str) -> list[K8sObject]:
    return [p for p in candidate_pods(view) if (p.get("spec") or {}).get("nodeName") == node]


# What a process sees when the node (or its cgroup) has no PIDs or memory left to give.
_EXHAUSTION_LOG: dict[str, tuple[re.Pattern[str], ...]] = {
    # Strongest first: the error a process gets when it cannot have another PID or page, then
    # the warnings that precede it (children left behind, zombies).
    "pid": (
        re.compile(
            r"EAGAIN|Resource temporarily unavailable|pthread_create|can't start new thread|"
            r"cannot fork|fork: retry|too many processes",
            re.I,
        ),
        re.compile(r"leaving \S+ (?:pid|process)|zombie|defunct|orphan(?:ed)? process", re.I),
    ),
    "memory": (re.compile(r"Cannot allocate memory|ENOMEM|OutOfMemory|MemoryError|out of memory", re.I),),
}


@dataclass(frozen=True)
class Culprit:
    """A pod on a node under pressure that likely consumes what the node lacks."""

    pod: K8sObject
    container: str
    reason: str
    source: str
    weight: int


def _log_signal(view: EvidenceView, pod: K8sObject, resource: str) -> tuple[str, str, str] | None:
    """(container, line, source) of the first log line that shows the resource running out."""
    ns = namespace_of(pod) or ""
    logs = view.pod_logs(pod)
    for pattern in _EXHAUSTION_LOG.get(resource, ()):
        for key, text in logs.items():
            container, _, previous = key.partition("#")
            for line in text.splitlines():
                if pattern.search(line):
                    return container, line.strip()[:240], src_log(ns, name_of(pod), container, bool(previous))
    return None


def pressure_culprits(view: EvidenceView, node: str, resource: str) -> list[Culprit]:
    """Pods on ``node`` that likely exhaust ``resource`` (pid, memory), most likely first.

    A log line showing the resource running out weighs most; then an OOM kill (memory), no
    memory limit (memory: the pod may grow until the node runs out), restarts and failing probes.
    """
    found: list[Culprit] = []
    for pod in _pods_on(view, node):
        if is_terminating(pod):
            continue
        states = container_states(pod)
        first = states[0].name if states else ""
        signal = _log_signal(view, pod, resource)
        if signal is not None:
            found.append(Culprit(pod, signal[0], f"its log shows: {signal[1]}", signal[2], 100))
            continue
        weight, reason, source, container = 0, "", "", first
        for state in states:
            if resource == "memory" and "OOMKilled" in (state.last_reason, state.terminated_reason):
                weight, reason = 80, f"container {state.name} was OOMKilled"
                source, container = (
                    src_obj(pod, f"status.containerStatuses[{state.name}].lastState"),
                    state.name,
                )
                break
            if state.restarts >= 3 and weight < 40:
                weight, reason = 40, f"container {state.name} restarted {state.restarts} times"
                source, container = src_obj(pod, f"status.containerStatuses[{state.name}]"), state.name
        if resource == "memory" and weight < 30:
            unlimited = [
                str(c.get("name"))
                for c in pod_spec(pod).get("containers") or []
                if not ((c.get("resources") or {}).get("limits") or {}).get("memory")
            ]
            if unlimited:
                weight, reason = 30, f"container {unlimited[0]} has no memory limit"
                source, container = src_obj(pod, f"spec.containers[{unlimited[0]}].resources"), unlimited[0]
        if weight < 20:
            unhealthy = [e for e in view.events_for(pod) if e.get("reason") == "Unhealthy"]
            if unhealthy:
                weight, reason, source = (
                    20,
                    f"its probes fail: {unhealthy[0].get('message')}",
                    src_event(unhealthy[0]),
                )
        if weight:
            found.append(Culprit(pod, container, reason, source, weight))
    return sorted(found, key=lambda c: -c.weight)


def _culprit_fixes(view: EvidenceView, culprit: Culprit, resource: str) -> list[str]:
    pod = culprit.pod
    ns = namespace_of(pod)
    target = workload_ref(view, pod)
    if target.startswith("pod/"):
        restart = (
            f"kubectl delete pod {name_of(pod)}{ns_flag(ns)}  # frees what it holds; it is not recreated"
        )
    else:
        restart = f"kubectl rollout restart {target}{ns_flag(ns)}  # frees what its pods hold on the node now"
    if resource == "pid":
        return [
            f"kubectl exec {name_of(pod)}{ns_flag(ns)} -c {culprit.container} -- sh -c 'ls /proc | grep -c [0-9]'  "
            "# processes in the pod",
            restart,
            f"# then fix {target}: reap child processes (run tini or dumb-init as PID 1), close what it spawns, "
            "and cap it with the kubelet podPidsLimit",
        ]
    return [
        f"kubectl top pod {name_of(pod)}{ns_flag(ns)} --containers",
        f"kubectl set resources {target}{ns_flag(ns)} -c {culprit.container} --limits=memory=<limit>",
        restart,
    ]


def _node_events(view: EvidenceView, pod: K8sObject) -> list[K8sObject]:
    return [e for e in view.events_for(pod) if e.get("reason") in _POD_NODE_EVENTS]


def _suspect_nodes(view: EvidenceView) -> list[str]:
    """Nodes of pods that look like victims of a node failure, and nodes named in the text."""
    names: list[str] = list(view.entities.get("nodes") or [])
    for pod in candidate_pods(view):
        node = (pod.get("spec") or {}).get("nodeName")
        if not node:
            continue
        status = pod.get("status") or {}
        not_ready = any(
            c.get("type") == "Ready" and c.get("status") != "True" for c in status.get("conditions") or []
        )
        if (
            is_terminating(pod)
            or status.get("phase") == "Unknown"
            or _node_events(view, pod)
            or (status.get("reason") == "NodeLost")
            or (not_ready and pod in view.focus_pods())
        ):
            names.append(str(node))
    return list(dict.fromkeys(names))


class NodeNotReadyAnalyzer(Analyzer):
    category = "NodeNotReady"

    def plan(self, view: EvidenceView) -> list[ReadSpec]:
        specs = [
            ReadSpec(verb="get", kind="Node", name=node, why="the node the failing pods run on")
            for node in _suspect_nodes(view)[:3]
            if view.obj("Node", node) is None
        ]
        # The kubelet's own events on a failing node (image GC, eviction, reboot) say why;
        # node events live in the default namespace.
        suspects = set(_suspect_nodes(view))
        for node in view.objs("Node"):
            if node_problems(node) and name_of(node) in suspects:
                events = ReadSpec(
                    verb="list",
                    kind="Event",
                    namespace="default",
                    field_selector=f"involvedObject.kind=Node,involvedObject.name={name_of(node)}",
                    why="the kubelet's events on the failing node",
                )
                if not view.was_read(events.key()):
                    specs.append(events)
                break
        # Nothing in the namespace points at a node, yet the text speaks of one: look at all of them.
        if (
            not specs
            and view.suspects(self.category, 0.5)
            and not any(node_problems(n) for n in view.objs("Node"))
            and not view.was_read(_NODE_LIST.key())
        ):
            specs.append(_NODE_LIST)
        return specs

    def analyze(self, view: EvidenceView) -> Finding | None:
        problems = [p for node in view.objs("Node") for p in node_problems(node)]
        if not problems:
            return None
        suspects = set(_suspect_nodes(view))
        focus_nodes = {(p.get("spec") or {}).get("nodeName") for p in view.focus_pods()}

        def rank(problem: NodeProblem) -> tuple[int, int, int]:
            name = name_of(problem.node)
            return (
                -(name in suspects or name in focus_nodes),
                -len(_pods_on(view, name)),
                0 if problem.kind == "not-ready" else 1,
            )

        problem = sorted(problems, key=rank)[0]
        node = problem.node
        node_name = name_of(node)
        cond = problem.condition
        message = str(cond.get("message") or "").strip()
        reason = str(cond.get("reason") or "")
        facts = [
            Fact(
                f"node {node_name} condition {cond.get('type')}={cond.get('status')} reason {reason}: {message} "
                f"(last heartbeat {cond.get('lastHeartbeatTime')}, since {cond.get('lastTransitionTime')})",
                src_obj(node, f"status.conditions[{cond.get('type')}]"),
            )
        ]
        others = [p for p in node_problems(node) if p.kind != problem.kind]
        for other in others:
            facts.append(
                Fact(
                    f"also {other.condition.get('type')}={other.condition.get('status')}: {other.condition.get('message')}",
                    src_obj(node, f"status.conditions[{other.condition.get('type')}]"),
                )
            )
        taints = [
            f"{t.get('key')}:{t.get('effect')}"
            for t in (node.get("spec") or {}).get("taints") or []
            if str(t.get("key", "")).startswith("node.kubernetes.io/")
        ]
        if taints:
            facts.append(
                Fact(f"node {node_name} is tainted {', '.join(taints)}", src_obj(node, "spec.taints"))
            )
        if (node.get("spec") or {}).get("unschedulable"):
            facts.append(Fact(f"node {node_name} is cordoned", src_obj(node, "spec.unschedulable")))

        on_node = _pods_on(view, node_name)
        terminating = [p for p in on_node if is_terminating(p)]
        if terminating:
            facts.append(
                Fact(
                    f"{len(terminating)} pod(s) on {node_name} are stuck Terminating: "
                    f"{', '.join(name_of(p) for p in terminating[:5])}",
                    src_obj(terminating[0], "metadata.deletionTimestamp"),
                )
            )
        for pod in on_node[:3]:
            for event in _node_events(view, pod)[:1]:
                facts.append(Fact(f"{event.get('reason')}: {event.get('message')}", src_event(event)))
        seen: set[str] = set()
        for event in view.events_for(node):
            reason = str(event.get("reason"))
            if reason in _NODE_EVENTS and reason not in seen and len(seen) < 3:
                seen.add(reason)
                facts.append(Fact(f"{reason}: {event.get('message')}", src_event(event)))

        cause, fixes, prevention = _explain(problem, node_name, message)
        if terminating:
            victim = terminating[0]
            ns = namespace_of(victim)
            cause += (
                f" Pods on it such as {name_of(victim)} stay Terminating because no kubelet confirms their "
                "deletion; their controllers have already created replacements elsewhere."
            )
            fixes.append(
                f"kubectl delete pod {name_of(victim)}{ns_flag(ns)} --grace-period=0 --force  "
                f"# ⚠ only once {node_name} is confirmed powered off: a live kubelet would keep running it"
            )
        resource = problem.kind.split("-")[0]
        culprits = (
            pressure_culprits(view, node_name, resource)
            if problem.kind
            in (
                "pid-pressure",
                "memory-pressure",
            )
            else []
        )
        if culprits:
            top = culprits[0]
            what = "processes (PIDs)" if resource == "pid" else "memory"
            cause += (
                f" The likely consumer of its {what} is pod {name_of(top.pod)} ({workload_ref(view, top.pod)}): "
                f"{top.reason}."
            )
            facts.append(Fact(f"pod {name_of(top.pod)} on {node_name}: {top.reason}", top.source))
            for more in culprits[1:3]:
                facts.append(Fact(f"pod {name_of(more.pod)} on {node_name}: {more.reason}", more.source))
            # Relieve the node by fixing what consumes the resource, before cordoning or draining it.
            fixes[1:1] = _culprit_fixes(view, top, resource)
        root = f"Node {node_name}: {cause}"

        linked = node_name in suspects or node_name in focus_nodes or bool(on_node)
        score = 0.93 if linked else (0.6 if view.suspects(self.category) else 0.4)
        if problem.kind.endswith("pressure") and any(
            (p.get("status") or {}).get("reason") == "Evicted" for p in view.focus_pods()
        ):
            # The focus pods were evicted: that label names what happened to them.
            score = min(score, 0.6)
        return Finding(
            category=self.category,
            score=score,
            root_cause_id=f"node.{problem.kind}",
            root_cause=root,
            summary=f"node {node_name} {problem.kind}: {message}"[:200],
            facts=facts,
            fix_commands=fixes,
            prevention=prevention,
            affected=[ref(node), *[ref(p) for p in terminating[:3]]],
        )


def _instance_hint(node: K8sObject) -> str | None:
    provider = str((node.get("spec") or {}).get("providerID") or "")
    if provider.startswith("aws://"):
        instance = provider.rsplit("/", 1)[-1]
        return f"aws ec2 describe-instance-status --instance-ids {instance} --include-all-instances"
    if provider.startswith("gce://"):
        parts = provider.removeprefix("gce://").split("/")
        if len(parts) == 3:
            return f"gcloud compute instances describe {parts[2]} --project {parts[0]} --zone {parts[1]}"
    if provider.startswith("azure://"):
        return f"az vmss list-instances --query \"[?osProfile.computerName=='{name_of(node)}']\"  # or az vm show"
    return None


def _explain(problem: NodeProblem, node: str, message: str) -> tuple[str, list[str], list[str]]:
    drain = (
        f"kubectl drain {node} --ignore-daemonsets --delete-emptydir-data  "
        "# ⚠ evicts every pod on the node; check PodDisruptionBudgets first"
    )
    describe = f"kubectl describe node {node}"
    instance = _instance_hint(problem.node)
    kind = problem.kind
    lowered = message.lower()
    if kind == "not-ready" and (
        "stopped posting" in lowered or str(problem.condition.get("status")) == "Unknown"
    ):
        cause = (
            f"the node is NotReady: Ready={problem.condition.get('status')} ({problem.condition.get('reason')}, "
            f'"{message}"), so its kubelet or the machine itself is down or cut off from the API server.'
        )
        fixes = [describe, f"kubectl get lease {node} -n kube-node-lease -o yaml", f"kubectl cordon {node}"]
        if instance:
            fixes.append(instance)
        fixes += ["# on the node: systemctl status kubelet; journalctl -u kubelet --since '-1h'", drain]
        prevention = [
            "Alert on nodes NotReady for more than a few minutes and let node auto-repair (managed node groups, "
            "GKE/AKS auto-repair) replace them.",
            "Run at least 2 replicas spread across nodes and zones, with a PodDisruptionBudget.",
            "Reserve system resources (kubeReserved/systemReserved) so the kubelet survives node memory exhaustion.",
        ]
        return cause, fixes, prevention
    if kind == "not-ready" or kind == "network-unavailable":
        network = kind == "network-unavailable" or any(
            w in lowered for w in ("network", "cni", "networkpluginnotready")
        )
        cause = (
            f"the node is NotReady ({problem.condition.get('type')}={problem.condition.get('status')}, "
            f'{problem.condition.get("reason")}: "{message}")'
            + (
                ": its network plugin (CNI) is not ready, so no pod networking can be set up."
                if network
                else ": the kubelet reports its container runtime or node components unhealthy."
            )
        )
        fixes = [describe, f"kubectl cordon {node}"]
        if network:
            fixes.append(
                f"kubectl get pods -n kube-system -o wide --field-selector spec.nodeName={node}  "
                "# the CNI daemonset pod (aws-node, calico-node, cilium) on this node"
            )
        else:
            fixes.append(
                "# on the node: systemctl status containerd kubelet; journalctl -u kubelet --since '-1h'"
            )
        fixes.append(drain)
        prevention = [
            "Alert on node NotReady and on CNI daemonset pods not Ready.",
            "Upgrade CNI and container runtime versions together with the node image, tested on a canary node group.",
        ]
        return cause, fixes, prevention
    resource = kind.split("-")[0]
    threshold = {
        "memory": "memory.available",
        "disk": "nodefs.available / imagefs.available",
        "pid": "pid.available",
    }.get(resource, resource)
    cause = (
        f'the node reports {problem.condition.get("type")}=True ("{message}"): the kubelet\'s {threshold} '
        "eviction threshold is crossed, so it taints the node, refuses new pods and evicts running ones."
    )
    fixes = [describe, f"kubectl cordon {node}"]
    if resource == "disk":
        fixes += [
            f"kubectl get --raw /api/v1/nodes/{node}/proxy/stats/summary | jq '.node.fs, .node.runtime.imageFs'",
            "# on the node: crictl rmi --prune; journalctl --vacuum-size=500M; find large container logs under /var/log/pods",
        ]
    elif resource == "memory":
        fixes += [
            "kubectl top pods -A --sort-by=memory | head -20",
            f"kubectl get pods -A -o wide --field-selector spec.nodeName={node}",
        ]
    else:
        fixes.append(
            f"kubectl get pods -A -o wide --field-selector spec.nodeName={node}  "
            "# find the pod forking processes; set the kubelet podPidsLimit"
        )
    fixes.append(drain)
    prevention = [
        "Set requests and limits on every container (memory, ephemeral-storage) so the scheduler does not overpack "
        "nodes.",
        "Size node disks for images and logs, rotate container logs, and alert on node filesystem and memory "
        "availability before eviction thresholds.",
        "Set podPidsLimit in the kubelet configuration so one pod cannot exhaust the node's PIDs.",
    ]
    return cause, fixes, prevention
