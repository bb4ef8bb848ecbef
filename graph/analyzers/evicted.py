"""Evicted: the kubelet evicted pods (phase Failed, status.reason Evicted).

The eviction message says why: the pod or a container went over its ephemeral-storage limit,
an emptyDir over its sizeLimit, or the node ran low on memory or disk and this pod used the
most above its request. Evicted pods stay behind as Failed objects, so a workload that keeps
being evicted leaves a trail of them.
"""

from __future__ import annotations

import re
from decimal import Decimal

from graph.analyzers.base import Analyzer, Fact, Finding, ns_flag, ref, src_event, src_obj
from graph.analyzers.common import (
    STALE_SCORE,
    candidate_pods,
    pasted_line,
    stale_note,
    template_prefix,
    text_only_finding,
    view_now,
    workload_ref,
)
from graph.evidence import EvidenceView, K8sObject, name_of, namespace_of
from graph.k8s import format_bytes, is_stale, node_condition, parse_quantity, pod_spec
from graph.schemas import ReadSpec

_POD_LIMIT = re.compile(
    r"Pod ephemeral local storage usage exceeds the total limit of containers ([\w.]+?)\.?(?:\s|$)"
)
_CONTAINER_LIMIT = re.compile(r"Container ([\w.-]+) exceeded its local ephemeral storage limit \"([\w.]+)\"")
_EMPTYDIR = re.compile(r"Usage of EmptyDir volume \"([\w.-]+)\" exceeds the limit \"([\w.]+)\"")
_NODE_LOW = re.compile(
    r"The node was low on resource: ([\w-]+)\.(?: Threshold quantity: ([\w.]+), available: ([\w.-]+)\.)?"
)
_USAGE = re.compile(r"Container ([\w.-]+) was using ([\w.]+), request is ([\w.]+)")
_NODE_CONDITION = re.compile(r"The node had condition: \[(\w+)\]")
_PRESSURE = {
    "memory": "MemoryPressure",
    "ephemeral-storage": "DiskPressure",
    "nodefs": "DiskPressure",
    "imagefs": "DiskPressure",
    "pid": "PIDPressure",
}


def _evicted(view: EvidenceView, pod: K8sObject) -> tuple[str, K8sObject | None] | None:
    """The eviction message of a pod, from its status or its Evicted event."""
    status = pod.get("status") or {}
    events = [e for e in view.events_for(pod) if e.get("reason") == "Evicted"]
    if status.get("reason") == "Evicted":
        return str(status.get("message") or ""), (events[0] if events else None)
    if events:
        return str(events[0].get("message") or ""), events[0]
    return None


def _double(quantity: str) -> str:
    value = parse_quantity(quantity)
    return format_bytes(value * 2) if value else "<larger limit>"


