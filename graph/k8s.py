"""Kubernetes semantics the nodes and analyzers share: pod health, container states, quantities."""

from __future__ import annotations

import re
from dataclasses import dataclass
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


def unhealthy_score(pod: K8sObject) -> float:
    """How clearly a pod is failing; 0 for a healthy one. Ranks pods when none was named."""
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
