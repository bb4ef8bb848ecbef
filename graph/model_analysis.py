"""The model's part in analyze: it rewrites the rules draft from the same evidence, and the rules stay the floor.

The model answers :class:`ModelDiagnosis` (a subset of the Diagnosis it may write) from the
redacted, compacted evidence, the analyzers' findings and runbook excerpts. Its answer is
merged into the rules draft under this policy, so a model can only make a diagnosis better:

1. **Category.** The model's category replaces the rules category only when the rules are
   not sure (top finding scored below :data:`STRONG_SCORE`) *and* an analyzer found evidence
   for the model's category too (its finding becomes the floor), or when the rules found
   nothing (Unknown) and the model cites grounded facts. Otherwise the rules category, root-cause
   id, affected objects and confidence stay, and the model only improves wording and prevention.
2. **Facts.** Model facts are kept only when grounded: every identifier they quote (names,
   numbers, paths) occurs in the evidence. Every rules fact stays unless a model fact carries
   all its identifiers.
3. **Root cause.** The model's wording replaces the rules root cause only when it keeps every
   identifier the rules one quotes (the decisive object names and values).
4. **Fix commands.** A model command is dropped when it is unsafe (:mod:`graph.safety`), names
   an object or namespace that is not in the evidence, does not start with a known tool, or
   is copied verbatim from untrusted text (a log line that "asks" for it). Every rules command
   stays unless a kept model command carries all its identifiers.
5. **Failure.** Error, timeout, 429, or an answer that is still invalid after one repair try:
   the rules draft unchanged, mode ``rules``, and a ``model_notes`` entry saying what happened.

Model calls are counted in ``draft["model_calls"]`` (state, carried across critic loops;
the Diagnosis schema ignores the key) and bounded by ``IDP_LLM_MAX_CALLS`` per diagnosis.
The model is asked only once the critic's deterministic reads are done, so a diagnosis that
loops for more data does not pay for an answer the next pass replaces.
"""

from __future__ import annotations

import json
import re
import shlex
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from graph.analysis import draft_from_finding
from graph.analyzers.base import Finding
from graph.compaction import corpus, estimate_tokens, fenced, new_fence, pack_evidence
from graph.evidence import EvidenceView
from graph.llm import Limits, ask_json, load_prompt
from graph.safety import unsafe_reason
from graph.taxonomy import CATEGORIES, Category, runbook_id
from tools.redact import redact_text

if TYPE_CHECKING:
    from graph.context import Deps
    from graph.state import State

STRONG_SCORE = 0.8
"""A rules finding this strong keeps its category whatever the model says."""
MAX_PASTE_CHARS = 3000
MAX_RUNBOOK_CHARS = 500
# Room left for the answer format, role markers and the estimate's error.
BUDGET_MARGIN = 0.9
KNOWN_TOOLS = ("kubectl", "helm", "terraform", "aws", "gcloud", "az", "eksctl", "kustomize", "flux", "argocd")


class ModelDiagnosis(BaseModel):
    """The part of the Diagnosis the model writes; the graph fills in the rest."""

    category: Category
    root_cause: str = Field(min_length=10, max_length=1500)
    root_cause_id: str = Field("unknown", max_length=80, pattern=r"^[A-Za-z0-9_.\-]+$")
    evidence: list[str] = Field(default_factory=list, max_length=12)
    fix_commands: list[str] = Field(default_factory=list, max_length=10)
    prevention: list[str] = Field(default_factory=list, max_length=6)
    confidence: float = Field(ge=0.0, le=1.0)


def model_calls(state: State) -> int:
    """Model calls this diagnosis has made so far (reset by a new run: loops start at 0)."""
    if not state.get("loops"):
        return 0
    return int((state.get("draft") or {}).get("model_calls", 0))


