"""Requests per second the loopback API stand-in serves to the real ``kubernetes`` client at 10,000 pods.

Run: ``.venv/bin/python benchmarks/bench_apiserver.py [--pods 10000] [--namespaces 50] [--seconds 3]``

It writes a generated snapshot to a temp folder, serves it with ``FakeApiServer``, and reads
it through ``LiveReader`` (the official client over loopback HTTP): a pod by name, the pods
of one namespace, a label-selected list, and the paginated all-namespaces list. Then the same
requests as raw HTTP, to separate the stand-in's cost from the client's JSON decoding (client
and server share this process and its GIL, so the first figures are a floor).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from tools.fake_apiserver import FakeApiServer, write_kubeconfig
from tools.live import LiveReader


def _pod(namespace: str, app: str, index: int) -> dict[str, Any]:
    name = f"{app}-7d9f8c6b5-{index:05d}"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"00000000-0000-4000-8000-{index:012d}",
            "resourceVersion": str(100000 + index),
            "creationTimestamp": "2024-05-14T09:00:00Z",
            "labels": {
                "app": app,
                "pod-template-hash": "7d9f8c6b5",
                "tier": "web" if index % 3 else "worker",
            },
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": f"{app}-7d9f8c6b5",
                    "controller": True,
                }
            ],
        },
        "spec": {
            "nodeName": f"node-{index % 40}",
            "serviceAccountName": "default",
            "containers": [
                {
                    "name": app,
                    "image": f"registry.example.com/{app}:1.{index % 7}.0",
                    "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
                    "env": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "PORT", "value": "8080"}],
                    "resources": {
                        "limits": {"memory": "512Mi"},
                        "requests": {"cpu": "250m", "memory": "256Mi"},
                    },
                    "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 10},
                }
            ],
        },
        "status": {
            "phase": "Running" if index % 50 else "Pending",
            "podIP": f"10.{index // 65536 % 256}.{index // 256 % 256}.{index % 256}",
            "containerStatuses": [
                {"name": app, "ready": True, "restartCount": index % 4, "state": {"running": {}}},
            ],
        },
    }


def generate_snapshot(folder: Path, pods: int, namespaces: int) -> list[tuple[str, str]]:
    """Write ``pods`` pods spread over ``namespaces`` namespaces; returns (namespace, name) pairs."""
    items: list[dict[str, Any]] = []
    names: list[tuple[str, str]] = []
    for i in range(pods):
        namespace = f"team-{i % namespaces:03d}"
        pod = _pod(namespace, f"svc-{i % 17:02d}", i)
        items.append(pod)
        names.append((namespace, pod["metadata"]["name"]))
    for n in range(namespaces):
        items.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"team-{n:03d}"}})
    (folder / "cluster.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    return names


def measure(label: str, call: Callable[[int], object], seconds: float, threads: int = 1) -> float:
    """Call ``call(i)`` for about ``seconds`` on ``threads`` threads; print and return calls per second."""
    deadline = time.perf_counter() + seconds
    counts = [0] * threads

    def worker(slot: int) -> None:
        i = slot
        while time.perf_counter() < deadline:
            call(i)
            counts[slot] += 1
            i += threads

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(worker, range(threads)))
    rate = sum(counts) / (time.perf_counter() - start)
    print(f"{label:<58} {rate:9.1f} /s  ({sum(counts)} calls, {threads} thread{'s' if threads > 1 else ''})")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--namespaces", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        names = generate_snapshot(folder, args.pods, args.namespaces)
        server = FakeApiServer(folder)
        load_s = time.perf_counter() - started
        with server:
            kubeconfig = write_kubeconfig(folder / "kubeconfig", server.url)
            reader = LiveReader.from_kubeconfig(str(kubeconfig), timeout_s=30, max_items=args.pods + 1)
            per_ns = args.pods // args.namespaces
            print(
                f"{args.pods} pods in {args.namespaces} namespaces ({per_ns} per namespace); load {load_s:.2f}s"
            )
            print(f"server {server.url}, client: kubernetes python client via LiveReader\n")

            def get_pod(i: int) -> None:
                ns, name = names[(i * 7919) % len(names)]
                assert reader.get("Pod", name, ns).ok

            def list_ns(i: int) -> None:
                assert len(reader.list("Pod", f"team-{i % args.namespaces:03d}").data or []) == per_ns

            def list_selector(i: int) -> None:
                assert reader.list("Pod", f"team-{i % args.namespaces:03d}", label_selector="tier=worker").ok

            def list_all(_: int) -> None:
                assert len(reader.list("Pod").data or []) == args.pods

            measure("get pod by name", get_pod, args.seconds)
            measure("get pod by name", get_pod, args.seconds, threads=4)
            measure(f"list pods in a namespace ({per_ns} pods)", list_ns, args.seconds)
            measure("list pods in a namespace, labelSelector tier=worker", list_selector, args.seconds)
            rate = measure(f"list all {args.pods} pods, all namespaces, pages of 500", list_all, args.seconds)
            pages_per_list = -(-args.pods // 500)
            print(f"{f'  = pages of 500 ({pages_per_list} per list)':<58} {rate * pages_per_list:9.1f} /s")
            print(f"{'  = pods delivered':<58} {rate * args.pods:9.0f} /s")
            reader.close()

            # The same requests without the client's JSON decoding: what the stand-in alone can serve.
            print("\nraw HTTP (httpx, bodies not parsed): the stand-in's own capacity")
            http = httpx.Client(base_url=server.url)

            def raw_get(i: int) -> None:
                ns, name = names[(i * 7919) % len(names)]
                http.get(f"/api/v1/namespaces/{ns}/pods/{name}").raise_for_status()

            def raw_list_ns(i: int) -> None:
                http.get(f"/api/v1/namespaces/team-{i % args.namespaces:03d}/pods").raise_for_status()

            def raw_page(i: int) -> None:
                http.get("/api/v1/pods", params={"limit": 500}).raise_for_status()

            measure("get pod by name", raw_get, args.seconds)
            measure(f"list pods in a namespace ({per_ns} pods)", raw_list_ns, args.seconds)
            measure("first page of 500, all namespaces", raw_page, args.seconds)
            http.close()


if __name__ == "__main__":
    main()
