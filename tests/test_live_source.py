"""The live source passes the snapshot source's behaviour tests, through the real client over HTTP.

Each behaviour test runs twice: against ``SnapshotReader`` on a fixture folder and against
``LiveReader`` (the official ``kubernetes`` client) talking to the loopback stand-in that
serves the same folder. Then the live source's own duties: typed errors, pagination,
secrets, managedFields, and the ``build_reader`` factory.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from idp.settings import ClusterSource, Settings
from tools.fake_apiserver import FakeApiServer, Faults
from tools.live import LiveConfigError, LiveReader
from tools.reader import ClusterReader
from tools.results import ErrorReason, ReadStatus
from tools.snapshot import SnapshotReader
from tools.sources import NO_CLUSTER_MESSAGE, NoClusterReader, build_reader

BEHAVIOUR = Path(__file__).parent / "fixtures" / "snapshots" / "reader-behaviour"
SECRET_VALUES = ("c2tfbGl2ZV9TRUNSRVRWQUxVRTEyMzQ1", "cG9zdGdyZXM6Ly9hcHA6aHVudGVyMkBkYjo1NDMyL2NoZWNrb3V0")


def _objects(kind: str) -> list[dict[str, Any]]:
    items = json.loads((BEHAVIOUR / "cluster.json").read_text())["items"]
    return [i for i in items if i["kind"] == kind]


def _names(result: Any) -> set[str]:
    assert result.ok, result.explain()
    return {obj["metadata"]["name"] for obj in result.data}


@pytest.fixture(params=["snapshot", "live"])
def reader(
    request: pytest.FixtureRequest,
    fake_apiserver: Callable[..., FakeApiServer],
    kubeconfig_for: Callable[[FakeApiServer], Path],
) -> Iterator[ClusterReader]:
    if request.param == "snapshot":
        yield SnapshotReader(BEHAVIOUR)
        return
    server = fake_apiserver(BEHAVIOUR)
    live = LiveReader.from_kubeconfig(str(kubeconfig_for(server)), timeout_s=5)
    yield live
    live.close()


@pytest.fixture
def api(fake_apiserver: Callable[..., FakeApiServer]) -> FakeApiServer:
    return fake_apiserver(BEHAVIOUR)


@pytest.fixture
def live(api: FakeApiServer, kubeconfig_for: Callable[[FakeApiServer], Path]) -> Iterator[LiveReader]:
    reader = LiveReader.from_kubeconfig(str(kubeconfig_for(api)), timeout_s=2, page_size=4)
    yield reader
    reader.close()


# --- the same behaviour from both sources ---


def test_get_returns_the_whole_object_with_kind(reader: ClusterReader) -> None:
    result = reader.get("Pod", "checkout-0", "shop")
    assert result.ok, result.explain()
    assert result.data is not None
    expected = next(p for p in _objects("Pod") if p["metadata"]["name"] == "checkout-0")
    assert result.data == expected


def test_get_missing_object_is_no_data_not_found(reader: ClusterReader) -> None:
    result = reader.get("Pod", "no-such-pod", "shop")
    assert result.status is ReadStatus.NO_DATA
    assert result.error is not None and result.error.reason is ErrorReason.NOT_FOUND
    assert result.error.code == 404
    assert "no-such-pod" in result.error.message


def test_list_by_namespace_keeps_to_the_namespace(reader: ClusterReader) -> None:
    assert _names(reader.list("Pod", "ops")) == {"backup-28493400-zz9q"}
    assert len(_names(reader.list("Pod", "shop"))) == 13


def test_list_across_namespaces(reader: ClusterReader) -> None:
    result = reader.list("Pod")
    assert result.ok
    assert {p["metadata"]["namespace"] for p in result.data or []} == {"shop", "ops"}
    assert len(result.data or []) == 14
    assert all(p["kind"] == "Pod" and p["apiVersion"] == "v1" for p in result.data or [])


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=checkout", {"checkout-0"}),
        ("tier=web,app=cart", {f"cart-5d8f7-{c * 4}x" for c in "acegik"}),
        ("app in (backup,checkout)", {"checkout-0"}),
        ("app,tier notin (web)", {"checkout-0", *{f"cart-5d8f7-{c * 4}x" for c in "bdfhjl"}}),
        ("app=nothing", set()),
    ],
    ids=["equality", "two-requirements", "set-in", "exists-and-notin", "no-match"],
)
def test_label_selector(reader: ClusterReader, selector: str, expected: set[str]) -> None:
    assert _names(reader.list("Pod", "shop", label_selector=selector)) == expected


def test_field_selector_events_of_one_object(reader: ClusterReader) -> None:
    result = reader.list("Event", "shop", field_selector="involvedObject.name=checkout-0")
    assert _names(result) == {f"checkout-0.17c{i}" for i in range(4)}
    warnings = reader.list("Event", "shop", field_selector="involvedObject.name=checkout-0,type=Warning")
    assert _names(warnings) == {"checkout-0.17c1", "checkout-0.17c3"}


def test_field_selector_pod_phase(reader: ClusterReader) -> None:
    assert _names(reader.list("Pod", "shop", field_selector="status.phase=Pending")) == {
        "cart-5d8f7-jjjjx",
        "cart-5d8f7-kkkkx",
    }
    assert len(_names(reader.list("Pod", field_selector="status.phase!=Running"))) == 4


def test_limit_caps_the_total(reader: ClusterReader) -> None:
    result = reader.list("Pod", "shop", limit=5)
    assert result.ok and len(result.data or []) == 5


def test_logs_current_previous_and_tail(reader: ClusterReader) -> None:
    current = reader.logs("shop", "checkout-0", "checkout", tail_lines=3)
    assert current.ok, current.explain()
    assert (current.data or "").splitlines() == [
        f"2024-05-14T09:{i // 60:02d}:{i % 60:02d}Z INFO request {i} served in {i % 17} ms"
        for i in (298, 299, 300)
    ]
    previous = reader.logs("shop", "checkout-0", "checkout", previous=True)
    assert previous.ok and "FATAL exiting with status 1" in (previous.data or "")
    init = reader.logs("shop", "checkout-0", "migrate")
    assert init.ok and init.data == "migrations up to date\n"


def test_logs_limit_bytes_keeps_the_end(reader: ClusterReader) -> None:
    full = (BEHAVIOUR / "logs/shop/checkout-0/checkout.log").read_text()
    result = reader.logs("shop", "checkout-0", "checkout", tail_lines=None, limit_bytes=500)
    assert result.ok, result.explain()
    text = result.data or ""
    assert 0 < len(text.encode()) <= 500
    assert full.endswith(text)
    assert text.startswith("2024-") and text.endswith("request 300 served in 11 ms\n")


def test_missing_previous_log_is_no_data(reader: ClusterReader) -> None:
    result = reader.logs("shop", "checkout-0", "envoy", previous=True)
    assert result.status is ReadStatus.NO_DATA
    assert result.error is not None and result.error.reason is ErrorReason.NOT_FOUND


def test_logs_of_missing_pod_is_not_found(reader: ClusterReader) -> None:
    result = reader.logs("shop", "no-such-pod", "app")
    assert result.error is not None and result.error.reason is ErrorReason.NOT_FOUND


def test_secret_comes_back_with_key_names_only(reader: ClusterReader) -> None:
    got = reader.get("Secret", "checkout-secrets", "shop")
    listed = reader.list("Secret", "shop")
    assert got.ok and listed.ok
    for secret in (got.data, *(listed.data or [])):
        assert secret is not None
        assert "data" not in secret and "stringData" not in secret
        assert secret["keyNames"] == ["db-url", "stripe-key"]
        dumped = json.dumps(secret)
        assert not any(value in dumped for value in SECRET_VALUES), dumped


def test_cluster_scoped_kinds_ignore_a_namespace(reader: ClusterReader) -> None:
    node = reader.get("Node", "node-1", "shop")
    assert node.ok and node.data is not None
    assert node.data["metadata"]["labels"]["topology.kubernetes.io/zone"] == "eu-west-1b"
    assert _names(reader.list("StorageClass")) == {"gp3"}
    assert _names(reader.list("PersistentVolume", "shop")) == {"pv-cart-db"}
    assert _names(reader.list("ClusterRole")) == {"checkout-reader", "unrelated-admin"}


def test_request_count_counts_reads(reader: ClusterReader) -> None:
    before = reader.request_count
    reader.get("Pod", "checkout-0", "shop")
    reader.list("Event", "shop")
    assert reader.request_count >= before + 2


# --- the live source's own duties ---


def test_pagination_follows_continue_tokens(api: FakeApiServer, live: LiveReader) -> None:
    api.clear_requests()
    result = live.list("Pod")
    assert result.ok and len(result.data or []) == 14
    pages = [r for r in api.requests if r.path == "/api/v1/pods"]
    assert len(pages) == 4  # page size 4: 4 + 4 + 4 + 2
    assert all("limit=4" in p.query for p in pages)
    assert sum("continue=" in p.query for p in pages) == 3


def test_limit_smaller_than_a_page_asks_for_that_many(api: FakeApiServer, live: LiveReader) -> None:
    api.clear_requests()
    result = live.list("Pod", "shop", limit=3)
    assert result.ok and len(result.data or []) == 3
    assert [r.query for r in api.requests] == ["limit=3"]


def test_managed_fields_are_stripped(
    fake_apiserver: Callable[..., FakeApiServer], kubeconfig_for: Any
) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "p",
            "namespace": "n",
            "managedFields": [{"manager": "kubectl", "operation": "Apply"}],
        },
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    server = fake_apiserver([pod])
    reader = LiveReader.from_kubeconfig(str(kubeconfig_for(server)))
    got, listed = reader.get("Pod", "p", "n"), reader.list("Pod", "n")
    assert got.data is not None and "managedFields" not in got.data["metadata"]
    assert listed.data and "managedFields" not in listed.data[0]["metadata"]
    assert got.data["spec"] == pod["spec"]


def test_forbidden_names_the_verb_and_resource(api: FakeApiServer, live: LiveReader) -> None:
    api.faults = Faults(forbid=frozenset({"secrets", "pods/log"}))
    listed = live.list("Secret", "shop")
    assert listed.status is ReadStatus.ERROR
    assert (
        listed.error is not None and listed.error.reason is ErrorReason.FORBIDDEN and listed.error.code == 403
    )
    assert "list" in listed.error.message and "secrets" in listed.error.message
    assert "shop" in listed.error.message
    log = live.logs("shop", "checkout-0", "checkout")
    assert log.error is not None and log.error.reason is ErrorReason.FORBIDDEN
    assert "get" in log.error.message and "pods/log" in log.error.message
    assert live.get("Pod", "checkout-0", "shop").ok  # only the named resources are refused


def test_server_error_is_a_typed_result(api: FakeApiServer, live: LiveReader) -> None:
    api.faults = Faults(fail_rate=1.0)
    result = live.get("Pod", "checkout-0", "shop")
    assert result.error is not None and result.error.reason is ErrorReason.SERVER_ERROR
    assert result.error.code == 500


def test_slow_server_is_a_timeout(api: FakeApiServer, kubeconfig_for: Any) -> None:
    api.faults = Faults(latency_ms=1500)
    reader = LiveReader.from_kubeconfig(str(kubeconfig_for(api)), timeout_s=0.2)
    result = reader.list("Pod", "shop")
    assert result.status is ReadStatus.ERROR
    assert result.error is not None and result.error.reason is ErrorReason.TIMEOUT
    assert "0.2s" in result.error.message


def test_dropped_connection_is_a_typed_result(api: FakeApiServer, live: LiveReader) -> None:
    api.faults = Faults(drop_rate=1.0)
    result = live.get("Pod", "checkout-0", "shop")
    assert result.error is not None and result.error.reason is ErrorReason.UNREACHABLE
    assert any(r.status == 0 for r in api.requests)


def test_closed_port_is_unreachable(tmp_path: Path) -> None:
    from tools.fake_apiserver import write_kubeconfig

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    reader = LiveReader.from_kubeconfig(str(write_kubeconfig(tmp_path / "kc", f"http://127.0.0.1:{port}")))
    for result in (reader.ping(), reader.list("Pod"), reader.logs("shop", "p", "c")):
        assert result.error is not None and result.error.reason is ErrorReason.UNREACHABLE
        assert "refused" in result.error.message.lower()


def test_kind_unknown_to_the_cluster_is_not_found(live: LiveReader) -> None:
    result = live.list("FluxKustomization")
    assert result.error is not None and result.error.reason is ErrorReason.NOT_FOUND
    assert "FluxKustomization" in result.error.message


@pytest.mark.parametrize("source", ["snapshot", "live"])
def test_kinds_outside_the_table_are_read_through_discovery(
    source: str, fake_apiserver: Callable[..., FakeApiServer], kubeconfig_for: Any
) -> None:
    """A Gatekeeper constraint kind is defined by its template, not by our table."""
    case = BEHAVIOUR.parent / "admission-gatekeeper-required-cost-center-label"
    reader: ClusterReader
    if source == "snapshot":
        reader = SnapshotReader(case)
    else:
        reader = LiveReader.from_kubeconfig(str(kubeconfig_for(fake_apiserver(case))))
    listed = reader.list("K8sRequiredLabels")
    assert _names(listed) == {"require-cost-center"}
    got = reader.get("K8sRequiredLabels", "require-cost-center", "ignored-for-cluster-scope")
    assert got.ok and got.data is not None
    assert got.data["apiVersion"] == "constraints.gatekeeper.sh/v1beta1"
    assert got.data["spec"]["parameters"] == {"labels": ["cost-center"]}


def test_uninstalled_crd_lists_as_not_found(live: LiveReader) -> None:
    result = live.list("Certificate", "shop")
    assert result.error is not None and result.error.reason is ErrorReason.NOT_FOUND


def test_ping_reads_the_version(live: LiveReader) -> None:
    result = live.ping()
    assert result.ok and result.data is not None and result.data["major"] == "1"


def test_bad_kubeconfig_fails_at_construction(tmp_path: Path) -> None:
    with pytest.raises(LiveConfigError):
        LiveReader.from_kubeconfig(str(tmp_path / "missing"))


def test_context_is_chosen_by_name(api: FakeApiServer, kubeconfig_for: Any) -> None:
    path = str(kubeconfig_for(api))
    reader = LiveReader.from_kubeconfig(path, "idp-fake")
    assert reader.description == f"live:idp-fake@{api.url}" and reader.ping().ok
    with pytest.raises(LiveConfigError, match="no-such-context"):
        LiveReader.from_kubeconfig(path, "no-such-context")


def test_in_cluster_outside_a_cluster_fails_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_PORT", raising=False)
    with pytest.raises(LiveConfigError, match="not running in a cluster"):
        build_reader(Settings(IDP_IN_CLUSTER=True))  # type: ignore[call-arg]


# --- build_reader ---


def test_build_reader_snapshot() -> None:
    reader = build_reader(Settings(IDP_SNAPSHOT=BEHAVIOUR))  # type: ignore[call-arg]
    assert isinstance(reader, SnapshotReader)
    assert reader.get("Pod", "checkout-0", "shop").ok


def test_build_reader_kubeconfig_reads_the_stand_in(api: FakeApiServer, kubeconfig_for: Any) -> None:
    settings = Settings(KUBECONFIG=str(kubeconfig_for(api)))  # type: ignore[call-arg]
    assert settings.resolved_cluster_source() is ClusterSource.KUBECONFIG
    reader = build_reader(settings)
    assert isinstance(reader, LiveReader)
    assert reader.get("Pod", "checkout-0", "shop").ok


def test_build_reader_none_answers_no_cluster() -> None:
    reader = build_reader(Settings(IDP_CLUSTER_SOURCE="none"))  # type: ignore[call-arg]
    assert isinstance(reader, NoClusterReader)
    for result in (
        reader.get("Pod", "x", "y"),
        reader.list("Node"),
        reader.logs("a", "b", "c"),
        reader.ping(),
    ):
        assert result.status is ReadStatus.ERROR
        assert result.error is not None and result.error.message == NO_CLUSTER_MESSAGE
    assert reader.request_count == 4


def test_build_reader_demo_uses_the_bundled_snapshot() -> None:
    from idp.settings import DEMO_SNAPSHOT

    if not (DEMO_SNAPSHOT / "cluster.json").is_file():
        pytest.skip("the bundled demo snapshot (idp/demo/) is not in this tree yet")
    reader = build_reader(Settings(IDP_CLUSTER_SOURCE="demo"))  # type: ignore[call-arg]
    assert isinstance(reader, SnapshotReader) and reader.path == DEMO_SNAPSHOT
    assert reader.list("Pod").ok