def refine_draft(
    deps: Deps,
    state: State,
    view: EvidenceView,
    findings: list[Finding],
    draft: dict[str, Any],
    notes: list[dict[str, str]],
) -> tuple[dict[str, Any], str, list[dict[str, str]]]:
    """The draft the model improved (mode ``llm``), or the rules draft with a note (mode ``rules``)."""
    from graph.model_critique import critic_will_loop

    limits = Limits.of(deps.settings)
    calls = model_calls(state)
    draft = {**draft, "model_calls": calls}
    if critic_will_loop(view, [f.to_dict() for f in findings], draft, state.get("loops", 0)):
        return draft, "rules", notes
    if calls >= limits.max_calls:
        notes = [*notes, _note(f"skipped: the {limits.max_calls} model calls of this diagnosis are spent")]
        return draft, "rules", notes

    system, user = analysis_prompt(deps, view, findings, limits)
    needed = estimate_tokens(system) + estimate_tokens(user) + schema_tokens(ModelDiagnosis)
    if needed > limits.input_budget_tokens:
        notes = [*notes, _note(f"skipped: the prompt needs ~{needed} tokens, over IDP_LLM_INPUT_BUDGET")]
        return draft, "rules", notes
    answer = ask_json(
        deps.model,
        ModelDiagnosis,
        system,
        user,
        limits=limits,
        calls_left=min(2, limits.max_calls - calls),
        run_name="analyze.model",
        metadata={"rules_category": draft.get("category"), "loops": state.get("loops", 0)},
    )
    draft["model_calls"] = calls + answer.calls
    if answer.value is None:
        return draft, "rules", [*notes, _note(f"{answer.failure}; the rules diagnosis stands")]
    merged, dropped = merge(draft, answer.value, findings, view)
    if dropped:
        notes = [*notes, {"what": "model fix commands", "reason": "; ".join(dropped[:3])}]
    return merged, "llm", notes


def _note(reason: str) -> dict[str, str]:
    return {"what": "model analysis", "reason": reason}


# --- the prompt ---


def analysis_prompt(
    deps: Deps, view: EvidenceView, findings: list[Finding], limits: Limits
) -> tuple[str, str]:
    """(system, user) messages that fit the input budget together with the response schema.

    The evidence fills what the instructions, findings, runbooks and paste leave; under a
    small budget the runbooks go first, then the runners-up findings, then most of the paste.
    """
    fence = new_fence()
    system = load_prompt("system").substitute(fence=fence)
    template = load_prompt("analyze")
    budget = int(limits.input_budget_tokens * BUDGET_MARGIN) - estimate_tokens(system)
    budget -= schema_tokens(ModelDiagnosis)
    for top, with_runbooks, paste_chars in ((3, True, MAX_PASTE_CHARS), (3, False, 1500), (1, False, 600)):
        fields = {
            "categories": ", ".join(CATEGORIES),
            "findings": fenced(fence, "findings", render_findings(findings[:top])),
            "runbooks": render_runbooks(deps, findings[:2]) if with_runbooks else "(left out for the budget)",
            "paste": fenced(fence, "pasted by the user", redact_text(view.error_message[:paste_chars])),
        }
        room = budget - estimate_tokens(template.substitute(fields, evidence="", omitted=""))
        if room > 0:
            break
    subjects = [
        f"{a['kind']}/{a.get('namespace') or ''}/{a['name']}" for f in findings[:2] for a in f.affected
    ]
    # The note on what was left out costs room too.
    pack = pack_evidence(view, fence, max(0, room - 100) * 4, subjects)
    # The evidence is redacted at ingestion; a second pass costs milliseconds and guards the wire.
    user = template.substitute(fields, evidence=redact_text(pack.text), omitted=pack.omitted_note())
    return system, user


def schema_tokens(schema: type[BaseModel]) -> int:
    """The response schema travels with the request and counts as input too."""
    return estimate_tokens(json.dumps(schema.model_json_schema()))


