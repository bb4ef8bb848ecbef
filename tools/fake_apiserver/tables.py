"""Server-side ``Table`` answers, so plain ``kubectl get`` prints the columns users know.

kubectl asks for ``application/json;as=Table;g=meta.k8s.io;v=v1`` when it prints for people.
The columns and the pod STATUS wording follow kubectl's own printers for the common kinds;
other kinds get NAME and AGE, as for a CRD without printer columns.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tools.reader import K8sObject

Column = tuple[str, str, int]  # name, type, priority (1 = only with -o wide)
Row = Callable[[K8sObject, datetime], list[Any]]


def human_duration(seconds: float) -> str:
    """kubectl's AGE wording (apimachinery ``duration.HumanDuration``)."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if hours < 24 * 365 * 2:
        return f"{days}d"
    if hours < 24 * 365 * 8:
        return f"{days // 365}y{days % 365}d" if days % 365 else f"{days // 365}y"
    return f"{days // 365}y"


def _since(timestamp: Any, now: datetime) -> str:
    if not timestamp:
        return "<unknown>"
    try:
        then = datetime.fromisoformat(str(timestamp).replace("Z", "+00:00"))
    except ValueError:
        return "<unknown>"
    return human_duration((now - then).total_seconds())


def _age(obj: K8sObject, now: datetime) -> str:
    return _since((obj.get("metadata") or {}).get("creationTimestamp"), now)


