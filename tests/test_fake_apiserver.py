"""The loopback API stand-in over raw HTTP: discovery, Status bodies, paging, logs, faults, the CLI.

These tests speak HTTP with httpx so they see exactly what a client would; the client-level
behaviour is in test_live_source.py and test_kubectl.py.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tools.fake_apiserver import FakeApiServer, Faults, kubeconfig_document
from tools.fake_apiserver.tables import human_duration, pod_status
from tools.kinds import KINDS

BEHAVIOUR = Path(__file__).parent / "fixtures" / "snapshots" / "reader-behaviour"
CERT_CASE = Path(__file__).parent / "fixtures" / "snapshots" / "cert-login-expired-http01-solver-wrong-class"


@pytest.fixture
def api(fake_apiserver: Callable[..., FakeApiServer]) -> FakeApiServer:
    return fake_apiserver(BEHAVIOUR)


@pytest.fixture
def http(api: FakeApiServer) -> httpx.Client:
    return httpx.Client(base_url=api.url, timeout=5)


def _assert_status(response: httpx.Response, code: int, reason: str) -> dict[str, Any]:
    assert response.status_code == code
    body: dict[str, Any] = response.json()
    assert body["kind"] == "Status" and body["apiVersion"] == "v1" and body["status"] == "Failure"
    assert body["code"] == code and body["reason"] == reason and body["message"]
    return body


def test_discovery_documents(http: httpx.Client) -> None:
    assert http.get("/version").json()["gitVersion"].startswith("v1.")
    assert http.get("/api").json()["versions"] == ["v1"]
    groups = {g["name"] for g in http.get("/apis").json()["groups"]}
    assert {"apps", "batch", "networking.k8s.io", "rbac.authorization.k8s.io"} <= groups
    # a CRD group appears only when the snapshot holds its objects, as on a real cluster
    assert "cert-manager.io" not in groups
    core = http.get("/api/v1").json()
    by_name = {r["name"]: r for r in core["resources"]}
    assert by_name["pods"]["namespaced"] and not by_name["nodes"]["namespaced"]
    assert by_name["pods"]["verbs"] == ["get", "list"] and "pods/log" in by_name
    apps = http.get("/apis/apps/v1").json()
    assert apps["groupVersion"] == "apps/v1"
    assert {r["kind"] for r in apps["resources"]} == {"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"}


def test_every_builtin_kind_of_the_table_is_served(http: httpx.Client) -> None:
    for info in KINDS.values():
        if "." in info.group and not info.group.endswith(".k8s.io"):
            continue
        response = http.get(f"{info.base_path}/{info.plural}")
        assert response.status_code == 200, info
        assert response.json()["kind"] == f"{info.kind}List"


def test_crd_groups_are_served_when_the_snapshot_has_them(
    fake_apiserver: Callable[..., FakeApiServer],
) -> None:
    server = fake_apiserver(CERT_CASE)
    client = httpx.Client(base_url=server.url)
    assert "cert-manager.io" in {g["name"] for g in client.get("/apis").json()["groups"]}
    certs = client.get("/apis/cert-manager.io/v1/certificates").json()
    assert certs["kind"] == "CertificateList" and len(certs["items"]) == 1


def test_list_items_carry_no_kind_like_the_api(http: httpx.Client) -> None:
    doc = http.get("/api/v1/namespaces/ops/pods").json()
    assert doc["kind"] == "PodList" and doc["apiVersion"] == "v1"
    assert doc["metadata"]["resourceVersion"]
    assert [i["metadata"]["name"] for i in doc["items"]] == ["backup-28493400-zz9q"]
    assert "kind" not in doc["items"][0]


def test_not_found_is_a_status_object(http: httpx.Client) -> None:
    body = _assert_status(http.get("/api/v1/namespaces/shop/pods/ghost"), 404, "NotFound")
    assert body["message"] == 'pods "ghost" not found'
    assert body["details"] == {"name": "ghost", "group": "", "kind": "pods"}
    deploy = _assert_status(http.get("/apis/apps/v1/namespaces/shop/deployments/ghost"), 404, "NotFound")
    assert deploy["message"] == 'deployments.apps "ghost" not found'
    _assert_status(http.get("/api/v1/namespaces/shop/widgets"), 404, "NotFound")


def test_bad_selectors_and_tokens_are_400(http: httpx.Client) -> None:
    _assert_status(http.get("/api/v1/pods", params={"fieldSelector": "spec.containers=x"}), 400, "BadRequest")
    _assert_status(http.get("/api/v1/pods", params={"labelSelector": "a in (b"}), 400, "BadRequest")
    _assert_status(
        http.get("/api/v1/pods", params={"limit": "2", "continue": "not-a-token"}), 400, "BadRequest"
    )
    first = http.get("/api/v1/namespaces/shop/pods", params={"limit": "2"}).json()
    token = first["metadata"]["continue"]
    # a token issued for one list is refused on another
    other = http.get("/api/v1/namespaces/ops/pods", params={"limit": "2", "continue": token})
    _assert_status(other, 400, "BadRequest")


def test_pages_cover_the_list_exactly_once(http: httpx.Client) -> None:
    whole = [i["metadata"]["name"] for i in http.get("/api/v1/pods").json()["items"]]
    seen: list[str] = []
    params: dict[str, str] = {"limit": "3"}
    for _ in range(10):
        doc = http.get("/api/v1/pods", params=params).json()
        seen += [i["metadata"]["name"] for i in doc["items"]]
        if not doc["metadata"].get("continue"):
            break
        params["continue"] = doc["metadata"]["continue"]
    assert seen == whole and len(whole) == 14


def test_label_selected_pages_fill_up(http: httpx.Client) -> None:
    doc = http.get("/api/v1/namespaces/shop/pods", params={"labelSelector": "tier=api", "limit": "2"}).json()
    assert len(doc["items"]) == 2 and all(i["metadata"]["labels"]["tier"] == "api" for i in doc["items"])
    assert doc["metadata"]["continue"]


@pytest.mark.parametrize(
    ("params", "code", "expect"),
    [
        ({"container": "checkout", "tailLines": "2"}, 200, r"^.*request 299.*\n.*request 300.*\n$"),
        ({"container": "checkout", "tailLines": "2", "limitBytes": "10"}, 200, r"^2024-05-14$"),
        ({"container": "checkout", "previous": "true"}, 200, r"FATAL exiting"),
        ({"container": "envoy", "previous": "true"}, 400, r'previous terminated container "envoy"'),
        (
            {},
            400,
            r"a container name must be specified for pod checkout-0, choose one of: \[checkout envoy\]",
        ),
        ({"container": "sidecar"}, 400, r"container sidecar is not valid for pod checkout-0"),
        ({"container": "migrate"}, 200, r"migrations up to date"),
    ],
    ids=[
        "tail",
        "limit-bytes-from-start",
        "previous",
        "no-previous",
        "ambiguous",
        "unknown",
        "init-container",
    ],
)
def test_pod_logs(http: httpx.Client, params: dict[str, str], code: int, expect: str) -> None:
    response = http.get("/api/v1/namespaces/shop/pods/checkout-0/log", params=params)
    assert response.status_code == code
    text = response.text if code == 200 else response.json()["message"]
    assert re.search(expect, text, re.DOTALL), text


def test_waiting_container_has_no_log_yet(http: httpx.Client) -> None:
    response = http.get("/api/v1/namespaces/shop/pods/cart-5d8f7-jjjjx/log")
    body = _assert_status(response, 400, "BadRequest")
    assert "is waiting to start: ContainerCreating" in body["message"]


def test_writes_are_refused_and_recorded() -> None:
    """Non-GET verbs get 405 and are recorded.

    The stand-in runs in a child process: the writes reach only it, so this session's own
    check (no non-GET request ever reached a stand-in) stays strict.
    """
    script = (
        "import httpx,sys\n"
        "c=httpx.Client(base_url=sys.argv[1])\n"
        "for m in ('POST','PUT','PATCH','DELETE'):\n"
        "    r=c.request(m,'/api/v1/namespaces/shop/pods/checkout-0',json={})\n"
        "    print(r.status_code, r.json()['reason'])\n"
    )
    child = subprocess.run(
        [sys.executable, "-c", _serve_and_run(script)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parent.parent,
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.split("\n")[:4] == ["405 MethodNotAllowed"] * 4
    assert "recorded DELETE PATCH POST PUT" in child.stdout


def _serve_and_run(script: str) -> str:
    return (
        "import subprocess,sys\n"
        "from tools.fake_apiserver import FakeApiServer\n"
        f"s=FakeApiServer({str(BEHAVIOUR)!r}); url=s.start()\n"
        f"out=subprocess.run([sys.executable,'-c',{script!r},url],capture_output=True,text=True).stdout\n"
        "print(out, end='')\n"
        "print('recorded', ' '.join(sorted(r.method for r in s.requests)))\n"
        "s.stop()\n"
    )


def test_faults_can_be_changed_while_running(api: FakeApiServer, http: httpx.Client) -> None:
    api.faults = Faults(forbid=frozenset({"pods"}))
    body = _assert_status(http.get("/api/v1/namespaces/shop/pods"), 403, "Forbidden")
    assert 'cannot list resource "pods"' in body["message"] and 'namespace "shop"' in body["message"]
    assert http.get("/api/v1/nodes").status_code == 200
    api.faults = Faults(fail_rate=1.0)
    _assert_status(http.get("/api/v1/nodes"), 500, "InternalError")
    assert http.get("/api/v1").status_code == 200  # discovery keeps answering
    api.faults = Faults(drop_rate=1.0)
    with pytest.raises(httpx.RemoteProtocolError):
        http.get("/api/v1/nodes")
    api.faults = Faults()
    assert http.get("/api/v1/nodes").status_code == 200


def test_every_request_is_recorded(api: FakeApiServer, http: httpx.Client) -> None:
    http.get("/api/v1/namespaces/shop/pods", params={"labelSelector": "app=cart"})
    last = api.requests[-1]
    assert (last.method, last.path, last.query, last.status) == (
        "GET",
        "/api/v1/namespaces/shop/pods",
        "labelSelector=app%3Dcart",
        200,
    )


def test_kubeconfig_points_at_the_server(api: FakeApiServer) -> None:
    doc = kubeconfig_document(api.url, namespace="shop")
    assert doc["clusters"] == [{"name": "idp-fake", "cluster": {"server": api.url}}]
    assert doc["current-context"] == "idp-fake"


def test_cli_serves_and_writes_a_kubeconfig(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    idp = Path(sys.executable).parent / "idp"
    process = subprocess.Popen(
        [str(idp), "fake-apiserver", str(BEHAVIOUR), "--port", "0", "--write-kubeconfig", str(kubeconfig)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        match = re.search(r"at (http://127\.0\.0\.1:\d+)", first)
        assert match, first
        process.stdout.readline()  # the kubeconfig line
        server = yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
        assert server == match.group(1)
        assert (
            httpx.get(f"{server}/api/v1/namespaces/shop/pods/checkout-0").json()["metadata"]["name"]
            == "checkout-0"
        )
    finally:
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=10)
    assert "requests served, 0 non-GET refused" in out


def test_cli_rejects_a_missing_folder(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from idp.cli import app

    result = CliRunner().invoke(app, ["fake-apiserver", str(tmp_path / "missing"), "--port", "0"])
    assert result.exit_code == 2
    assert "snapshot folder not found" in result.output


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "<invalid>"),
        (59, "59s"),
        (119, "119s"),
        (150, "2m30s"),
        (600, "10m"),
        (3 * 3600 + 60, "3h1m"),
        (30 * 3600, "30h"),
        (3 * 86400 + 3600, "3d1h"),
        (40 * 86400, "40d"),
        (3 * 365 * 86400 + 86400, "3y1d"),
    ],
)
def test_age_reads_like_kubectl(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text


def _pod(
    init: list[dict[str, Any]] | None = None, main: list[dict[str, Any]] | None = None, **meta: Any
) -> Any:
    return {
        "metadata": {"name": "p", **meta},
        "spec": {"initContainers": [{"name": "i"}] if init else [], "containers": [{"name": "c"}]},
        "status": {"phase": "Running", "initContainerStatuses": init or [], "containerStatuses": main or []},
    }


@pytest.mark.parametrize(
    ("pod", "expected"),
    [
        (_pod(main=[{"ready": True, "state": {"running": {}}}]), "Running"),
        (_pod(main=[{"state": {"waiting": {"reason": "CrashLoopBackOff"}}}]), "CrashLoopBackOff"),
        (_pod(main=[{"state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]), "OOMKilled"),
        (_pod(main=[{"state": {"terminated": {"exitCode": 2}}}]), "ExitCode:2"),
        (_pod(init=[{"state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]), "Init:Error"),
        (_pod(init=[{"state": {"waiting": {"reason": "CrashLoopBackOff"}}}]), "Init:CrashLoopBackOff"),
        (_pod(init=[{"state": {"running": {}}}]), "Init:0/1"),
        (
            _pod(main=[{"ready": True, "state": {"running": {}}}], deletionTimestamp="2024-01-01T00:00:00Z"),
            "Terminating",
        ),
    ],
    ids=[
        "running",
        "crashloop",
        "oomkilled",
        "exit-code",
        "init-error",
        "init-crashloop",
        "init-running",
        "terminating",
    ],
)
def test_pod_status_column(pod: Any, expected: str) -> None:
    assert pod_status(pod) == expected
