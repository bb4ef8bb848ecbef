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
from graph.evidence import Evidence, EvidenceView, empty_evidence, key_of, namespace_of
from graph.inspection import (
    as_specs,
    execute,
    find_pod_reads,
    focus_reads,
    mentioned_pods,
    namespace_reads,
    pod_namespace_from_reads,
    record_focus,
    select_focus,
    workload_reads,
)
from graph.k8s import unhealthy_score
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
        namespace = _worst_namespace(_view(state, evidence))
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

    view = _view(state, evidence)
    planned: list[ReadSpec] = []
    for analyzer in ANALYZERS:
        planned.extend(analyzer.plan(view))
    execute(reader, _ordered(planned, view), evidence, max(budget, 4))
    return evidence


def _ordered(specs: list[ReadSpec], view: EvidenceView) -> list[ReadSpec]:
    unique = {spec.key(): spec for spec in specs}
    return list(unique.values())


def _worst_namespace(view: EvidenceView) -> str | None:
    """With no namespace given: the namespace of the failing pods the paste points at.

    Failing pods count most; a pod whose workload shares a word with the paste wins among
    them, and when nothing fails at all, the namespace of the workload the paste names.
    """
    names = set(view.entities.get("names") or [])
    best: tuple[float, str | None] = (0.0, None)
    for pod in view.objs("Pod"):
        score = unhealthy_score(pod)
        meta = pod.get("metadata") or {}
        if any(str(meta.get("name", "")).startswith(n) for n in names):
            score += 10
        if score > 0 and meta.get("namespace") not in _SYSTEM_NAMESPACES:
            score += 0.5
        if score > best[0]:
            best = (score, meta.get("namespace"))
    if best[1] is None:
        mentioned = mentioned_pods(view, None, view.entities)  # type: ignore[arg-type]
        if mentioned:
            return namespace_of(mentioned[0])
    return best[1]


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
