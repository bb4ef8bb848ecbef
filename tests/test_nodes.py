"""Each node on its own: what it reads, what it writes, and the keys it owns."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from langgraph.runtime import Runtime

from graph.context import Context, Deps
from graph.evidence import empty_evidence
from graph.nodes.classify import classify
from graph.nodes.critique import critique
from graph.nodes.finalize import finalize
from graph.nodes.inspect_cluster import inspect_cluster
from tools.fake_apiserver import FakeApiServer, write_kubeconfig
from tools.kinds import KINDS
from tools.live import LiveReader
from tools.snapshot import SnapshotReader

CASES = Path(__file__).parent.parent / "evals" / "cases"
NAMESPACED = {k.plural for k in KINDS.values() if k.namespaced}


def runtime(reader: Any = None, **knobs: Any) -> Runtime[Context]:
    reader = reader or SnapshotReader(CASES / "oom-search-indexer-heap-above-limit")
    return Runtime(context=Context(deps=Deps(reader=reader), **knobs))


@pytest.mark.parametrize(
    ("text", "top"),
    [
        ("Back-off restarting failed container api in pod api-7d9f8c6b5-x2x9q", "CrashLoopBackOff"),
        ('Failed to pull image "ghcr.io/acme/api:v9": manifest unknown', "ImagePullBackOff"),
        ("0/4 nodes are available: 4 Insufficient memory.", "FailedScheduling"),
        ("Error: couldn't find key DB_PASSWORD in Secret shop/db", "CreateContainerConfigError"),
        ("Error: Error acquiring the state lock\nLock Info:\n  ID: 1234", "TerraformStateLock"),
        ("the thing is weird today", "Unknown"),
    ],
)
def test_classify_ranks_hypotheses_from_the_text(text: str, top: str) -> None:
    out = classify({"error_message": text}, runtime())
    assert out["hypotheses"][0]["category"] == top
    assert set(out) >= {"error_message", "entities", "hypotheses", "evidence", "loops", "timings_ms"}
    assert out["loops"] is None, "a new question resets the loop counter"


def test_classify_extracts_entities_and_redacts_the_paste() -> None:
    out = classify(
        {
            "error_message": "kubectl -n payments logs api-7d9f8c6b5-x2x9q  token=ghp_abcdefghijklmnopqrstuvwxyz0123456789"
        },
        runtime(),
    )
    assert out["entities"]["namespace"] == "payments"
    assert "api-7d9f8c6b5-x2x9q" in out["entities"]["pods"]
    assert "ghp_" not in out["error_message"]


def test_inspect_cluster_reads_the_namespace_not_the_cluster(tmp_path: Path) -> None:
    case = CASES / "crashloop-orders-api-missing-env"
    with FakeApiServer(case) as api:
        reader = LiveReader.from_kubeconfig(str(write_kubeconfig(tmp_path / "kc", api.url)))
        state: dict[str, Any] = classify(
            {"error_message": "orders-api keeps restarting", "namespace": "orders"}, runtime(reader)
        )
        state["namespace"] = "orders"
        out = inspect_cluster(state, runtime(reader))  # type: ignore[arg-type]
        paths = [r.path for r in api.requests]
    evidence = out["evidence"]
    assert evidence["requests"] <= 10
    assert not [
        p for p in paths if p.rstrip("/").rsplit("/", 1)[-1] in NAMESPACED and "/namespaces/" not in p
    ]
    first_pod = next(k for k in evidence["focus"] if k.startswith("Pod/"))
    assert first_pod.startswith("Pod/orders/orders-api-7f6d8c9b54-"), (
        "the crashing pod of the new ReplicaSet leads"
    )
    assert any(k.endswith("#previous") for k in evidence["logs"]), "the crashed instance's log was read"


def test_inspect_cluster_records_what_it_could_not_read(tmp_path: Path) -> None:
    from tools.fake_apiserver import Faults

    case = CASES / "crashloop-orders-api-missing-env"
    with FakeApiServer(case, faults=Faults(forbid=frozenset({"events"}))) as api:
        reader = LiveReader.from_kubeconfig(str(write_kubeconfig(tmp_path / "kc", api.url)))
        state: dict[str, Any] = classify(
            {"error_message": "orders-api crash", "namespace": "orders"}, runtime(reader)
        )
        state["namespace"] = "orders"
        out = inspect_cluster(state, runtime(reader))  # type: ignore[arg-type]
    missing = out["evidence"]["missing"]
    assert any("Event" in m["what"] and "Forbidden" in m["reason"] for m in missing), missing


def _critique_state(fixes: list[str], category: str = "OOMKilled") -> dict[str, Any]:
    return {
        "error_message": "x",
        "evidence": empty_evidence("search"),
        "draft": {
            "category": category,
            "root_cause": "r",
            "confidence": 0.9,
            "evidence": ["fact [source: s]"],
            "fix_commands": fixes,
            "affected_objects": [],
            "gaps": [],
        },
        "findings": [{"category": category, "score": 0.9}],
        "loops": 0,
    }


def test_critique_drops_unsafe_fix_commands() -> None:
    out = critique(
        _critique_state(["kubectl delete namespace search", "kubectl rollout undo deployment/api -n search"]),
        runtime(),
    )  # type: ignore[arg-type]
    assert out["draft"]["fix_commands"] == ["kubectl rollout undo deployment/api -n search"]
    assert any("unsafe" in r for r in out["verdict"]["reasons"])


def test_critique_drops_objects_that_are_not_in_the_evidence() -> None:
    state = _critique_state([])
    state["draft"]["affected_objects"] = [{"kind": "Pod", "name": "ghost", "namespace": "search"}]
    out = critique(state, runtime())  # type: ignore[arg-type]
    assert out["draft"]["affected_objects"] == []


def test_critique_stops_asking_after_max_loops() -> None:
    state = _critique_state([], category="Unknown")
    state["draft"]["evidence"] = []
    state["findings"] = [
        {"category": "Unknown", "score": 0.05},
        {"category": "CrashLoopBackOff", "score": 0.04},
    ]
    state["loops"] = 3
    out = critique(state, runtime(max_loops=3))  # type: ignore[arg-type]
    assert out["verdict"]["verdict"] != "need_more_data"
    assert out["draft"]["confidence"] <= 0.3


def test_finalize_puts_the_diagnosed_categorys_runbook_first() -> None:
    state = _critique_state([])
    state["runbooks"] = [
        {"id": "crashloopbackoff", "title": "c", "score": 0.9, "section": None},
        {"id": "oomkilled", "title": "o", "score": 0.5, "section": "Fix"},
    ]
    out = finalize(state, runtime())  # type: ignore[arg-type]
    runbooks = out["diagnosis"]["runbooks"]
    assert runbooks[0]["id"] == "oomkilled" and runbooks[0]["score"] >= runbooks[1]["score"]
    assert out["diagnosis"]["fingerprint"]


# --- no namespace given: the paste's names beat failing leftovers elsewhere ---


def _ns_pod(ns: str, name: str, state: str, when: str = "2026-11-27T08:00:00Z") -> dict[str, Any]:
    rs = name.rsplit("-", 1)[0]
    status: dict[str, Any] = {"phase": "Running", "startTime": when}
    if state == "crashloop":
        status["containerStatuses"] = [
            {
                "name": "app",
                "ready": False,
                "restartCount": 40,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"reason": "Error", "exitCode": 1, "finishedAt": when}},
            }
        ]
    elif state == "pending":
        status = {
            "phase": "Pending",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "lastTransitionTime": when,
                }
            ],
        }
    elif state == "evicted":
        status = {
            "phase": "Failed",
            "reason": "Evicted",
            "message": "The node was low on resource: memory.",
            "conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": when}],
        }
    else:
        status["containerStatuses"] = [
            {"name": "app", "ready": True, "restartCount": 0, "state": {"running": {"startedAt": when}}}
        ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": ns,
            "uid": f"uid-{name}",
            "ownerReferences": [{"kind": "ReplicaSet", "name": rs, "controller": True, "uid": f"uid-{rs}"}],
        },
        "spec": {"containers": [{"name": "app", "image": "registry.example.com/app:1"}]},
        "status": status,
    }


_DECOYS = [
    _ns_pod("team-x-dev", "collector-test-3de5e4b2ff-3274c", "crashloop"),
    _ns_pod("kube-system", "cni-agent-7f9d8-q8z4m", "crashloop"),
    _ns_pod("risk", "ledger-writer-6c8d9f7b5a-fz8qd", "running"),
    _ns_pod("risk", "ledger-writer-6c8d9f7b5a-w2j9s", "pending"),
    _ns_pod("shop", "frontend-9d7e3bb8e0-a85fa", "evicted", when="2026-11-19T10:12:00Z"),
    _ns_pod("shop", "frontend-9d7e3bb8e0-b4050", "running"),
    {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "gateway", "namespace": "observability", "uid": "uid-gateway"},
        "spec": {"replicas": 2},
        "status": {},
    },
]


@pytest.mark.parametrize(
    ("paste", "workload", "namespace"),
    [
        # A Pending replica of the named workload beats a crashlooping pod elsewhere.
        ("ledger-writer was scaled to 3 and the third replica is Pending", None, "risk"),
        # A named workload with no pods at all is found by name, not by the worst pod.
        ("deployment/gateway has 0 pods since it was applied", None, "observability"),
        ("it has 0 pods since it was applied", "deployment/gateway", "observability"),
        # Nothing named: the worst current failure, user namespaces before system ones,
        # and never an eviction from last week.
        ("something is crashing", None, "team-x-dev"),
    ],
)
def test_inspect_cluster_guesses_the_namespace_the_paste_points_at(
    tmp_path: Path, paste: str, workload: str | None, namespace: str
) -> None:
    (tmp_path / "cluster.json").write_text(json.dumps({"kind": "List", "items": _DECOYS}))
    reader = SnapshotReader(tmp_path)
    state: dict[str, Any] = classify({"error_message": paste, "workload": workload}, runtime(reader))
    state["workload"] = workload
    out = inspect_cluster(state, runtime(reader))  # type: ignore[arg-type]
    assert out["evidence"]["namespace"] == namespace


@pytest.mark.parametrize(("same_source", "reused"), [(True, True), (False, False)])
def test_compacted_objects_are_reused_only_within_one_cluster_source(same_source: bool, reused: bool) -> None:
    from graph.inspection import compact

    def node(pressure: str) -> dict[str, Any]:
        meta = {"name": "node-a", "uid": "uid-node-a-compact-test", "resourceVersion": "42"}
        return {"kind": "Node", "metadata": meta, "status": {"conditions": [{"type": pressure}]}}

    first = compact(node("MemoryPressure"), "snapshot:/one")
    second = compact(node("DiskPressure"), "snapshot:/one" if same_source else "snapshot:/two")
    assert (second is first) is reused
    assert second["status"]["conditions"][0]["type"] == ("MemoryPressure" if reused else "DiskPressure")


@pytest.mark.parametrize(("same_workload", "nodes_read"), [(True, 1), (False, 2)])
def test_focus_reads_one_node_per_workload(same_workload: bool, nodes_read: int) -> None:
    from graph.evidence import EvidenceView, key_of
    from graph.inspection import focus_reads

    first = _ns_pod("shop", "api-6d4f9c7b8-aaaaa", "crashloop")
    second = _ns_pod("shop", "api-6d4f9c7b8-bbbbb" if same_workload else "web-5c7d8b9f6-ccccc", "crashloop")
    first["spec"]["nodeName"], second["spec"]["nodeName"] = "node-a", "node-b"
    evidence = empty_evidence("shop")
    for obj in (first, second):
        evidence["objects"][key_of(obj)] = obj
    evidence["focus"] = [key_of(first), key_of(second)]
    specs = focus_reads(EvidenceView(evidence))
    assert len([s for s in specs if s.kind == "Node"]) == nodes_read


def test_finalize_leads_with_the_unknown_runbook_when_nothing_is_found() -> None:
    state = _critique_state([], category="Unknown")
    state["runbooks"] = [
        {"id": "crashloopbackoff", "title": "c", "score": 0.9, "section": None},
        {"id": "unknown", "title": "u", "score": 0.2, "section": "Diagnose"},
    ]
    out = finalize(state, runtime())  # type: ignore[arg-type]
    assert out["diagnosis"]["runbooks"][0]["id"] == "unknown"