def _name(obj: K8sObject) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def pod_status(pod: K8sObject) -> str:
    """The STATUS column of ``kubectl get pods`` (kubectl's printPod, without node-lost cases)."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    reason = str(status.get("reason") or status.get("phase") or "Unknown")
    init_count = len(spec.get("initContainers") or [])
    initializing = False
    for i, ics in enumerate(status.get("initContainerStatuses") or []):
        state = ics.get("state") or {}
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if terminated and terminated.get("exitCode") == 0:
            continue
        initializing = True
        if terminated:
            reason = "Init:" + str(terminated.get("reason") or f"ExitCode:{terminated.get('exitCode')}")
        elif waiting and waiting.get("reason") and waiting.get("reason") != "PodInitializing":
            reason = f"Init:{waiting['reason']}"
        else:
            reason = f"Init:{i}/{init_count}"
        break
    if not initializing:
        running = False
        for cs in reversed(status.get("containerStatuses") or []):
            state = cs.get("state") or {}
            waiting, terminated = state.get("waiting"), state.get("terminated")
            if waiting and waiting.get("reason"):
                reason = str(waiting["reason"])
            elif terminated and terminated.get("reason"):
                reason = str(terminated["reason"])
            elif terminated:
                reason = f"ExitCode:{terminated.get('exitCode')}"
            elif cs.get("ready") and state.get("running") is not None:
                running = True
        if reason == "Completed" and running:
            reason = "Running"
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        reason = "Terminating"
    return reason


def _pod_row(pod: K8sObject, now: datetime) -> list[Any]:
    status = pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    total = len((pod.get("spec") or {}).get("containers") or [])
    ready = sum(1 for cs in statuses if cs.get("ready"))
    restarts = sum(int(cs.get("restartCount") or 0) for cs in statuses)
    finished = [
        ((cs.get("lastState") or {}).get("terminated") or {}).get("finishedAt")
        for cs in statuses
        if cs.get("lastState")
    ]
    last = max((f for f in finished if f), default=None)
    restart_cell = f"{restarts} ({_since(last, now)} ago)" if restarts and last else str(restarts)
    return [
        _name(pod),
        f"{ready}/{total}",
        pod_status(pod),
        restart_cell,
        _age(pod, now),
        status.get("podIP") or "<none>",
        (pod.get("spec") or {}).get("nodeName") or "<none>",
    ]


def _node_row(node: K8sObject, now: datetime) -> list[Any]:
    conditions = {c.get("type"): c.get("status") for c in (node.get("status") or {}).get("conditions") or []}
    state = {"True": "Ready", "False": "NotReady"}.get(str(conditions.get("Ready")), "Unknown")
    if (node.get("spec") or {}).get("unschedulable"):
        state += ",SchedulingDisabled"
    labels = (node.get("metadata") or {}).get("labels") or {}
    prefix = "node-role.kubernetes.io/"
    roles = ",".join(sorted(k[len(prefix) :] for k in labels if k.startswith(prefix))) or "<none>"
    version = ((node.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion") or ""
    return [_name(node), state, roles, _age(node, now), version]


def _replicas_row(obj: K8sObject, now: datetime) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    return [
        _name(obj),
        f"{status.get('readyReplicas') or 0}/{spec.get('replicas', 1)}",
        status.get("updatedReplicas") or 0,
        status.get("availableReplicas") or 0,
        _age(obj, now),
    ]


def _replicaset_row(obj: K8sObject, now: datetime) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    return [
        _name(obj),
        spec.get("replicas", 1),
        status.get("replicas") or 0,
        status.get("readyReplicas") or 0,
        _age(obj, now),
    ]


def _statefulset_row(obj: K8sObject, now: datetime) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    return [_name(obj), f"{status.get('readyReplicas') or 0}/{spec.get('replicas', 1)}", _age(obj, now)]


def _service_row(svc: K8sObject, now: datetime) -> list[Any]:
    spec = svc.get("spec") or {}
    ports = ",".join(
        f"{p.get('port')}{':' + str(p['nodePort']) if p.get('nodePort') else ''}/{p.get('protocol', 'TCP')}"
        for p in spec.get("ports") or []
    )
    ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    external = ",".join(str(i.get("ip") or i.get("hostname")) for i in ingress) or "<none>"
    return [
        _name(svc),
        spec.get("type", "ClusterIP"),
        spec.get("clusterIP") or "<none>",
        external,
        ports or "<none>",
        _age(svc, now),
    ]


def _event_row(event: K8sObject, now: datetime) -> list[Any]:
    involved = event.get("involvedObject") or {}
    seen = (
        event.get("lastTimestamp")
        or event.get("eventTime")
        or (event.get("metadata") or {}).get("creationTimestamp")
    )
    return [
        _since(seen, now),
        event.get("type") or "",
        event.get("reason") or "",
        f"{str(involved.get('kind') or '').lower()}/{involved.get('name') or ''}",
        event.get("message") or "",
    ]


def _namespace_row(ns: K8sObject, now: datetime) -> list[Any]:
    return [_name(ns), (ns.get("status") or {}).get("phase") or "Active", _age(ns, now)]


def _job_row(job: K8sObject, now: datetime) -> list[Any]:
    spec, status = job.get("spec") or {}, job.get("status") or {}
    conditions = {c.get("type") for c in status.get("conditions") or [] if c.get("status") == "True"}
    state = "Complete" if "Complete" in conditions else "Failed" if "Failed" in conditions else "Running"
    return [_name(job), state, f"{status.get('succeeded') or 0}/{spec.get('completions', 1)}", _age(job, now)]


def _pvc_row(pvc: K8sObject, now: datetime) -> list[Any]:
    spec, status = pvc.get("spec") or {}, pvc.get("status") or {}
    return [
        _name(pvc),
        status.get("phase") or "Pending",
        spec.get("volumeName") or "",
        (status.get("capacity") or {}).get("storage") or "",
        ",".join(status.get("accessModes") or spec.get("accessModes") or []),
        spec.get("storageClassName") or "<unset>",
        _age(pvc, now),
    ]


def _default_row(obj: K8sObject, now: datetime) -> list[Any]:
    return [_name(obj), _age(obj, now)]


_S, _I = "string", "integer"
_PRINTERS: dict[str, tuple[list[Column], Row]] = {
    "Pod": (
        [
            ("Name", _S, 0),
            ("Ready", _S, 0),
            ("Status", _S, 0),
            ("Restarts", _S, 0),
            ("Age", _S, 0),
            ("IP", _S, 1),
            ("Node", _S, 1),
        ],
        _pod_row,
    ),
    "Node": (
        [("Name", _S, 0), ("Status", _S, 0), ("Roles", _S, 0), ("Age", _S, 0), ("Version", _S, 0)],
        _node_row,
    ),
    "Deployment": (
        [("Name", _S, 0), ("Ready", _S, 0), ("Up-to-date", _I, 0), ("Available", _I, 0), ("Age", _S, 0)],
        _replicas_row,
    ),
    "ReplicaSet": (
        [("Name", _S, 0), ("Desired", _I, 0), ("Current", _I, 0), ("Ready", _I, 0), ("Age", _S, 0)],
        _replicaset_row,
    ),
    "StatefulSet": ([("Name", _S, 0), ("Ready", _S, 0), ("Age", _S, 0)], _statefulset_row),
    "Service": (
        [
            ("Name", _S, 0),
            ("Type", _S, 0),
            ("Cluster-IP", _S, 0),
            ("External-IP", _S, 0),
            ("Port(s)", _S, 0),
            ("Age", _S, 0),
        ],
        _service_row,
    ),
    "Event": (
        [("Last Seen", _S, 0), ("Type", _S, 0), ("Reason", _S, 0), ("Object", _S, 0), ("Message", _S, 0)],
        _event_row,
    ),
    "Namespace": ([("Name", _S, 0), ("Status", _S, 0), ("Age", _S, 0)], _namespace_row),
    "Job": ([("Name", _S, 0), ("Status", _S, 0), ("Completions", _S, 0), ("Age", _S, 0)], _job_row),
    "PersistentVolumeClaim": (
        [
            ("Name", _S, 0),
            ("Status", _S, 0),
            ("Volume", _S, 0),
            ("Capacity", _S, 0),
            ("Access Modes", _S, 0),
            ("StorageClass", _S, 0),
            ("Age", _S, 0),
        ],
        _pvc_row,
    ),
}


def wants_table(accept: str | None) -> bool:
    return bool(accept) and "as=Table" in str(accept)


def table_document(
    kind: str,
    objects: list[K8sObject],
    resource_version: str,
    continue_token: str | None,
    include_object: str | None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A ``meta.k8s.io/v1`` Table of ``objects`` with kubectl's columns for ``kind``."""
    columns, row = _PRINTERS.get(kind, ([("Name", _S, 0), ("Age", _S, 0)], _default_row))
    moment = now or datetime.now(UTC)
    rows = []
    for obj in objects:
        entry: dict[str, Any] = {"cells": row(obj, moment)}
        if include_object == "Object":
            entry["object"] = obj
        elif include_object != "None":
            partial = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
            entry["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": partial,
            }
        rows.append(entry)
    meta: dict[str, Any] = {"resourceVersion": resource_version}
    if continue_token:
        meta["continue"] = continue_token
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
        "columnDefinitions": [
            {
                "name": name,
                "type": kind_,
                "format": "name" if name == "Name" else "",
                "description": "",
                "priority": prio,
            }
            for name, kind_, prio in columns
        ],
        "rows": rows,
    }
