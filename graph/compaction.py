"""Evidence compaction for the model: the parts a diagnosis reads, fenced as data, within a token budget.

The evidence store is already redacted and stripped of managedFields at ingestion; here it
is cut further for a prompt: per object only identity, owners, status/conditions and the spec
fields diagnoses read; events deduplicated by object+reason+message with their counts; log
lines around the failure. Blocks are added most relevant first (focus objects, their events
and logs, then the rest) until the budget is spent; what did not fit is named, not silently lost.

Every block is untrusted cluster text, so each is wrapped in a fence carrying a per-request
random token that the text itself cannot guess (see ``prompts/system.md``).
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graph.evidence import EvidenceView, K8sObject, key_of, name_of, namespace_of
from graph.k8s import unhealthy_score

CHARS_PER_TOKEN = 4
"""Gemini and Llama tokenizers average about four characters of English/JSON per token."""

# Object fields that say nothing about why something fails.
_NOISE_KEYS = frozenset(
    {
        "managedFields",
        "uid",
        "resourceVersion",
        "generation",
        "selfLink",
        "terminationMessagePath",
        "terminationMessagePolicy",
        "dnsPolicy",
        "schedulerName",
        "enableServiceLinks",
        "preemptionPolicy",
        "priority",
        "terminationGracePeriodSeconds",
        "revisionHistoryLimit",
        "progressDeadlineSeconds",
        "containerID",
        "imageID",
        "hostIP",
        "hostIPs",
        "podIP",
        "podIPs",
        "qosClass",
        "images",
        "daemonEndpoints",
        "nodeInfo",
        "pod-template-hash",
        "kubectl.kubernetes.io/last-applied-configuration",
        "lastProbeTime",
        "lastUpdateTime",
        "serviceAccount",
        "volumesAttached",
        "volumesInUse",
    }
)
_DEFAULT_TOLERATIONS = frozenset({"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"})
_MAX_STRING = 600
_MAX_LIST = 20
_EVENTS_MAX = 25
_LOG_CONTEXT = 2
_LOG_TAIL = 12
_LOG_MAX_LINES = 40
_FAILURE = re.compile(
    r"error|fatal|panic|exception|fail|refused|denied|forbidden|killed|timeout|timed out|"
    r"not found|no such|unable|cannot|can't|invalid|unauthori[sz]ed|x509|exit(ed)? (code|status)|"
    r"oom|out of memory|traceback|segfault|nxdomain",
    re.IGNORECASE,
)


def estimate_tokens(text: str) -> int:
    """Tokens a model will count for ``text``, estimated offline (no tokenizer download)."""
    return -(-len(text) // CHARS_PER_TOKEN)


def new_fence() -> str:
    """A per-request token that closes data blocks; untrusted text cannot know it in advance."""
    return secrets.token_hex(8)


def fenced(fence: str, label: str, text: str) -> str:
    """``text`` wrapped as data. A copy of the fence inside the text is defused (it cannot be, by chance)."""
    body = text.replace(fence, "[fence]")
    return f"<<<DATA {fence} {label}>>>\n{body}\n<<<END {fence}>>>"


def _is_boilerplate(item: Any) -> bool:
    """Entries every pod carries: the service-account token volume, the default NoExecute tolerations."""
    if not isinstance(item, dict):
        return False
    if str(item.get("name", "")).startswith("kube-api-access-"):
        return True
    return item.get("key") in _DEFAULT_TOLERATIONS and item.get("tolerationSeconds") == 300


def slim(value: Any, depth: int = 0) -> Any:
    """``value`` without noise keys, empty values and runaway strings or lists."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in _NOISE_KEYS:
                continue
            item = slim(item, depth + 1)
            if item in (None, "", [], {}):
                continue
            out[key] = item
        return out
    if isinstance(value, list):
        value = [v for v in value if not _is_boilerplate(v)]
        items = [slim(v, depth + 1) for v in value[:_MAX_LIST]]
        if len(value) > _MAX_LIST:
            items.append(f"... {len(value) - _MAX_LIST} more")
        return [i for i in items if i not in (None, "", [], {})]
    if isinstance(value, str) and len(value) > _MAX_STRING:
        return value[:_MAX_STRING] + f"... ({len(value) - _MAX_STRING} more chars)"
    return value


