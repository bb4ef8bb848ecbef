"""The bundled demo snapshot is a consistent cluster, and each scenario's evidence is in it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from idp.settings import DEMO_SNAPSHOT
from tools.reader import K8sObject
from tools.results import ReadStatus
from tools.snapshot import SnapshotReader

CATEGORIES = {
    "CrashLoopBackOff", "OOMKilled", "ImagePullBackOff", "CreateContainerConfigError", "CreateContainerError",
    "FailedScheduling", "ProbeFailure", "Evicted", "VolumeMountFailure", "InitContainerFailure", "NodeNotReady",
    "ServiceUnreachable", "DNSFailure", "QuotaExceeded", "AdmissionDenied", "RBACForbidden", "RolloutStuck",
    "JobFailed", "HPAFailure", "PodSandboxFailure", "CertificateError", "TerraformStateLock", "Unknown",
}  # fmt: skip
RAW: dict[str, Any] = json.loads((DEMO_SNAPSHOT / "cluster.json").read_text(encoding="utf-8"))
ITEMS: list[K8sObject] = RAW["items"]
SCENARIOS: list[dict[str, Any]] = yaml.safe_load(
    (DEMO_SNAPSHOT / "scenarios.yaml").read_text(encoding="utf-8")
)["scenarios"]


@pytest.fixture(scope="module")
def reader() -> SnapshotReader:
    return SnapshotReader(DEMO_SNAPSHOT)


def _of_kind(kind: str) -> list[K8sObject]:
    return [item for item in ITEMS if item["kind"] == kind]


def _key(obj: K8sObject) -> str:
    meta = obj["metadata"]
    return f"{obj['kind']} {meta.get('namespace', '')}/{meta['name']}"


def test_cluster_json_is_a_list_of_whole_objects() -> None:
    assert RAW["apiVersion"] == "v1" and RAW["kind"] == "List"
    for item in ITEMS:
        assert {"apiVersion", "kind", "metadata"} <= item.keys(), _key(item)
        assert item["metadata"]["uid"] and item["metadata"]["creationTimestamp"], _key(item)
    uids = [item["metadata"]["uid"] for item in ITEMS]
    assert len(uids) == len(set(uids)), "uids must be unique"
    keys = [_key(item) for item in ITEMS]
    assert len(keys) == len(set(keys)), "no object twice"


def test_three_ready_nodes_one_per_zone() -> None:
    nodes = _of_kind("Node")
    assert len(nodes) == 3
    zones = {node["metadata"]["labels"]["topology.kubernetes.io/zone"] for node in nodes}
    assert len(zones) == 3
    for node in nodes:
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "True"
        assert {"cpu", "memory", "pods"} <= node["status"]["allocatable"].keys()


def test_every_pod_owner_chain_resolves_to_a_deployment(reader: SnapshotReader) -> None:
    pods = reader.list("Pod").data or []
    assert len(pods) >= 10
    for pod in pods:
        chain = [pod]
        while chain[-1]["metadata"].get("ownerReferences"):
            owner_ref = chain[-1]["metadata"]["ownerReferences"][0]
            result = reader.get(owner_ref["kind"], owner_ref["name"], pod["metadata"]["namespace"])
            assert result.status == ReadStatus.OK, f"{_key(chain[-1])}: owner {owner_ref['name']} missing"
            assert result.data is not None and result.data["metadata"]["uid"] == owner_ref["uid"]
            chain.append(result.data)
        assert [obj["kind"] for obj in chain] == ["Pod", "ReplicaSet", "Deployment"], _key(pod)


def test_workload_selectors_match_their_pods(reader: SnapshotReader) -> None:
    for rs in reader.list("ReplicaSet").data or []:
        match = rs["spec"]["selector"]["matchLabels"]
        selector = ",".join(f"{k}={v}" for k, v in match.items())
        pods = reader.list("Pod", rs["metadata"]["namespace"], label_selector=selector).data or []
        assert len(pods) == rs["spec"]["replicas"], _key(rs)
        assert all(p["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"] for p in pods)


def test_every_event_points_at_an_existing_object(reader: SnapshotReader) -> None:
    events = reader.list("Event").data or []
    assert len(events) >= 20
    for event in events:
        involved = event["involvedObject"]
        result = reader.get(involved["kind"], involved["name"], involved.get("namespace"))
        assert result.status == ReadStatus.OK, f"event {event['metadata']['name']}: {involved}"
        assert result.data is not None and result.data["metadata"]["uid"] == involved["uid"]
        assert event["metadata"]["namespace"] == involved["namespace"]
        assert event["type"] in ("Normal", "Warning") and event["count"] >= 1
        assert event["firstTimestamp"] <= event["lastTimestamp"]
        assert event["source"]["component"]


def _log_files() -> list[Path]:
    return sorted((DEMO_SNAPSHOT / "logs").rglob("*.log"))


@pytest.mark.parametrize("path", _log_files(), ids=lambda p: str(p.relative_to(DEMO_SNAPSHOT / "logs")))
def test_every_log_belongs_to_a_container_and_previous_logs_follow_restarts(
    reader: SnapshotReader, path: Path
) -> None:
    namespace, pod_name = path.parent.parent.name, path.parent.name
    previous = path.name.endswith(".previous.log")
    container = path.name.removesuffix(".previous.log" if previous else ".log")
    pod = reader.get("Pod", pod_name, namespace).data
    assert pod is not None, f"{path}: no such pod"
    statuses = {s["name"]: s for s in pod["status"].get("containerStatuses", [])}
    assert container in statuses, f"{path}: no such container"
    if previous:
        assert statuses[container]["restartCount"] > 0
    logs = reader.logs(namespace, pod_name, container, previous=previous, tail_lines=5)
    assert logs.status == ReadStatus.OK and logs.data


def test_no_secret_carries_data() -> None:
    secrets = _of_kind("Secret")
    assert secrets
    for secret in secrets:
        assert "data" not in secret and "stringData" not in secret, _key(secret)
        assert secret["type"]


def test_every_service_has_endpoints(reader: SnapshotReader) -> None:
    for service in reader.list("Service").data or []:
        meta = service["metadata"]
        assert reader.get("Endpoints", meta["name"], meta["namespace"]).status == ReadStatus.OK, _key(service)


def _pod_of(reader: SnapshotReader, scenario: dict[str, Any]) -> K8sObject:
    result = reader.get("Pod", scenario["input"]["pod"], scenario["input"]["namespace"])
    assert result.data is not None
    return result.data


def _warning_messages(reader: SnapshotReader, pod: K8sObject) -> list[str]:
    meta = pod["metadata"]
    selector = f"involvedObject.name={meta['name']},involvedObject.kind=Pod"
    events = reader.list("Event", meta["namespace"], field_selector=selector).data or []
    return [e["message"] for e in events if e["type"] == "Warning"]


def _waiting_reasons(pod: K8sObject) -> set[str]:
    return {
        s["state"]["waiting"]["reason"]
        for s in pod["status"].get("containerStatuses", [])
        if "waiting" in s["state"]
    }


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["id"] for s in SCENARIOS])
def test_scenario_is_a_format_case_whose_objects_exist(
    reader: SnapshotReader, scenario: dict[str, Any]
) -> None:
    expect = scenario["expect"]
    assert expect["category"] in CATEGORIES
    assert expect["runbook"] == expect["category"].lower()
    assert expect["mentions"] and expect["fix_mentions"]
    namespace = scenario["input"]["namespace"]
    assert reader.get("Namespace", namespace).status == ReadStatus.OK
    if "pod" in scenario["input"]:
        _pod_of(reader, scenario)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["id"] for s in SCENARIOS])
def test_scenario_mentions_are_in_the_snapshot(scenario: dict[str, Any]) -> None:
    corpus = (DEMO_SNAPSHOT / "cluster.json").read_text(encoding="utf-8").lower()
    corpus += "".join(p.read_text(encoding="utf-8").lower() for p in _log_files())
    for mention in scenario["expect"]["mentions"]:
        assert mention.lower() in corpus


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["id"] for s in SCENARIOS])
def test_scenario_evidence_matches_its_category(reader: SnapshotReader, scenario: dict[str, Any]) -> None:
    """The cluster shows what the category's label means in Kubernetes terms."""
    category = scenario["expect"]["category"]
    if category == "ServiceUnreachable":
        namespace = scenario["input"]["namespace"]
        empty = [
            ep
            for ep in reader.list("Endpoints", namespace).data or []
            if not any(subset.get("addresses") for subset in ep.get("subsets") or [])
        ]
        assert empty, "a Service without ready endpoints"
        for ep in empty:
            service = reader.get("Service", ep["metadata"]["name"], namespace).data
            assert service is not None
            selector = ",".join(f"{k}={v}" for k, v in service["spec"]["selector"].items())
            assert reader.list("Pod", namespace, label_selector=selector).data == []
        return
    pod = _pod_of(reader, scenario)
    statuses = pod["status"].get("containerStatuses", [])
    warnings = _warning_messages(reader, pod)
    if category == "CrashLoopBackOff":
        assert "CrashLoopBackOff" in _waiting_reasons(pod)
        assert all(s["lastState"]["terminated"]["reason"] != "OOMKilled" for s in statuses)
    elif category == "OOMKilled":
        terminated = [s["lastState"]["terminated"] for s in statuses if "terminated" in s["lastState"]]
        assert any(t["reason"] == "OOMKilled" and t["exitCode"] == 137 for t in terminated)
    elif category == "ImagePullBackOff":
        assert _waiting_reasons(pod) & {"ImagePullBackOff", "ErrImagePull"}
        assert any(m.startswith("Failed to pull image") and "not found" in m for m in warnings)
    elif category == "FailedScheduling":
        assert pod["status"]["phase"] == "Pending" and "nodeName" not in pod["spec"]
        assert any(m.startswith("0/3 nodes are available") for m in warnings)
    elif category == "CreateContainerConfigError":
        assert "CreateContainerConfigError" in _waiting_reasons(pod)
        assert any(m.startswith("Error: couldn't find key") for m in warnings)
    else:
        pytest.fail(f"no evidence check for {category}")


def test_demo_has_healthy_bystanders(reader: SnapshotReader) -> None:
    running = [
        pod
        for pod in reader.list("Pod").data or []
        if pod["status"]["phase"] == "Running"
        and all(s["ready"] for s in pod["status"].get("containerStatuses", []))
    ]
    assert len(running) >= 8
    assert len({pod["metadata"]["namespace"] for pod in running}) >= 4
