"""inspect_cluster (the Kubernetes-tool node): targeted, read-only reads for the hypotheses.

First pass: the namespace, the failing objects and what each hypothesised category needs.
Later passes (critic loops): exactly the reads the critic asked for.
"""

from __future__ import annotations

import copy
from typing import Any

from langgraph.runtime import Runtime

from graph.analyzers import ANALYZERS
from graph.context import Context, resolve
from graph.entities import Entities
from graph.evidence import Evidence, EvidenceView, K8sObject, empty_evidence, key_of, name_of, namespace_of
from graph.inspection import (
    WORKLOAD_KINDS,
    as_specs,
    execute,
    fallback_log_reads,
    find_pod_reads,
    focus_reads,
    mentioned_pods,
    name_tokens,
    namespace_reads,
    pod_namespace_from_reads,
    record_focus,
    select_focus,
    workload_reads,
)
from graph.k8s import evidence_now, unhealthy_score
from graph.nodes.timing import timed
from graph.schemas import ReadSpec
from graph.state import State
from tools.reader import ClusterReader

# Categories whose evidence lives outside the cluster: when the paste is clearly one of them
# and names no namespace or pod, the cluster is not read at all.
TEXT_ONLY = {"TerraformStateLock"}


def _view(state: State, evidence: Evidence) -> EvidenceView:
    return EvidenceView(
        evidence,
        state.get("error_message", ""),
        dict(state.get("entities") or {}),
        [dict(h) for h in state.get("hypotheses") or []],
    )


def _unreachable(evidence: Evidence) -> bool:
    return bool(evidence["reads"]) and all(status == "error" for status in evidence["reads"].values())


def _first_pass(state: State, reader: ClusterReader, ctx: Context) -> Evidence:
    entities = state.get("entities") or {}
    hypotheses = state.get("hypotheses") or []
    namespace = state.get("namespace") or entities.get("namespace")
    pod = state.get("pod") or next(iter(entities.get("pods") or []), None)
    evidence = empty_evidence(namespace)
    top = hypotheses[0]["category"] if hypotheses else "Unknown"
    if top in TEXT_ONLY and not namespace and not state.get("pod"):
        evidence["missing"].append(
            {"what": "cluster state", "reason": f"not read: a {top} error comes from outside the cluster"}
        )
        return evidence

    budget = ctx.max_reads_per_loop
    if not namespace and pod:
        budget -= execute(reader, find_pod_reads(pod), evidence, budget)
        namespace = pod_namespace_from_reads(evidence, pod)
    if not namespace:
        budget -= execute(
            reader,
            [ReadSpec(verb="list", kind="Pod", why="no namespace given: find failing pods")],
            evidence,
            budget,
        )
        namespace = _worst_namespace(_view(state, evidence), state.get("workload"))
        if namespace is None or not _names_matched(_view(state, evidence), state.get("workload")):
            # The named workload may have no pods at all (a ReplicaSet denied them): find it by name.
            lookups = _named_workload_lookups(entities, state.get("workload"))
            budget -= execute(reader, lookups, evidence, min(budget, 2))
            found = _found_workload_namespace(_view(state, evidence), lookups)
            namespace = found or namespace
    evidence["namespace"] = namespace
    if namespace:
        budget -= execute(
            reader,
            [*namespace_reads(namespace), *workload_reads(namespace, entities, state.get("workload"))],
            evidence,
            budget,
        )
    if _unreachable(evidence):
        evidence["missing"].append({"what": "cluster state", "reason": "the cluster source did not answer"})
        return evidence

    view = _view(state, evidence)
    guessed = not (state.get("namespace") or entities.get("namespace"))
    record_focus(
        evidence, select_focus(view, namespace, pod, state.get("workload"), entities, follow_words=guessed)
    )
    budget -= execute(reader, focus_reads(_view(state, evidence)), evidence, max(budget, 4))
    budget -= execute(reader, fallback_log_reads(_view(state, evidence)), evidence, 1)

    view = _view(state, evidence)
    planned: list[ReadSpec] = []
    for analyzer in ANALYZERS:
        planned.extend(analyzer.plan(view))
    # execute() skips a read already made, so analyzers planning the same read cost one request.
    execute(reader, planned, evidence, max(budget, 4))
    return evidence


def _paste_names(view: EvidenceView, workload: str | None) -> list[str]:
    """Object names the paste gives: prose names and named workloads (``deployment/x`` -> ``x``)."""
    names = list(view.entities.get("names") or [])
    for item in [*(view.entities.get("workloads") or []), *([workload] if workload else [])]:
        names.append(str(item).rpartition("/")[2])
    return [n for n in dict.fromkeys(names) if n]


