"""The evidence store the Kubernetes-tool node fills, and the read-only view analyzers query.

The store is plain JSON (it lives in graph state and in checkpoints). Objects are kept under
``Kind/namespace/name`` keys, already compacted and redacted; every read records its outcome,
so the critic can tell "not read yet" from "read, and it does not exist".
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from typing_extensions import TypedDict

from graph.k8s import evidence_now, is_stale

K8sObject = dict[str, Any]


class MissingItem(TypedDict):
    what: str
    reason: str


class Evidence(TypedDict):
    objects: dict[str, K8sObject]
    """Every object read, by ``Kind/namespace/name`` (namespace empty for cluster-scoped)."""
    reads: dict[str, str]
    """Outcome of each read by its ReadSpec key: ok, no_data or error."""
    logs: dict[str, str]
    """Container logs by ``namespace/pod/container`` (``#previous`` for the last instance)."""
    missing: list[MissingItem]
    """Reads that failed or found nothing, in words a user can act on."""
    requests: int
    """Cluster API requests made so far."""
    focus: list[str]
    """Object keys the diagnosis is about (the failing pods or workloads), most relevant first."""
    namespace: str | None
    """The namespace being diagnosed, when one is known or was found."""


def empty_evidence(namespace: str | None = None) -> Evidence:
    return Evidence(objects={}, reads={}, logs={}, missing=[], requests=0, focus=[], namespace=namespace)


def object_key(kind: str, name: str, namespace: str | None = None) -> str:
    return f"{kind}/{namespace or ''}/{name}"


def key_of(obj: K8sObject) -> str:
    meta = obj.get("metadata") or {}
    return object_key(str(obj.get("kind", "")), str(meta.get("name", "")), meta.get("namespace"))


def log_key(namespace: str, pod: str, container: str, previous: bool = False) -> str:
    return f"{namespace}/{pod}/{container}" + ("#previous" if previous else "")


def name_of(obj: K8sObject) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def namespace_of(obj: K8sObject) -> str | None:
    ns = (obj.get("metadata") or {}).get("namespace")
    return str(ns) if ns else None


def _event_time(event: K8sObject) -> str:
    return str(
        event.get("lastTimestamp")
        or event.get("eventTime")
        or (event.get("series") or {}).get("lastObservedTime")
        or event.get("firstTimestamp")
        or (event.get("metadata") or {}).get("creationTimestamp")
        or ""
    )


class EvidenceView:
    """Queries over an :class:`Evidence` store. Pure: it never reads the cluster."""

    def __init__(
        self,
        evidence: Evidence,
        error_message: str = "",
        entities: dict[str, Any] | None = None,
        hypotheses: list[dict[str, Any]] | None = None,
    ):
        self.evidence = evidence
        self.error_message = error_message
        self.entities: dict[str, Any] = entities or {}
        self.hypotheses: dict[str, float] = {h["category"]: float(h["score"]) for h in hypotheses or []}
        self._by_kind: dict[str, list[K8sObject]] = {}
        self._clock: tuple[datetime | None] | None = None
        for key, obj in evidence["objects"].items():
            self._by_kind.setdefault(key.split("/", 1)[0], []).append(obj)

    def suspects(self, category: str, threshold: float = 0.0) -> bool:
        """Whether the pasted text made ``category`` a hypothesis (above ``threshold``)."""
        return self.hypotheses.get(category, -1.0) > threshold

    # --- objects ---
    @property
    def namespace(self) -> str | None:
        return self.evidence.get("namespace")

    def obj(self, kind: str, name: str, namespace: str | None = None) -> K8sObject | None:
        found = self.evidence["objects"].get(object_key(kind, name, namespace))
        if found is None and namespace is None:
            # Cluster-scoped lookups may be asked with a namespace by mistake; try both ways.
            matches = [o for o in self._by_kind.get(kind, []) if name_of(o) == name]
            return matches[0] if len(matches) == 1 else None
        return found

    def objs(self, kind: str, namespace: str | None = None) -> list[K8sObject]:
        objs = self._by_kind.get(kind, [])
        if namespace is None:
            return list(objs)
        return [o for o in objs if namespace_of(o) == namespace]

    def by_key(self, key: str) -> K8sObject | None:
        return self.evidence["objects"].get(key)

    def focus_objects(self) -> list[K8sObject]:
        return [o for k in self.evidence["focus"] if (o := self.by_key(k)) is not None]

    def focus_pods(self) -> list[K8sObject]:
        return [o for o in self.focus_objects() if o.get("kind") == "Pod"]

    def was_read(self, read_key: str) -> bool:
        return read_key in self.evidence["reads"]

    def read_status(self, read_key: str) -> str | None:
        return self.evidence["reads"].get(read_key)

    # --- relations ---
    def owner(self, obj: K8sObject) -> K8sObject | None:
        """The controller owner of ``obj`` when it has been read."""
        ns = namespace_of(obj)
        for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
            if ref.get("controller", True):
                found = self.obj(str(ref.get("kind")), str(ref.get("name")), ns)
                if found is not None:
                    return found
        return None

    def owner_chain(self, obj: K8sObject) -> list[K8sObject]:
        """Owners from the nearest up (ReplicaSet, Deployment; Job, CronJob), as far as read."""
        chain: list[K8sObject] = []
        current: K8sObject | None = obj
        for _ in range(4):  # Pod -> RS -> Deployment is the deepest chain Kubernetes builds
            current = self.owner(current) if current else None
            if current is None:
                break
            chain.append(current)
        return chain

    def owner_refs(self, obj: K8sObject) -> list[dict[str, Any]]:
        return list((obj.get("metadata") or {}).get("ownerReferences") or [])

    def workload_of(self, obj: K8sObject) -> tuple[str, str] | None:
        """(kind, name) of the top-level workload that manages ``obj``, for kubectl commands.

        Falls back to the owner reference (and the pod-template-hash naming convention of
        ReplicaSets) when the owner object itself was not read.
        """
        chain = self.owner_chain(obj)
        if chain:
            top = chain[-1]
            return str(top.get("kind")), name_of(top)
        refs = self.owner_refs(obj)
        if not refs:
            return None
        ref = refs[0]
        kind, name = str(ref.get("kind")), str(ref.get("name"))
        if kind == "ReplicaSet":
            labels = (obj.get("metadata") or {}).get("labels") or {}
            pod_hash = labels.get("pod-template-hash")
            if pod_hash and name.endswith("-" + pod_hash):
                return "Deployment", name[: -len(pod_hash) - 1]
        return kind, name

    def events_for(self, obj: K8sObject, *, with_owners: bool = False) -> list[K8sObject]:
        """Events whose involvedObject is ``obj`` (and its owners), newest first."""
        targets = [obj, *self.owner_chain(obj)] if with_owners else [obj]
        wanted = {(str(t.get("kind")), name_of(t), namespace_of(t) or "") for t in targets}
        uids = {
            str((t.get("metadata") or {}).get("uid")) for t in targets if (t.get("metadata") or {}).get("uid")
        }
        found = []
        for event in self._by_kind.get("Event", []):
            inv = event.get("involvedObject") or event.get("regarding") or {}
            ident = (str(inv.get("kind")), str(inv.get("name")), str(inv.get("namespace") or ""))
            if (
                ident in wanted
                or (inv.get("uid") and str(inv.get("uid")) in uids)
                or ident[0] in ("Node",)
                and (ident[0], ident[1], "") in wanted
            ):
                found.append(event)
        # An event from long before the rest of the activity (a one-off warning last week) is
        # history, not evidence of the current failure.
        now = self._now()
        return sorted((e for e in found if not is_stale(e, now)), key=_event_time, reverse=True)

    def _now(self) -> datetime | None:
        if self._clock is None:
            self._clock = (evidence_now([*self._by_kind.get("Pod", []), *self._by_kind.get("Event", [])]),)
        return self._clock[0]

    def events(self, namespace: str | None = None, reasons: Iterable[str] | None = None) -> list[K8sObject]:
        """Events of a namespace (all when None), optionally of some reasons, newest first; like
        :meth:`events_for`, without those from long before the rest of the activity."""
        wanted = set(reasons) if reasons is not None else None
        found = [
            e
            for e in self._by_kind.get("Event", [])
            if (namespace is None or namespace_of(e) == namespace)
            and (wanted is None or e.get("reason") in wanted)
        ]
        now = self._now()
        return sorted((e for e in found if not is_stale(e, now)), key=_event_time, reverse=True)

    def pods_of(self, workload: K8sObject) -> list[K8sObject]:
        """Pods whose owner chain reaches ``workload`` (read pods only)."""
        target = key_of(workload)
        return [
            p
            for p in self.objs("Pod", namespace_of(workload))
            if target in {key_of(o) for o in self.owner_chain(p)}
        ]

    # --- logs ---
    def log(self, namespace: str, pod: str, container: str, previous: bool = False) -> str | None:
        return self.evidence["logs"].get(log_key(namespace, pod, container, previous))

    def pod_logs(self, pod: K8sObject) -> dict[str, str]:
        """Every log read for a pod, keyed ``container`` or ``container#previous``."""
        prefix = f"{namespace_of(pod)}/{name_of(pod)}/"
        return {k[len(prefix) :]: v for k, v in self.evidence["logs"].items() if k.startswith(prefix)}
