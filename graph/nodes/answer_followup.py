"""answer_followup: reply to a question about the thread's diagnosis without reading the cluster."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.context import Context
from graph.followups import answer
from graph.state import State
from tools.redact import redact_text


def answer_followup(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    _ = runtime
    diagnosis = state.get("diagnosis")
    if not diagnosis:
        raise ValueError("answer_followup reached on a thread without a diagnosis")
    # A question typed as a new message arrives in error_message; an explicit one in question.
    explicit = state.get("question")
    question = redact_text(explicit or state.get("error_message", ""))
    update: dict[str, Any] = {"answer": dict(answer(question, diagnosis))}
    if not explicit:
        # The checkpointer keeps only redacted text, as classify does for a new paste.
        update["error_message"] = question
    return update