def _named_by(pod: K8sObject, names: list[str]) -> bool:
    """Whether a pod belongs to a name the paste gives (``orders-api`` -> ``orders-api-7d9f-x2k``)."""
    pod_name = str((pod.get("metadata") or {}).get("name", ""))
    return any(pod_name == n or pod_name.startswith(f"{n}-") for n in names)


def _names_matched(view: EvidenceView, workload: str | None) -> bool:
    names = _paste_names(view, workload)
    return not names or any(_named_by(p, names) for p in view.objs("Pod"))


def _worst_namespace(view: EvidenceView, workload: str | None = None) -> str | None:
    """With no namespace given: the namespace of the pods the paste points at.

    Pods of a name the paste gives win outright (a Pending replica of the named Deployment
    beats a crashlooping pod of an unrelated one elsewhere); then failing pods whose workload
    shares a word with the paste; then the worst failing pod, system namespaces last. Pods
    that ended long before the newest activity (old Evicted pods) weigh a tenth. When nothing
    fails at all, the namespace of the workload the paste names.
    """
    names = _paste_names(view, workload)
    pods = view.objs("Pod")
    now = evidence_now(pods)
    worded = {key_of(p) for p in mentioned_pods(view, None, view.entities)}  # type: ignore[arg-type]
    words = {str(w).lower() for w in view.entities.get("words") or []}
    best: tuple[int, float, str | None] = (0, 0.0, None)
    for pod in pods:
        score = unhealthy_score(pod, now)
        meta = pod.get("metadata") or {}
        owner = view.workload_of(pod)
        shares_word = key_of(pod) in worded or bool(name_tokens(owner[1] if owner else "") & words)
        level = 2 if _named_by(pod, names) else (1 if score > 0 and shares_word else 0)
        if score > 0 and meta.get("namespace") not in _SYSTEM_NAMESPACES:
            score += 0.5
        if level == 0 and score <= 0:
            continue
        if (level, score) > best[:2]:
            best = (level, score, meta.get("namespace"))
    if best[2] is None:
        mentioned = mentioned_pods(view, None, view.entities)  # type: ignore[arg-type]
        if mentioned:
            return namespace_of(mentioned[0])
    return best[2]


def _named_workload_lookups(entities: Entities, workload: str | None) -> list[ReadSpec]:
    """Cluster-wide by-name lists (one object each) of the workloads the paste names with a kind."""
    specs: list[ReadSpec] = []
    for item in [*([workload] if workload else []), *(entities.get("workloads") or [])]:
        kind_word, slash, name = str(item).partition("/")
        kind = WORKLOAD_KINDS.get(kind_word.lower().rstrip("s")) if slash else None
        if kind and name:
            specs.append(
                ReadSpec(
                    verb="list",
                    kind=kind,
                    field_selector=f"metadata.name={name}",
                    why="find the namespace of the named workload",
                )
            )
    return list({spec.key(): spec for spec in specs}.values())[:2]


def _found_workload_namespace(view: EvidenceView, lookups: list[ReadSpec]) -> str | None:
    for spec in lookups:
        name = (spec.field_selector or "").partition("=")[2]
        for obj in view.objs(spec.kind):
            if name_of(obj) == name and namespace_of(obj):
                return namespace_of(obj)
    return None


_SYSTEM_NAMESPACES = {"kube-system", "kube-public", "kube-node-lease"}


def inspect_cluster(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    ctx, deps = resolve(runtime.context)
    timings: dict[str, float] = {}
    with timed("inspect_cluster", timings):
        if not state.get("wanted"):
            evidence = _first_pass(state, deps.reader, ctx)
        else:
            evidence = copy.deepcopy(state["evidence"])
            execute(deps.reader, as_specs(state.get("wanted") or []), evidence, ctx.max_reads_per_loop)
            view = _view(state, evidence)
            # New objects may have brought the failing pod into view (a Job's pods, a StatefulSet's).
            if not view.focus_pods():
                record_focus(
                    evidence,
                    select_focus(
                        view,
                        evidence["namespace"],
                        state.get("pod"),
                        state.get("workload"),
                        state.get("entities") or {},
                    ),
                )
            execute(deps.reader, focus_reads(_view(state, evidence)), evidence, 4)
        focus_keys = [key_of(o) for o in _view(state, evidence).focus_objects()]
        evidence["focus"] = focus_keys or evidence["focus"]
    return {"evidence": evidence, "wanted": [], "timings_ms": timings}
