"""The logic behind ``POST /suggest-runbook``: error text or keywords in, ranked runbooks out.

The service has no classifier on this path, so explicit Kubernetes reasons in the text (an
event reason, a container state, a well-known message) are turned into category hints that
boost the runbook for that reason. Hints are deliberately weaker than a true match would be
when the text says more: ``CrashLoopBackOff`` next to ``OOMKilled`` ranks OOMKilled first,
because the taxonomy labels the cause, not the status.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from runbooks.index import RunbookIndex
from runbooks.scoring import RunbookHit

MAX_QUERY_CHARS = 6000
"""Long pastes keep their head and tail: the command that failed and the final error."""

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")

# (pattern, taxonomy label, weight): explicit signals only, never guesses from vague prose
REASON_HINTS: tuple[tuple[re.Pattern[str], str, float], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), label, weight)
    for pattern, label, weight in (
        (r"\bOOMKilled\b|out of memory|exit code:? 137\b", "OOMKilled", 0.6),
        (r"\bCrashLoopBackOff\b|Back-off restarting failed container", "CrashLoopBackOff", 0.3),
        (r"\bInit:(?:Error|CrashLoopBackOff|\d+/\d+)", "InitContainerFailure", 0.65),
        (r"\bErrImagePull\b|\bImagePullBackOff\b|Failed to pull image", "ImagePullBackOff", 0.6),
        (
            r"\bCreateContainerConfigError\b|couldn't find key \S+ in (?:Secret|ConfigMap)",
            "CreateContainerConfigError",
            0.6,
        ),
        (
            r"\bCreateContainerError\b|\bRunContainerError\b|\bStartError\b|exec format error|"
            r"executable file not found",
            "CreateContainerError",
            0.6,
        ),
        (r"\bFailedScheduling\b|\d+/\d+ nodes are available", "FailedScheduling", 0.5),
        (r"(?:Liveness|Readiness|Startup) probe failed", "ProbeFailure", 0.5),
        # a container restarted after SIGTERM (128 + 15) was stopped by the kubelet: a liveness kill
        (r"exit code:? 143\b", "ProbeFailure", 0.45),
        # refused or 503 at a Service address means nothing ready behind it
        (
            r"svc\.cluster\.local\S*[^\n]*connection refused|503 Service Temporarily Unavailable|"
            r"no healthy upstream|\bHTTP/[12](?:\.[01])? 50[23]\b",
            "ServiceUnreachable",
            0.4,
        ),
        (r"\bEvicted\b|The node was low on resource", "Evicted", 0.5),
        (
            r"\bFailedMount\b|\bFailedAttachVolume\b|Multi-Attach error|MountVolume\.SetUp failed",
            "VolumeMountFailure",
            0.5,
        ),
        (r"Kubelet stopped posting node status|\bNodeNotReady\b|NodeStatusUnknown", "NodeNotReady", 0.5),
        (r"exceeded quota|failed quota|per Container is", "QuotaExceeded", 0.6),
        (r"denied the request|violates PodSecurity", "AdmissionDenied", 0.5),
        (r"cannot \w+ resource \"", "RBACForbidden", 0.6),
        (r"\bProgressDeadlineExceeded\b|exceeded its progress deadline", "RolloutStuck", 0.5),
        (
            r"\bBackoffLimitExceeded\b|reached the specified backoff limit|active longer than specified deadline",
            "JobFailed",
            0.5,
        ),
        (r"\bFailedGetResourceMetric\b|missing request for cpu|metrics\.k8s\.io", "HPAFailure", 0.5),
        (r"\bFailedCreatePodSandBox\b|failed to create pod sandbox", "PodSandboxFailure", 0.6),
        (r"\bx509\b|ERR_CERT_", "CertificateError", 0.5),
        (r"Error acquiring the state lock|ConditionalCheckFailedException", "TerraformStateLock", 0.7),
        (r"no such host|EAI_AGAIN|Temporary failure in name resolution|plugin/loop", "DNSFailure", 0.4),
    )
)


def clean_query(error_message: str) -> str:
    """Drop terminal colour codes and keep the head and tail of very long pastes."""
    text = _ANSI.sub("", error_message).strip()
    if len(text) <= MAX_QUERY_CHARS:
        return text
    half = MAX_QUERY_CHARS // 2
    return f"{text[:half]}\n{text[-half:]}"


def reason_hints(text: str) -> dict[str, float]:
    """Taxonomy labels whose explicit reasons or messages appear in ``text``, with weights."""
    hints: dict[str, float] = {}
    for pattern, label, weight in REASON_HINTS:
        if pattern.search(text):
            hints[label] = max(hints.get(label, 0.0), weight)
    return hints


def suggest_runbooks(
    index: RunbookIndex,
    error_message: str,
    top_k: int = 3,
    categories: Mapping[str, float] | None = None,
) -> list[RunbookHit]:
    """Rank runbooks for pasted error text or keywords, best first, each with its best section.

    ``categories`` (taxonomy label -> weight) from a caller that already classified the error
    take precedence over the hints read from the text.
    """
    text = clean_query(error_message)
    if not text:
        return []
    hints = reason_hints(text)
    for label, weight in (categories or {}).items():
        hints[label] = max(hints.get(label, 0.0), float(weight))
    return index.search(text, top_k=top_k, categories=hints or None)
