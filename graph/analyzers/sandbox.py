"""PodSandboxFailure: the kubelet cannot create the pod sandbox (FailedCreatePodSandBox).

Almost always the network plugin: the CNI has no free pod IP in the node's subnet or pool,
its agent on that node is not running or not initialised, or it cannot reach the API server.
The event names the plugin (``plugin type="aws-cni"``, calico, cilium...), the pod's node
names where; the CNI daemonset pod on that node, and its log, say why.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from graph.analyzers.base import Analyzer, Fact, Finding, ns_flag, ref, src_event, src_log, src_obj
from graph.analyzers.common import candidate_pods, error_lines, workload_ref
from graph.evidence import EvidenceView, K8sObject, name_of, namespace_of
from graph.k8s import container_states
from graph.schemas import ReadSpec

_REASONS = ("FailedCreatePodSandBox",)
_SANDBOX_ID = re.compile(r'sandbox "?[0-9a-f]{12,}"?')


@dataclass(frozen=True)
class Cni:
    name: str
    daemonset: str
    namespaces: tuple[str, ...]
    label: str
    container: str
    markers: tuple[str, ...]


CNIS = (
    Cni(
        "AWS VPC CNI",
        "aws-node",
        ("kube-system",),
        "k8s-app=aws-node",
        "aws-node",
        ("aws-cni", "aws-node", "ipamd"),
    ),
    Cni(
        "Calico",
        "calico-node",
        ("kube-system", "calico-system"),
        "k8s-app=calico-node",
        "calico-node",
        ("calico",),
    ),
    Cni("Cilium", "cilium", ("kube-system",), "k8s-app=cilium", "cilium-agent", ("cilium",)),
    Cni(
        "Flannel",
        "kube-flannel-ds",
        ("kube-flannel", "kube-system"),
        "app=flannel",
        "kube-flannel",
        ("flannel",),
    ),
    Cni("Weave Net", "weave-net", ("kube-system",), "name=weave-net", "weave", ("weave",)),
    Cni(
        "Azure CNI",
        "azure-cns",
        ("kube-system",),
        "k8s-app=azure-cns",
        "cns-container",
        ("azure-vnet", "azure-cni"),
    ),
)

_CAUSES: tuple[tuple[str, re.Pattern[str], str], ...] = tuple(
    (kind, re.compile(pattern, re.IGNORECASE), text)
    for kind, pattern, text in (
        (
            "ip-exhausted",
            r"failed to assign an ip address|no (more )?(free )?ip addresses? available|insufficientfreeaddresses|"
            r"insufficientcidrblocks|no more free ips|range is full|failed to allocate (address|ip)|"
            r"unable to allocate ip|no available ip|ipam.*exhausted|datastore has no available ip",
            "the CNI has no free pod IP address to give it",
        ),
        (
            "cni-api",
            r"connection is unauthorized|error getting clusterinformation|unauthorized|"
            r"dial tcp [\d.]+:443: (i/o timeout|connect: )",
            "the CNI plugin cannot talk to the Kubernetes API server",
        ),
        (
            "cni-agent-down",
            r"unable to connect to cilium daemon|cilium-agent|connect: no such file or directory|"
            r"/run/flannel/subnet\.env|ipamd.*(not running|connection refused)|failed to connect to .*50051",
            "the CNI agent on the node is not running",
        ),
        (
            "cni-not-ready",
            r"cni plugin not initialized|network plugin is not ready|networkpluginnotready|"
            r"no networks found in /etc/cni/net\.d|failed to find plugin",
            "the CNI is not initialised on the node",
        ),
    )
)


def _sandbox_events(view: EvidenceView, pod: K8sObject) -> list[K8sObject]:
    return [e for e in view.events_for(pod) if e.get("reason") in _REASONS]


def sandbox_pods(view: EvidenceView) -> list[tuple[K8sObject, list[K8sObject]]]:
    """Pods with FailedCreatePodSandBox events that have not started, focus pods first."""
    found = []
    for pod in candidate_pods(view):
        events = _sandbox_events(view, pod)
        if not events:
            continue
        if any(c.running for c in container_states(pod) if not c.init) and all(
            c.ready for c in container_states(pod)
        ):
            continue  # it recovered
        found.append((pod, events))
    return found


def detect_cni(messages: list[str]) -> Cni | None:
    text = " ".join(messages).lower()
    for cni in CNIS:
        if any(marker in text for marker in cni.markers):
            return cni
    return None


def _cause(messages: list[str]) -> tuple[str, str]:
    text = " ".join(messages)
    for kind, pattern, meaning in _CAUSES:
        if pattern.search(text):
            return kind, meaning
    return "sandbox-error", "the container runtime could not set up the pod sandbox"


def _cni_pod(view: EvidenceView, cni: Cni, node: str) -> K8sObject | None:
    for ns in cni.namespaces:
        for pod in view.objs("Pod", ns):
            if (pod.get("spec") or {}).get("nodeName") != node:
                continue
            key, _, value = cni.label.partition("=")
            if ((pod.get("metadata") or {}).get("labels") or {}).get(key) == value:
                return pod
    return None


class PodSandboxFailureAnalyzer(Analyzer):
    category = "PodSandboxFailure"

    def plan(self, view: EvidenceView) -> list[ReadSpec]:
        hits = sandbox_pods(view)
        if not hits:
            return []
        pod, events = hits[0]
        node = (pod.get("spec") or {}).get("nodeName")
        cni = detect_cni([str(e.get("message")) for e in events])
        if not node or cni is None:
            return []
        specs: list[ReadSpec] = []
        if view.obj("Node", str(node)) is None:
            specs.append(ReadSpec(verb="get", kind="Node", name=str(node), why="the node whose CNI fails"))
        agent = _cni_pod(view, cni, str(node))
        if agent is None:
            for ns in cni.namespaces:
                spec = ReadSpec(
                    verb="list",
                    kind="Pod",
                    namespace=ns,
                    label_selector=cni.label,
                    field_selector=f"spec.nodeName={node}",
                    why=f"the {cni.daemonset} pod on the node",
                )
                if not view.was_read(spec.key()):
                    specs.append(spec)
                    break
            return specs
        agent_ns, agent_name = namespace_of(agent) or "", name_of(agent)
        for state in container_states(agent):
            if state.init or state.name != cni.container:
                continue
            if state.restarts > 0:
                specs.append(
                    ReadSpec(
                        verb="logs",
                        kind="Pod",
                        namespace=agent_ns,
                        name=agent_name,
                        container=state.name,
                        previous=True,
                        why="the CNI agent's crashed instance",
                    )
                )
            specs.append(
                ReadSpec(
                    verb="logs",
                    kind="Pod",
                    namespace=agent_ns,
                    name=agent_name,
                    container=state.name,
                    why="the CNI agent's log on the node",
                )
            )
        return specs

    def analyze(self, view: EvidenceView) -> Finding | None:
        hits = sandbox_pods(view)
        if not hits:
            return None
        pod, events = hits[0]
        ns, pod_name = namespace_of(pod), name_of(pod)
        node = str((pod.get("spec") or {}).get("nodeName") or "")
        target = workload_ref(view, pod)
        messages = [str(e.get("message") or "") for e in events]
        cni = detect_cni(messages)
        kind, meaning = _cause(messages)
        # The most common message (sandbox ids dropped) is the one to quote.
        counts = Counter(_short(m) for m in messages)
        top = counts.most_common(1)[0][0]
        quoted_event = next((e for e in events if _short(str(e.get("message"))) == top), events[0])
        message = str(quoted_event.get("message"))
        facts = [Fact(f"FailedCreatePodSandBox: {message}", src_event(quoted_event))]
        same_node = [p for p, _ in hits if (p.get("spec") or {}).get("nodeName") == node]
        facts.append(
            Fact(
                f"{len(same_node)} pod(s) on node {node} cannot get a sandbox"
                + (f": {', '.join(name_of(p) for p in same_node[:4])}" if same_node else ""),
                src_obj(pod, "spec.nodeName"),
            )
        )
        healthy_elsewhere = [
            p
            for p in view.objs("Pod", ns)
            if workload_ref(view, p) == target
            and (p.get("spec") or {}).get("nodeName") not in (None, node)
            and (p.get("status") or {}).get("phase") == "Running"
        ]
        if healthy_elsewhere:
            facts.append(
                Fact(
                    f"{len(healthy_elsewhere)} pod(s) of {target} run fine on other nodes",
                    "pods in namespace",
                )
            )
        node_obj = view.obj("Node", node) if node else None
        zone = None
        if node_obj is not None:
            labels = (node_obj.get("metadata") or {}).get("labels") or {}
            zone = labels.get("topology.kubernetes.io/zone")
            created = (node_obj.get("metadata") or {}).get("creationTimestamp")
            facts.append(
                Fact(
                    f"node {node}"
                    + (f" in zone {zone}" if zone else "")
                    + (f", created {created}" if created else ""),
                    src_obj(node_obj, "metadata"),
                )
            )
        agent = _cni_pod(view, cni, node) if cni and node else None
        agent_note = ""
        if agent is not None:
            states = [s for s in container_states(agent) if not s.init]
            ready = all(s.ready for s in states)
            restarts = sum(s.restarts for s in states)
            facts.append(
                Fact(
                    f"{cni.daemonset if cni else 'CNI'} pod {name_of(agent)} on {node} is "
                    f"{'Ready' if ready else 'not Ready'} with {restarts} restart(s)",
                    src_obj(agent, "status.containerStatuses"),
                )
            )
            if not ready:
                agent_note = (
                    f" The {cni.daemonset if cni else 'CNI'} pod {name_of(agent)} on that node is not Ready."
                )
            for key, text in view.pod_logs(agent).items():
                container, _, previous = key.partition("#")
                lines = [
                    line
                    for line in error_lines(text)
                    if re.search(r"error|fail|insufficient|unable|denied", line, re.I)
                ]
                for line in lines[-2:]:
                    facts.append(
                        Fact(
                            f"log: {line}",
                            src_log(namespace_of(agent) or "", name_of(agent), container, bool(previous)),
                        )
                    )

        plugin = f"{cni.name} ({cni.daemonset})" if cni else "the network plugin"
        root = (
            f"Pod {pod_name} ({target}) is stuck in ContainerCreating on node {node}: the kubelet cannot create its "
            f'sandbox because {meaning} — {plugin} reports "{_short(message)}".{agent_note}'
        )
        fixes = _fixes(kind, cni, node, zone, agent, pod_name, ns)
        return Finding(
            category=self.category,
            score=0.93,
            root_cause_id=f"sandbox.{kind}",
            root_cause=root,
            summary=f"{target}: FailedCreatePodSandBox on {node} ({kind})",
            facts=facts,
            fix_commands=fixes,
            prevention=_prevention(kind, cni),
            affected=[ref(pod), *([ref(node_obj)] if node_obj else []), *([ref(agent)] if agent else [])],
            missing=[] if agent is not None or cni is None else [f"the {cni.daemonset} pod on node {node}"],
        )


def _short(message: str) -> str:
    text = message.removeprefix("(combined from similar events): ")
    text = _SANDBOX_ID.sub("sandbox", text)
    return text if len(text) <= 260 else text[:257] + "..."


def _fixes(
    kind: str, cni: Cni | None, node: str, zone: str | None, agent: K8sObject | None, pod: str, ns: str | None
) -> list[str]:
    fixes = [f"kubectl describe pod {pod}{ns_flag(ns)}"]
    if cni is None:
        fixes += [
            f"kubectl get pods -n kube-system -o wide --field-selector spec.nodeName={node}",
            f"kubectl cordon {node}",
        ]
        return fixes
    ds_ns = namespace_of(agent) if agent else cni.namespaces[0]
    if agent is not None:
        fixes.append(f"kubectl logs {name_of(agent)} -n {ds_ns} -c {cni.container}")
    else:
        fixes.append(
            f"kubectl get pods -n {ds_ns} -l {cni.label} -o wide --field-selector spec.nodeName={node}"
        )
    if kind == "ip-exhausted" and cni.daemonset == "aws-node":
        where = f"Name=availability-zone,Values={zone}" if zone else "Name=vpc-id,Values=<vpc-id>"
        fixes += [
            f"aws ec2 describe-subnets --filters {where} --query 'Subnets[].[SubnetId,AvailableIpAddressCount]'",
            "kubectl set env daemonset/aws-node -n kube-system ENABLE_PREFIX_DELEGATION=true WARM_PREFIX_TARGET=1  "
            "# Nitro instances only; or add subnets / custom networking (ENIConfig) with free addresses",
            f"kubectl cordon {node}  # stop scheduling onto the node until it can get addresses",
        ]
    elif kind == "ip-exhausted" and cni.daemonset == "calico-node":
        fixes += [
            "kubectl get ippools.crd.projectcalico.org -o yaml  # add an IPPool or enlarge the blockSize range",
            f"calicoctl ipam show --show-blocks  # free blocks per node; calicoctl ipam check finds leaked IPs on {node}",
        ]
    elif kind == "ip-exhausted":
        fixes += [
            f"kubectl get node {node} -o jsonpath='{{.spec.podCIDR}}'  # pods on the node vs the size of its range",
            f"kubectl cordon {node}",
        ]
    else:
        fixes += [
            f"kubectl rollout restart daemonset/{cni.daemonset} -n {ds_ns}",
            f"kubectl rollout status daemonset/{cni.daemonset} -n {ds_ns}",
            f"kubectl cordon {node}  # until {cni.daemonset} is healthy on it",
        ]
    return fixes


def _prevention(kind: str, cni: Cni | None) -> list[str]:
    tips = [
        "Alert on FailedCreatePodSandBox events and on CNI daemonset pods that are not Ready.",
    ]
    if kind == "ip-exhausted":
        tips += [
            "Size pod subnets / IP pools for peak pods per node times nodes; with the AWS VPC CNI use prefix "
            "delegation or secondary CIDRs (custom networking) for pods.",
            "Cap max pods per node to what the node's network can address, and spread node groups over subnets "
            "with free addresses.",
        ]
    else:
        tips += [
            f"Upgrade {cni.daemonset if cni else 'the CNI'} with the node image and verify it on a canary node "
            "group before rolling out.",
            "Give the CNI daemonset a system-node-critical priority class so it is never evicted or starved.",
        ]
    return tips
