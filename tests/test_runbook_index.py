"""The runbook index contract, run against every implementation, plus the embedded index's persistence,
the suggest logic, the ``idp runbooks`` command and retrieval quality on the labelled query set.

The contract suite runs against the embedded index always and against a real Weaviate only when
``WEAVIATE_URL`` is set (it writes to a throw-away collection and drops it afterwards).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from typer.testing import CliRunner

from idp.cli import app
from idp.settings import Settings
from runbooks.analyzer import analyze
from runbooks.embedded import EmbeddedIndex
from runbooks.index import RunbookHit, RunbookIndex, build_index
from runbooks.library import BUILTIN_DIR, Runbook, load_runbooks
from runbooks.quality import load_queries, measure, noisy_classifier
from runbooks.suggest import clean_query, reason_hints, suggest_runbooks

QUERIES = Path(__file__).resolve().parents[1] / "benchmarks" / "runbook_queries.yaml"
RUNBOOKS = load_runbooks([BUILTIN_DIR])

TEAM_RUNBOOK = """---
id: payments-ledger-drift
title: Ledger reconciliation drift in the payments batch
categories: [JobFailed]
keywords: [ledger drift, reconciliation mismatch, payments batch]
symptoms: ["reconcile: ledger drift detected between postgres and the warehouse"]
---
# Ledger reconciliation drift in the payments batch

## Symptoms
The nightly reconcile job logs `ledger drift detected`.

## Diagnose
```bash
kubectl logs job/<job> -n payments
```

## Fix
```bash
kubectl create job <job>-rerun -n payments --from=cronjob/<cronjob>
```

## Prevent
Alert on drift.

