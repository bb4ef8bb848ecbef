"""Capture a FORMAT.md snapshot (``cluster.json`` + ``logs/``) from any cluster reader.

What is kept: every kind in :mod:`tools.kinds` that the cluster serves, in the chosen
namespaces (events included); the cluster-scoped objects a diagnosis of those namespaces
reads (nodes, their namespaces, the PersistentVolumes their claims bind, storage and
ingress classes, webhook configurations, cluster issuers, Gatekeeper constraint templates
and their constraints, and the ClusterRoles and ClusterRoleBindings that reach their
service accounts); and log tails,
current and previous, of their pods' containers, failing pods first.

What never is: Secret values (the reader returns key names only) and anything
:mod:`tools.redact` recognises as a secret in objects (env values included) and in logs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.kinds import KINDS
from tools.reader import DEFAULT_LOG_LIMIT_BYTES, ClusterReader, K8sObject
from tools.redact import redact_object, redact_text
from tools.results import ErrorReason, ReadResult

log = logging.getLogger(__name__)

# Cluster-scoped kinds kept whole: small on any cluster and read by the storage, ingress,
# admission and certificate analyzers.
_CLUSTER_KINDS_KEPT_WHOLE = (
    "StorageClass",
    "IngressClass",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "ClusterIssuer",
    "ConstraintTemplate",
)
_KIND_ORDER = {kind: i for i, kind in enumerate(KINDS)}
_MAX_REPORTED_PROBLEMS = 50


class CaptureError(RuntimeError):
    """The cluster could not be read at all, or the output folder is not usable."""


@dataclass
class CaptureReport:
    """What a capture wrote and what it could not read."""

    out_dir: Path
    objects: dict[str, int] = field(default_factory=dict)  # kind -> count written
    logs: int = 0
    problems: list[str] = field(default_factory=list)  # reads that failed (403, timeouts, ...)

    def note(self, result: ReadResult[Any]) -> None:
        if len(self.problems) < _MAX_REPORTED_PROBLEMS:
            self.problems.append(result.explain())


def _key(obj: K8sObject) -> tuple[int, str, str]:
    meta = obj.get("metadata") or {}
    return (
        _KIND_ORDER.get(str(obj.get("kind")), len(_KIND_ORDER)),
        meta.get("namespace") or "",
        meta.get("name") or "",
    )


def _name(obj: K8sObject) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _pod_needs_attention(pod: K8sObject) -> bool:
    status = pod.get("status") or {}
    if status.get("phase") not in ("Running", "Succeeded"):
        return True
    statuses = [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]
    return any(
        cs.get("restartCount") or not cs.get("ready", True) or (cs.get("state") or {}).get("waiting")
        for cs in statuses
    )


def _containers(pod: K8sObject) -> list[tuple[str, bool]]:
    """(container, has a previous instance) for the init and regular containers of a pod."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    restarted = {
        str(cs.get("name"))
        for cs in [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]
        if cs.get("restartCount") or (cs.get("lastState") or {}).get("terminated")
    }
    names = [
        str(c.get("name")) for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
    ]
    return [(name, name in restarted) for name in names if name]


def _safe_part(part: str) -> str:
    if not part or part in (".", "..") or "/" in part or "\\" in part:
        raise CaptureError(f"refusing to write a log path from the name {part!r}")
    return part


