"""Helpers analyzers share: finding the failing pod and container, naming workloads in commands."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from datetime import datetime

from graph.analyzers.base import Fact, Finding
from graph.evidence import EvidenceView, K8sObject, name_of, namespace_of
from graph.k8s import ContainerState, container_states, evidence_now, is_stale, last_activity
from graph.schemas import ReadSpec


def workload_ref(view: EvidenceView, obj: K8sObject) -> str:
    """``deployment/orders-api`` for kubectl, falling back to the object itself (``pod/x``)."""
    found = view.workload_of(obj)
    if found is None:
        return f"{str(obj.get('kind', 'pod')).lower()}/{name_of(obj)}"
    kind, name = found
    return f"{kind.lower()}/{name}"


def workload_name(view: EvidenceView, obj: K8sObject) -> str:
    return workload_ref(view, obj).split("/", 1)[1]


def candidate_pods(view: EvidenceView) -> list[K8sObject]:
    """Focus pods first, then every other pod read, so analyzers see the failing ones first."""
    focus = view.focus_pods()
    seen = {id(p) for p in focus}
    return focus + [p for p in view.objs("Pod", view.namespace) if id(p) not in seen]


def failing_containers(
    view: EvidenceView,
    predicate: Callable[[ContainerState], bool],
    *,
    init: bool | None = None,
) -> Iterable[tuple[K8sObject, ContainerState]]:
    """(pod, container) pairs among candidate pods whose state satisfies ``predicate``."""
    for pod in candidate_pods(view):
        for state in container_states(pod):
            if init is not None and state.init != init:
                continue
            if predicate(state):
                yield pod, state


def latest_log(view: EvidenceView, pod: K8sObject, container: str) -> tuple[str, bool] | None:
    """The most telling log read for a container: the crashed instance's first, else the current."""
    ns, name = namespace_of(pod) or "", name_of(pod)
    previous = view.log(ns, name, container, previous=True)
    if previous:
        return previous, True
    current = view.log(ns, name, container)
    if current:
        return current, False
    return None


_ERROR_LINE = re.compile(
    r"(fatal|panic|error|exception|failed|refused|denied|not found|no such|cannot|can't|couldn't|unable|missing|"
    r"invalid|unknown|undefined|required|not set|not defined|killed|timeout|timed out)",
    re.IGNORECASE,
)


def looks_like_error(line: str) -> bool:
    return bool(_ERROR_LINE.search(line))


def error_lines(log: str, limit: int = 3) -> list[str]:
    """The last lines of a log that read like errors, oldest first, trimmed for quoting.

    A line ending in ``:`` announces details on the indented lines after it ("Validation
    Failed:" then the changeset and its check sums); those are joined to it.
    """
    raw = [line.rstrip() for line in log.splitlines() if line.strip()]
    lines: list[str] = []
    index = 0
    while index < len(raw):
        line = raw[index].strip()
        index += 1
        if line.endswith(":"):
            details: list[str] = []
            while index < len(raw) and raw[index][:1] in (" ", "\t") and len(details) < 3:
                details.append(raw[index].strip())
                index += 1
            line = " ".join([line, *details])
        lines.append(line)
    hits = [line for line in lines if _ERROR_LINE.search(line)]
    chosen = list(dict.fromkeys(hits))[-limit:] if hits else lines[-1:]
    return [line[:300] for line in chosen]


def event_messages(
    view: EvidenceView, obj: K8sObject, reasons: Iterable[str], with_owners: bool = True
) -> list[K8sObject]:
    wanted = set(reasons)
    return [e for e in view.events_for(obj, with_owners=with_owners) if e.get("reason") in wanted]


def similar_names(name: str, candidates: Iterable[str], limit: int = 3) -> list[str]:
    """Existing names that look like a typo or a rename of ``name``, closest first.

    Names are compared word by word (split on ``-``, ``.``, ``_``): a candidate is similar when it
    adds or drops one word (``audit-db-credentials`` / ``audit-api-db-credentials``) or changes one
    word into a prefix or a typo of it (``nginx-conf`` / ``nginx-config``). A different word
    (``worker-env`` / ``worker-cron``) is not a rename, however many letters are shared.
    """
    words = re.split(r"[-._]", name)
    scored: list[tuple[float, str]] = []
    for candidate in dict.fromkeys(candidates):
        if candidate == name:
            continue
        if _one_word_apart(words, re.split(r"[-._]", candidate)):
            scored.append((difflib.SequenceMatcher(None, name, candidate).ratio(), candidate))
    return [c for _, c in sorted(scored, key=lambda item: -item[0])][:limit]


