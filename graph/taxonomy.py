"""The category taxonomy of ../shared/evals/FORMAT.md, and the order that breaks ties.

The label names the *cause* the evidence shows, not the status the user pasted; when two
analyzers find equally strong evidence, the one earlier in :data:`PRECEDENCE` wins because
it names the deeper cause (OOMKilled explains a CrashLoopBackOff, not the other way round).
"""

from __future__ import annotations

from typing import Literal, get_args

Category = Literal[
    "CrashLoopBackOff",
    "OOMKilled",
    "ImagePullBackOff",
    "CreateContainerConfigError",
    "CreateContainerError",
    "FailedScheduling",
    "ProbeFailure",
    "Evicted",
    "VolumeMountFailure",
    "InitContainerFailure",
    "NodeNotReady",
    "ServiceUnreachable",
    "DNSFailure",
    "QuotaExceeded",
    "AdmissionDenied",
    "RBACForbidden",
    "RolloutStuck",
    "JobFailed",
    "HPAFailure",
    "PodSandboxFailure",
    "CertificateError",
    "TerraformStateLock",
    "Unknown",
]

CATEGORIES: tuple[str, ...] = get_args(Category)

PRECEDENCE: tuple[str, ...] = (
    "TerraformStateLock",
    "CertificateError",
    "InitContainerFailure",
    "OOMKilled",
    "CreateContainerError",
    "CreateContainerConfigError",
    "ImagePullBackOff",
    "VolumeMountFailure",
    "PodSandboxFailure",
    "Evicted",
    "NodeNotReady",
    "QuotaExceeded",
    "AdmissionDenied",
    "RBACForbidden",
    "FailedScheduling",
    "DNSFailure",
    "ProbeFailure",
    "JobFailed",
    "HPAFailure",
    "ServiceUnreachable",
    "CrashLoopBackOff",
    "RolloutStuck",
    "Unknown",
)

assert set(PRECEDENCE) == set(CATEGORIES), "every category needs a precedence rank"


def runbook_id(category: str) -> str:
    """The runbook id FORMAT.md reports for a category: its lower-cased label."""
    return category.lower()


def precedence_rank(category: str) -> int:
    return PRECEDENCE.index(category) if category in PRECEDENCE else len(PRECEDENCE)
