"""Model-in-the-loop figures on the dev set, through the real Gemini client and the loopback stand-in.

    .venv/bin/python benchmarks/bench_llm.py [--cases evals/cases]

Prints: model calls per diagnosis (median, max; target median 1, max 3), estimated input
tokens per call (median, max; target <= IDP_LLM_INPUT_BUDGET, 6,000 by default), secrets from
the snapshots found on the wire (target 0), and the eval pass rate with a stand-in that
answers what the analyzers found versus the rules alone (target: equal).
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import json
import logging
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evals.cases import Case, load_cases  # noqa: E402
from evals.runner import report, run_case  # noqa: E402
from graph.context import Deps  # noqa: E402
from graph.llm import build_model  # noqa: E402
from idp.settings import Settings  # noqa: E402
from runbooks.index import build_index  # noqa: E402
from tools.fake_gemini import FakeGemini, Recorded, Reply, agree_with_rules  # noqa: E402
from tools.sources import NoClusterReader  # noqa: E402

SEEDED = {
    "env": "pw-Env-7c1e9a4f2b",
    "secret_data": "tok-Data-5d8b3e0a91",
    "log_url": "pw-Log-3f6a2c9e7d",
    "bearer": "eyJzdWIiOiJiZW5jaC11c2VyIn0",
}


def seeded_copy(case: Case, into: Path) -> Case:
    """The case with secrets planted where clusters hold them: env values, Secret data, log lines."""
    target = into / case.id
    shutil.copytree(case.path, target)
    cluster = target / "cluster.json"
    if cluster.exists():
        doc = json.loads(cluster.read_text())
        for item in doc.get("items", []):
            if item.get("kind") == "Pod":
                for container in (item.get("spec") or {}).get("containers") or []:
                    container.setdefault("env", []).append({"name": "DB_PASSWORD", "value": SEEDED["env"]})
            if item.get("kind") == "Secret":
                encoded = base64.b64encode(SEEDED["secret_data"].encode()).decode()
                item["data"] = {**(item.get("data") or {}), "token": encoded}
        cluster.write_text(json.dumps(doc))
    for log in target.glob("logs/**/*.log"):
        log.write_text(
            f"connecting to postgres://app:{SEEDED['log_url']}@db:5432/app\n"
            f"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.{SEEDED['bearer']}.c2lnbmF0dXJlLWJlbmNo\n"
            + log.read_text()
        )
    return dataclasses.replace(case, path=target)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=Path, default=ROOT / "evals" / "cases")
    args = parser.parse_args()
    # Fallback warnings are the point of two scenarios below; keep the figures readable.
    logging.basicConfig(level=logging.ERROR)
    cases = load_cases(args.cases)
    rules_settings = Settings(IDP_LLM_PROVIDER="none")
    index = build_index(rules_settings)

    start = time.perf_counter()
    rules = [
        run_case(c, Deps(reader=NoClusterReader(), runbooks=index, settings=rules_settings)) for c in cases
    ]
    rules_s = time.perf_counter() - start

    calls: list[int] = []
    tokens: list[int] = []
    leaks: list[str] = []
    checked = 0
    masked = 0
    with FakeGemini(agree_with_rules) as gemini:
        settings = Settings(GOOGLE_API_KEY="bench-key", GEMINI_BASE_URL=gemini.url, IDP_LLM_MAX_RETRIES=0)
        base = Deps(reader=NoClusterReader(), runbooks=index, model=build_model(settings), settings=settings)
        start = time.perf_counter()
        with_model = []
        for case in cases:
            before = len(gemini.requests)
            with_model.append(run_case(case, base))
            sent: list[Recorded] = gemini.requests[before:]
            calls.append(len(sent))
            for request in sent:
                schema = json.dumps(request.body.get("generationConfig", {}).get("responseJsonSchema", {}))
                tokens.append(-(-(len(request.prompt()) + len(schema)) // 4))
        model_s = time.perf_counter() - start
        # Again with secrets planted in every case: none of them may reach the wire.
        with tempfile.TemporaryDirectory(prefix="bench-llm-") as tmp:
            for case in cases:
                before = len(gemini.requests)
                run_case(seeded_copy(case, Path(tmp)), base)
                for request in gemini.requests[before:]:
                    checked += 1
                    masked += "<redacted:" in request.prompt()
                    leaks += [f"{case.id}: {k}" for k, v in SEEDED.items() if v in request.raw]

    # A failing model must leave the rules' answers: garbage twice (repair), or quota refused.
    failing: dict[str, tuple[dict[str, Any], list[int]]] = {}
    for name, reply in (("invalid JSON", Reply(text="not json")), ("429", Reply.error(429))):
        with FakeGemini([reply]) as gemini:
            settings_f = Settings(
                GOOGLE_API_KEY="bench-key", GEMINI_BASE_URL=gemini.url, IDP_LLM_MAX_RETRIES=0
            )
            base_f = Deps(
                reader=NoClusterReader(), runbooks=index, model=build_model(settings_f), settings=settings_f
            )
            per_case = []
            results = []
            for case in cases:
                before = len(gemini.requests)
                results.append(run_case(case, base_f))
                per_case.append(len(gemini.requests) - before)
            failing[name] = (report(results), per_case)

    rules_doc, model_doc = report(rules), report(with_model)
    modes = [r.mode for r in with_model]
    print(f"cases: {len(cases)}")
    print(
        f"model calls per diagnosis: median {statistics.median(calls):g}, max {max(calls)}, total {sum(calls)}"
    )
    if tokens:
        print(
            f"input tokens per call (estimated, prompt + response schema): median {statistics.median(tokens):g},"
            f" max {max(tokens)} (budget {settings.llm_input_budget_tokens})"
        )
    print(
        f"secrets on the wire: {len(leaks)} ({len(SEEDED)} secrets planted in every case, {checked} requests checked,"
        f" {masked} of them carried masked values)" + (f" {leaks[:5]}" if leaks else "")
    )
    print(f"diagnoses in mode llm: {modes.count('llm')}/{len(modes)}")
    print(
        f"pass rate rules {rules_doc['pass_rate']:.1%} ({rules_doc['passed']}/{rules_doc['total']}),"
        f" with the agreeing stand-in {model_doc['pass_rate']:.1%} ({model_doc['passed']}/{model_doc['total']})"
    )
    for name, (doc, per_case) in failing.items():
        print(
            f"pass rate with a model answering {name}: {doc['pass_rate']:.1%} ({doc['passed']}/{doc['total']}),"
            f" calls per diagnosis median {statistics.median(per_case):g}, max {max(per_case)}"
        )
    changed = [m.id for r, m in zip(rules, with_model, strict=True) if r.passed != m.passed]
    print(f"cases whose verdict changed: {changed or 'none'}")
    print(f"time: rules {rules_s:.1f} s, with model {model_s:.1f} s")
    ok = (
        max(calls) <= 3
        and (not tokens or max(tokens) <= settings.llm_input_budget_tokens)
        and not leaks
        and rules_doc["passed"] == model_doc["passed"]
        and all(doc["passed"] == rules_doc["passed"] and max(n) <= 3 for doc, n in failing.values())
    )
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
