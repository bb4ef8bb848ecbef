"""Follow-ups in a chat thread: what counts as one, which intent it asks for, and that the graph
routes it to answer_followup from the thread's state without reading the cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from langgraph.checkpoint.memory import InMemorySaver

from graph.builder import build_graph
from graph.context import Context, Deps
from graph.followups import answer, intent_of, is_followup
from idp.settings import DEMO_SNAPSHOT
from tools.snapshot import SnapshotReader

DEMO = yaml.safe_load((DEMO_SNAPSHOT / "scenarios.yaml").read_text())["scenarios"]
OOM = next(s for s in DEMO if s["expect"]["category"] == "OOMKilled")


@pytest.mark.parametrize(
    ("text", "followup", "intent"),
    [
        ("show the evidence again", True, "evidence"),
        ("what if I raise the limit?", True, "what_if"),
        ("which runbook?", True, "runbook"),
        ("how do I fix it?", True, "fix"),
        ("how do I prevent this next time?", True, "prevention"),
        ("which pods are affected?", True, "affected"),
        ("why?", True, "root_cause"),
        ("and now?", True, "help"),
        ("Back-off restarting failed container api in pod api-7d9 (CrashLoopBackOff)", False, None),
        ("Error: ImagePullBackOff — why?", False, None),
        ("0/3 nodes are available: 3 Insufficient memory. how do I fix it?", False, None),
        ("line one\nline two?", False, None),
        ("x" * 401 + "?", False, None),
        ("", False, None),
    ],
)
def test_followup_or_new_paste(text: str, followup: bool, intent: str | None) -> None:
    assert is_followup(text) is followup
    if intent:
        assert intent_of(text) == intent


DIAGNOSIS: dict[str, Any] = {
    "category": "OOMKilled",
    "root_cause": "Container api is killed at its 256Mi limit.",
    "confidence": 0.9,
    "evidence": ["last state OOMKilled [source: Pod shop/api-1 status]"],
    "fix_commands": [
        "kubectl top pod api-1 -n shop",
        "kubectl set resources deployment/api -n shop --limits=memory=512Mi",
    ],
    "prevention": ["alert at 80% of the limit"],
    "runbooks": [{"id": "oomkilled", "title": "OOMKilled", "score": 1.0, "section": "Fix"}],
    "affected_objects": [{"kind": "Deployment", "name": "api", "namespace": "shop"}],
    "missing_data": [],
    "fingerprint": "abc",
}


@pytest.mark.parametrize(
    ("question", "needle", "items"),
    [
        (
            "what if I raise the memory limit?",
            "addresses this OOMKilled",
            ["kubectl set resources deployment/api -n shop --limits=memory=512Mi"],
        ),
        ("what if I scale the replicas?", "unlikely to help", DIAGNOSIS["fix_commands"]),
        ("which pods are affected?", "Affected", ["Deployment/api -n shop"]),
        ("what couldn't you read?", "Nothing the checks needed", []),
    ],
)
def test_answers_come_from_the_diagnosis(question: str, needle: str, items: list[str]) -> None:
    reply = answer(question, DIAGNOSIS)
    assert needle in reply["text"]
    assert reply["items"] == items
    assert reply["about"] == "abc"


def test_graph_answers_a_followup_from_the_thread_without_reading(tmp_path: Path) -> None:
    reader = SnapshotReader(DEMO_SNAPSHOT)
    graph = build_graph().compile(checkpointer=InMemorySaver())
    config: Any = {"configurable": {"thread_id": "t"}}
    context = Context(deps=Deps(reader=reader))
    first = graph.invoke(OOM["input"], config, context=context)
    reads = reader.request_count
    assert reads > 0 and "answer" not in first
    follow = graph.invoke({"question": "how do I fix it?"}, config, context=context)
    assert reader.request_count == reads
    assert follow["answer"]["intent"] == "fix"
    assert follow["diagnosis"] == first["diagnosis"]
    # The answer is ephemeral: the next diagnosis in the thread does not carry it.
    again = graph.invoke(OOM["input"], config, context=context)
    assert "answer" not in again
    # A follow-up typed as a message routes the same way, and the checkpoint keeps it redacted.
    typed = graph.invoke(
        {"error_message": "show the evidence, password=hunter2secret?"}, config, context=context
    )
    assert typed["answer"]["intent"] == "evidence"
    assert "hunter2secret" not in str(graph.get_state(config).values)
