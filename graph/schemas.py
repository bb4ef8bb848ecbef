"""The JSON contracts: the request callers send and the Diagnosis the graph returns.

Field names of :class:`Diagnosis` that ../shared/evals/FORMAT.md lists are fixed; the rest
are additions a platform engineer needs (root-cause id, affected objects, missing data...).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from graph.taxonomy import Category

MAX_ERROR_MESSAGE = 16_000
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
WORKLOAD = re.compile(r"^(?:(?P<kind>[A-Za-z]+)(?:\.[a-z0-9.]+)?/)?(?P<name>[a-z0-9]([-a-z0-9.]*[a-z0-9])?)$")


class DiagnoseRequest(BaseModel):
    """What a caller sends: the pasted error, and optionally where to look."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    error_message: str = Field(
        ...,
        min_length=1,
        max_length=MAX_ERROR_MESSAGE,
        description="What the user pasted: a kubectl line, describe output, a CI log excerpt, a Terraform error.",
    )
    namespace: str | None = Field(None, description="Namespace to inspect (a DNS-1123 label).")
    pod: str | None = Field(None, description="Pod name, when known.")
    workload: str | None = Field(None, description="Workload as kind/name, e.g. deployment/orders-api.")

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if len(value) > 63 or not DNS1123_LABEL.match(value):
            raise ValueError(
                "namespace must be a DNS-1123 label (lower-case alphanumerics and '-', at most 63)"
            )
        return value

    @field_validator("pod")
    @classmethod
    def _pod(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if len(value) > 253 or not DNS1123_SUBDOMAIN.match(value):
            raise ValueError("pod must be a DNS-1123 subdomain (lower-case alphanumerics, '-' and '.')")
        return value

    @field_validator("workload", mode="before")
    @classmethod
    def _workload_object(cls, value: object) -> object:
        """Accept ``{"kind": "Deployment", "name": "api"}`` as well as ``deployment/api``."""
        if isinstance(value, dict) and {"kind", "name"} <= set(value):
            return f"{str(value['kind']).lower()}/{value['name']}"
        return value

    @field_validator("workload")
    @classmethod
    def _workload(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        match = WORKLOAD.match(value)
        if not match:
            raise ValueError("workload must be kind/name (e.g. deployment/orders-api) or a name")
        # deployment.apps/x and Deployment/x mean deployment/x; a bare name matches any workload kind.
        kind = match.group("kind")
        return f"{kind.lower()}/{match.group('name')}" if kind else match.group("name")


class RunbookRef(BaseModel):
    """A runbook that applies, as the retriever ranked it."""

    id: str
    title: str
    score: float
    section: str | None = None


class ObjectRef(BaseModel):
    """A cluster object the diagnosis is about."""

    kind: str
    name: str
    namespace: str | None = None


class MissingData(BaseModel):
    """Something the diagnosis could not read, and why."""

    what: str
    reason: str


class Diagnosis(BaseModel):
    """The structured answer. FORMAT.md's fields first, then what users need on top."""

    category: Category
    root_cause: str
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: list[str] = Field(default_factory=list, description="Facts read, each naming its source.")
    fix_commands: list[str] = Field(default_factory=list, description="Commands for a human; never executed.")
    prevention: list[str] = Field(default_factory=list)
    runbooks: list[RunbookRef] = Field(default_factory=list)
    root_cause_id: str = Field("unknown", description="Finer label, e.g. oomkilled.limit-below-working-set.")
    summary: str = Field("", description="One line for chat titles and CI annotations.")
    affected_objects: list[ObjectRef] = Field(default_factory=list)
    missing_data: list[MissingData] = Field(default_factory=list)
    loops: int = Field(0, description="How many times the critic sent the graph back for more data.")
    mode: Literal["rules", "llm"] = "rules"
    api_requests: int = Field(0, description="Cluster API requests made for this diagnosis.")
    timings_ms: dict[str, float] = Field(default_factory=dict)
    fingerprint: str = Field(
        "", description="Stable id: category + root-cause id + object, for de-duplication."
    )


class ReadSpec(BaseModel):
    """One read the critic (or an analyzer) wants from the cluster."""

    model_config = ConfigDict(frozen=True)

    verb: Literal["get", "list", "logs"]
    kind: str
    namespace: str | None = None
    name: str | None = None
    label_selector: str | None = None
    field_selector: str | None = None
    container: str | None = None
    previous: bool = False
    why: str = ""

    def key(self) -> str:
        """Identity of the read, for de-duplication (``why`` is not part of it)."""
        parts = [self.verb, self.kind, self.namespace or "", self.name or "", self.label_selector or ""]
        parts += [self.field_selector or "", self.container or "", "previous" if self.previous else ""]
        return "|".join(parts)


class CriticVerdict(BaseModel):
    """The critic's judgement: reasons first, then the verdict, then what to fetch next."""

    reasons: list[str] = Field(default_factory=list)
    verdict: Literal["accept", "need_more_data", "accept_with_gaps"] = "accept"
    fetch: list[ReadSpec] = Field(default_factory=list)
