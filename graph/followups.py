"""Answers to follow-up questions in a chat thread, from the thread's diagnosis alone.

A follow-up ("show the evidence again", "what if I raise the limit?", "which runbook?", "how do
I fix it?") never re-reads the cluster: everything it needs is in the Diagnosis the thread
already holds. :func:`is_followup` tells a follow-up from a new paste; :func:`answer` picks the
intent and builds the reply.
"""

from __future__ import annotations

import re
from typing import Any, Literal, TypedDict

from graph.patterns import match_patterns

Intent = Literal[
    "evidence", "fix", "runbook", "what_if", "prevention", "affected", "missing", "root_cause", "help"
]

MAX_FOLLOWUP_CHARS = 400
"""Longer text is a new paste (a log, a describe output), not a question about the last one."""

# Order matters: the first intent whose pattern matches wins ("how do I fix it" is "fix" even
# though it starts like an explanation question).
_INTENT_PATTERNS: tuple[tuple[Intent, str], ...] = (
    (
        "what_if",
        r"\bwhat if\b|\bwhat happens if\b|\bwould (?:it|that) help\b|\bshould i (?:raise|increase|bump|lower|scale|add|remove|restart|change|set)\b|\bif i (?:raise|increase|bump|lower|scale|add|remove|restart|change|set)\b",
    ),
    ("runbook", r"\brun ?books?\b|\bplaybook\b|\bdocs?\b|\bdocumentation\b"),
    ("prevention", r"\bprevent\w*|\bavoid\b|\bnext time\b|\bfrom happening\b|\bhappen(?:ing)? again\b"),
    (
        "fix",
        r"\bfix\b|\bresolve\b|\bremed\w*|\bcommands?\b|\bwhat (?:do|should) i (?:do|run)\b|\bhow (?:do|can|should) i\b|\bsolution\b|\bkubectl\b",
    ),
    (
        "evidence",
        r"\bevidence\b|\bproof\b|\bhow do you know\b|\bwhat did you (?:see|find|read)\b|\bfacts?\b|\bshow\b.*\b(?:again|logs?|events?)\b|\bsources?\b",
    ),
    (
        "affected",
        r"\bwhich (?:pods?|objects?|workloads?|deployments?|resources?)\b|\baffected\b|\bwhat(?:'s| is) impacted\b",
    ),
    (
        "missing",
        r"\bmissing\b|\bcould(?:n't| not)\b.*\b(?:read|see|find|establish)\b|\bgaps?\b|\bunknowns?\b|\bconfiden\w*",
    ),
    (
        "root_cause",
        r"\bwhy\b|\broot cause\b|\bcause\b|\bexplain\b|\bwhat(?:'s| is) wrong\b|\bwhat happened\b|\bsummar\w*",
    ),
)
_INTENTS: tuple[tuple[Intent, re.Pattern[str]], ...] = tuple(
    (intent, re.compile(pattern, re.IGNORECASE)) for intent, pattern in _INTENT_PATTERNS
)

# Words naming a change the user might make, and the categories that change addresses.
_LEVERS: tuple[tuple[re.Pattern[str], str, frozenset[str]], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), lever, frozenset(categories))
    for pattern, lever, categories in (
        (r"\bmemory\b|\bmem\b|\blimits?\b|\bGi\b|\bMi\b", "the memory limit", {"OOMKilled", "Evicted"}),
        (
            r"\bcpu\b|\brequests?\b",
            "CPU/memory requests",
            {"HPAFailure", "FailedScheduling", "QuotaExceeded"},
        ),
        (r"\bquota\b", "the ResourceQuota", {"QuotaExceeded"}),
        (
            r"\breplicas?\b|\bscale\b|\bnodes?\b",
            "the replica or node count",
            {"FailedScheduling", "NodeNotReady", "HPAFailure"},
        ),
        (r"\brestart\b|\brollout\b|\bredeploy\b", "a restart or new rollout", {"RolloutStuck"}),
        (r"\btimeouts?\b|\bprobes?\b|\bdelay\b|\bthreshold\b", "the probe timings", {"ProbeFailure"}),
        (
            r"\bimage\b|\btag\b|\bdigest\b",
            "the image reference",
            {"ImagePullBackOff", "CreateContainerError"},
        ),
        (
            r"\bsecret\b|\bconfigmap\b|\benv\b|\bvariable\b",
            "the referenced Secret/ConfigMap or env",
            {"CreateContainerConfigError", "CrashLoopBackOff", "VolumeMountFailure"},
        ),
        (r"\bbackoff ?limit\b|\bretries\b|\bdeadline\b", "the Job's retry limits", {"JobFailed"}),
        (r"\brole\b|\bpermissions?\b|\brbac\b", "RBAC permissions", {"RBACForbidden"}),
    )
)

_HELP_TOPICS = (
    "show the evidence again",
    "how do I fix it?",
    "which runbook?",
    "what if I raise the limit?",
    "how do I prevent it?",
)


