"""Retrieval quality over a labelled query set: hit@1, hit@3 and MRR.

Shared by ``benchmarks/bench_runbooks.py`` (prints the figures) and the quality test (asserts them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from runbooks.scoring import RunbookHit


@dataclass(frozen=True)
class LabelledQuery:
    """A query, the runbook id that should rank first, and the category a classifier would propose."""

    q: str
    runbook: str
    category: str | None = None


@dataclass
class RetrievalMetrics:
    """Aggregate figures plus the queries that missed the top 3 (for tuning and test messages)."""

    count: int
    hit_at_1: float
    hit_at_3: float
    mrr: float
    misses: list[tuple[str, str, list[str]]] = field(default_factory=list)


def load_queries(path: Path | str) -> list[LabelledQuery]:
    """Read ``queries:`` entries (``q``, ``runbook``, optional ``category``) from a YAML file."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    return [
        LabelledQuery(q=str(item["q"]), runbook=str(item["runbook"]), category=item.get("category"))
        for item in data["queries"]
    ]


Search = Callable[[LabelledQuery], Sequence[RunbookHit]]


def measure(queries: Sequence[LabelledQuery], search: Search, depth: int = 10) -> RetrievalMetrics:
    """Run ``search`` for each query and score the ranking against its label."""
    hit1 = hit3 = 0
    reciprocal = 0.0
    misses: list[tuple[str, str, list[str]]] = []
    for query in queries:
        ranked = [hit.id for hit in search(query)][:depth]
        if ranked[:1] == [query.runbook]:
            hit1 += 1
        if query.runbook in ranked[:3]:
            hit3 += 1
        else:
            misses.append((query.q, query.runbook, ranked[:3]))
        if query.runbook in ranked:
            reciprocal += 1.0 / (ranked.index(query.runbook) + 1)
    total = len(queries) or 1
    return RetrievalMetrics(len(queries), hit1 / total, hit3 / total, reciprocal / total, misses)


def noisy_classifier(
    queries: Sequence[LabelledQuery], labels: Sequence[str]
) -> dict[str, Mapping[str, float]]:
    """Deterministic stand-in for the classifier's hypotheses: right label 0.6 plus a wrong one 0.3.

    Every fifth query gets the wrong label first (0.6) and the right one second (0.3), so the
    figure measures boosts from an imperfect classifier, not from an oracle.
    """
    hypotheses: dict[str, Mapping[str, float]] = {}
    pool = sorted(labels)
    for position, query in enumerate(queries):
        if query.category is None:
            continue
        wrong = pool[(pool.index(query.category) + 7) % len(pool)] if query.category in pool else pool[0]
        if position % 5 == 4:
            hypotheses[query.q] = {wrong: 0.6, query.category: 0.3}
        else:
            hypotheses[query.q] = {query.category: 0.6, wrong: 0.3}
    return hypotheses