def render_findings(findings: list[Finding]) -> str:
    if not findings:
        return "(no analyzer found anything)"
    lines = []
    for rank, f in enumerate(findings, 1):
        lines.append(f"{rank}. {f.category} (score {f.score:.2f}, {f.root_cause_id}): {f.root_cause}")
        lines += [f"   fact: {fact.render()}" for fact in f.facts[:8]]
        lines += [f"   fix: {command}" for command in f.fix_commands[:5]]
    return "\n".join(lines)


def render_runbooks(deps: Deps, findings: list[Finding]) -> str:
    if deps.runbooks is None:
        return "(none)"
    out = []
    for f in findings:
        book = deps.runbooks.get(runbook_id(f.category))
        if book is None:
            continue
        for section in ("Fix", "Prevent"):
            text = book.excerpt(section, MAX_RUNBOOK_CHARS)
            if text:
                out.append(f"### {book.title}: {section}\n{text}")
    return "\n\n".join(out) or "(none)"


# --- the merge policy (see the module docstring) ---

_TOKEN = re.compile(r"[a-z0-9][a-z0-9_.\-/:]*")


def tokens(text: str) -> set[str]:
    """Words of ``text`` as identifiers: lower-case, runs of name characters, trailing dots stripped."""
    found = set()
    for raw in _TOKEN.findall(text.lower()):
        word = raw.rstrip(".-:/")
        found.add(word)
        # "deployment/orders-api" and "ns/pod" name two things each.
        found.update(p for p in re.split(r"[/:=]", word) if p)
    return found


def identifiers(text: str) -> set[str]:
    """The words of ``text`` that name or measure something: they hold a digit or a separator."""
    body = text.split(" [source: ")[0]
    return {w for w in tokens(body) if len(w) >= 3 and re.search(r"[0-9_.\-/]", w)}


def covers(candidate: str, original: str) -> bool:
    """Whether ``candidate`` keeps every identifier ``original`` quotes (and so may replace it)."""
    needed = identifiers(original)
    return bool(needed) and needed <= tokens(candidate)


def merge(
    draft: dict[str, Any], answer: ModelDiagnosis, findings: list[Finding], view: EvidenceView
) -> tuple[dict[str, Any], list[str]]:
    """The merged draft and the reasons model fix commands were dropped."""
    known = tokens(corpus(view))
    untrusted = " ".join(corpus(view).split())
    top = findings[0] if findings else None
    floor = dict(draft)
    category_from_model = False
    if answer.category != draft.get("category") and answer.category != "Unknown":
        other = next((f for f in findings if f.category == answer.category), None)
        rules_unsure = top is None or top.score < STRONG_SCORE or draft.get("category") == "Unknown"
        if rules_unsure and other is not None:
            floor = {**draft_from_finding(other), "model_calls": draft.get("model_calls", 0)}
            category_from_model = True
        elif draft.get("category") == "Unknown" and _grounded(answer.evidence, known):
            floor = {
                **draft,
                "category": answer.category,
                "root_cause_id": answer.root_cause_id,
                "confidence": round(min(answer.confidence, 0.6), 2),
                "summary": answer.root_cause.split(". ")[0][:200],
                "root_cause": answer.root_cause,
            }
            category_from_model = True
    same_category = category_from_model or answer.category == draft.get("category")

    merged = dict(floor)
    rules_facts = {fact.render() for f in findings for fact in f.facts}
    facts = (
        [f for f in answer.evidence if f in rules_facts or f in _grounded([f], known)]
        if same_category
        else []
    )
    merged["evidence"] = _union(facts, floor.get("evidence", []))
    if same_category and covers(answer.root_cause, floor.get("root_cause", "")):
        merged["root_cause"] = answer.root_cause
    trusted = {c for f in findings for c in f.fix_commands}
    commands, dropped = (
        _safe_commands(answer.fix_commands, known, untrusted, trusted) if same_category else ([], [])
    )
    merged["fix_commands"] = _union(commands, floor.get("fix_commands", []))
    merged["prevention"] = list(dict.fromkeys([*answer.prevention, *floor.get("prevention", [])]))[:6]
    return merged, dropped


