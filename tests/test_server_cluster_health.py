"""``GET /cluster-health`` against the loopback API stand-in through the real kubernetes client:
per-namespace paginated pod lists (never one cluster-wide pod list), correct counts, worst pods."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from idp.settings import Settings
from server.app import create_app
from tools.fake_apiserver import FakeApiServer

NAMESPACES = ("alpha", "beta", "gamma")
PODS_PER_NAMESPACE = 620  # more than one page (the live reader asks for 500 at a time)


def _node(name: str, ready: bool, memory_pressure: bool = False) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "status": {
            "conditions": [
                {"type": "Ready", "status": "True" if ready else "Unknown"},
                {"type": "MemoryPressure", "status": "True" if memory_pressure else "False"},
            ]
        },
    }


def _pod(namespace: str, i: int) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app", "ready": True, "restartCount": 0, "state": {"running": {}}}
    phase = "Running"
    if i % 100 == 7:
        container = {
            "name": "app",
            "ready": False,
            "restartCount": 9 + i % 5,
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"reason": "Error", "exitCode": 1}},
        }
    elif i % 150 == 3:
        phase = "Pending"
        container = {
            "name": "app",
            "ready": False,
            "restartCount": 0,
            "state": {"waiting": {"reason": "ImagePullBackOff"}},
        }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"web-{i:04d}", "namespace": namespace, "uid": f"{namespace}-{i}"},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}], "nodeName": "node-a"},
        "status": {"phase": phase, "containerStatuses": [container]},
    }


def _cluster() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = [_node("node-a", True), _node("node-b", False), _node("node-c", True, True)]
    for ns in NAMESPACES:
        items.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        items += [_pod(ns, i) for i in range(PODS_PER_NAMESPACE)]
    return items


def test_cluster_health_reads_paginated_namespaced_lists(
    fake_apiserver: Callable[..., FakeApiServer],
    kubeconfig_for: Callable[[FakeApiServer], Path],
    tmp_path: Path,
) -> None:
    api = fake_apiserver(_cluster())
    settings = Settings(
        IDP_CLUSTER_SOURCE="kubeconfig",
        KUBECONFIG=str(kubeconfig_for(api)),
        IDP_DATA_DIR=str(tmp_path),
        IDP_LLM_PROVIDER="none",
        RATE_LIMIT_REQUESTS=0,
        DATABASE_URL=None,
        WEAVIATE_URL=None,
    )
    with TestClient(create_app(settings)) as client:
        api.clear_requests()
        response = client.get("/cluster-health")
        assert response.status_code == 200, response.text
        health = response.json()
        assert client.get("/ready").json()["checks"]["cluster_source"] == "ok"

    assert (health["nodes_ready"], health["nodes_not_ready"]) == (2, 1)
    assert {n["name"]: n["pressure"] for n in health["nodes"]}["node-c"] == ["MemoryPressure"]
    per_ns = {n["namespace"]: n for n in health["namespaces"]}
    assert set(per_ns) == set(NAMESPACES)
    crashing = sum(1 for i in range(PODS_PER_NAMESPACE) if i % 100 == 7)
    pulling = sum(1 for i in range(PODS_PER_NAMESPACE) if i % 150 == 3 and i % 100 != 7)
    for ns in NAMESPACES:
        assert per_ns[ns]["pods"] == PODS_PER_NAMESPACE
        assert per_ns[ns]["waiting_reasons"] == {"CrashLoopBackOff": crashing, "ImagePullBackOff": pulling}
        assert per_ns[ns]["phases"] == {"Running": PODS_PER_NAMESPACE - pulling, "Pending": pulling}
    assert len(health["worst"]) == 10
    assert all(o["reason"] == "CrashLoopBackOff" for o in health["worst"][:3])

    pod_lists = [r for r in api.requests if r.path.endswith("/pods")]
    assert pod_lists and all(r.path.startswith("/api/v1/namespaces/") for r in pod_lists), (
        "no cluster-wide pod list"
    )
    assert any("continue=" in r.query for r in pod_lists), "pod lists are paginated"
    assert all(r.method == "GET" for r in api.requests)
    assert health["api_requests"] == len(
        [r for r in api.requests if "/pods" in r.path or "/nodes" in r.path or "/namespaces" in r.path]
    )
