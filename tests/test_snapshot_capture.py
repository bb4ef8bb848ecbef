"""`idp snapshot`: capture from a live cluster (the stand-in), redacted, and the round trip.

Round trip: serve a snapshot, capture it, serve the capture, capture again: the same objects
and the same logs.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from idp import exit_codes
from idp.cli import app
from tools.capture import CaptureError, capture_snapshot
from tools.fake_apiserver import FakeApiServer, Faults, write_kubeconfig
from tools.kinds import KINDS
from tools.live import LiveReader

SNAPSHOTS = Path(__file__).parent / "fixtures" / "snapshots"
BEHAVIOUR = SNAPSHOTS / "reader-behaviour"
SECRET_VALUES = (
    "c2tfbGl2ZV9TRUNSRVRWQUxVRTEyMzQ1",
    "cG9zdGdyZXM6Ly9hcHA6aHVudGVyMkBkYjo1NDMyL2NoZWNrb3V0",
    "pl41n-t3xt-Passw0rd-xyz",
    "hunter2",
)

Key = tuple[str, str, str]


def _items(folder: Path) -> dict[Key, dict[str, Any]]:
    items = json.loads((folder / "cluster.json").read_text())["items"]
    return {(i["kind"], i["metadata"].get("namespace", ""), i["metadata"]["name"]): i for i in items}


def _logs(folder: Path) -> dict[str, str]:
    root = folder / "logs"
    return (
        {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*.log"))}
        if root.exists()
        else {}
    )


@pytest.fixture
def live_for(
    fake_apiserver: Callable[..., FakeApiServer], kubeconfig_for: Callable[[FakeApiServer], Path]
) -> Iterator[Callable[[Path], LiveReader]]:
    readers: list[LiveReader] = []

    def open_reader(snapshot: Path) -> LiveReader:
        reader = LiveReader.from_kubeconfig(str(kubeconfig_for(fake_apiserver(snapshot))), page_size=5)
        readers.append(reader)
        return reader

    yield open_reader
    for reader in readers:
        reader.close()


@pytest.mark.parametrize(
    ("case", "namespaces"),
    [
        ("reader-behaviour", None),
        ("reader-behaviour", ["shop"]),
        ("cert-login-expired-http01-solver-wrong-class", None),
        ("job-nightly-export-backofflimit-s3-accessdenied", ["data"]),
        ("crashloop-orders-api-missing-env", ["orders"]),
        ("admission-gatekeeper-required-cost-center-label", None),
    ],
)
def test_round_trip_gives_the_same_objects_and_logs(
    live_for: Callable[[Path], LiveReader], tmp_path: Path, case: str, namespaces: list[str] | None
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    capture_snapshot(live_for(SNAPSHOTS / case), first, namespaces=namespaces, logs_tail=1000)
    capture_snapshot(live_for(first), second, namespaces=namespaces, logs_tail=1000)
    assert _items(first) == _items(second)
    assert _logs(first) == _logs(second)
    # and nothing of the source's tabled kinds in those namespaces was lost
    source = _items(SNAPSHOTS / case)
    wanted = {
        key
        for key in source
        if key[0] in KINDS and KINDS[key[0]].namespaced and (namespaces is None or key[1] in namespaces)
    }
    assert wanted <= set(_items(first))
    source_logs = {
        k: v
        for k, v in _logs(SNAPSHOTS / case).items()
        if namespaces is None or k.split("/")[0] in namespaces
    }
    assert set(source_logs) <= set(_logs(first))


def test_gatekeeper_constraints_follow_their_templates(
    live_for: Callable[[Path], LiveReader], tmp_path: Path
) -> None:
    case = SNAPSHOTS / "admission-gatekeeper-required-cost-center-label"
    capture_snapshot(live_for(case), tmp_path / "out")
    items = _items(tmp_path / "out")
    assert ("ConstraintTemplate", "", "k8srequiredlabels") in items
    assert (
        items[("K8sRequiredLabels", "", "require-cost-center")]
        == _items(case)[("K8sRequiredLabels", "", "require-cost-center")]
    )


def test_capture_of_a_namespace_keeps_what_relates_to_it(
    live_for: Callable[[Path], LiveReader], tmp_path: Path
) -> None:
    report = capture_snapshot(live_for(BEHAVIOUR), tmp_path / "out", namespaces=["shop"])
    items = _items(tmp_path / "out")
    assert not [k for k in items if k[1] == "ops"]
    assert ("Namespace", "", "shop") in items and ("Namespace", "", "ops") not in items
    assert {k[2] for k in items if k[0] == "Node"} == {"node-0", "node-1"}
    assert ("PersistentVolume", "", "pv-cart-db") in items and ("StorageClass", "", "gp3") in items
    assert ("ClusterRoleBinding", "", "checkout-reader") in items and (
        "ClusterRole",
        "",
        "checkout-reader",
    ) in items
    assert ("ClusterRole", "", "unrelated-admin") not in items
    assert report.objects["Pod"] == 13 and report.problems == []


def test_capture_never_writes_secret_values(live_for: Callable[[Path], LiveReader], tmp_path: Path) -> None:
    out = tmp_path / "out"
    capture_snapshot(live_for(BEHAVIOUR), out, namespaces=["shop"])
    secret = _items(out)[("Secret", "shop", "checkout-secrets")]
    assert secret["keyNames"] == ["db-url", "stripe-key"] and "data" not in secret
    written = "".join(p.read_text() for p in out.rglob("*") if p.is_file())
    for value in SECRET_VALUES:
        assert value not in written
    pod = _items(out)[("Pod", "shop", "checkout-0")]
    env = {e["name"]: e for e in pod["spec"]["containers"][0]["env"]}
    assert env["DB_PASSWORD"]["value"].startswith("<redacted:")
    assert env["STRIPE_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "checkout-secrets", "key": "stripe-key"}
    previous = (out / "logs/shop/checkout-0/checkout.previous.log").read_text()
    assert "postgres://checkout:<redacted:" in previous and "FATAL exiting with status 1" in previous


def test_capture_reads_current_and_previous_logs(
    live_for: Callable[[Path], LiveReader], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    report = capture_snapshot(live_for(BEHAVIOUR), out, namespaces=["shop"], logs_tail=5)
    logs = _logs(out)
    assert set(logs) == {
        "shop/checkout-0/checkout.log",
        "shop/checkout-0/checkout.previous.log",  # restarted 7 times
        "shop/checkout-0/envoy.log",
        "shop/checkout-0/migrate.log",
    }
    assert len(logs["shop/checkout-0/checkout.log"].splitlines()) == 5
    assert report.logs == 4


def test_forbidden_reads_are_reported_not_fatal(
    fake_apiserver: Callable[..., FakeApiServer],
    kubeconfig_for: Callable[[FakeApiServer], Path],
    tmp_path: Path,
) -> None:
    server = fake_apiserver(BEHAVIOUR, faults=Faults(forbid=frozenset({"secrets", "pods/log"})))
    reader = LiveReader.from_kubeconfig(str(kubeconfig_for(server)))
    report = capture_snapshot(reader, tmp_path / "out", namespaces=["shop"])
    assert "Secret" not in report.objects and report.objects["Pod"] == 13
    assert any("list Secret -n shop: Forbidden 403" in p for p in report.problems)
    assert any("logs Pod/checkout-0" in p and "Forbidden" in p for p in report.problems)
    assert report.logs == 0


def test_capture_refuses_to_overwrite(live_for: Callable[[Path], LiveReader], tmp_path: Path) -> None:
    reader = live_for(BEHAVIOUR)
    capture_snapshot(reader, tmp_path, namespaces=["ops"])
    with pytest.raises(CaptureError, match="already holds a snapshot"):
        capture_snapshot(reader, tmp_path, namespaces=["ops"])
    capture_snapshot(reader, tmp_path, namespaces=["ops"], overwrite=True)


def test_cli_captures_through_a_kubeconfig(
    fake_apiserver: Callable[..., FakeApiServer],
    kubeconfig_for: Callable[[FakeApiServer], Path],
    tmp_path: Path,
) -> None:
    server = fake_apiserver(BEHAVIOUR)
    kubeconfig = kubeconfig_for(server)
    out = tmp_path / "snap"
    result = CliRunner().invoke(app, ["snapshot", str(out), "-n", "shop", "--kubeconfig", str(kubeconfig)])
    assert result.exit_code == 0, result.output
    assert "13 Pod" in result.output
    assert ("Pod", "shop", "checkout-0") in _items(out)
    assert all(r.method == "GET" for r in server.requests)


@pytest.mark.parametrize(
    "args",
    [["--all-namespaces", "-n", "shop"], []],
    ids=["both", "neither"],
)
def test_cli_needs_exactly_one_scope(tmp_path: Path, args: list[str]) -> None:
    result = CliRunner().invoke(app, ["snapshot", str(tmp_path / "x"), *args])
    assert result.exit_code == exit_codes.BAD_INPUT
    assert "--namespace" in result.output


def test_cli_unreachable_cluster_exits_3(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    kubeconfig = write_kubeconfig(tmp_path / "kc", f"http://127.0.0.1:{port}")
    result = CliRunner().invoke(
        app, ["snapshot", str(tmp_path / "out"), "-A", "--kubeconfig", str(kubeconfig)]
    )
    assert result.exit_code == exit_codes.CLUSTER_UNREACHABLE
    assert "cannot read the cluster" in result.output
    assert not (tmp_path / "out").exists()