def _grounded(facts: list[str], known: set[str]) -> list[str]:
    return [f for f in facts if f.strip() and identifiers(f) <= known]


def _union(model_items: list[str], rules_items: list[str]) -> list[str]:
    """Model items first, then every rules item no model item covers."""
    kept = list(dict.fromkeys(model_items))
    for item in rules_items:
        if item not in kept and not any(covers(m, item) for m in model_items):
            kept.append(item)
    return kept


def _safe_commands(
    commands: list[str], known: set[str], untrusted: str, trusted: set[str]
) -> tuple[list[str], list[str]]:
    """Model commands that pass every check (an analyzer's own command passes as it is)."""
    kept: list[str] = []
    dropped: list[str] = []
    for command in commands:
        command = command.strip()
        if command in trusted:
            kept.append(command)
            continue
        why = unsafe_reason(command)
        if why is None and not command.lower().startswith(KNOWN_TOOLS):
            why = "not a command of a known tool"
        if why is None and not _READ_ONLY.match(command) and " ".join(command.lower().split()) in untrusted:
            why = "copied from cluster text (logs or events), not derived from the evidence"
        if why is None:
            unknown = [n for n in named_objects(command) if n not in known]
            if unknown:
                why = f"names {', '.join(unknown[:3])}, not in the evidence"
        if why is None:
            kept.append(command)
        else:
            dropped.append(f"dropped {json.dumps(command[:80])}: {why}")
    return kept, dropped


# kubectl verbs whose next positional argument after a kind is an object name.
_KIND_WORDS = re.compile(
    r"^(po|pods?|deploy|deployments?|sts|statefulsets?|ds|daemonsets?|rs|replicasets?|jobs?|cronjobs?|cj|"
    r"svc|services?|cm|configmaps?|secrets?|sa|serviceaccounts?|pvc|persistentvolumeclaims?|pv|"
    r"persistentvolumes?|no|nodes?|ns|namespaces?|ing|ingress(es)?|hpa|horizontalpodautoscalers?|"
    r"ep|endpoints|networkpolicy|networkpolicies|netpol|quota|resourcequotas?|limitranges?|roles?|"
    r"rolebindings?|clusterroles?|clusterrolebindings?|storageclass(es)?|sc|events?)(\.[a-z0-9.]+)?$"
)
_NAMESPACE_FLAGS = ("-n", "--namespace")
_SUBTYPES = frozenset({"generic", "tls", "docker-registry"})
_READ_ONLY = re.compile(r"^kubectl\s+(get|describe|logs|top|explain|events|auth\s+can-i)\b", re.IGNORECASE)


def named_objects(command: str) -> list[str]:
    """Object and namespace names a kubectl command line names (placeholders like <x> excluded)."""
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    if not words or words[0] != "kubectl":
        return []
    names: list[str] = []
    positional: list[str] = []
    i = 1
    while i < len(words):
        word = words[i]
        if word in _NAMESPACE_FLAGS and i + 1 < len(words):
            names.append(words[i + 1])
            i += 2
            continue
        if word.startswith("--namespace="):
            names.append(word.split("=", 1)[1])
        elif not word.startswith("-"):
            positional.append(word)
        i += 1
    if positional and positional[0] == "create":
        # What a create makes does not exist yet; its namespace still must.
        return [n.lower() for n in names]
    if len(positional) > 1 and positional[0] == "logs" and "/" not in positional[1]:
        names.append(positional[1])
    for index, word in enumerate(positional[1:], 1):
        if "/" in word and "=" not in word and not word.startswith(("/", ".")):
            names.append(word.split("/", 1)[1])
        elif _KIND_WORDS.match(word.lower()) and index + 1 < len(positional):
            rest = positional[index + 1 :]
            follower = rest[1] if rest[0] in _SUBTYPES and len(rest) > 1 else rest[0]
            if "=" not in follower and "/" not in follower and follower not in _SUBTYPES:
                names.append(follower)
    return [n.lower() for n in names if n and not n.startswith("<") and not n.startswith("$")]
