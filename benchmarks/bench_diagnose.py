"""Diagnosis benchmark: offline latency in process, and API requests through the stand-in.

    .venv/bin/python benchmarks/bench_diagnose.py [--cases evals/cases] [--repeat 5]

Targets (issue 3): median <= 10 ms per case offline in process; through the API stand-in with
the namespace known, <= 10 API requests per diagnosis and no cluster-wide list.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from urllib.parse import unquote

from evals.cases import load_cases
from graph.builder import RECURSION_LIMIT, graph
from graph.context import Context, Deps
from idp.settings import Settings
from runbooks.index import build_index
from tools.fake_apiserver import FakeApiServer, write_kubeconfig
from tools.kinds import KINDS
from tools.live import LiveReader
from tools.snapshot import SnapshotReader

NAMESPACED = {k.plural for k in KINDS.values() if k.namespaced}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=Path, default=Path("evals/cases"))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    cases = load_cases(args.cases)
    index = build_index(Settings())
    config = {"recursion_limit": RECURSION_LIMIT}

    # Offline, in process: the snapshot is loaded once per case, as a long-running service would.
    per_case = []
    for case in cases:
        reader = SnapshotReader(case.path)
        graph.invoke(
            dict(case.input), config, context=Context(deps=Deps(reader=reader, runbooks=index))
        )  # warm-up
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            graph.invoke(dict(case.input), config, context=Context(deps=Deps(reader=reader, runbooks=index)))
            times.append((time.perf_counter() - start) * 1000)
        per_case.append(statistics.median(times))
    print(f"offline in-process: {len(cases)} cases x {args.repeat}")
    print(f"  median per case   {statistics.median(per_case):7.2f} ms (target <= 10 ms)")
    print(f"  p90 per case      {sorted(per_case)[int(len(per_case) * 0.9) - 1]:7.2f} ms")
    print(f"  max per case      {max(per_case):7.2f} ms")

    # Through the stand-in with the live client: count requests and cluster-wide lists.
    requests, wide, by_name, elapsed = [], [], [], []
    for case in cases:
        if not case.input.get("namespace"):
            continue
        with FakeApiServer(case.path) as api, tempfile.TemporaryDirectory() as tmp:
            reader = LiveReader.from_kubeconfig(str(write_kubeconfig(Path(tmp) / "kc", api.url)))
            start = time.perf_counter()
            out = graph.invoke(
                dict(case.input), config, context=Context(deps=Deps(reader=reader, runbooks=index))
            )
            elapsed.append((time.perf_counter() - start) * 1000)
            requests.append(out["diagnosis"]["api_requests"])
            for r in api.requests:
                if "/namespaces/" in r.path or r.path.rstrip("/").rsplit("/", 1)[-1] not in NAMESPACED:
                    continue
                # A by-name lookup across namespaces ("which namespace holds Service X?") returns at
                # most a handful of objects; it is reported apart from unfiltered cluster-wide lists.
                named = "fieldSelector=metadata.name" in unquote(r.query)
                (by_name if named else wide).append(f"{case.id}: {r.path}?{unquote(r.query)}")
    print(f"through the API stand-in (real kubernetes client), {len(requests)} cases with a namespace:")
    print(
        f"  API requests per diagnosis: median {statistics.median(requests)}, max {max(requests)} (target <= 10)"
    )
    print(f"  cases over 10 requests: {sum(r > 10 for r in requests)}")
    print(f"  unfiltered cluster-wide lists: {len(wide)}" + (f" {wide[:5]}" if wide else ""))
    print(
        f"  by-name lookups across namespaces (fieldSelector metadata.name): {len(by_name)}"
        + (f" {by_name[:3]}" if by_name else "")
    )
    print(f"  latency: median {statistics.median(elapsed):.1f} ms, max {max(elapsed):.1f} ms")


if __name__ == "__main__":
    main()
