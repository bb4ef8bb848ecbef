"""Kubernetes semantics the nodes and analyzers share: pod health, container states, quantities."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

K8sObject = dict[str, Any]

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "P": Decimal(10**15),
    "E": Decimal(10**18),
}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$")


def parse_quantity(value: Any) -> Decimal | None:
    """A resource quantity (``500m``, ``1.5Gi``, ``2``) as a number of base units, or None."""
    if value is None:
        return None
    match = _QUANTITY.match(str(value).strip())
    if not match:
        return None
    number, suffix = match.group(1), match.group(2) or ""
    try:
        base = Decimal(number)
    except InvalidOperation:
        return None
    if suffix in _BINARY:
        return base * _BINARY[suffix]
    return base * _DECIMAL[suffix]


def format_bytes(value: Decimal | float | int) -> str:
    """Bytes as the largest binary unit that keeps an integer-ish value (``768Mi``)."""
    amount = Decimal(value)
    for unit in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
        size = _BINARY[unit]
        if amount >= size and (amount % size == 0 or amount >= size * 10):
            return f"{(amount / size).quantize(Decimal(1))}{unit}"
    return str(int(amount))


def format_cpu(value: Decimal) -> str:
    millis = int(value * 1000)
    return f"{millis // 1000}" if millis % 1000 == 0 else f"{millis}m"


@dataclass(frozen=True)
class ContainerState:
    """One container's status, flattened: what it is doing now and how it last ended."""

    name: str
    init: bool
    ready: bool
    restarts: int
    waiting_reason: str | None
    waiting_message: str | None
    running: bool
    terminated_reason: str | None
    terminated_exit_code: int | None
    terminated_message: str | None
    last_reason: str | None
    last_exit_code: int | None
    last_message: str | None
    image: str | None


def _state(status: K8sObject, init: bool) -> ContainerState:
    state = status.get("state") or {}
    last = (status.get("lastState") or {}).get("terminated") or {}
    waiting = state.get("waiting") or {}
    terminated = state.get("terminated") or {}
    return ContainerState(
        name=str(status.get("name", "")),
        init=init,
        ready=bool(status.get("ready")),
        restarts=int(status.get("restartCount") or 0),
        waiting_reason=waiting.get("reason"),
        waiting_message=waiting.get("message"),
        running="running" in state,
        terminated_reason=terminated.get("reason"),
        terminated_exit_code=terminated.get("exitCode"),
        terminated_message=terminated.get("message"),
        last_reason=last.get("reason"),
        last_exit_code=last.get("exitCode"),
        last_message=last.get("message"),
        image=status.get("image"),
    )


def container_states(pod: K8sObject) -> list[ContainerState]:
    """Init containers first, then app containers (ephemeral ones are debugging aids, skipped)."""
    status = pod.get("status") or {}
    init = [_state(s, True) for s in status.get("initContainerStatuses") or []]
    main = [_state(s, False) for s in status.get("containerStatuses") or []]
    return init + main


def container_spec(pod_or_template: K8sObject, name: str) -> K8sObject | None:
    spec = pod_or_template.get("spec") or {}
    if "template" in spec:
        spec = (spec.get("template") or {}).get("spec") or {}
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if c.get("name") == name:
            return dict(c)
    return None


def pod_spec(obj: K8sObject) -> K8sObject:
    """The pod spec of a Pod or of a workload's template (CronJob's job template included)."""
    spec = obj.get("spec") or {}
    if "jobTemplate" in spec:
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    if "template" in spec:
        return dict((spec.get("template") or {}).get("spec") or {})
    return dict(spec)


def pod_condition(pod: K8sObject, type_: str) -> K8sObject | None:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == type_:
            return dict(cond)
    return None


def node_condition(node: K8sObject, type_: str) -> K8sObject | None:
    return pod_condition(node, type_)


def is_terminating(obj: K8sObject) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


_BAD_WAITING = {
    "CrashLoopBackOff": 9,
    "ImagePullBackOff": 9,
    "ErrImagePull": 9,
    "CreateContainerConfigError": 9,
    "CreateContainerError": 9,
    "InvalidImageName": 9,
    "RunContainerError": 9,
    "ContainerCreating": 3,
    "PodInitializing": 2,
}


