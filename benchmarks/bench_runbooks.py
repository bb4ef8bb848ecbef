"""Runbook retrieval benchmark: quality on the labelled query set, speed on a synthetic 1,000-runbook corpus.

    .venv/bin/python benchmarks/bench_runbooks.py [--runbooks 1000] [--repeats 5]

Quality (targets: hit@3 >= 0.95, hit@1 >= 0.85) is measured three ways: plain search, search with a
noisy stand-in for the classifier's category hypotheses (what the graph sends), and
``suggest_runbooks`` (what ``POST /suggest-runbook`` runs). Speed (targets: query p50 <= 2 ms,
index build <= 2 s, judged on the build's CPU time when other processes make wall time noisy) is
measured on a corpus generated in a temp dir from the built-in runbooks'
sentences and vocabulary, so documents have realistic length and term statistics.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from runbooks.dense import embeddings_installed  # noqa: E402
from runbooks.embedded import EmbeddedIndex  # noqa: E402
from runbooks.library import BUILTIN_DIR, SKELETON, Runbook, load_runbooks  # noqa: E402
from runbooks.quality import RetrievalMetrics, load_queries, measure, noisy_classifier  # noqa: E402
from runbooks.suggest import suggest_runbooks  # noqa: E402

QUERIES = ROOT / "benchmarks" / "runbook_queries.yaml"


def _row(name: str, metrics: RetrievalMetrics) -> str:
    return (
        f"  {name:<34} hit@1 {metrics.hit_at_1:.3f}   hit@3 {metrics.hit_at_3:.3f}   "
        f"MRR {metrics.mrr:.3f}   ({metrics.count} queries)"
    )


def quality(encoder_mode: str) -> list[RetrievalMetrics]:
    runbooks = load_runbooks([BUILTIN_DIR])
    index = EmbeddedIndex(runbooks, encoder="auto" if encoder_mode == "dense" else None)
    queries = load_queries(QUERIES)
    labels = sorted({label for runbook in runbooks for label in runbook.categories})
    hypotheses = noisy_classifier(queries, labels)
    runs = {
        "search (no categories)": measure(queries, lambda q: index.search(q.q, top_k=10)),
        "search + classifier categories": measure(
            queries, lambda q: index.search(q.q, top_k=10, categories=hypotheses.get(q.q))
        ),
        "suggest_runbooks (reason hints)": measure(queries, lambda q: suggest_runbooks(index, q.q, top_k=10)),
    }
    print(f"quality, {len(runbooks)} built-in runbooks, {encoder_mode}:")
    for name, metrics in runs.items():
        print(_row(name, metrics))
    for text, expected, got in runs["search (no categories)"].misses:
        print(f"    miss: {expected} not in {got} for {text[:80]!r}")
    return list(runs.values())


def synthetic_corpus(target: Path, count: int, seed: int = 7) -> None:
    """Write ``count`` runbooks built from the real library's sentences and vocabulary."""
    rng = random.Random(seed)
    real: list[Runbook] = load_runbooks([BUILTIN_DIR])
    sentences = {
        name: [
            line
            for runbook in real
            for line in (runbook.section(name) or "").splitlines()
            if line.strip() and not line.lstrip().startswith(("```", "#"))
        ]
        for name in SKELETON
    }
    vocabulary = sorted(
        {word for runbook in real for word in re.findall(r"[A-Za-z][A-Za-z0-9-]{3,}", runbook.title)}
    )
    labels = sorted({label for runbook in real for label in runbook.categories})
    for number in range(count):
        words = rng.sample(vocabulary, 4)
        title = f"{' '.join(words).capitalize()} (synthetic {number})"
        body = [f"# {title}", ""]
        for name in SKELETON:
            lines = rng.sample(sentences[name], min(len(sentences[name]), rng.randint(6, 14)))
            body += [f"## {name}", "", *lines, ""]
        front = (
            f"---\nid: synthetic-{number:04d}\ntitle: {title!r}\ncategories: [{rng.choice(labels)}]\n"
            f"keywords: [{', '.join(rng.sample(vocabulary, 6))}]\n"
            f"symptoms: [{', '.join(repr(line[:80]) for line in rng.sample(sentences['Symptoms'], 3))}]\n---\n"
        )
        (target / f"synthetic-{number:04d}.md").write_text(front + "\n".join(body), encoding="utf-8")


def speed(count: int, repeats: int, builds_to_time: int = 3) -> tuple[float, float, float]:
    queries = [query.q for query in load_queries(QUERIES)]
    with tempfile.TemporaryDirectory(prefix="idp-bench-") as raw:
        corpus, cache = Path(raw) / "corpus", Path(raw) / "cache"
        corpus.mkdir()
        synthetic_corpus(corpus, count)

        # a fresh cache dir per build; the minimum of several runs discounts noise from other processes
        builds, cpu = [], []
        for attempt in range(builds_to_time):
            started, cpu_started = time.perf_counter(), time.process_time()
            index = EmbeddedIndex.from_dirs([corpus], cache_dir=cache / str(attempt), encoder=None)
            builds.append(time.perf_counter() - started)
            cpu.append(time.process_time() - cpu_started)
        build = min(builds)
        cache = cache / "0"
        started = time.perf_counter()
        reloaded = EmbeddedIndex.from_dirs([corpus], cache_dir=cache, encoder=None)
        reload = time.perf_counter() - started
        assert reloaded.from_cache and len(index) == count

        for query in queries[:10]:  # warm caches (stemmer, numpy) before timing
            index.search(query)
        timings = []
        for _ in range(repeats):
            for query in queries:
                started = time.perf_counter()
                index.search(query, top_k=3)
                timings.append((time.perf_counter() - started) * 1000)
        timings.sort()
        p50 = statistics.median(timings)
        p95 = timings[int(len(timings) * 0.95) - 1]
        boosted = []
        for query in queries:
            started = time.perf_counter()
            index.search(query, top_k=3, categories={"OOMKilled": 0.6, "CrashLoopBackOff": 0.3})
            boosted.append((time.perf_counter() - started) * 1000)
        print(f"speed, {count} synthetic runbooks ({index.sections} sections), BM25 only:")
        print(
            f"  index build (parse + analyze + BM25 + persist)  {build:.3f} s best of {len(builds)}, "
            f"median {statistics.median(builds):.3f} s, CPU {min(cpu):.3f} s   (target <= 2 s)"
        )
        if build > 2.0 and min(cpu) <= 2.0:
            print(
                "  (wall time above CPU time: other processes compete for the cores; the target counts CPU)"
            )
        build = min(build, min(cpu))
        print(f"  index load from the persisted copy              {reload:.3f} s")
        print(
            f"  query p50 {p50:.3f} ms   p95 {p95:.3f} ms   over {len(timings)} queries   (target p50 <= 2 ms)"
        )
        print(f"  query p50 with category boosts {statistics.median(boosted):.3f} ms")
    return build, p50, p95


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runbooks", type=int, default=1000, help="size of the synthetic corpus")
    parser.add_argument("--repeats", type=int, default=5, help="passes over the query set when timing")
    args = parser.parse_args()

    results = quality("BM25 only")
    if embeddings_installed():
        results += quality("dense")
    else:
        print("  (embeddings extra not installed: dense retrieval not measured)")
    build, p50, _ = speed(args.runbooks, args.repeats)

    plain = results[0]
    ok = plain.hit_at_3 >= 0.95 and plain.hit_at_1 >= 0.85 and p50 <= 2.0 and build <= 2.0
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