class FollowupAnswer(TypedDict):
    """A reply to one follow-up, rendered by the chat page and returned by the REST API."""

    question: str
    """The (redacted) question."""
    intent: Intent
    """What the question asked for."""
    text: str
    """The reply, in a sentence or two."""
    items: list[str]
    """Evidence lines, commands, runbook titles... the detail the reply points at."""
    about: str
    """Fingerprint of the diagnosis the reply is about."""


def intent_of(question: str) -> Intent:
    """The first intent whose pattern the question matches, else ``help``."""
    for intent, pattern in _INTENTS:
        if pattern.search(question):
            return intent
    return "help"


def is_followup(text: str) -> bool:
    """True when ``text`` reads as a question about the last diagnosis, not as a new error.

    A new paste carries the vocabulary of an error (a status, an event reason, a message the
    taxonomy's patterns know); a follow-up is short and asks something.
    """
    stripped = text.strip()
    if not stripped or len(stripped) > MAX_FOLLOWUP_CHARS or "\n" in stripped:
        return False
    if match_patterns(stripped):
        return False
    return stripped.endswith("?") or intent_of(stripped) != "help"


def _what_if(question: str, diagnosis: dict[str, Any]) -> tuple[str, list[str]]:
    category = str(diagnosis.get("category", "Unknown"))
    commands = [str(c) for c in diagnosis.get("fix_commands") or []]
    levers = [(lever, cats) for pattern, lever, cats in _LEVERS if pattern.search(question)]
    if not levers:
        return (
            f"The diagnosis is {category}: {diagnosis.get('root_cause', '')} A change helps only if it "
            "removes that cause; the fix commands below do.",
            commands,
        )
    lever, categories = levers[0]
    words = {w.lower() for w in re.findall(r"[A-Za-z]{4,}", lever)}
    related = [c for c in commands if any(w in c.lower() for w in words)] or commands
    if category in categories:
        return (
            f"Changing {lever} addresses this {category}: {diagnosis.get('root_cause', '')} "
            "Make the change in the workload's manifest so the next rollout keeps it.",
            related,
        )
    return (
        f"Changing {lever} is unlikely to help: the diagnosis is {category}, not a problem with "
        f"{lever}. {diagnosis.get('root_cause', '')}",
        commands,
    )


def answer(question: str, diagnosis: dict[str, Any]) -> FollowupAnswer:
    """The reply to ``question`` about ``diagnosis`` (a Diagnosis as JSON)."""
    intent = intent_of(question)
    category = str(diagnosis.get("category", "Unknown"))
    items: list[str]
    if intent == "evidence":
        items = [str(e) for e in diagnosis.get("evidence") or []]
        text = f"The {category} diagnosis rests on {len(items)} facts read from the cluster:"
        if not items:
            text = "The diagnosis rests on the pasted text alone; no cluster fact was read."
    elif intent == "fix":
        items = [str(c) for c in diagnosis.get("fix_commands") or []]
        text = f"To fix it: {diagnosis.get('root_cause', '')} Run these (review them first; nothing is run for you):"
        if not items:
            text = "The diagnosis has no fix command; see the runbook for the manual steps."
    elif intent == "runbook":
        books = diagnosis.get("runbooks") or []
        items = [
            f"{b.get('title', b.get('id'))} ({b.get('id')}{', section: ' + b['section'] if b.get('section') else ''})"
            for b in books
        ]
        text = "The runbook for this diagnosis:" if items else "No runbook matched this diagnosis."
    elif intent == "what_if":
        text, items = _what_if(question, diagnosis)
    elif intent == "prevention":
        items = [str(p) for p in diagnosis.get("prevention") or []]
        text = "To keep it from happening again:" if items else "No prevention tip for this diagnosis."
    elif intent == "affected":
        items = [
            f"{o.get('kind')}/{o.get('name')}" + (f" -n {o['namespace']}" if o.get("namespace") else "")
            for o in diagnosis.get("affected_objects") or []
        ]
        text = "Affected objects:" if items else "The diagnosis names no affected object."
    elif intent == "missing":
        items = [f"{m.get('what')}: {m.get('reason')}" for m in diagnosis.get("missing_data") or []]
        text = f"Confidence {float(diagnosis.get('confidence', 0.0)):.2f}. " + (
            "What could not be established:" if items else "Nothing the checks needed was missing."
        )
    elif intent == "root_cause":
        items = [str(e) for e in (diagnosis.get("evidence") or [])[:3]]
        text = f"{category}: {diagnosis.get('root_cause', '')}"
    else:
        items = list(_HELP_TOPICS)
        text = f"The last diagnosis is {category}: {diagnosis.get('summary') or diagnosis.get('root_cause', '')} You can ask:"
    return FollowupAnswer(
        question=question, intent=intent, text=text, items=items, about=str(diagnosis.get("fingerprint", ""))
    )
