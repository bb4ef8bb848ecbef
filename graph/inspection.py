"""How the Kubernetes-tool node decides what to read, and how reads land in the evidence store.

Reads are planned in stages, each using what the previous one found:
  1. the namespace's pods, events, Deployments and ReplicaSets (one list each);
  2. the failing objects (the focus): their owner chain, logs (previous when restarted) and node;
  3. what each analyzer's category needs given that evidence (``Analyzer.plan``).
Lists are namespace-scoped whenever a namespace is known, so a diagnosis never lists the
whole cluster when it does not have to.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from graph.entities import Entities
from graph.evidence import (
    Evidence,
    EvidenceView,
    K8sObject,
    key_of,
    log_key,
    name_of,
    namespace_of,
    object_key,
)
from graph.k8s import container_states, evidence_now, is_stale, is_terminating, unhealthy_score
from graph.schemas import ReadSpec
from tools.reader import ClusterReader
from tools.redact import redact_object, redact_text
from tools.results import ErrorReason

# Workload kinds a user may name, as kubectl spells them, to their API kind.
WORKLOAD_KINDS = {
    "deployment": "Deployment",
    "statefulset": "StatefulSet",
    "daemonset": "DaemonSet",
    "job": "Job",
    "cronjob": "CronJob",
    "replicaset": "ReplicaSet",
}
_NOISY_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)


class _CompactCache:
    """Compacted, redacted objects by (source, kind, uid, resourceVersion), least recently used out.

    The API bumps resourceVersion on every change, so an entry can never be stale; a
    long-running service reads the same unchanged objects diagnosis after diagnosis, and
    redaction is the costliest step of a read.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[tuple[str, str, str, str], K8sObject] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, str, str]) -> K8sObject | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[str, str, str, str], obj: K8sObject) -> None:
        with self._lock:
            self._items[key] = obj
            if len(self._items) > self._size:
                self._items.popitem(last=False)


_CACHE = _CompactCache(8192)


def compact(obj: K8sObject, source: str = "") -> K8sObject:
    """Drop what no diagnosis reads (managedFields, last-applied copies), then redact.

    ``source`` names the cluster the object came from (the reader's description): uid and
    resourceVersion are unique within one cluster only, and snapshots of different clusters
    may repeat them. Callers must treat the result as read-only: it may be shared with other
    diagnoses.
    """
    meta = obj.get("metadata") or {}
    uid, version = meta.get("uid"), meta.get("resourceVersion")
    key = (source, str(obj.get("kind", "")), str(uid), str(version)) if uid and version else None
    if key is not None and (cached := _CACHE.get(key)) is not None:
        return cached
    meta = dict(meta)
    meta.pop("managedFields", None)
    annotations = meta.get("annotations")
    if annotations:
        meta["annotations"] = {k: v for k, v in annotations.items() if k not in _NOISY_ANNOTATIONS}
    slim = dict(obj)
    slim["metadata"] = meta
    result: K8sObject = redact_object(slim)
    if key is not None:
        _CACHE.put(key, result)
    return result


def execute(reader: ClusterReader, specs: Iterable[ReadSpec], evidence: Evidence, budget: int) -> int:
    """Perform reads not done before, at most ``budget``; returns how many were made."""
    made = 0
    for spec in specs:
        key = spec.key()
        if key in evidence["reads"]:
            continue
        if made >= budget:
            evidence["missing"].append(
                {"what": _describe(spec), "reason": "skipped: read budget for this step spent"}
            )
            continue
        before = reader.request_count
        status, error = _perform(reader, spec, evidence)
        evidence["requests"] += max(1, reader.request_count - before)
        evidence["reads"][key] = status
        made += 1
        if error is not None:
            evidence["missing"].append({"what": _describe(spec), "reason": error})
    return made


def _describe(spec: ReadSpec) -> str:
    target = f"{spec.kind}/{spec.name}" if spec.name else spec.kind
    if spec.verb == "logs":
        target = f"logs of {spec.namespace}/{spec.name} container {spec.container}" + (
            " (previous instance)" if spec.previous else ""
        )
        return target
    where = f" in namespace {spec.namespace}" if spec.namespace else ""
    selector = (
        f" ({spec.label_selector or spec.field_selector})"
        if spec.label_selector or spec.field_selector
        else ""
    )
    return f"{spec.verb} {target}{where}{selector}"