def parse_time(value: Any) -> datetime | None:
    """An API timestamp (``2026-11-27T08:14:00Z``, with or without fractions) as an aware datetime."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def activity_times(obj: K8sObject) -> list[datetime]:
    """When something last happened to an object: event times, pod/container transitions,
    job start/completion, creation. What a snapshot says about "when", since it has no clock."""
    meta = obj.get("metadata") or {}
    status = obj.get("status") or {}
    raw: list[Any] = [meta.get("creationTimestamp"), meta.get("deletionTimestamp")]
    if obj.get("kind") == "Event":
        series = obj.get("series") or {}
        said = [obj.get("lastTimestamp"), obj.get("eventTime"), series.get("lastObservedTime")]
        if any(said):
            # An event's own times say when it happened; its object may have been re-created since.
            return [t for t in (parse_time(v) for v in said) if t is not None]
        raw.append(obj.get("firstTimestamp"))
    raw += [status.get("startTime"), status.get("completionTime")]
    for cond in status.get("conditions") or []:
        raw += [cond.get("lastTransitionTime"), cond.get("lastProbeTime"), cond.get("lastUpdateTime")]
    for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        for holder in (cs.get("state") or {}, cs.get("lastState") or {}):
            for detail in holder.values():
                if isinstance(detail, dict):
                    raw += [detail.get("startedAt"), detail.get("finishedAt")]
    return [t for t in (parse_time(v) for v in raw) if t is not None]


def last_activity(obj: K8sObject) -> datetime | None:
    times = activity_times(obj)
    return max(times) if times else None


def evidence_now(objs: Iterable[K8sObject]) -> datetime | None:
    """The newest time seen among ``objs`` (pods and events): "now" for a snapshot."""
    latest = [t for t in (last_activity(o) for o in objs) if t is not None]
    return max(latest) if latest else None


STALE_AFTER = timedelta(hours=12)
STALE_FACTOR = 0.1
"""What a stale failure weighs next to a current one: still visible, never the focus."""


def is_terminal(obj: K8sObject) -> bool:
    """A pod that ended (Failed/Succeeded) or a Job that finished: its state no longer changes,
    so its age says whether it belongs to the current problem."""
    status = obj.get("status") or {}
    if obj.get("kind") == "Job":
        return any(
            c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
            for c in status.get("conditions") or []
        )
    return status.get("phase") in ("Failed", "Succeeded")


def is_stale(obj: K8sObject, now: datetime | None) -> bool:
    """Whether a finished pod/Job or an event last did anything long before ``now``.

    A Pending or crashlooping pod is never stale: its failure is still going on, however old.
    """
    if now is None or (obj.get("kind") != "Event" and not is_terminal(obj)):
        return False
    last = last_activity(obj)
    return last is not None and now - last > STALE_AFTER


def staleness_factor(obj: K8sObject, now: datetime | None) -> float:
    return STALE_FACTOR if is_stale(obj, now) else 1.0


def unhealthy_score(pod: K8sObject, now: datetime | None = None) -> float:
    """How clearly a pod is failing; 0 for a healthy one. Ranks pods when none was named.

    With ``now`` (see :func:`evidence_now`), a pod that failed long before it (an old Evicted
    pod left behind) weighs a tenth: leftovers must not outrank the current failure.
    """
    return _unhealthy_score(pod) * staleness_factor(pod, now)


def _unhealthy_score(pod: K8sObject) -> float:
    status = pod.get("status") or {}
    phase = status.get("phase")
    score = 0.0
    if phase == "Failed":
        score += 6 + (2 if status.get("reason") == "Evicted" else 0)
    elif phase == "Pending":
        score += 4
        cond = pod_condition(pod, "PodScheduled")
        if cond and cond.get("status") == "False":
            score += 4
    elif phase == "Unknown":
        score += 5
    if is_terminating(pod):
        score += 2
    for c in container_states(pod):
        if c.waiting_reason:
            score += _BAD_WAITING.get(c.waiting_reason, 4) + (2 if c.init else 0)
        if c.terminated_reason and c.terminated_reason != "Completed":
            score += 5
        if c.last_reason in ("OOMKilled", "Error", "ContainerCannotRun", "StartError"):
            score += 3
        score += min(c.restarts, 20) * 0.3
        if not c.ready and phase == "Running" and not c.init:
            score += 2
    return score


def owner_kind_name(obj: K8sObject) -> tuple[str, str] | None:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    for ref in refs:
        if ref.get("controller", True):
            return str(ref.get("kind")), str(ref.get("name"))
    return None


def resource_of(kind: str) -> str:
    """The kubectl resource word for a kind (``deployment``, ``statefulset``...)."""
    return kind.lower()


def effective_requests(pod_or_template: K8sObject, field: str = "requests") -> dict[str, Decimal]:
    """What the scheduler and quota count for a pod: per resource, the larger of the sum over
    app containers and the largest init container (init containers run one at a time)."""
    spec = pod_spec(pod_or_template)
    totals: dict[str, Decimal] = {}
    for container in spec.get("containers") or []:
        for resource, value in ((container.get("resources") or {}).get(field) or {}).items():
            amount = parse_quantity(value)
            if amount is not None:
                totals[resource] = totals.get(resource, Decimal(0)) + amount
    for container in spec.get("initContainers") or []:
        for resource, value in ((container.get("resources") or {}).get(field) or {}).items():
            amount = parse_quantity(value)
            if amount is not None and amount > totals.get(resource, Decimal(0)):
                totals[resource] = amount
    return totals


def format_resource(resource: str, value: Decimal) -> str:
    """A quantity in the unit kubectl shows for the resource (``3920m`` cpu, ``768Mi`` memory)."""
    if resource.endswith("cpu"):
        return format_cpu(value)
    if resource.endswith(("memory", "storage")) or resource.startswith("hugepages-"):
        return format_bytes(value)
    return str(int(value)) if value == value.to_integral_value() else str(value)


def selector_matches(selector: dict[str, Any] | None, labels: dict[str, Any] | None) -> bool:
    """Whether a map-style selector (a Service's ``spec.selector``) selects ``labels``.

    An empty or missing selector selects nothing here: a Service without a selector has
    its Endpoints managed by hand, not by the endpoints controller.
    """
    if not selector:
        return False
    have = labels or {}
    return all(have.get(key) == value for key, value in selector.items())


def label_selector_matches(selector: dict[str, Any] | None, labels: dict[str, Any] | None) -> bool:
    """Whether a ``metav1.LabelSelector`` (matchLabels + matchExpressions) selects ``labels``.

    Unlike :func:`selector_matches`, an empty LabelSelector selects everything (NetworkPolicy
    ``podSelector: {}``).
    """
    have = labels or {}
    sel = selector or {}
    if any(have.get(k) != v for k, v in (sel.get("matchLabels") or {}).items()):
        return False
    for expr in sel.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), list(expr.get("values") or [])
        if op == "In" and have.get(key) not in values:
            return False
        if op == "NotIn" and key in have and have.get(key) in values:
            return False
        if op == "Exists" and key not in have:
            return False
        if op == "DoesNotExist" and key in have:
            return False
    return True
