"""``idp diagnose`` end to end: on a snapshot, through the API stand-in, and its exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tools.fake_apiserver import FakeApiServer
from tools.kinds import KINDS

ROOT = Path(__file__).parent.parent
CASES = ROOT / "evals" / "cases"
NAMESPACED_PLURALS = {k.plural for k in KINDS.values() if k.namespaced}


def idp(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "idp.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env=env,
    )


def test_diagnose_json_on_a_snapshot() -> None:
    case = CASES / "crashloop-report-worker-unknown-flag"
    proc = idp(
        "diagnose",
        "report-worker-6c9f7d5b8-kl5nx CrashLoopBackOff",
        "-n",
        "reporting",
        "--snapshot",
        str(case),
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    diagnosis = json.loads(proc.stdout)
    assert diagnosis["category"] == "CrashLoopBackOff"
    assert "concurrency" in diagnosis["root_cause"]


def test_diagnose_through_the_api_stand_in_reads_only_its_namespace(
    fake_apiserver: Callable[..., FakeApiServer], kubeconfig_for: Callable[[FakeApiServer], Path]
) -> None:
    server = fake_apiserver(CASES / "oom-search-indexer-heap-above-limit")
    kubeconfig = kubeconfig_for(server)
    proc = idp(
        "diagnose",
        "search-indexer keeps restarting",
        "-n",
        "search",
        "--kubeconfig",
        str(kubeconfig),
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    diagnosis = json.loads(proc.stdout)
    assert diagnosis["category"] == "OOMKilled"
    resource_calls = [
        r
        for r in server.requests
        if "/namespaces/" in r.path or r.path.rstrip("/").split("/")[-1] in NAMESPACED_PLURALS
    ]
    cluster_wide = [r.path for r in resource_calls if "/namespaces/" not in r.path]
    assert not cluster_wide, f"cluster-wide lists with a known namespace: {cluster_wide}"
    assert resource_calls, "the diagnosis read the namespace through the stand-in"
    assert diagnosis["api_requests"] <= 10


def test_bad_input_exits_2_naming_the_field() -> None:
    proc = idp(
        "diagnose",
        "boom",
        "--namespace",
        "Bad_Namespace",
        "--snapshot",
        str(CASES / "oom-search-indexer-heap-above-limit"),
    )
    assert proc.returncode == 2
    assert "namespace" in proc.stderr


def test_missing_snapshot_exits_2() -> None:
    proc = idp("diagnose", "boom", "--snapshot", "/nonexistent/snapshot")
    assert proc.returncode == 2
    assert "snapshot" in proc.stderr.lower()


def test_unreachable_cluster_exits_3_but_still_diagnoses_the_text(tmp_path: Path) -> None:
    from tools.fake_apiserver import write_kubeconfig

    # Port 9 (discard) on loopback: nothing listens there.
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", "http://127.0.0.1:9")
    text = (CASES / "terraform-network-apply-dynamodb-lock-held" / "case.yaml").read_text()
    assert "state lock" in text
    proc = idp(
        "diagnose",
        "Error: Error acquiring the state lock\nLock Info:\n  ID: abc",
        "--kubeconfig",
        str(kubeconfig),
        "--json",
    )
    assert proc.returncode == 3
    assert json.loads(proc.stdout)["root_cause"]