def _perform(reader: ClusterReader, spec: ReadSpec, evidence: Evidence) -> tuple[str, str | None]:
    if spec.verb == "logs":
        assert spec.namespace and spec.name and spec.container, (
            "a log read names namespace, pod and container"
        )
        log = reader.logs(spec.namespace, spec.name, spec.container, previous=spec.previous)
        if log.ok and log.data is not None:
            evidence["logs"][log_key(spec.namespace, spec.name, spec.container, spec.previous)] = redact_text(
                log.data
            )
            return "ok", None
        return log.status.value, log.explain()
    if spec.verb == "get":
        assert spec.name, "a get names the object"
        got = reader.get(spec.kind, spec.name, spec.namespace)
        if got.ok and got.data is not None:
            obj = compact(
                got.data if "kind" in got.data else {**got.data, "kind": spec.kind}, reader.description
            )
            evidence["objects"][key_of(obj)] = obj
            return "ok", None
        # A 404 is an answer (the object does not exist), not missing data.
        if got.error is not None and got.error.reason is ErrorReason.NOT_FOUND:
            return "no_data", None
        return got.status.value, got.explain()
    listed = reader.list(
        spec.kind,
        spec.namespace,
        label_selector=spec.label_selector,
        field_selector=spec.field_selector,
        limit=2000,
    )
    if listed.ok and listed.data is not None:
        for item in listed.data:
            obj = compact(item if "kind" in item else {**item, "kind": spec.kind}, reader.description)
            evidence["objects"][key_of(obj)] = obj
        return ("ok" if listed.data else "no_data"), None
    return listed.status.value, listed.explain()


# --- stage 1: the namespace ---


def namespace_reads(namespace: str) -> list[ReadSpec]:
    why = "what is running and failing in the namespace"
    return [
        ReadSpec(verb="list", kind="Pod", namespace=namespace, why=why),
        ReadSpec(
            verb="list",
            kind="Event",
            namespace=namespace,
            why="recent events of every object in the namespace",
        ),
        ReadSpec(verb="list", kind="Deployment", namespace=namespace, why="workload health and owner chains"),
        ReadSpec(
            verb="list", kind="ReplicaSet", namespace=namespace, why="owner chains and rollout revisions"
        ),
    ]


def find_pod_reads(pod: str) -> list[ReadSpec]:
    return [
        ReadSpec(verb="list", kind="Pod", field_selector=f"metadata.name={pod}", why="find the named pod")
    ]


# --- stage 2: focus ---


def _named_workloads(
    view: EvidenceView, namespace: str | None, entities: Entities, workload: str | None
) -> list[K8sObject]:
    found: list[K8sObject] = []
    names = list(entities.get("workloads") or [])
    if workload:
        names.insert(0, workload)
    bare = []
    for item in names:
        kind_word, slash, name = item.partition("/")
        if not slash:
            bare.append(item)
            continue
        kind = WORKLOAD_KINDS.get(kind_word.lower().rstrip("s"), kind_word)
        obj = view.obj(kind, name, namespace)
        if obj is not None:
            found.append(obj)
    # Names given without a kind, or mentioned in prose ("orders-api pods keep restarting").
    for name in [*bare, *(entities.get("names") or [])]:
        for kind in ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"):
            obj = view.obj(kind, name, namespace)
            if obj is not None and obj not in found:
                found.append(obj)
    return found


def _workload_degraded(obj: K8sObject) -> bool:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if obj.get("kind") == "Deployment":
        desired = spec.get("replicas", 1)
        conditions = {c.get("type"): c for c in status.get("conditions") or []}
        progressing = conditions.get("Progressing") or {}
        return bool(
            spec.get("paused")
            or (status.get("unavailableReplicas") or 0) > 0
            or (status.get("availableReplicas") or 0) < desired
            or (status.get("updatedReplicas") or 0) < desired
            or progressing.get("reason") == "ProgressDeadlineExceeded"
            or (conditions.get("ReplicaFailure") or {}).get("status") == "True"
        )
    if obj.get("kind") == "Job":
        return any(
            c.get("type") == "Failed" and c.get("status") == "True" for c in status.get("conditions") or []
        )
    return False


