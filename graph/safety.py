"""Which fix commands a diagnosis may never suggest.

Fix commands are text for a human, never executed; still, a diagnosis must not hand out a
command that destroys data or widens access. A few risky-but-sometimes-right commands are
allowed only when the same line warns about them.
"""

from __future__ import annotations

import re

# Never suggested, warning or not.
_FORBIDDEN: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), reason)
    for pattern, reason in (
        (r"\bkubectl\b.*\bdelete\s+(ns|namespaces?)\b", "deletes a namespace"),
        (
            r"\bkubectl\b.*\bdelete\s+(pv|pvc|persistentvolumes?|persistentvolumeclaims?)\b",
            "deletes a volume",
        ),
        (r"\bkubectl\b.*\bdelete\s+(no|nodes?)\b", "deletes a node"),
        (
            r"\bkubectl\b.*\bdelete\s+(validating|mutating)webhookconfigurations?\b",
            "removes admission control",
        ),
        (r"\bkubectl\b.*\bdelete\s+(crd|customresourcedefinitions?)\b", "deletes a CRD and all its objects"),
        (r"\bcluster-admin\b", "grants cluster-admin"),
        (r"-lock=false\b", "disables Terraform state locking"),
        (r"\bdelete\b.*--all\b", "deletes everything of a kind"),
        (r"\brm\s+-rf\s+/", "deletes files recursively"),
        (r"--privileged\b|privileged:\s*true", "grants privileged containers"),
    )
)

# Allowed only with a warning on the same line.
_NEEDS_WARNING: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), reason)
    for pattern, reason in (
        (
            r"--force\b.*--grace-period[= ]0|--grace-period[= ]0.*--force\b",
            "force-deletes a pod without grace",
        ),
        (r"\bterraform\s+force-unlock\b", "breaks a Terraform lock someone may hold"),
        (r"\bkubectl\b.*\bdrain\b", "evicts every pod from a node"),
        (r"\bkubectl\b.*\bdelete\s+(statefulset|sts)\b", "deletes a StatefulSet"),
    )
)
_WARNING = re.compile(
    r"⚠|\bwarning\b|\bcaution\b|\brisky\b|\bonly (after|if|once|when)\b|\bconfirm", re.IGNORECASE
)


def unsafe_reason(command: str) -> str | None:
    """Why ``command`` must not be suggested, or None when it may be."""
    for pattern, reason in _FORBIDDEN:
        if pattern.search(command):
            return reason
    for pattern, reason in _NEEDS_WARNING:
        if pattern.search(command) and not _WARNING.search(command):
            return f"{reason} (without a warning on the line)"
    return None