class _Capture:
    def __init__(
        self, reader: ClusterReader, namespaces: Sequence[str] | None, report: CaptureReport
    ) -> None:
        self.reader = reader
        self.namespaces = namespaces
        self.report = report
        self.objects: dict[tuple[str, str, str], K8sObject] = {}

    def add(self, objs: Iterable[K8sObject]) -> None:
        for obj in objs:
            meta = obj.get("metadata") or {}
            self.objects[(str(obj.get("kind")), meta.get("namespace") or "", meta.get("name") or "")] = obj

    def of_kind(self, kind: str) -> list[K8sObject]:
        return [obj for (k, _, _), obj in self.objects.items() if k == kind]

    def served(self, kind: str, namespace: str | None = None) -> list[K8sObject] | None:
        """The objects, or None when the cluster does not serve the kind (a CRD not installed)."""
        result = self.reader.list(kind, namespace)
        if result.ok:
            return result.data or []
        if result.error is not None and result.error.reason is ErrorReason.NOT_FOUND:
            return None
        self.report.note(result)
        return []

    def list(self, kind: str, namespace: str | None = None) -> list[K8sObject]:
        return self.served(kind, namespace) or []

    def get(self, kind: str, name: str) -> K8sObject | None:
        result = self.reader.get(kind, name)
        if not result.ok:
            self.report.note(result)
        return result.data

    def namespaced_objects(self) -> None:
        for info in KINDS.values():
            if not info.namespaced:
                continue
            if self.namespaces is None:
                self.add(self.list(info.kind))
                continue
            for ns in self.namespaces:
                objs = self.served(info.kind, ns)
                if objs is None:
                    break
                self.add(objs)

    def cluster_objects(self) -> None:
        self.add(self.list("Node"))
        if self.namespaces is None:
            self.add(self.list("Namespace"))
            self.add(self.list("PersistentVolume"))
        else:
            self.add(obj for ns in self.namespaces if (obj := self.get("Namespace", ns)) is not None)
            volumes = {
                str((pvc.get("spec") or {}).get("volumeName") or "")
                for pvc in self.of_kind("PersistentVolumeClaim")
            }
            wanted = set(self.namespaces)
            self.add(
                pv
                for pv in self.list("PersistentVolume")
                if _name(pv) in volumes
                or ((pv.get("spec") or {}).get("claimRef") or {}).get("namespace") in wanted
            )
        for kind in _CLUSTER_KINDS_KEPT_WHOLE:
            self.add(self.list(kind))
        self.gatekeeper_constraints()
        self.rbac()

    def gatekeeper_constraints(self) -> None:
        """Each ConstraintTemplate defines a constraint kind; its constraints say what is denied."""
        for template in self.of_kind("ConstraintTemplate"):
            names = (((template.get("spec") or {}).get("crd") or {}).get("spec") or {}).get("names") or {}
            if names.get("kind"):
                self.add(self.list(str(names["kind"])))

    def rbac(self) -> None:
        """ClusterRoleBindings that reach a captured namespace's service accounts, and their roles."""
        wanted = set(self.namespaces) if self.namespaces is not None else None
        bindings = [
            b
            for b in self.list("ClusterRoleBinding")
            if any(
                s.get("kind") == "ServiceAccount" and (wanted is None or s.get("namespace") in wanted)
                for s in b.get("subjects") or []
            )
        ]
        self.add(bindings)
        role_names = {
            str((b.get("roleRef") or {}).get("name"))
            for b in [*bindings, *self.of_kind("RoleBinding")]
            if (b.get("roleRef") or {}).get("kind") == "ClusterRole"
        }
        if role_names:
            self.add(role for role in self.list("ClusterRole") if _name(role) in role_names)


def capture_snapshot(
    reader: ClusterReader,
    out_dir: str | Path,
    *,
    namespaces: Sequence[str] | None = None,
    logs_tail: int = 200,
    log_limit_bytes: int = DEFAULT_LOG_LIMIT_BYTES,
    max_log_pods: int = 200,
    overwrite: bool = False,
) -> CaptureReport:
    """Write a snapshot of ``namespaces`` (``None``: all) read through ``reader`` into ``out_dir``.

    Raises :class:`CaptureError` when the cluster does not answer at all or ``out_dir``
    already holds a snapshot (unless ``overwrite``).
    """
    out = Path(out_dir)
    if (out / "cluster.json").exists() and not overwrite:
        raise CaptureError(f"{out} already holds a snapshot (cluster.json); choose another folder")
    ping = reader.ping()
    if not ping.ok:
        raise CaptureError(f"cannot read the cluster: {ping.explain()}")
    report = CaptureReport(out)
    capture = _Capture(reader, list(namespaces) if namespaces is not None else None, report)
    capture.namespaced_objects()
    capture.cluster_objects()
    items = [redact_object(obj) for obj in sorted(capture.objects.values(), key=_key)]
    out.mkdir(parents=True, exist_ok=True)
    document = {"apiVersion": "v1", "kind": "List", "items": items}
    (out / "cluster.json").write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    for obj in items:
        kind = str(obj.get("kind"))
        report.objects[kind] = report.objects.get(kind, 0) + 1
    pods = sorted(capture.of_kind("Pod"), key=lambda p: (not _pod_needs_attention(p), _key(p)))
    for pod in pods[:max_log_pods]:
        report.logs += _capture_pod_logs(reader, pod, out / "logs", logs_tail, log_limit_bytes, report)
    if len(pods) > max_log_pods:
        log.warning("logs captured for %d of %d pods (max_log_pods)", max_log_pods, len(pods))
    return report


def _capture_pod_logs(
    reader: ClusterReader, pod: K8sObject, logs_dir: Path, tail: int, limit_bytes: int, report: CaptureReport
) -> int:
    meta = pod.get("metadata") or {}
    namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
    written = 0
    for container, restarted in _containers(pod):
        for previous in (False, True) if restarted else (False,):
            result = reader.logs(
                namespace, name, container, previous=previous, tail_lines=tail, limit_bytes=limit_bytes
            )
            if not result.ok:
                if result.error is not None and result.error.reason is not ErrorReason.NOT_FOUND:
                    report.note(result)
                continue
            if not result.data:
                continue
            folder = logs_dir / _safe_part(namespace) / _safe_part(name)
            folder.mkdir(parents=True, exist_ok=True)
            suffix = ".previous.log" if previous else ".log"
            (folder / f"{_safe_part(container)}{suffix}").write_text(
                redact_text(result.data or ""), encoding="utf-8"
            )
            written += 1
    return written