## References
- https://kubernetes.io/docs/concepts/workloads/controllers/job/
"""


def _team_dir(root: Path) -> Path:
    team = root / "team-runbooks"
    team.mkdir(parents=True, exist_ok=True)
    (team / "ledger.md").write_text(TEAM_RUNBOOK, encoding="utf-8")
    return team


# ----- implementations under contract -----------------------------------------------------------


@pytest.fixture(scope="module", params=["embedded", "weaviate"])
def index(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunbookIndex]:
    team = _team_dir(tmp_path_factory.mktemp("team"))
    runbooks = load_runbooks([BUILTIN_DIR, team])
    if request.param == "embedded":
        yield EmbeddedIndex(runbooks, cache_dir=tmp_path_factory.mktemp("cache"), encoder=None)
        return
    settings = Settings()  # type: ignore[call-arg]  # pydantic-settings fills fields from the env
    if not settings.weaviate_url:
        pytest.skip("WEAVIATE_URL is not set: no Weaviate server to run the contract against")
    from runbooks.weaviate_index import WeaviateIndex, connect

    api_key = settings.weaviate_api_key.get_secret_value() if settings.weaviate_api_key else None
    client = connect(settings.weaviate_url, api_key)
    collection = f"IdpRunbookContract{uuid.uuid4().hex[:8]}"
    try:
        yield WeaviateIndex(
            client, runbooks, alpha=settings.weaviate_alpha, encoder=None, collection=collection
        )
    finally:
        client.collections.delete(collection)
        client.close()


def test_index_is_ready_and_lists_every_runbook(index: RunbookIndex) -> None:
    assert index.ready
    assert len(index) == len(RUNBOOKS) + 1
    assert sorted(index.ids()) == sorted([runbook.id for runbook in RUNBOOKS] + ["payments-ledger-drift"])
    assert isinstance(index, RunbookIndex)


def test_get_returns_title_and_section_texts(index: RunbookIndex) -> None:
    runbook = index.get("oomkilled")
    assert isinstance(runbook, Runbook)
    assert "OOMKilled" in runbook.title
    assert "137" in (runbook.section("Symptoms") or "")
    assert "kubectl set resources" in (runbook.section("Fix") or "")
    assert index.get("no-such-runbook") is None


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ImagePullBackOff", "imagepullbackoff"),
        ("image pull back off", "imagepullbackoff"),
        ("container exited with code 137", "oomkilled"),
        ("the JVM ran out of memory", "oomkilled"),
        ('User "system:serviceaccount:ci:deploy" cannot patch resource "deployments" (403)', "rbacforbidden"),
        ("ingress answers 503 for every request", "serviceunreachable"),
        ("Error acquiring the state lock", "terraformstatelock"),
        ("0/3 nodes are available: 3 Insufficient cpu", "failedscheduling"),
        ("reconcile: ledger drift detected", "payments-ledger-drift"),
    ],
    ids=[
        "camelcase-reason",
        "split-reason",
        "exit-code",
        "synonym-out-of-memory",
        "http-403",
        "http-503",
        "terraform",
        "scheduler-message",
        "team-runbook",
    ],
)
def test_search_ranks_the_matching_runbook_first(index: RunbookIndex, query: str, expected: str) -> None:
    hits = index.search(query, top_k=3)
    assert hits and hits[0].id == expected, [hit.id for hit in hits]


def test_hits_have_the_documented_shape_best_first(index: RunbookIndex) -> None:
    hits = index.search("Liveness probe failed: connect: connection refused", top_k=5)
    assert 1 <= len(hits) <= 5
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)
    for hit in hits:
        assert isinstance(hit, RunbookHit)
        assert 0.0 < hit.score <= 1.0
        runbook = index.get(hit.id)
        assert runbook is not None and hit.title == runbook.title and hit.categories == runbook.categories
        assert hit.section is None or hit.section in runbook.sections
    assert hits[0].id == "probefailure" and hits[0].section in {"Symptoms", "Diagnose", "Fix"}


def test_top_k_bounds_the_result(index: RunbookIndex) -> None:
    assert len(index.search("pod", top_k=1)) == 1
    assert index.search("pod", top_k=0) == []


def test_category_boost_reorders_an_ambiguous_query(index: RunbookIndex) -> None:
    query = "pods keep restarting"
    plain = [hit.id for hit in index.search(query, top_k=3)]
    boosted = index.search(query, top_k=3, categories={"OOMKilled": 0.9, "CrashLoopBackOff": 0.1})
    assert plain[0] != "oomkilled"
    assert boosted[0].id == "oomkilled"


def test_categories_alone_retrieve_their_runbooks(index: RunbookIndex) -> None:
    hits = index.search("", top_k=3, categories={"TerraformStateLock": 0.8, "DNSFailure": 0.4})
    assert [hit.id for hit in hits][:2] == ["terraformstatelock", "dnsfailure"]
    assert hits[0].score > hits[1].score


def test_nothing_matches_nothing(index: RunbookIndex) -> None:
    assert index.search("", top_k=3) == []
    assert index.search("zzqx qqvv", top_k=3) == []
    assert index.search("Evicted", top_k=3, categories={"NotALabel": 1.0})[0].id == "evicted"


def test_weaviate_ingestion_is_idempotent_and_replaces_changed_runbooks(tmp_path: Path) -> None:
    settings = Settings()  # type: ignore[call-arg]  # pydantic-settings fills fields from the env
    if not settings.weaviate_url:
        pytest.skip("WEAVIATE_URL is not set: no Weaviate server to ingest into")
    from runbooks.weaviate_index import WeaviateIndex, connect

    team = _team_dir(tmp_path)
    api_key = settings.weaviate_api_key.get_secret_value() if settings.weaviate_api_key else None
    client = connect(settings.weaviate_url, api_key)
    collection = f"IdpRunbookIngest{uuid.uuid4().hex[:8]}"
    try:
        first = WeaviateIndex(client, load_runbooks([team]), encoder=None, collection=collection)
        again = WeaviateIndex(client, load_runbooks([team]), encoder=None, collection=collection)
        assert first.written == 4 and (again.written, again.removed) == (0, 0)
        ledger = team / "ledger.md"
        ledger.write_text(
            ledger.read_text(encoding="utf-8").replace("Alert on drift.", "Page on drift."), "utf-8"
        )
        changed = WeaviateIndex(client, load_runbooks([team]), encoder=None, collection=collection)
        assert (changed.written, changed.removed) == (4, 4)
    finally:
        client.collections.delete(collection)
        client.close()


# ----- the analyzer -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("ImagePullBackOff", {"imag", "pull", "back", "imagepullbackoff"}),
        ("exit code 137", {"137", "oom", "sigkill"}),
        ("killed by SIGTERM", {"sigterm"}),
        ("HTTP 403 Forbidden", {"403", "forbidden"}),
        ("Init:CrashLoopBackOff", {"init", "initcontainer", "crashloopbackoff"}),
        ("out of memory", {"oom"}),
        ("pvc stuck", {"persistentvolumeclaim"}),
        ("evicted pods, eviction", {"evict"}),
    ],
)
def test_analyzer_keeps_kubernetes_tokens(text: str, tokens: set[str]) -> None:
    assert tokens <= set(analyze(text))


# ----- persistence of the embedded index --------------------------------------------------------


def test_persisted_index_is_reused_until_a_runbook_changes(tmp_path: Path) -> None:
    library = tmp_path / "library"
    shutil.copytree(BUILTIN_DIR, library, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    cache = tmp_path / "cache"

    first = EmbeddedIndex.from_dirs([library], cache_dir=cache, encoder=None)
    second = EmbeddedIndex.from_dirs([library], cache_dir=cache, encoder=None)
    assert not first.from_cache and second.from_cache
    assert second.key == first.key and (cache / first.key / "manifest.json").is_file()
    assert [hit.id for hit in second.search("exceeded quota")] == [
        hit.id for hit in first.search("exceeded quota")
    ]

    oom = library / "oomkilled.md"
    oom.write_text(oom.read_text(encoding="utf-8").replace("java heap", "java heap, GOGC tuning"), "utf-8")
    third = EmbeddedIndex.from_dirs([library], cache_dir=cache, encoder=None)
    assert not third.from_cache and third.key != first.key
    assert third.search("GOGC tuning")[0].id == "oomkilled"
    assert EmbeddedIndex.from_dirs([library], cache_dir=cache, encoder=None).from_cache


def test_unreadable_persisted_index_is_rebuilt(tmp_path: Path) -> None:
    built = EmbeddedIndex.from_dirs([BUILTIN_DIR], cache_dir=tmp_path, encoder=None)
    (tmp_path / built.key / "manifest.json").write_text("{not json", encoding="utf-8")
    again = EmbeddedIndex.from_dirs([BUILTIN_DIR], cache_dir=tmp_path, encoder=None)
    assert not again.from_cache
    assert again.search("FailedCreatePodSandBox")[0].id == "podsandboxfailure"


def test_build_index_uses_the_data_dir_and_team_folders(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    team = _team_dir(tmp_path)
    monkeypatch.setenv("IDP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("IDP_RUNBOOKS_DIRS", str(team))
    monkeypatch.delenv("WEAVIATE_URL", raising=False)
    settings = Settings()  # type: ignore[call-arg]  # pydantic-settings fills fields from the env
    index = build_index(settings)
    assert isinstance(index, EmbeddedIndex)
    assert "payments-ledger-drift" in index.ids()
    assert list((tmp_path / "data" / "runbook-index").iterdir())


def test_build_index_selects_weaviate_when_its_url_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    from weaviate.exceptions import WeaviateConnectionError

    # nothing listens on this loopback port: reaching the real client's connect proves the choice
    monkeypatch.setenv("WEAVIATE_URL", "http://127.0.0.1:9")
    settings = Settings()  # type: ignore[call-arg]  # pydantic-settings fills fields from the env
    with pytest.raises(WeaviateConnectionError):
        build_index(settings)


class HashingEncoder:
    """A deterministic bag-of-words encoder: a stand-in for the packaged MiniLM at the Encoder seam."""

    name = "hashing-test-encoder"

    def encode(self, texts: list[str]) -> npt.NDArray[np.float32]:
        vectors = np.zeros((len(texts), 256), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in analyze(text):
                vectors[row, int(hashlib.md5(token.encode()).hexdigest(), 16) % 256] += 1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.where(norms == 0, 1.0, norms)).astype(np.float32)


def test_dense_vectors_are_blended_and_persisted(tmp_path: Path) -> None:
    dense = EmbeddedIndex.from_dirs([BUILTIN_DIR], cache_dir=tmp_path, encoder=HashingEncoder())
    lexical = EmbeddedIndex.from_dirs([BUILTIN_DIR], cache_dir=tmp_path, encoder=None)
    assert dense.key != lexical.key
    assert (tmp_path / dense.key / "dense.npy").is_file()
    reloaded = EmbeddedIndex.from_dirs([BUILTIN_DIR], cache_dir=tmp_path, encoder=HashingEncoder())
    assert reloaded.from_cache
    query = "x509: certificate has expired"
    assert reloaded.search(query)[0].id == "certificateerror"
    assert reloaded.search(query)[0].score != lexical.search(query)[0].score


# ----- suggest ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def builtin() -> EmbeddedIndex:
    return EmbeddedIndex(RUNBOOKS, encoder=None)


def test_suggest_prefers_the_cause_over_the_status(builtin: EmbeddedIndex) -> None:
    text = (
        "api-7c9 0/1 CrashLoopBackOff 14\n  Last State: Terminated\n    Reason: OOMKilled\n    Exit Code: 137"
    )
    hits = suggest_runbooks(builtin, text, top_k=3)
    assert [hit.id for hit in hits][:2] == ["oomkilled", "crashloopbackoff"]
    assert hits[0].section is not None


def test_suggest_reads_init_container_status_as_its_own_category(builtin: EmbeddedIndex) -> None:
    hits = suggest_runbooks(builtin, "web-0 0/1 Init:CrashLoopBackOff 5 (2m ago) 8m", top_k=3)
    assert hits[0].id == "initcontainerfailure"


def test_suggest_caller_categories_win(builtin: EmbeddedIndex) -> None:
    hits = suggest_runbooks(builtin, "pods are unhappy", top_k=1, categories={"HPAFailure": 1.0})
    assert hits[0].id == "hpafailure"


def test_suggest_strips_colour_codes_and_bounds_long_pastes(builtin: EmbeddedIndex) -> None:
    coloured = "\x1b[31mError: Error acquiring the state lock\x1b[0m"
    assert clean_query(coloured) == "Error: Error acquiring the state lock"
    long_paste = "noise line\n" * 5000 + "x509: certificate signed by unknown authority"
    assert len(clean_query(long_paste)) < 7000
    assert suggest_runbooks(builtin, long_paste, top_k=1)[0].id == "certificateerror"
    assert suggest_runbooks(builtin, "   ", top_k=3) == []


def test_reason_hints_only_fire_on_explicit_reasons() -> None:
    assert reason_hints("the app is slow") == {}
    assert reason_hints("Warning FailedCreatePodSandBox kubelet ...") == {"PodSandboxFailure": 0.6}


# ----- idp runbooks -----------------------------------------------------------------------------


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("IDP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("IDP_RUNBOOKS_DIRS", raising=False)
    monkeypatch.delenv("WEAVIATE_URL", raising=False)
    return tmp_path


def test_cli_index_builds_then_reuses(cli_env: Path) -> None:
    team = _team_dir(cli_env)
    runner = CliRunner()
    first = runner.invoke(app, ["runbooks", "index", "--dir", str(team)])
    second = runner.invoke(app, ["runbooks", "index", "--dir", str(team)])
    assert first.exit_code == 0, first.output
    assert f"indexed {len(RUNBOOKS) + 1} runbooks in" in first.output
    assert "reused" not in first.output and "reused the persisted index" in second.output
    assert (cli_env / "data" / "runbook-index").is_dir()


def test_cli_search_json_lists_hits_best_first(cli_env: Path) -> None:
    result = CliRunner().invoke(
        app, ["runbooks", "search", "Multi-Attach error for volume", "--top", "2", "--json"]
    )
    assert result.exit_code == 0, result.output
    hits = json.loads(result.output)
    assert len(hits) == 2
    assert all(set(hit) == {"id", "title", "score", "section"} for hit in hits)
    assert hits[0]["id"] == "volumemountfailure" and hits[0]["score"] >= hits[1]["score"]


def test_cli_search_text_and_bad_input(cli_env: Path) -> None:
    runner = CliRunner()
    text = runner.invoke(app, ["runbooks", "search", "Kubelet stopped posting node status"])
    assert text.exit_code == 0 and text.output.startswith("1. nodenotready")
    assert runner.invoke(app, ["runbooks", "search", "  "]).exit_code == 2
    assert runner.invoke(app, ["runbooks", "search", "x", "--top", "0"]).exit_code == 2


def test_cli_reports_an_unreachable_weaviate(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEAVIATE_URL", "http://127.0.0.1:9")
    result = CliRunner().invoke(app, ["runbooks", "search", "x509"])
    assert result.exit_code == 2
    assert "cannot open the runbook index" in result.output


# ----- quality on the labelled query set --------------------------------------------------------


def test_labelled_queries_meet_the_quality_bar(builtin: EmbeddedIndex) -> None:
    queries = load_queries(QUERIES)
    assert len(queries) >= 100
    assert {query.runbook for query in queries} >= {runbook.id for runbook in RUNBOOKS} - {"pvc-pending"}
    plain = measure(queries, lambda query: builtin.search(query.q, top_k=10))
    assert plain.hit_at_3 >= 0.95, plain.misses
    assert plain.hit_at_1 >= 0.85
    labels = sorted({label for runbook in RUNBOOKS for label in runbook.categories})
    hypotheses = noisy_classifier(queries, labels)
    boosted = measure(
        queries, lambda query: builtin.search(query.q, top_k=10, categories=hypotheses.get(query.q))
    )
    assert boosted.hit_at_3 >= plain.hit_at_3 - 0.02, boosted.misses
