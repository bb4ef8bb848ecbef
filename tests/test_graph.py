"""The diagnosis graph: topology and contract snapshots, per-node behaviour, the critic loop."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from graph.analyzers import ANALYZERS
from graph.builder import RECURSION_LIMIT, graph
from graph.context import Context, Deps
from graph.routing import after_critique
from graph.schemas import Diagnosis
from graph.taxonomy import CATEGORIES
from tools.snapshot import SnapshotReader

SNAPSHOTS = Path(__file__).parent / "snapshots"
CASES = Path(__file__).parent.parent / "evals" / "cases"


def _matches_snapshot(name: str, text: str) -> None:
    """Compare with a committed snapshot; UPDATE_SNAPSHOTS=1 rewrites it (review the diff)."""
    path = SNAPSHOTS / name
    if os.environ.get("UPDATE_SNAPSHOTS") == "1" or not path.exists():
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), (
        f"{name} changed: rerun with UPDATE_SNAPSHOTS=1 and review"
    )


def run(case: str, **overrides: Any) -> dict[str, Any]:
    import yaml

    doc = yaml.safe_load((CASES / case / "case.yaml").read_text())
    payload = {**doc["input"], **overrides}
    deps = Deps(reader=SnapshotReader(CASES / case))
    out = graph.invoke(payload, {"recursion_limit": RECURSION_LIMIT}, context=Context(deps=deps))
    return dict(out["diagnosis"])


def test_topology_matches_snapshot() -> None:
    _matches_snapshot("graph.mmd", graph.get_graph().draw_mermaid())


def test_input_and_output_schemas_match_snapshot() -> None:
    schemas = {"input": graph.get_input_jsonschema(), "output": graph.get_output_jsonschema()}
    _matches_snapshot("graph_schemas.json", json.dumps(schemas, indent=2, sort_keys=True) + "\n")


def test_diagnosis_schema_matches_snapshot() -> None:
    _matches_snapshot(
        "diagnosis_schema.json", json.dumps(Diagnosis.model_json_schema(), indent=2, sort_keys=True) + "\n"
    )


def test_every_category_has_exactly_one_analyzer() -> None:
    categories = [a.category for a in ANALYZERS]
    assert sorted(categories) == sorted(CATEGORIES)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"error_message": ""}, "error_message"),
        ({"error_message": "x" * 16_001}, "error_message"),
        ({"error_message": "boom", "namespace": "Not_A_Label"}, "namespace"),
        ({"error_message": "boom", "workload": "deployment/Orders API"}, "workload"),
    ],
)
def test_invalid_input_is_rejected_naming_the_field(payload: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        graph.invoke(
            payload,
            context=Context(deps=Deps(reader=SnapshotReader(CASES / "oom-search-indexer-heap-above-limit"))),
        )
    assert field in str(info.value)


def test_diagnosis_carries_contract_fields_and_stable_fingerprint() -> None:
    first = run("oom-search-indexer-heap-above-limit")
    second = run("oom-search-indexer-heap-above-limit")
    Diagnosis.model_validate(first)
    assert first["category"] == "OOMKilled"
    assert first["mode"] == "rules"
    assert first["fingerprint"] == second["fingerprint"] and len(first["fingerprint"]) == 16
    assert first["affected_objects"][0]["kind"] == "Pod"
    assert first["api_requests"] > 0
    assert set(first["timings_ms"]) >= {"classify", "inspect_cluster", "analyze", "critique", "total"}
    assert all("[source: " in fact for fact in first["evidence"])


def test_terraform_error_is_diagnosed_from_the_text_without_reading_the_cluster() -> None:
    d = run("terraform-network-apply-dynamodb-lock-held")
    assert d["api_requests"] == 0
    assert any("outside the cluster" in m["reason"] for m in d["missing_data"])


def test_critic_loops_are_bounded_and_reported() -> None:
    # A namespace with nothing failing: analyzers keep wanting reads they cannot get.
    d = run(
        "oom-search-indexer-heap-above-limit",
        error_message="something is wrong",
        namespace="kube-public",
        pod=None,
    )
    assert d["loops"] <= 3
    assert d["category"] == "Unknown"
    assert d["confidence"] <= 0.3


def test_zero_loops_allowed() -> None:
    deps = Deps(reader=SnapshotReader(CASES / "oom-search-indexer-heap-above-limit"))
    out = graph.invoke(
        {"error_message": "something is wrong", "namespace": "search"},
        {"recursion_limit": RECURSION_LIMIT},
        context=Context(deps=deps, max_loops=0),
    )
    assert out["diagnosis"]["loops"] == 0


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ({"verdict": {"verdict": "accept"}}, "finalize"),
        ({"verdict": {"verdict": "accept_with_gaps"}}, "finalize"),
        (
            {
                "verdict": {"verdict": "need_more_data"},
                "wanted": [{"verb": "get", "kind": "Pod", "name": "x"}],
            },
            "inspect_cluster",
        ),
    ],
)
def test_router_after_critique(state: dict[str, Any], expected: str) -> None:
    assert after_critique(state) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "state",
    [{"verdict": {"verdict": "need_more_data"}, "wanted": []}, {"verdict": {"verdict": "maybe"}}, {}],
)
def test_router_raises_on_impossible_state(state: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        after_critique(state)  # type: ignore[arg-type]


def test_secrets_in_the_paste_never_reach_the_diagnosis() -> None:
    secret = "AKIAIOSFODNN7EXAMPLE"
    d = run("oom-search-indexer-heap-above-limit", error_message=f"crashing, my key is {secret} pls help")
    assert secret not in json.dumps(d)