class EvictedAnalyzer(Analyzer):
    category = "Evicted"

    def _victims(self, view: EvidenceView) -> list[tuple[K8sObject, str, K8sObject | None]]:
        found = []
        for pod in candidate_pods(view):
            hit = _evicted(view, pod)
            if hit is not None:
                found.append((pod, hit[0], hit[1]))
        return found

    def plan(self, view: EvidenceView) -> list[ReadSpec]:
        specs = []
        now = view_now(view)
        current = [v for v in self._victims(view) if not is_stale(v[0], now)]
        for pod, message, _ in current[:1]:
            node = (pod.get("spec") or {}).get("nodeName")
            if node and (_NODE_LOW.search(message) or _NODE_CONDITION.search(message)):
                specs.append(
                    ReadSpec(verb="get", kind="Node", name=str(node), why="the node's pressure conditions")
                )
        return [s for s in specs if not view.was_read(s.key())]

    def analyze(self, view: EvidenceView) -> Finding | None:
        now = view_now(view)
        # A current eviction leads; one from long before the rest of the activity is a leftover.
        victims = sorted(self._victims(view), key=lambda v: is_stale(v[0], now))
        if not victims:
            return self._from_text(view)
        pod, message, event = victims[0]
        stale = stale_note(pod, now)
        ns, pod_name = namespace_of(pod), name_of(pod)
        target = workload_ref(view, pod)
        same = [v for v in victims if workload_ref(view, v[0]) == target]
        facts = [
            Fact(
                f"pod {pod_name} is Failed with reason Evicted: {message.strip()}",
                src_obj(pod, "status.reason/status.message"),
            )
        ]
        if event is not None:
            facts.append(Fact(str(event.get("message")).strip(), src_event(event)))
        if len(same) > 1:
            names = ", ".join(name_of(v[0]) for v in same[:6])
            facts.append(Fact(f"{len(same)} pods of {target} were evicted ({names})", "pods in namespace"))
        disruption = next(
            (
                c
                for c in (pod.get("status") or {}).get("conditions") or []
                if c.get("type") == "DisruptionTarget"
            ),
            None,
        )
        if disruption:
            facts.append(
                Fact(
                    f"DisruptionTarget {disruption.get('reason')}: {disruption.get('message')}",
                    src_obj(pod, "status.conditions"),
                )
            )
        kind_word, _, workload = target.partition("/")
        containers = [str(c.get("name")) for c in pod_spec(pod).get("containers") or []]
        where = f"Pod {pod_name} ({target})"
        fixes: list[str] = []
        score = 0.95 if (pod.get("status") or {}).get("reason") == "Evicted" else 0.85
        if found := _POD_LIMIT.search(message):
            limit = found.group(1)
            container = self._largest_ephemeral(pod) or (containers[0] if containers else "<container>")
            cause_id = "evicted.ephemeral-storage-limit"
            cause = (
                f"{where} was evicted by the kubelet because its ephemeral local storage usage (container writable "
                f"layers, logs and emptyDir volumes) exceeded the total limit of its containers, {limit}"
                f"{f' ({len(same)} pods of {target} so far)' if len(same) > 1 else ''}."
            )
            facts += self._limit_facts(pod)
            fixes.append(
                f"kubectl set resources {target}{ns_flag(ns)} -c {container} --limits=ephemeral-storage={_double(limit)} "
                f"--requests=ephemeral-storage={limit}"
            )
        elif found := _CONTAINER_LIMIT.search(message):
            container, limit = found.groups()
            cause_id = "evicted.container-ephemeral-limit"
            cause = (
                f"{where} was evicted because container {container} exceeded its local ephemeral storage limit "
                f"{limit} (files written to its filesystem and logs)."
            )
            fixes.append(
                f"kubectl set resources {target}{ns_flag(ns)} -c {container} --limits=ephemeral-storage={_double(limit)} "
                f"--requests=ephemeral-storage={limit}"
            )
        elif found := _EMPTYDIR.search(message):
            volume, limit = found.groups()
            cause_id = "evicted.emptydir-size-limit"
            cause = (
                f"{where} was evicted because its emptyDir volume {volume} grew past its sizeLimit {limit}."
            )
            volumes = [v.get("name") for v in pod_spec(pod).get("volumes") or []]
            if volume in volumes:
                fixes.append(
                    f"kubectl patch {kind_word} {workload}{ns_flag(ns)} --type=json -p "
                    f'\'[{{"op":"replace","path":"{template_prefix(kind_word)}/volumes/{volumes.index(volume)}/emptyDir/sizeLimit",'
                    f'"value":"{_double(limit)}"}}]\''
                )
        elif found := _NODE_LOW.search(message):
            resource = found.group(1)
            cause_id = f"evicted.node-{'memory' if resource == 'memory' else 'disk' if resource in ('ephemeral-storage', 'nodefs', 'imagefs') else resource}-pressure"
            node = str((pod.get("spec") or {}).get("nodeName") or "")
            threshold = f" (threshold {found.group(2)}, available {found.group(3)})" if found.group(2) else ""
            cause = f"{where} was evicted because node {node} ran low on {resource}{threshold}"
            usages = _USAGE.findall(message)
            for container, used, request in usages:
                facts.append(
                    Fact(
                        f"container {container} was using {used} of {resource}, request {request}",
                        src_obj(pod, "status.message"),
                    )
                )
            if usages:
                container, used, request = usages[0]
                used_value = parse_quantity(used)
                readable = (
                    f" ({format_bytes(used_value)})"
                    if used_value and format_bytes(used_value) != used
                    else ""
                )
                cause += (
                    f", and container {container} used {used}{readable} against a request of {request} — the most "
                    "above its request, so it was evicted first"
                )
                request_value = parse_quantity(used)
                new_request = (
                    format_bytes((request_value * Decimal("1.25")).to_integral_value())
                    if request_value
                    else used
                )
                fixes.append(
                    f"kubectl set resources {target}{ns_flag(ns)} -c {container} --requests={resource}={new_request} "
                    f"--limits={resource}={new_request}"
                )
            cause += "."
            facts += self._node_facts(view, node, _PRESSURE.get(resource))
            fixes.append(f"kubectl describe node {node}")
            if resource == "memory":
                fixes.append(f"kubectl top pods{ns_flag(ns)} --sort-by=memory")
        elif found := _NODE_CONDITION.search(message):
            condition = found.group(1)
            node = str((pod.get("spec") or {}).get("nodeName") or "")
            cause_id = f"evicted.node-condition-{condition.lower()}"
            cause = (
                f"{where} was rejected and evicted by node {node} because the node had condition {condition}."
            )
            facts += self._node_facts(view, node, condition)
            fixes.append(f"kubectl describe node {node}")
        else:
            cause_id = "evicted.other"
            cause = f"{where} was evicted by the kubelet: {message.strip() or 'no message'}."
            score = min(score, 0.85)
        fixes.append(f"kubectl delete pods{ns_flag(ns)} --field-selector=status.phase=Failed")
        if stale:
            # Asked about evictions, an old one is still the answer (weakly); otherwise it must not
            # outrank even "nothing found" (Unknown's 0.05).
            score = min(score, STALE_SCORE if view.suspects(self.category) else 0.04)
            cause = f"Old evictions, not the current problem: {cause[0].lower()}{cause[1:]} ({stale})"
            facts.append(Fact(f"pod {pod_name}: {stale}", src_obj(pod, "status")))
        return Finding(
            category=self.category,
            score=score,
            root_cause_id=cause_id,
            root_cause=cause,
            summary=f"{target}: {len(same)} pod(s) evicted ({cause_id.split('.', 1)[1]})",
            facts=facts,
            fix_commands=fixes,
            prevention=[
                "Set ephemeral-storage requests and limits from observed usage, and put scratch data on an emptyDir "
                "with a sizeLimit (or an external volume) instead of the container's writable layer.",
                "Set memory requests close to real usage: under node pressure the kubelet evicts pods using the most "
                "above their requests first.",
                "Alert on node MemoryPressure/DiskPressure and on pods with status.reason Evicted.",
            ],
            affected=[ref(v[0]) for v in same[:5]],
        )

    @staticmethod
    def _largest_ephemeral(pod: K8sObject) -> str | None:
        best: tuple[float, str | None] = (-1.0, None)
        for container in pod_spec(pod).get("containers") or []:
            limit = parse_quantity(
                ((container.get("resources") or {}).get("limits") or {}).get("ephemeral-storage")
            )
            if limit is not None and float(limit) > best[0]:
                best = (float(limit), str(container.get("name")))
        return best[1]

    @staticmethod
    def _limit_facts(pod: K8sObject) -> list[Fact]:
        facts = []
        for container in pod_spec(pod).get("containers") or []:
            resources = container.get("resources") or {}
            limit = (resources.get("limits") or {}).get("ephemeral-storage")
            if limit:
                request = (resources.get("requests") or {}).get("ephemeral-storage")
                facts.append(
                    Fact(
                        f"container {container.get('name')} ephemeral-storage limit {limit}"
                        + (f", request {request}" if request else ""),
                        src_obj(pod, f"spec.containers[{container.get('name')}].resources"),
                    )
                )
        for volume in pod_spec(pod).get("volumes") or []:
            if "emptyDir" in volume:
                size = (volume.get("emptyDir") or {}).get("sizeLimit")
                facts.append(
                    Fact(
                        f"emptyDir volume {volume.get('name')}"
                        + (f" sizeLimit {size}" if size else " has no sizeLimit"),
                        src_obj(pod, "spec.volumes"),
                    )
                )
        return facts

    @staticmethod
    def _node_facts(view: EvidenceView, node_name: str, condition: str | None) -> list[Fact]:
        node = view.obj("Node", node_name)
        if node is None or condition is None:
            return []
        cond = node_condition(node, condition)
        if cond is None:
            return []
        return [
            Fact(
                f"node {node_name} condition {condition}={cond.get('status')} since {cond.get('lastTransitionTime')} "
                f"({cond.get('reason')}: {cond.get('message')})",
                src_obj(node, "status.conditions"),
            )
        ]

    def _from_text(self, view: EvidenceView) -> Finding | None:
        eviction = re.compile(
            r"ephemeral local storage usage exceeds|exceeded its local ephemeral storage limit|Usage of EmptyDir volume|"
            r"The node was low on resource|The node had condition"
        )
        found = pasted_line(view, eviction)
        if found is None:
            return None
        line = found[0]
        if node_low := _NODE_LOW.search(view.error_message):
            cause_id, cause = (
                "evicted.node-pressure",
                f"The kubelet evicted the pod because the node ran low on {node_low.group(1)}",
            )
        elif limit := _POD_LIMIT.search(view.error_message):
            cause_id = "evicted.ephemeral-storage-limit"
            cause = f"The kubelet evicted the pod for exceeding its total ephemeral-storage limit {limit.group(1)}"
        else:
            cause_id, cause = "evicted.other", "The kubelet evicted the pod"
        return text_only_finding(
            view,
            self.category,
            cause_id,
            cause,
            line,
            [f"kubectl get pods{ns_flag(view.namespace)} --field-selector=status.phase=Failed"],
            ["Set ephemeral-storage and memory requests from observed usage."],
        )