def _one_word_apart(a: list[str], b: list[str]) -> bool:
    if len(a) == len(b):
        diff = [(x, y) for x, y in zip(a, b, strict=True) if x != y]
        if len(diff) != 1:
            return False
        x, y = diff[0]
        return x.startswith(y) or y.startswith(x) or difflib.SequenceMatcher(None, x, y).ratio() >= 0.75
    short, long = (a, b) if len(a) < len(b) else (b, a)
    if len(long) - len(short) != 1:
        return False
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def container_path(pod: K8sObject, container: str) -> str | None:
    """``containers/<i>`` or ``initContainers/<i>`` of a container in the pod spec (for JSON patches)."""
    spec = pod.get("spec") or {}
    for field in ("containers", "initContainers"):
        for index, item in enumerate(spec.get(field) or []):
            if item.get("name") == container:
                return f"{field}/{index}"
    return None


def template_prefix(workload_kind: str) -> str:
    """Where the pod spec sits in a workload, as a JSON-patch path prefix."""
    kind = workload_kind.lower()
    if kind == "pod":
        return "/spec"
    if kind == "cronjob":
        return "/spec/jobTemplate/spec/template/spec"
    return "/spec/template/spec"


def outside_focus(view: EvidenceView, pod: K8sObject) -> bool:
    """Whether ``pod`` lies outside the failure being diagnosed.

    True when focus pods exist and ``pod`` is neither one of them nor of their workload: its
    failure is real but probably not the one the user asked about, so it should not outrank
    a finding about the focus pods themselves.
    """
    focus = view.focus_pods()
    if not focus or any(p is pod for p in focus):
        return False
    workload = view.workload_of(pod)
    return all(view.workload_of(p) != workload for p in focus)


def view_now(view: EvidenceView) -> datetime | None:
    """The evidence's "now": the newest pod or event time of the namespace (snapshots have no clock)."""
    return evidence_now([*view.objs("Pod", view.namespace), *view.objs("Event", view.namespace)])


STALE_SCORE = 0.3
"""Cap for a finding about a leftover (a pod evicted or failed long before the rest of the activity)."""