def select_focus(
    view: EvidenceView,
    namespace: str | None,
    pod: str | None,
    workload: str | None,
    entities: Entities,
    *,
    follow_words: bool = False,
) -> list[str]:
    """The objects the diagnosis is about, most relevant first (at most a few pods and workloads).

    ``follow_words``: nothing named the namespace either, so when nothing fails the words of
    the paste are all there is to go on.
    """
    pods = view.objs("Pod", namespace)
    now = evidence_now([*pods, *view.objs("Event", namespace)])
    named_pods = [pod] if pod else []
    named_pods += entities.get("pods") or []
    # A paste of `kubectl get pods` names healthy pods too: the failing one among them leads.
    named = sorted(
        (p for p in pods if name_of(p) in set(named_pods)),
        key=lambda p: (-unhealthy_score(p, now), named_pods.index(name_of(p))),
    )
    if named:
        worst = named[0]
        return [key_of(p) for p in named[:3]] + [key_of(o) for o in view.owner_chain(worst)]

    workloads = _named_workloads(view, namespace, entities, workload)
    # Ties break by name, so every source (snapshot order, API order) picks the same pods.
    scored = sorted(
        ((unhealthy_score(p, now), p) for p in pods), key=lambda item: (-item[0], name_of(item[1]))
    )
    focus: list[str] = []
    if workloads:
        for wl in workloads:
            focus.append(key_of(wl))
            owned = [p for p in view.pods_of(wl)] if wl.get("kind") != "Pod" else []
            owned_scored = sorted(owned, key=lambda p: (-unhealthy_score(p, now), name_of(p)))
            focus.extend(key_of(p) for p in owned_scored[:3])
        # A named workload whose own pods are healthy may be failing because of another
        # (a dependency); keep the worst other pods in view behind it.
        focus.extend(key_of(p) for s, p in scored[:2] if s > 0 and not is_stale(p, now))
    else:
        unhealthy = [p for s, p in scored if s > 0 and not is_stale(p, now)]
        if unhealthy:
            worst_owner = view.workload_of(unhealthy[0])
            same = [p for p in unhealthy if view.workload_of(p) == worst_owner]
            focus.extend(key_of(p) for p in same[:3])
            focus.extend(key_of(o) for o in view.owner_chain(unhealthy[0]))
            focus.extend(key_of(p) for p in unhealthy if key_of(p) not in focus)
        for kind in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            for obj in view.objs(kind, namespace):
                # A Job that failed long ago is a leftover, not the problem at hand.
                if _workload_degraded(obj) and not is_stale(obj, now) and key_of(obj) not in focus:
                    focus.append(key_of(obj))
        if not focus and follow_words:
            # Nothing is failing: follow the words of the paste ("the checkout thing") to the
            # workloads whose names contain them, so their logs and config get read.
            for mentioned in mentioned_pods(view, namespace, entities)[:2]:
                focus.append(key_of(mentioned))
                focus.extend(key_of(o) for o in view.owner_chain(mentioned))
    return list(dict.fromkeys(focus))[:8]


def name_tokens(name: str) -> set[str]:
    return {t for t in re.split(r"[-.]", name) if len(t) >= 3 and not t.isdigit()}


def mentioned_pods(view: EvidenceView, namespace: str | None, entities: Entities) -> list[K8sObject]:
    """Pods whose workload name shares a word with the paste, one per workload.

    Best first: more shared words, then the word mentioned first (users name the thing they
    are looking at before the things it talks to).
    """
    order = [
        *(entities.get("words") or []),
        *(t for n in entities.get("names") or [] for t in sorted(name_tokens(n))),
    ]
    rank = {word: i for i, word in reversed(list(enumerate(order)))}
    if not rank:
        return []
    best: dict[str, tuple[int, int, K8sObject]] = {}
    for pod in view.objs("Pod", namespace):
        workload = view.workload_of(pod)
        label = workload[1] if workload else name_of(pod)
        shared = name_tokens(label) & rank.keys()
        if not shared:
            continue
        candidate = (len(shared), -min(rank[w] for w in shared), pod)
        if label not in best or candidate[:2] > best[label][:2]:
            best[label] = candidate
    return [p for _, _, p in sorted(best.values(), key=lambda item: (-item[0], -item[1]))]