def compact_object(obj: K8sObject) -> dict[str, Any]:
    """Identity, owners, spec and status of ``obj`` as a diagnosis reads them."""
    meta = obj.get("metadata") or {}
    small: dict[str, Any] = {
        "kind": obj.get("kind"),
        "name": name_of(obj),
        "namespace": namespace_of(obj),
        "labels": meta.get("labels"),
        "annotations": meta.get("annotations"),
        "owners": [f"{r.get('kind')}/{r.get('name')}" for r in meta.get("ownerReferences") or []],
        "deletionTimestamp": meta.get("deletionTimestamp"),
    }
    for section in ("spec", "status", "data", "rules", "roleRef", "subjects", "webhooks", "reason"):
        if section in obj:
            small[section] = obj[section]
    if obj.get("kind") == "ConfigMap" and isinstance(small.get("data"), dict):
        # Keys tell whether a reference resolves; values are long and rarely matter.
        small["data"] = sorted(small["data"])
    result: dict[str, Any] = slim(small)
    return result


def dedupe_events(events: list[K8sObject]) -> list[str]:
    """One line per object+reason+message, newest first, with the summed count."""
    merged: dict[tuple[str, str, str, str], list[Any]] = {}
    for event in events:
        inv = event.get("involvedObject") or event.get("regarding") or {}
        subject = f"{inv.get('kind')}/{inv.get('name')}"
        message = " ".join(str(event.get("message") or event.get("note") or "").split())
        key = (str(event.get("type") or ""), subject, str(event.get("reason") or ""), message)
        count = int(event.get("count") or (event.get("series") or {}).get("count") or 1)
        if key in merged:
            merged[key][0] += count
        else:
            merged[key] = [count]
    lines = []
    for (kind, subject, reason, message), (count,) in merged.items():
        times = f" (x{count})" if count > 1 else ""
        lines.append(f"{kind or 'Normal'} {reason} on {subject}{times}: {message[:_MAX_STRING]}")
    # Warnings first: they carry the failure.
    return sorted(lines, key=lambda line: not line.startswith("Warning"))


def log_excerpt(text: str) -> str:
    """Lines around failure-looking lines, plus the tail (where a crash usually ends)."""
    lines = text.splitlines()
    if len(lines) <= _LOG_MAX_LINES:
        return "\n".join(line[:_MAX_STRING] for line in lines)
    keep: set[int] = set(range(max(0, len(lines) - _LOG_TAIL), len(lines)))
    for i, line in enumerate(lines):
        if _FAILURE.search(line):
            keep.update(range(max(0, i - _LOG_CONTEXT), min(len(lines), i + _LOG_CONTEXT + 1)))
    chosen = sorted(keep)
    if len(chosen) > _LOG_MAX_LINES:
        # Keep the first failures (the cause) and the tail (the crash); drop the middle.
        head = [i for i in chosen if i < len(lines) - _LOG_TAIL][: _LOG_MAX_LINES - _LOG_TAIL]
        chosen = sorted(set(head) | set(range(len(lines) - _LOG_TAIL, len(lines))))
    out: list[str] = []
    previous = -1
    for i in chosen:
        if i != previous + 1:
            out.append(f"... ({i - previous - 1} lines skipped)")
        out.append(lines[i][:_MAX_STRING])
        previous = i
    return "\n".join(out)


@dataclass
class Pack:
    """Compacted, fenced evidence for one prompt."""

    text: str
    omitted: list[str] = field(default_factory=list)

    def omitted_note(self) -> str:
        if not self.omitted:
            return "nothing omitted"
        shown = ", ".join(self.omitted[:5])
        more = f" and {len(self.omitted) - 5} more" if len(self.omitted) > 5 else ""
        return f"left out for the token budget: {shown}{more}"


