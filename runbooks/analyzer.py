"""A Kubernetes-aware text analyzer for runbook search.

What it does beyond ``str.split``:

* CamelCase reasons are split *and* kept whole: ``ImagePullBackOff`` yields
  ``image pull back off imagepullbackoff``, so a paraphrase and the exact reason both match.
* Exit codes, signal names and HTTP codes survive as tokens (``137``, ``sigkill``, ``503``).
* A light suffix stemmer folds ``evicted``/``eviction``-style inflections (``restarting`` -> ``restart``).
* Synonym groups add one shared token when any variant appears, on documents and queries alike
  (``OOM`` / ``out of memory`` / ``exit code 137`` / ``OOMKilled`` all add ``oom``), so the mapping
  is symmetric and needs no query-time expansion lists.

The analyzer is pure and deterministic: its output is part of the persisted index, so any
change here must bump :data:`ANALYZER_VERSION`.
"""

from __future__ import annotations

import re
from functools import lru_cache

ANALYZER_VERSION = "7"

_WORD = re.compile(r"[A-Za-z0-9]+")
_CAMEL_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z0-9]+|[A-Z0-9]+")
_NON_WORD = re.compile(r"[^a-z0-9]+")
_MAX_TOKEN_LEN = 40

STOPWORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers him his how i if in into is it its itself just me more most my no nor not
    of off on once only or other our ours out over own same she should so some such than that the their
    theirs them then there these they this those through to too under until up very was we were what
    when where which while who whom why will with would you your yours also get got via s t
    """.split()  # noqa: SIM905 - a word list reads better as text
)
"""English function words; 'off' and 'out' matter only inside phrases, which are matched before this."""

# Each group adds its canonical token (left) whenever one of its variants (right) appears.
# Variants are written as plain words; they are matched on word boundaries of the lower-cased,
# punctuation-free text, before stop words are removed.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "oom": (
        "oom",
        "oomkilled",
        "oom killed",
        "oom killer",
        "oom kill",
        "out of memory",
        "outofmemory",
        "outofmemoryerror",
        "exit code 137",
        "exit 137",
        "exitcode 137",
        "137",
        "java heap space",
        "cannot allocate memory",
        "memory cgroup out of memory",
        "killed process",
    ),
    "sigkill": ("sigkill", "signal 9", "kill 9", "137", "exit code 137", "exit 137", "exitcode 137"),
    "sigterm": ("sigterm", "signal 15", "exit code 143", "143"),
    "crashloop": (
        "crashloopbackoff",
        "crash loop",
        "crash looping",
        "crashlooping",
        "back off restarting failed container",
        "restarting failed container",
        "keeps restarting",
        "keep restarting",
        "restart loop",
        "keeps crashing",
    ),
    "imagepull": (
        "errimagepull",
        "imagepullbackoff",
        "image pull",
        "pull image",
        "pulling image",
        "failed to pull",
        "manifest unknown",
        "pull access denied",
        "errimageneverpull",
        "invalidimagename",
        "back off pulling image",
        "docker image",
        "container image",
        "image not found",
        "imagepullsecrets",
        "image pull secret",
    ),
    "dns": (
        "dns",
        "name resolution",
        "nslookup",
        "no such host",
        "could not resolve",
        "couldn t resolve",
        "unknown host",
        "unknownhostexception",
        "servfail",
        "nxdomain",
        "coredns",
        "kube dns",
        "resolv conf",
        "getaddrinfo",
        "eai again",
        "name or service not known",
        "can t resolve",
        "cannot resolve",
        "unable to resolve",
        "resolve host",
    ),
    "certificate": (
        "x509",
        "tls handshake",
        "certificate",
        "cert manager",
        "certmanager",
        "ssl",
        "err cert",
        "unknown authority",
        "self signed",
        "cert date invalid",
        "certificaterequest",
    ),
    "forbidden": (
        "403",
        "forbidden",
        "rbac",
        "cannot list resource",
        "cannot get resource",
        "cannot patch resource",
        "cannot create resource",
        "cannot watch resource",
    ),
    "endpoints": (
        "503",
        "502",
        "504",
        "bad gateway",
        "service unavailable",
        "service temporarily unavailable",
        "no endpoints",
        "no healthy upstream",
        "upstream connect error",
        "endpoints",
        "endpointslice",
    ),
    "unschedulable": (
        "failedscheduling",
        "unschedulable",
        "nodes are available",
        "didn t match",
        "untolerated taint",
        "insufficient cpu",
        "insufficient memory",
        "pending",
    ),
    "evict": ("evicted", "eviction", "evict", "low on resource", "ephemeral storage"),
    "quota": (
        "exceeded quota",
        "resourcequota",
        "resource quota",
        "quota",
        "limitrange",
        "limit range",
        "must specify limits",
        "must specify requests",
    ),
    "admission": (
        "admission webhook",
        "denied the request",
        "gatekeeper",
        "kyverno",
        "pod security",
        "podsecurity",
        "violates podsecurity",
        "admission",
        "validatingadmissionpolicy",
        "opa",
    ),
    "hpa": (
        "hpa",
        "horizontalpodautoscaler",
        "horizontal pod autoscaler",
        "autoscaler",
        "autoscaling",
        "failedgetresourcemetric",
        "failedcomputemetricsreplicas",
        "metrics server",
        "metrics api",
    ),
    "sandbox": (
        "failedcreatepodsandbox",
        "pod sandbox",
        "podsandbox",
        "cni",
        "failed to setup network",
        "failed to assign an ip",
        "no free ip",
        "ipamd",
        "sandbox",
    ),
    "statelock": (
        "state lock",
        "acquiring the state lock",
        "conditionalcheckfailedexception",
        "force unlock",
        "lock info",
        "dynamodb",
        "terraform lock",
    ),
    "notready": (
        "nodenotready",
        "node not ready",
        "node notready",
        "node is not ready",
        "kubelet stopped posting",
        "nodestatusunknown",
        "notready",
        "memorypressure",
        "diskpressure",
        "pidpressure",
    ),
    "probe": ("liveness probe", "readiness probe", "startup probe", "probe failed", "unhealthy", "probe"),
    "mount": (
        "failedmount",
        "failedattachvolume",
        "mountvolume",
        "unable to attach or mount",
        "multi attach",
        "attachvolume",
        "volume node affinity",
    ),
    "initcontainer": (
        "init container",
        "initcontainer",
        "init containers",
        "init crashloopbackoff",
        "init error",
        "init 0 1",
        "init 0 2",
        "init 1 2",
    ),
    "configerror": ("createcontainerconfigerror", "couldn t find key", "configerror"),
    "createcontainer": (
        "createcontainererror",
        "runcontainererror",
        "executable file not found",
        "exec format error",
        "oci runtime create failed",
        "starterror",
        "exit code 128",
        "failed to create containerd task",
    ),
    "rollout": (
        "progressdeadlineexceeded",
        "progress deadline",
        "rollout",
        "rolling update",
        "waiting for deployment",
    ),
    "job": (
        "backofflimitexceeded",
        "backoff limit",
        "backofflimit",
        "deadlineexceeded",
        "activedeadlineseconds",
        "cronjob",
    ),
    "persistentvolumeclaim": ("pvc", "pvcs", "persistentvolumeclaim", "persistent volume claim"),
    "persistentvolume": ("pv", "persistentvolume", "persistent volume"),
    "service": ("svc",),
    "configmap": ("cm", "configmap", "config map"),
    "namespace": ("ns",),
    "serviceaccount": ("sa", "serviceaccount", "service account"),
    "deployment": ("deploy",),
    "statefulset": ("sts",),
    "daemonset": ("ds",),
    "networkpolicy": ("netpol", "networkpolicy", "network policy"),
    "kubernetes": ("k8s",),
}


def _normalise(text: str) -> str:
    return " " + _NON_WORD.sub(" ", text.lower()).strip() + " "


def _trie_pattern(alternatives: list[str]) -> str:
    """One regex over many literal phrases, factored as a character trie.

    A flat alternation of a few hundred phrases makes ``re`` try each in turn at every position;
    the trie shares prefixes, which makes matching several times faster. Optional tails are greedy,
    so the longest phrase at a position wins ("exit code 137" over "exit").
    """
    trie: dict[str, dict] = {}  # type: ignore[type-arg]
    for phrase in alternatives:
        node = trie
        for char in phrase:
            node = node.setdefault(char, {})
        node[""] = {}

    def build(node: dict) -> str:  # type: ignore[type-arg]
        branches = [re.escape(char) + build(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return build(trie)


def _build_phrase_pattern() -> tuple[re.Pattern[str], dict[str, tuple[str, ...]]]:
    targets: dict[str, list[str]] = {}
    for canonical, variants in SYNONYMS.items():
        for variant in variants:
            key = _normalise(variant).strip()
            targets.setdefault(key, [])
            if canonical not in targets[key]:
                targets[key].append(canonical)
    pattern = re.compile(r"(?<![a-z0-9])" + _trie_pattern(list(targets)) + r"(?![a-z0-9])")
    return pattern, {key: tuple(value) for key, value in targets.items()}


_PHRASES, _PHRASE_TARGETS = _build_phrase_pattern()


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """Strip common English inflections (Porter step 1 flavour); short words and numbers pass."""
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    # "gracefully" -> "graceful", "quickly" -> "quick"; short words and "-ply"/"-lly" stems stay whole
    if (word.endswith(("fully", "ally")) and len(word) > 6) or (
        word.endswith("ly") and len(word) > 6 and word[-3] not in "pl"
    ):
        word = word[:-2]
    for suffix in ("ing", "ied", "ed", "ion"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + ("y" if suffix == "ied" else "")
            # "stopped" -> "stopp" -> "stop", but "killed" stays "kill" (Porter keeps l, s, z)
            if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz" and word[-1] not in "aeiou":
                word = word[:-1]
            break
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]
    return word


@lru_cache(maxsize=200_000)
def _word_tokens(word: str) -> tuple[str, ...]:
    """A raw alphanumeric word -> its lower-cased tokens: CamelCase parts, then the whole word."""
    parts = _CAMEL_PART.findall(word)
    whole = word.lower()
    if len(parts) <= 1:
        return (whole,)
    return (*(part.lower() for part in parts), whole)


def expand_words(text: str) -> list[str]:
    """Lower-cased words with CamelCase split (compound kept after its parts); no stemming."""
    words: list[str] = []
    for raw in _WORD.findall(text):
        if len(raw) <= _MAX_TOKEN_LEN:
            words.extend(_word_tokens(raw))
    return words


def _phrase_counts(reading: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for match in _PHRASES.finditer(reading):
        for canonical in _PHRASE_TARGETS[match.group(0)]:
            counts[canonical] = counts.get(canonical, 0) + 1
    return counts


@lru_cache(maxsize=200_000)
def _word_index_tokens(word: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A raw word -> (its stemmed tokens without stop words, synonyms found inside its CamelCase parts)."""
    parts = _word_tokens(word)
    stems = tuple(stem(part) for part in parts if part not in STOPWORDS)
    inner = tuple(_phrase_counts(" ".join(parts[:-1]))) if len(parts) > 1 else ()
    return stems, inner