def focus_reads(view: EvidenceView) -> list[ReadSpec]:
    """Owner objects not read yet, logs of the failing containers, and the pods' nodes."""
    specs: list[ReadSpec] = []
    focus_pods = view.focus_pods()
    for index, pod in enumerate(focus_pods[:3]):
        ns = namespace_of(pod)
        for ref in view.owner_refs(pod):
            kind, name = str(ref.get("kind")), str(ref.get("name"))
            if view.obj(kind, name, ns) is None:
                specs.append(ReadSpec(verb="get", kind=kind, namespace=ns, name=name, why="owner of the pod"))
        for owner in view.owner_chain(pod):
            for ref in view.owner_refs(owner):
                kind, name = str(ref.get("kind")), str(ref.get("name"))
                if view.obj(kind, name, ns) is None:
                    specs.append(
                        ReadSpec(verb="get", kind=kind, namespace=ns, name=name, why="owner of the owner")
                    )
        other_workload = index == 0 or view.workload_of(pod) != view.workload_of(focus_pods[0])
        if other_workload:
            specs.extend(_log_reads(pod, limit=2 if index == 0 else 1))
        node = (pod.get("spec") or {}).get("nodeName")
        # A replica of the same workload on another node rarely tells more than the first one's
        # node; analyzers that need every node (pressure, NotReady) plan those reads themselves.
        if node and view.obj("Node", node) is None and index < 2 and other_workload:
            specs.append(ReadSpec(verb="get", kind="Node", name=node, why="the node the pod runs on"))
    return specs


def fallback_log_reads(view: EvidenceView) -> list[ReadSpec]:
    """When the first focus pod has no (or an empty) log, the next focus pod's: a replica's log tells the same."""
    pods = view.focus_pods()
    if len(pods) < 2 or any(text.strip() for text in view.pod_logs(pods[0]).values()):
        return []
    return _log_reads(pods[1], limit=1)


def _log_reads(pod: K8sObject, limit: int) -> list[ReadSpec]:
    ns, name = namespace_of(pod), name_of(pod)
    specs: list[ReadSpec] = []
    states = sorted(
        container_states(pod),
        key=lambda c: (
            -(
                (10 if c.waiting_reason in ("CrashLoopBackOff", "Error") else 0)
                + (5 if c.init and not c.ready and (c.restarts or c.terminated_reason) else 0)
                + c.restarts
                + (3 if c.terminated_reason not in (None, "Completed") else 0)
            )
        ),
    )
    for c in states:
        if c.restarts > 0 or c.last_reason:
            specs.append(
                ReadSpec(
                    verb="logs",
                    kind="Pod",
                    namespace=ns,
                    name=name,
                    container=c.name,
                    previous=True,
                    why="log of the crashed instance",
                )
            )
        if c.running or c.terminated_reason or is_terminating(pod):
            specs.append(
                ReadSpec(
                    verb="logs", kind="Pod", namespace=ns, name=name, container=c.name, why="current log"
                )
            )
        if len(specs) >= limit:
            break
    return specs[:limit]


def record_focus(evidence: Evidence, focus: list[str]) -> None:
    evidence["focus"] = list(dict.fromkeys([*focus, *evidence["focus"]]))[:12]


def pod_namespace_from_reads(evidence: Evidence, pod: str) -> str | None:
    for key in evidence["objects"]:
        kind, ns, name = key.split("/", 2)
        if kind == "Pod" and name == pod and ns:
            return ns
    return None


def workload_reads(namespace: str | None, entities: Entities, workload: str | None) -> list[ReadSpec]:
    """Gets for named workloads that the namespace lists do not cover (StatefulSets, Jobs...)."""
    specs: list[ReadSpec] = []
    names = list(entities.get("workloads") or [])
    if workload:
        names.insert(0, workload)
    for item in names:
        kind_word, _, name = item.partition("/")
        kind = WORKLOAD_KINDS.get(kind_word.lower().rstrip("s")) if name else None
        if kind and kind not in ("Deployment", "ReplicaSet") and namespace:
            specs.append(
                ReadSpec(verb="get", kind=kind, namespace=namespace, name=name, why="the named workload")
            )
    return specs


def object_exists(evidence: Evidence, kind: str, name: str, namespace: str | None) -> bool:
    return object_key(kind, name, namespace) in evidence["objects"]


def as_specs(raw: Iterable[dict[str, Any]]) -> list[ReadSpec]:
    return [ReadSpec.model_validate(item) for item in raw]