def stale_note(obj: K8sObject, now: datetime | None) -> str | None:
    """``"old ... not the current problem"`` wording for an object :func:`graph.k8s.is_stale` flags."""
    if not is_stale(obj, now):
        return None
    last = last_activity(obj)
    assert now is not None and last is not None, "is_stale needs both times"
    hours = int((now - last).total_seconds() // 3600)
    age = f"{hours // 24} day(s)" if hours >= 48 else f"{hours} hour(s)"
    return (
        f"this is old: its last activity ({last:%Y-%m-%dT%H:%M:%SZ}) is {age} before the newest activity in "
        "the namespace, so it is a leftover, not the current problem"
    )


def clip(text: str, limit: int) -> str:
    """``text`` cut to about ``limit`` characters in the middle: error chains put the decisive
    status (``403 Forbidden``) last and the context first, so both ends are kept."""
    text = text.strip()
    if len(text) <= limit:
        return text
    tail = max(limit // 3, 40)
    return f"{text[: limit - tail - 3].rstrip()} … {text[-tail:].lstrip()}"


def namespace_guessed(view: EvidenceView) -> bool:
    """Whether the namespace under diagnosis was inferred rather than given.

    With no namespace in the request, inspection lists pods cluster-wide and picks the namespace of
    the worst pods; an analyzer that finds a better pointer in the text (a host an Ingress serves)
    may then look beyond it.
    """
    return view.namespace is None or view.was_read(ReadSpec(verb="list", kind="Pod").key())


TEXT_ONLY_SCORE = 0.45
"""Score of a finding read from the pasted text alone: below what any cluster evidence earns."""


def pasted_line(view: EvidenceView, pattern: re.Pattern[str]) -> tuple[str, re.Match[str]] | None:
    """The first pasted line matching ``pattern`` (whole line, trimmed) and its match."""
    for line in (view.error_message or "").splitlines():
        found = pattern.search(line)
        if found:
            return line.strip()[:400], found
    return None


def text_only_finding(
    view: EvidenceView,
    category: str,
    root_cause_id: str,
    root_cause: str,
    quote: str,
    fixes: list[str],
    prevention: list[str],
) -> Finding:
    """A finding that rests on the paste only, because no pod in the cluster shows the condition.

    It says so (``missing``) and scores :data:`TEXT_ONLY_SCORE`, so any finding backed by the
    cluster outranks it.
    """
    ns = view.namespace
    pods = list(view.entities.get("pods") or [])
    where = f" -n {ns}" if ns else " -A"
    look = f"kubectl describe pod {pods[0]}{where}" if pods and ns else f"kubectl get pods{where} -o wide"
    return Finding(
        category=category,
        score=TEXT_ONLY_SCORE,
        root_cause_id=root_cause_id,
        root_cause=root_cause + " (from the pasted error; no pod read from the cluster shows it now).",
        summary=root_cause[:200],
        facts=[Fact(quote, "pasted text")],
        fix_commands=[*fixes, look],
        prevention=prevention,
        missing=["a pod in the cluster showing this condition (it may have been replaced or deleted)"],
    )


def container_json_path(view: EvidenceView, pod: K8sObject, container: str) -> str:
    """JSON-patch path of a container in the pod's workload (``/spec/template/spec/containers/0``)."""
    found = view.workload_of(pod)
    return (
        f"{template_prefix(found[0] if found else 'Pod')}/{container_path(pod, container) or 'containers/0'}"
    )


def in_pod_template(workload_kind: str, pod_spec_json: str) -> str:
    """A merge-patch body that puts ``pod_spec_json`` where ``workload_kind`` keeps its pod spec."""
    body = pod_spec_json
    for part in reversed(template_prefix(workload_kind).strip("/").split("/")):
        body = f'{{"{part}":{body}}}'
    return body


def serving_replicaset(
    view: EvidenceView, pod: K8sObject, container: str, image: str | None = None
) -> tuple[K8sObject, str] | None:
    """An older ReplicaSet of the pod's Deployment that has ready pods, and its image of ``container``.

    With ``image``, only a ReplicaSet running another image counts (the rollout changed it).
    """
    chain = view.owner_chain(pod)
    if len(chain) < 2 or chain[0].get("kind") != "ReplicaSet":
        return None
    rs, deployment = chain[0], chain[1]
    for other in view.objs("ReplicaSet", namespace_of(rs)):
        if other is rs or view.owner(other) is not deployment:
            continue
        if not (other.get("status") or {}).get("readyReplicas"):
            continue
        spec = (other.get("spec") or {}).get("template", {}).get("spec") or {}
        other_image = next(
            (c.get("image") for c in spec.get("containers") or [] if c.get("name") == container), None
        )
        if other_image and (image is None or other_image != image):
            return other, str(other_image)
    return None


def node_arch(view: EvidenceView, pod: K8sObject) -> str | None:
    """CPU architecture of the pod's node (``amd64``, ``arm64``) when the node was read."""
    node = view.obj("Node", str((pod.get("spec") or {}).get("nodeName") or ""))
    if node is None:
        return None
    labels = (node.get("metadata") or {}).get("labels") or {}
    arch = labels.get("kubernetes.io/arch") or ((node.get("status") or {}).get("nodeInfo") or {}).get(
        "architecture"
    )
    return str(arch) if arch else None


_HOST = re.compile(
    r"(?:dial tcp |connect to |host=|[Hh]ost \"|server at |connecting to |//)\[?([a-z0-9][\w.-]*[a-z0-9])\]?(?::(\d{2,5}))?"
)


def find_service(view: EvidenceView, text: str, namespace: str | None) -> K8sObject | None:
    """The Service a log line talks to: by cluster IP, or by ``name[.namespace[.svc...]]``."""
    services = view.objs("Service")
    for match in _HOST.finditer(text):
        host = match.group(1)
        for svc in services:
            if (svc.get("spec") or {}).get("clusterIP") == host:
                return svc
        parts = host.split(".")
        name = parts[0]
        ns = parts[1] if len(parts) > 1 and parts[1] not in ("svc", "cluster") else namespace
        found = view.obj("Service", name, ns)
        if found is not None:
            return found
    return None


def ready_addresses(endpoints: K8sObject | None) -> int:
    if endpoints is None:
        return 0
    return sum(len(subset.get("addresses") or []) for subset in endpoints.get("subsets") or [])


def backing_workload(view: EvidenceView, service: K8sObject) -> K8sObject | None:
    """The Deployment or StatefulSet whose pod template the Service's selector matches."""
    selector = (service.get("spec") or {}).get("selector") or {}
    if not selector:
        return None
    for kind in ("StatefulSet", "Deployment", "DaemonSet"):
        for workload in view.objs(kind, namespace_of(service)):
            labels = (((workload.get("spec") or {}).get("template") or {}).get("metadata") or {}).get(
                "labels"
            ) or {}
            if all(labels.get(k) == v for k, v in selector.items()):
                return workload
    return None


def mounted_from(pod: K8sObject, container: str, path: str) -> tuple[str, str, str] | None:
    """(ConfigMap|Secret, name, mountPath) of the volume that provides ``path`` in ``container``."""
    spec = pod.get("spec") or {}
    volumes = {v.get("name"): v for v in spec.get("volumes") or []}
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if c.get("name") != container:
            continue
        mounts = sorted(c.get("volumeMounts") or [], key=lambda m: -len(str(m.get("mountPath") or "")))
        for mount in mounts:
            mount_path = str(mount.get("mountPath") or "").rstrip("/")
            if not mount_path or not (path == mount_path or path.startswith(mount_path + "/")):
                continue
            volume = volumes.get(mount.get("name")) or {}
            if "configMap" in volume:
                return "ConfigMap", str(volume["configMap"].get("name")), mount_path
            if "secret" in volume:
                return "Secret", str(volume["secret"].get("secretName")), mount_path
            for source in (volume.get("projected") or {}).get("sources") or []:
                if "configMap" in source:
                    return "ConfigMap", str(source["configMap"].get("name")), mount_path
                if "secret" in source:
                    return "Secret", str(source["secret"].get("name")), mount_path
            return None
    return None
