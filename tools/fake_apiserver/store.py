"""The stand-in's object store: snapshot objects indexed by resource, namespace and name.

Everything is indexed once at load, so a request names its slice of the store directly: a
namespaced list touches only that namespace's objects and a get is one dict lookup, which
keeps the stand-in fast at 10,000 pods.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tools.kinds import KINDS, KindInfo, infer_kind_info
from tools.reader import K8sObject

# The groups every cluster serves; the others (cert-manager, Gatekeeper) are CRDs and are
# discovered only when the snapshot holds objects of them, as on a cluster without them.
_BUILTIN_SUFFIX = ".k8s.io"


def is_builtin_group(group: str) -> bool:
    return group == "" or "." not in group or group.endswith(_BUILTIN_SUFFIX)


# The fields kube-apiserver accepts in a fieldSelector, per kind (others answer 400).
_COMMON_FIELDS = frozenset({"metadata.name", "metadata.namespace"})
_EXTRA_FIELDS: dict[str, frozenset[str]] = {
    "Pod": frozenset(
        {
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        }
    ),
    "Event": frozenset(
        {
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        }
    ),
    "Node": frozenset({"spec.unschedulable"}),
    "Secret": frozenset({"type"}),
    "Namespace": frozenset({"status.phase"}),
    "ReplicaSet": frozenset({"status.replicas"}),
    "Job": frozenset({"status.successful"}),
}


def supported_fields(kind: str) -> frozenset[str]:
    return _COMMON_FIELDS | _EXTRA_FIELDS.get(kind, frozenset())


class BadContinue(ValueError):
    """A continue token this store did not issue (400, as from the API)."""


@dataclass
class KindIndex:
    """One resource's objects, sorted the way the API lists them (namespace, then name)."""

    info: KindInfo
    all: list[K8sObject] = field(default_factory=list)
    by_namespace: dict[str, list[K8sObject]] = field(default_factory=dict)
    by_name: dict[tuple[str, str], K8sObject] = field(default_factory=dict)


def _key(obj: K8sObject) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return (str(meta.get("namespace") or ""), str(meta.get("name") or ""))


class ObjectStore:
    """Snapshot objects behind the REST resources that serve them."""

    def __init__(self, items: Iterable[K8sObject], resource_version: str = "1000") -> None:
        self.resource_version = resource_version
        self._item_json: dict[int, bytes] = {}
        grouped: dict[str, list[K8sObject]] = defaultdict(list)
        infos: dict[str, KindInfo] = {}
        for item in items:
            kind = str(item["kind"])
            if kind not in infos:
                infos[kind] = infer_kind_info(str(item.get("apiVersion") or "v1"), kind)
            grouped[kind].append(item)
        for info in KINDS.values():
            if is_builtin_group(info.group):
                infos.setdefault(info.kind, info)
        self.kinds: dict[str, KindIndex] = {}
        self.by_resource: dict[tuple[str, str, str], KindIndex] = {}
        for kind, info in infos.items():
            index = KindIndex(info)
            index.all = sorted(grouped.get(kind, []), key=_key)
            by_ns: dict[str, list[K8sObject]] = defaultdict(list)
            for obj in index.all:
                ns, name = _key(obj)
                by_ns[ns].append(obj)
                index.by_name[(ns, name)] = obj
            index.by_namespace = dict(by_ns)
            self.kinds[kind] = index
            self.by_resource[(info.group, info.version, info.plural)] = index

    def groups(self) -> dict[str, list[str]]:
        """Served group -> versions ("" is the core group)."""
        found: dict[str, list[str]] = defaultdict(list)
        for group, version, _ in self.by_resource:
            if version not in found[group]:
                found[group].append(version)
        return dict(found)

    def resources(self, group: str, version: str) -> list[KindInfo]:
        return [
            index.info for (g, v, _), index in sorted(self.by_resource.items()) if (g, v) == (group, version)
        ]

    def list_item_json(self, obj: K8sObject) -> bytes:
        """``obj`` as a list item (no kind/apiVersion, as kube-apiserver sends items), encoded once."""
        key = id(obj)
        encoded = self._item_json.get(key)
        if encoded is None:
            item = {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}
            encoded = json.dumps(item, separators=(",", ":")).encode()
            # Objects never change while served, so the encoding is cached for the next page.
            self._item_json[key] = encoded
        return encoded

    def pod(self, namespace: str, name: str) -> K8sObject | None:
        return self.kinds["Pod"].by_name.get((namespace, name))


def encode_continue(resource: str, namespace: str, offset: int, resource_version: str) -> str:
    raw = json.dumps({"r": resource, "ns": namespace, "i": offset, "rv": resource_version})
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_continue(token: str, resource: str, namespace: str) -> int:
    """The offset a token points at; BadContinue when it belongs to another list."""
    try:
        doc: Any = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset = int(doc["i"])
        same_list = doc["r"] == resource and doc["ns"] == namespace
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise BadContinue(f"continue key is not valid: {exc}") from None
    if not same_list or offset < 0:
        raise BadContinue("continue key is not valid: it was issued for a different list")
    return offset
