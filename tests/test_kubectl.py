"""kubectl against the loopback stand-in: the same paths and documents a real API server serves."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tools.fake_apiserver import FakeApiServer, Faults

CRASHLOOP = Path(__file__).parent / "fixtures" / "snapshots" / "crashloop-orders-api-missing-env"
KUBECTL = shutil.which("kubectl")

pytestmark = pytest.mark.skipif(
    KUBECTL is None, reason="kubectl is not installed (Debian package kubernetes-client; .ci/run installs it)"
)


@pytest.fixture
def kubectl(
    fake_apiserver: Callable[..., FakeApiServer],
    kubeconfig_for: Callable[[FakeApiServer], Path],
    tmp_path: Path,
) -> Callable[..., subprocess.CompletedProcess[str]]:
    server = fake_apiserver(CRASHLOOP)
    kubeconfig = kubeconfig_for(server)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        assert KUBECTL is not None
        command = [KUBECTL, f"--kubeconfig={kubeconfig}", f"--cache-dir={tmp_path / 'kube-cache'}", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=60)

    run.server = server  # type: ignore[attr-defined]
    return run


def test_get_pods_as_json(kubectl: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    result = kubectl("get", "pods", "-n", "orders", "-o", "json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["kind"] == "List"
    snapshot = json.loads((CRASHLOOP / "cluster.json").read_text())["items"]
    expected = {i["metadata"]["name"] for i in snapshot if i["kind"] == "Pod"}
    assert {i["metadata"]["name"] for i in doc["items"]} == expected
    assert all(i["kind"] == "Pod" for i in doc["items"])


def test_logs_previous(kubectl: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    pod_dir = next(p for p in (CRASHLOOP / "logs" / "orders").iterdir() if list(p.glob("*.previous.log")))
    log_file = next(pod_dir.glob("*.previous.log"))
    result = kubectl("logs", pod_dir.name, "-n", "orders", "--previous")
    assert result.returncode == 0, result.stderr
    assert result.stdout == log_file.read_text()
    tail = kubectl("logs", pod_dir.name, "-n", "orders", "--previous", "--tail=2")
    assert tail.stdout.splitlines() == log_file.read_text().splitlines()[-2:]


def test_get_by_short_name_and_selector(kubectl: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    result = kubectl("get", "deploy", "-A", "-l", "app=orders-api", "-o", "json")
    assert result.returncode == 0, result.stderr
    assert [i["metadata"]["name"] for i in json.loads(result.stdout)["items"]] == ["orders-api"]


def test_get_all_and_describe(kubectl: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    every = kubectl("get", "all", "-n", "orders", "-o", "json")
    assert every.returncode == 0, every.stderr
    assert {"Pod", "Service", "Deployment", "ReplicaSet"} <= {
        i["kind"] for i in json.loads(every.stdout)["items"]
    }
    # describe reads the pod's events with an involvedObject field selector
    described = kubectl("describe", "pod", "-n", "orders", "-l", "app=orders-api")
    assert described.returncode == 0, described.stderr
    assert "Back-off restarting failed container" in described.stdout


def test_plain_get_prints_kubectl_columns(kubectl: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    result = kubectl("get", "pods", "-n", "orders", "-o", "wide")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"]
    crashing = next(line for line in lines if line.startswith("orders-api-7f6d8c9b54-knmzs"))
    assert crashing.split()[1:4] == ["0/1", "CrashLoopBackOff", "6"]


def test_forbidden_and_not_found_read_like_the_api(
    kubectl: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    kubectl.server.faults = Faults(forbid=frozenset({"secrets"}))  # type: ignore[attr-defined]
    forbidden = kubectl("get", "secrets", "-n", "orders", "-o", "json")
    assert forbidden.returncode != 0
    assert 'cannot list resource "secrets"' in forbidden.stderr
    missing = kubectl("get", "pod", "ghost", "-n", "orders", "-o", "json")
    assert missing.returncode != 0
    assert 'pods "ghost" not found' in missing.stderr
