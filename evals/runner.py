"""Running cases through the graph and scoring them: the engine behind ``idp eval``.

Each case runs against its own snapshot, either read directly (the snapshot source) or
served by the loopback API stand-in and read through the live source, so that the real
``kubernetes`` client path is exercised on every case.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from langchain_core.runnables import RunnableConfig
from pydantic import ValidationError

from evals.cases import Case
from evals.scoring import missing_mentions, score
from graph.builder import RECURSION_LIMIT, graph
from graph.context import Context, Deps
from graph.state import InputState
from graph.tracing import run_config, traced_run
from tools.reader import ClusterReader
from tools.snapshot import SnapshotReader

if TYPE_CHECKING:
    from idp.settings import Settings


@dataclass
class CaseResult:
    id: str
    passed: bool
    expected_category: str
    category: str
    checks: dict[str, bool]
    missing: list[str]
    api_requests: int
    loops: int
    mode: str
    elapsed_ms: float
    diagnosis: dict[str, Any] = field(repr=False, default_factory=dict)

    def to_report(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "passed": self.passed,
            "expected_category": self.expected_category,
            "category": self.category,
            "checks": self.checks,
            "missing": self.missing,
            "api_requests": self.api_requests,
            "loops": self.loops,
            "mode": self.mode,
            "elapsed_ms": round(self.elapsed_ms, 2),
        }


@contextmanager
def snapshot_reader(case: Case) -> Iterator[ClusterReader]:
    yield SnapshotReader(case.path)


@contextmanager
def apiserver_reader(case: Case) -> Iterator[ClusterReader]:
    """The case served over real HTTP by the stand-in, read with the official client."""
    from tools.fake_apiserver import FakeApiServer, write_kubeconfig
    from tools.live import LiveReader

    with FakeApiServer(case.path) as api, tempfile.TemporaryDirectory(prefix="idp-eval-") as tmp:
        kubeconfig = write_kubeconfig(Path(tmp) / "kubeconfig", api.url)
        yield LiveReader.from_kubeconfig(str(kubeconfig), timeout_s=5.0)


ReaderFactory = Callable[[Case], Any]


def run_case(case: Case, base: Deps, reader_for: ReaderFactory = snapshot_reader) -> CaseResult:
    with reader_for(case) as reader:
        deps = Deps(reader=reader, runbooks=base.runbooks, model=base.model, settings=base.settings)
        start = time.perf_counter()
        config = cast(RunnableConfig, {"recursion_limit": RECURSION_LIMIT, **run_config(case.id)})
        with traced_run(base.settings, dict(case.input), case.id) as trace:
            try:
                out = graph.invoke(
                    cast(InputState, dict(case.input)), config, context=Context(deps=deps, case_id=case.id)
                )
            except ValidationError as exc:
                # A case whose input the service would refuse with a 4xx: a failed case, not a crash.
                return _rejected(case, exc)
            trace.finish(out["diagnosis"])
        elapsed = (time.perf_counter() - start) * 1000
    diagnosis = out["diagnosis"]
    checks = score(case.expect, diagnosis)
    return CaseResult(
        id=case.id,
        passed=all(checks.values()),
        expected_category=case.expect.category,
        category=diagnosis["category"],
        checks=checks,
        missing=missing_mentions(case.expect, diagnosis),
        api_requests=diagnosis.get("api_requests", 0),
        loops=diagnosis.get("loops", 0),
        mode=diagnosis.get("mode", "rules"),
        elapsed_ms=elapsed,
        diagnosis=diagnosis,
    )


def _rejected(case: Case, exc: ValidationError) -> CaseResult:
    problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
    return CaseResult(
        id=case.id,
        passed=False,
        expected_category=case.expect.category,
        category="(input rejected)",
        checks={"category": False},
        missing=[f"input rejected: {problems}"],
        api_requests=0,
        loops=0,
        mode="rules",
        elapsed_ms=0.0,
    )


def report(results: list[CaseResult]) -> dict[str, Any]:
    """The JSON report ``idp eval --report`` writes (its top-level keys are a contract)."""
    passed = sum(r.passed for r in results)
    by_category: dict[str, dict[str, int]] = {}
    for r in results:
        row = by_category.setdefault(r.expected_category, {"passed": 0, "total": 0})
        row["total"] += 1
        row["passed"] += int(r.passed)
    return {
        "pass_rate": round(passed / len(results), 4) if results else 0.0,
        "passed": passed,
        "total": len(results),
        "by_category": by_category,
        "cases": [r.to_report() for r in results],
    }


def log_experiment(results: list[CaseResult], cases: list[Case], settings: Settings) -> str:
    """Record this eval as a LangSmith experiment (needs LANGSMITH_API_KEY); returns its name.

    The cases become examples of the ``idp-agent-evals`` dataset (added once, by case id); the
    experiment replays the diagnoses this run already made (no second graph run), scored by
    the same checks as the JSON report.
    """
    from langsmith import evaluate

    from graph.tracing import langsmith_client

    client = langsmith_client(settings)
    dataset_name = "idp-agent-evals"
    if client.has_dataset(dataset_name=dataset_name):
        dataset = client.read_dataset(dataset_name=dataset_name)
    else:
        dataset = client.create_dataset(dataset_name, description="idp-agent eval cases (FORMAT.md)")
    present = {(e.metadata or {}).get("case_id") for e in client.list_examples(dataset_id=dataset.id)}
    new = [c for c in cases if c.id not in present]
    if new:
        client.create_examples(
            dataset_id=dataset.id,
            examples=[
                {
                    "inputs": {"case_id": c.id, **dict(c.input)},
                    "outputs": {"category": c.expect.category},
                    "metadata": {"case_id": c.id},
                }
                for c in new
            ],
        )
    by_id = {r.id: r for r in results}

    def replay(inputs: dict[str, Any]) -> dict[str, Any]:
        result = by_id.get(str(inputs.get("case_id")))
        return {"diagnosis": result.diagnosis if result else None, "checks": result.checks if result else {}}

    def passed(outputs: dict[str, Any]) -> dict[str, Any]:
        checks = outputs.get("checks") or {}
        return {"key": "passed", "score": int(bool(checks) and all(checks.values()))}

    examples = [
        e for e in client.list_examples(dataset_id=dataset.id) if (e.metadata or {}).get("case_id") in by_id
    ]
    experiment = evaluate(
        replay,
        data=examples,
        evaluators=[passed],
        experiment_prefix="idp-eval",
        metadata={"modes": sorted({r.mode for r in results})},
        client=client,
    )
    return str(experiment.experiment_name)