def synonym_tokens(text: str, inner: dict[str, int] | None = None) -> list[str]:
    """Canonical synonym tokens for the phrases in ``text``.

    Phrases are looked for in the text as written (``Init:CrashLoopBackOff`` reads
    ``init crashloopbackoff``) and inside CamelCase words (``ImagePull`` reads ``image pull``,
    counted in ``inner``); each canonical token counts as often as the richer reading found it.
    """
    counts = _phrase_counts(_normalise(text))
    for canonical, count in (inner or {}).items():
        counts[canonical] = max(counts.get(canonical, 0), count)
    return [canonical for canonical, count in counts.items() for _ in range(count)]


def analyze(text: str) -> list[str]:
    """Text -> index tokens (stemmed words without stop words, plus synonym tokens)."""
    tokens: list[str] = []
    inner: dict[str, int] = {}
    for raw in _WORD.findall(text):
        if len(raw) > _MAX_TOKEN_LEN:
            continue
        stems, found = _word_index_tokens(raw)
        tokens.extend(stems)
        for canonical in found:
            inner[canonical] = inner.get(canonical, 0) + 1
    if not tokens and not inner:
        return []
    tokens.extend(stem(token) for token in synonym_tokens(text, inner))
    return tokens


def analyze_query(text: str) -> list[str]:
    """Query tokens: like :func:`analyze`, each token once (a pasted log repeats itself)."""
    return list(dict.fromkeys(analyze(text)))


def expanded_text(text: str) -> str:
    """The analyzer's view as plain text, for engines with their own tokenizer (Weaviate BM25)."""
    return " ".join(analyze(text))