def _blocks(view: EvidenceView, subjects: list[str]) -> list[tuple[str, str]]:
    """(label, text) blocks, most relevant first: the lead object, its events and logs, then the rest."""
    objects = view.evidence["objects"]
    order: list[str] = []
    focus = view.evidence["focus"]
    # The failing pod says the most (its container states); its workload comes next.
    leads = [k for k in focus if k.startswith("Pod/")] + [k for k in focus if not k.startswith("Pod/")]
    for key in [*leads, *subjects]:
        if key in objects and key not in order:
            order.append(key)
    for key in list(order):
        for owner in view.owner_chain(objects[key]):
            if key_of(owner) not in order:
                order.append(key_of(owner))
    related = set(order)
    events = [o for k, o in objects.items() if k.startswith("Event/")]
    near = dedupe_events([e for e in events if _event_subject_key(e) in related])
    far = dedupe_events([e for e in events if _event_subject_key(e) not in related])

    def obj_block(key: str) -> tuple[str, str]:
        return f"object {key}", json.dumps(compact_object(objects[key]), separators=(",", ":"))

    blocks = [obj_block(k) for k in order[:1]]
    if near:
        blocks.append(("events of the failing objects", "\n".join(near[:_EVENTS_MAX])))
    blocks += _log_blocks(view, lambda pod: pod in related)
    blocks += [obj_block(k) for k in order[1:]]
    if far:
        blocks.append(("other events", "\n".join(far[:_EVENTS_MAX])))
    rest = [k for k in objects if k not in related and not k.startswith("Event/")]
    # Other kinds (Services, ConfigMaps, Nodes...) before bystander pods, sickest pods first.
    rest.sort(
        key=lambda k: (k.startswith("Pod/"), -unhealthy_score(objects[k]) if k.startswith("Pod/") else 0, k)
    )
    blocks += [obj_block(k) for k in rest]
    blocks += _log_blocks(view, lambda pod: pod not in related)
    return blocks


def _event_subject_key(event: K8sObject) -> str:
    inv = event.get("involvedObject") or event.get("regarding") or {}
    return f"{inv.get('kind')}/{inv.get('namespace') or ''}/{inv.get('name')}"


def _log_blocks(view: EvidenceView, wanted: Callable[[str], bool]) -> list[tuple[str, str]]:
    """Log excerpts of the pods whose key ``wanted`` accepts."""
    out = []
    for key, text in view.evidence["logs"].items():
        namespace, pod, _ = key.split("/", 2)
        if wanted(f"Pod/{namespace}/{pod}"):
            out.append((f"log {key}", log_excerpt(text) or "(empty)"))
    return out


def pack_evidence(
    view: EvidenceView, fence: str, budget_chars: int, subjects: list[str] | None = None
) -> Pack:
    """The evidence as fenced blocks, most relevant first, at most ``budget_chars`` characters.

    ``subjects`` are object keys the findings are about (read before the rest). A block that
    does not fit whole is cut when a useful part fits; otherwise it is named in ``omitted``.
    """
    parts: list[str] = []
    omitted: list[str] = []
    used = 0
    for label, text in _blocks(view, subjects or []):
        block = fenced(fence, label, text)
        if used + len(block) + 1 <= budget_chars:
            parts.append(block)
            used += len(block) + 1
            continue
        room = budget_chars - used - len(fenced(fence, label, "")) - 40
        if room >= 300:
            cut = fenced(fence, label, text[:room] + f"... (cut, {len(text) - room} chars)")
            parts.append(cut)
            used += len(cut) + 1
        else:
            omitted.append(label)
    return Pack(text="\n".join(parts), omitted=omitted)


def corpus(view: EvidenceView) -> str:
    """Every text the evidence holds (objects, logs, the paste), lower-cased, for grounding checks."""
    chunks = [json.dumps(o) for o in view.evidence["objects"].values()]
    chunks += list(view.evidence["logs"].values())
    chunks.append(view.error_message)
    chunks.append(view.namespace or "")
    return "\n".join(chunks).lower()
