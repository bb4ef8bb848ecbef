"""Request and response models of the REST API (the graph's own contracts live in graph/schemas.py)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from graph.schemas import MAX_ERROR_MESSAGE, DiagnoseRequest, Diagnosis

THREAD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
MAX_QUESTION = 2000


class GraphInput(DiagnoseRequest):
    """What a run takes: a new paste (``error_message``) or, in a thread, a follow-up ``question``."""

    error_message: str | None = Field(  # type: ignore[assignment]
        None,
        min_length=1,
        max_length=MAX_ERROR_MESSAGE,
        description="What the user pasted. Required for a new diagnosis; in a thread that holds one, "
        "a short question here is answered as a follow-up.",
    )
    question: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_QUESTION,
        description="A follow-up about the thread's diagnosis (needs a thread_id).",
    )

    @model_validator(mode="after")
    def _something_to_answer(self) -> GraphInput:
        if not self.error_message and not self.question:
            raise ValueError("error_message is required (or question, in a thread that holds a diagnosis)")
        return self


class DiagnoseBody(GraphInput):
    """``POST /diagnose``: a paste to diagnose, optionally in a chat thread."""

    thread_id: str | None = Field(
        None, description="Keep the conversation in this thread (letters, digits, '_.:-', at most 128)."
    )

    @field_validator("thread_id")
    @classmethod
    def _thread_id(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not THREAD_ID.match(value):
            raise ValueError("thread_id must be 1-128 letters, digits or '_.:-', starting alphanumeric")
        return value


class FollowupAnswer(BaseModel):
    """The reply to a follow-up question."""

    question: str
    intent: str
    text: str
    items: list[str] = Field(default_factory=list)
    about: str = Field("", description="Fingerprint of the diagnosis the reply is about.")


class DiagnoseReply(Diagnosis):
    """The Diagnosis, plus the thread it belongs to and, for a follow-up, the answer."""

    thread_id: str | None = None
    answer: FollowupAnswer | None = None


class GraphOutput(BaseModel):
    """What a LangServe run returns: the graph's output state."""

    diagnosis: Diagnosis
    answer: FollowupAnswer | None = None


class SuggestRunbookBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    error_message: str = Field(..., min_length=1, max_length=MAX_ERROR_MESSAGE)
    top_k: int = Field(3, ge=1, le=20)


class RunbookSuggestion(BaseModel):
    id: str
    title: str
    score: float
    section: str | None = None


class SuggestRunbookReply(BaseModel):
    runbooks: list[RunbookSuggestion]


class RunbookSection(BaseModel):
    heading: str
    text: str


class RunbookDocument(BaseModel):
    """A runbook, as the chat page's runbook links show it."""

    id: str
    title: str
    categories: list[str]
    sections: list[RunbookSection]


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    ready: bool
    checks: dict[str, str] = Field(description="Each check and its outcome (ok, or why not).")
    cluster_source: str
    runbook_index: str
    model: str


class NodeHealth(BaseModel):
    name: str
    ready: bool
    pressure: list[str] = Field(
        default_factory=list, description="Conditions such as MemoryPressure that are True."
    )
    unschedulable: bool = False


class NamespaceHealth(BaseModel):
    namespace: str
    pods: int
    phases: dict[str, int]
    waiting_reasons: dict[str, int]
    restarts: int
    truncated: bool = Field(False, description="True when the namespace had more pods than one read takes.")


class Offender(BaseModel):
    namespace: str
    pod: str
    phase: str
    reason: str
    restarts: int
    score: float


class ClusterHealth(BaseModel):
    source: str
    nodes: list[NodeHealth]
    nodes_ready: int
    nodes_not_ready: int
    namespaces: list[NamespaceHealth]
    worst: list[Offender]
    api_requests: int
    errors: list[str] = Field(
        default_factory=list, description="Reads that failed, so the picture is partial."
    )


def graph_output(output: dict[str, Any]) -> dict[str, Any]:
    """The graph's output with only the keys of its output schema."""
    return {k: output[k] for k in ("diagnosis", "answer") if output.get(k) is not None}
