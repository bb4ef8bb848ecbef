"""The eval gate: the project's cases (dev set + our own) pass through both cluster sources."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parent.parent
MIN_PASS = 0.95


def _idp(*args: str, tmp: Path) -> tuple[int, dict]:
    report = tmp / "report.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "idp.cli",
            "eval",
            "--cases",
            str(ROOT / "evals" / "cases"),
            "--report",
            str(report),
            *args,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    return proc.returncode, json.loads(report.read_text())


@pytest.mark.parametrize("via", [[], ["--via-apiserver"]], ids=["snapshot", "api-stand-in"])
def test_eval_pass_rate_meets_the_gate(via: list[str], tmp_path: Path) -> None:
    code, report = _idp("--min-pass", str(MIN_PASS), *via, tmp=tmp_path)
    failed = [(c["id"], c["category"], c["checks"]) for c in report["cases"] if not c["passed"]]
    assert report["pass_rate"] >= MIN_PASS, f"failing cases: {failed}"
    assert code == 0
    assert set(report) >= {"pass_rate", "passed", "total", "cases"}
    assert set(report["cases"][0]) >= {"id", "passed", "expected_category", "category", "checks"}


def test_eval_exits_1_below_the_gate(tmp_path: Path) -> None:
    # A case whose expectation is wrong on purpose: the gate must fail the run.
    case = tmp_path / "cases" / "wrong-expectation"
    shutil.copytree(ROOT / "evals" / "cases" / "oom-search-indexer-heap-above-limit", case)
    doc = yaml.safe_load((case / "case.yaml").read_text())
    doc["id"] = "wrong-expectation"
    doc["expect"]["category"] = "DNSFailure"
    (case / "case.yaml").write_text(yaml.safe_dump(doc))
    report = tmp_path / "report.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "idp.cli",
            "eval",
            "--cases",
            str(case.parent),
            "--min-pass",
            "0.5",
            "--report",
            str(report),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 1
    assert json.loads(report.read_text())["cases"][0]["checks"]["category"] is False
