"""Masks secrets in text and objects before they leave the cluster layer.

Everything that goes towards a model, an HTTP response or a log line passes through here.
A mask keeps the *kind* of what was removed (``<redacted:aws-access-key>``) and the parts a
diagnosis needs (key names, user names, hosts), so ``password=hunter2`` becomes
``password=<redacted:password>`` and ``postgres://app:pw@db:5432`` keeps ``app`` and ``db``.

The rules err towards keeping Kubernetes vocabulary intact: names of Secrets, keys and env
vars (``SMTP_PASSWORD``, ``db-password``), ``secretKeyRef``, image digests, UIDs and commit
SHAs are what a diagnosis is made of and carry no secret.

Public API: :func:`redact_text`, :func:`redact_object`, :class:`RedactingFilter` (attach it to
log handlers), and :func:`kind_of_key` / :func:`is_secret_name` for callers that decide by name.
Speed: ``benchmarks/bench_redact.py`` (64 KiB of log in about 4-5 ms on one core).
"""

from __future__ import annotations

import base64
import binascii
import functools
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tools.reader import strip_secret

MASK_PREFIX = "<redacted:"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def mask(kind: str) -> str:
    """The placeholder that replaces a secret of ``kind``."""
    return f"{MASK_PREFIX}{kind}>"


# Values next to a secret-ish key that are not secrets: flags, placeholders, references to
# other variables and prose such as "password: required".
_NOT_SECRET_VALUES = frozenset(
    {
        "true",
        "false",
        "null",
        "none",
        "nil",
        "yes",
        "no",
        "on",
        "off",
        "not",
        "required",
        "missing",
        "empty",
        "invalid",
        "expired",
        "unset",
        "set",
        "n/a",
        "redacted",
        "masked",
        "hidden",
        "optional",
    }
)
_PLACEHOLDER = re.compile(r"^(?:\$\{.*|\$\(.*|\$[A-Za-z_]\w*|\{\{.*|\*+|x+|<[^>]*>|%s|\?)$", re.IGNORECASE)


def _is_secret_value(value: str) -> bool:
    stripped = value.strip()
    if not stripped or stripped.lower() in _NOT_SECRET_VALUES:
        return False
    return _PLACEHOLDER.match(stripped) is None


# --- key names ---------------------------------------------------------------------------

# A key whose last word is one of these names a value that points at a secret (a file, a
# reference, a lifetime) rather than holding one: SMTP_PASSWORD_FILE, secretKeyRef, TOKEN_TTL.
_POINTER_WORDS = frozenset(
    [
        "file",
        "path",
        "dir",
        "ttl",
        "name",
        "names",
        "ref",
        "enabled",
        "timeout",
        "seconds",
        "length",
        "type",
        "mode",
        "expiry",
        "expiration",
        "lifetime",
        "audience",
        "audiences",
        "url",
        "uri",
        "endpoint",
        "header",
        "rotation",
        "version",
        "count",
        "limit",
        "size",
    ]
)
# The word before "key" that makes ``…_key`` a secret, and the kind it reports.
_KEY_QUALIFIERS = {
    "api": "api-key",
    "access": "access-key",
    "secret": "secret",
    "private": "private-key",
    "account": "azure-storage-key",
    "signing": "secret",
    "encryption": "secret",
    "master": "secret",
    "subscription": "api-key",
    "license": "api-key",
}
_STRONG_WORDS = {
    "password": "password",
    "passwd": "password",
    "passphrase": "password",
    "secret": "secret",
    "token": "token",
    "apikey": "api-key",
    "credentials": "credentials",
    "credential": "credentials",
}
_CAMEL_LOWER_UPPER = re.compile(r"([a-z0-9])([A-Z])")
_CAMEL_ACRONYM = re.compile(r"([A-Z]+)([A-Z][a-z])")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def _words(name: str) -> list[str]:
    """``X-API-Key`` -> [x, api, key]; ``SecretAccessKey`` -> [secret, access, key]."""
    spaced = _CAMEL_ACRONYM.sub(r"\1_\2", _CAMEL_LOWER_UPPER.sub(r"\1_\2", name))
    return [word for word in _NON_ALNUM.split(spaced.lower()) if word]


@functools.lru_cache(maxsize=4096)
def kind_of_key(name: str) -> str | None:
    """The secret kind a key or env var *name* announces, or None when its value is no secret.

    ``DB_PASSWORD`` -> password, ``X-API-Key`` -> api-key, ``SecretAccessKey`` -> aws-secret-key;
    ``secretName``, ``secretKeyRef``, ``TOKEN_TTL``, ``SMTP_PASSWORD_FILE`` and ``bypass`` -> None.
    """
    words = _words(name)
    if not words:
        return None
    last = words[-1]
    before = words[-2] if len(words) > 1 else ""
    if words[-3:] == ["private", "key", "id"]:
        return "gcp-private-key-id"
    if last in _POINTER_WORDS or last == "id":
        return None
    if last == "key" or last.endswith(("apikey", "accesskey", "secretkey", "privatekey")):
        if last != "key":
            before, last = last[: -len("key")], "key"
        if before == "access" and len(words) > 2 and words[-3] in ("secret", "aws"):
            return "aws-secret-key"
        return _KEY_QUALIFIERS.get(before)
    if last in ("pass", "pwd") or last.endswith(("password", "passwd", "passphrase")):
        return "password"
    if last.endswith("secret"):
        return "client-secret" if before == "client" or last == "clientsecret" else "secret"
    if last.endswith("token"):
        return "token"
    if last in ("credentials", "credential", "dsn"):
        return "credentials" if last != "dsn" else "dsn"
    if last in ("connstr", "string") and before in ("connection", "conn"):
        return "connection-string"
    for word in words:
        if word in _STRONG_WORDS:
            return _STRONG_WORDS[word]
    return None


def is_secret_name(name: str) -> bool:
    """Whether a key or env var *name* says its value is a secret (``DB_PASSWORD`` yes, ``secretName`` no)."""
    return kind_of_key(name) is not None


# --- text rules ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rule:
    """One precompiled pattern; ``triggers`` are lower-case substrings, one of which must be
    present for the pattern to run at all (a cheap prefilter that keeps plain logs fast).

    Patterns start with a literal wherever possible: Python's ``re`` then scans for that
    literal in C instead of trying every position, which is what keeps a 64 KiB log fast.
    """

    name: str
    pattern: re.Pattern[str]
    replace: str | Callable[[re.Match[str]], str]
    triggers: tuple[str, ...]


def _masked(match: re.Match[str], group: int | str, kind: str) -> str:
    """The match with only ``group`` replaced by the mask."""
    start, end = match.span(group)
    offset = match.start()
    text = match.group(0)
    return text[: start - offset] + mask(kind) + text[end - offset :]


def _mask_group(kind: str, group: int = 1) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        return _masked(match, group, kind)

    return replace


def _at_word_start(match: re.Match[str]) -> bool:
    start = match.start()
    return start == 0 or not (match.string[start - 1].isalnum() or match.string[start - 1] == "_")


def _mask_word(kind: str) -> Callable[[re.Match[str]], str]:
    """Mask the whole match when it does not continue a longer word."""

    def replace(match: re.Match[str]) -> str:
        return mask(kind) if _at_word_start(match) else match.group(0)

    return replace


_KEY_PREFIX = re.compile(r"[A-Za-z0-9_.-]*\Z")
_FLAG_PREFIX = re.compile(r"(?:\A|\s)--?[A-Za-z0-9_-]*\Z")
_AWS_SECRET_SHAPE = re.compile(r"[A-Za-z0-9/+]{40}")


def _key_before(match: re.Match[str], group: str) -> str:
    """The key a secret word ends: ``DB_`` + ``PASSWORD``, ``X-API-`` + ``Key``."""
    start = match.start(group)
    prefix = _KEY_PREFIX.search(match.string, max(0, start - 64), start)
    return (prefix.group(0) if prefix else "") + match.group(group)


def _kv_replace(match: re.Match[str]) -> str:
    group = "qv" if match.group("qv") is not None else "bare"
    value = match.group(group)
    if value is None or not _is_secret_value(value) or MASK_PREFIX in value:
        # a value a more specific rule already redacted keeps its non-secret parts (user, host)
        return match.group(0)
    if match.string.startswith(" bytes", match.end()):  # kubectl describe secret prints sizes
        return match.group(0)
    if group == "bare" and ":" in match.group("sep") and _is_prose(value, match.string, match.end()):
        return match.group(0)
    kind = kind_of_key(_key_before(match, "word"))
    if kind is None:
        return match.group(0)
    if kind in ("secret", "access-key") and _AWS_SECRET_SHAPE.fullmatch(value):
        kind = "aws-secret-key"
    return _masked(match, group, kind)


def _is_prose(value: str, text: str, end: int) -> bool:
    """``credentials: Found credentials from IAM Role`` is a sentence, not a key and its value.

    A plain word after ``key:`` that the line goes on after is prose; a value that ends the line
    (YAML, headers, ``kubectl describe``) or has digits or symbols is treated as a secret.
    """
    if not value.isalpha():
        return False
    return end < len(text) and text[end] == " " and end + 1 < len(text) and text[end + 1] not in "\r\n"


def _flag_replace(match: re.Match[str]) -> str:
    start = match.start()
    if _FLAG_PREFIX.search(match.string, max(0, start - 64), start) is None:
        return match.group(0)
    kind = kind_of_key(_key_before(match, "word"))
    if kind is None or not _is_secret_value(match.group("value")):
        return match.group(0)
    return _masked(match, "value", kind)


def _curl_user_replace(match: re.Match[str]) -> str:
    start = match.start()
    if start and not match.string[start - 1].isspace():
        return match.group(0)
    return _masked(match, 1, "password")


def _basic_replace(match: re.Match[str]) -> str:
    """Mask a standalone ``Basic <b64>`` only when it decodes to ``user:password``."""
    token = match.group(1)
    try:
        decoded = base64.b64decode(token + "=" * (-len(token) % 4), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return match.group(0)
    return _masked(match, 1, "basic-auth") if ":" in decoded else match.group(0)


def _bearer_replace(match: re.Match[str]) -> str:
    """A bearer token has digits or is long; prose after "Bearer"/"Token" is neither."""
    token = match.group(1)
    if not _at_word_start(match) or not (any(ch.isdigit() for ch in token) or len(token) >= 24):
        return match.group(0)
    return _masked(match, 1, "bearer-token")


def _env_pair_replace(match: re.Match[str]) -> str:
    kind = kind_of_key(match.group("name"))
    if kind is None or not _is_secret_value(match.group("value")):
        return match.group(0)
    return _masked(match, "value", kind)


def _docker_auth_replace(match: re.Match[str]) -> str:
    start = match.start()
    if start == 0 or match.string[start - 1] != '"':
        return match.group(0)
    return _masked(match, 1, "docker-auth")


def _cased(*words: str) -> str:
    """``password`` -> ``password|Password|PASSWORD``: literal alternatives keep the scan fast."""
    return "|".join(f"{w}|{w[0].upper()}{w[1:]}|{w.upper()}" for w in words)


_QUOTE = r"""(?:\\?["'])"""
# The value after a key: a quoted string (possibly inside JSON-in-a-string, hence ``\\?``)
# or a bare run up to whitespace, a separator or a closing bracket.
_VALUE = (
    r"""(?:(?P<open>\\?["'])(?!<redacted:)(?P<qv>[^"'\\\n]+)"""
    r"""|(?!<redacted:)(?![{\[])(?P<bare>[^\s"'`,;&\\<>)}\]]+))"""
)
_SEPARATOR = r"(?P<sep>[ \t]*:[ \t]*|=|[ \t]+=[ \t]*)"
_B64 = "A-Za-z0-9+/"

_RULES: tuple[_Rule, ...] = (
    _Rule(
        "pem-private-key",
        re.compile(
            # bounded: an 8192-bit RSA key is ~6.5 KB; unbounded, many BEGINs without an END go quadratic
            r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----.{0,12000}?"
            r"-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----",
            re.DOTALL,
        ),
        mask("private-key"),
        ("private key",),
    ),
    # A key cut off by a log line limit or a tail: mask from BEGIN to the end of the base64.
    _Rule(
        "pem-private-key-truncated",
        re.compile(r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----(?:\\[nr]|[\s A-Za-z0-9+/=])*"),
        mask("private-key"),
        ("private key",),
    ),
    # A PEM private key, base64-encoded once more: kubeconfig client-key-data, Secret manifests.
    _Rule(
        "base64-pem-private-key",
        re.compile(
            r"LS0tLS1CRUdJTi(?:BSU0EgUFJJVkFURSBLRVkt|BQUklWQVRFIEtFWS0t|BFQyBQUklWQVRFIEtFWS0t|"
            r"BPUEVOU1NIIFBSSVZBVEUgS0VZLS0t|BFTkNSWVBURUQgUFJJVkFURSBLRVkt|BEU0EgUFJJVkFURSBLRVkt)"
            r"[A-Za-z0-9+/=]*"
        ),
        mask("private-key"),
        ("ls0tls1crudjti",),
    ),
    _Rule(
        "gcp-private-key-id",
        re.compile(r"""private_key_id\\?"\s*:\s*\\?"([0-9a-f]{16,64})"""),
        _mask_group("gcp-private-key-id"),
        ("private_key_id",),
    ),
    _Rule(
        "jwt",
        re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),
        _mask_word("jwt"),
        ("eyj",),
    ),
    _Rule(
        "aws-access-key",
        re.compile(r"(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])"),
        _mask_word("aws-access-key"),
        ("akia", "asia", "agpa", "aida", "aroa", "aipa", "anpa", "anva", "abia", "acca"),
    ),
    _Rule(
        "github-token",
        re.compile(r"(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})(?![A-Za-z0-9])"),
        _mask_word("github-token"),
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    ),
    _Rule("gitlab-token", re.compile(r"glpat-[A-Za-z0-9_-]{20,}"), mask("gitlab-token"), ("glpat-",)),
    _Rule(
        "slack-webhook",
        re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9/_-]+"),
        mask("slack-webhook"),
        ("hooks.slack.com",),
    ),
    _Rule(
        "slack-token",
        re.compile(r"xox[baprse]-[A-Za-z0-9-]{10,}"),
        _mask_word("slack-token"),
        ("xoxb-", "xoxa-", "xoxp-", "xoxr-", "xoxs-", "xoxe-"),
    ),
    _Rule("google-api-key", re.compile(r"AIza[0-9A-Za-z_-]{35}"), _mask_word("google-api-key"), ("aiza",)),
    _Rule(
        "stripe-key",
        re.compile(r"(?:sk|rk|pk)_(?:live|test)_[0-9A-Za-z]{16,}"),
        _mask_word("stripe-key"),
        ("_live_", "_test_"),
    ),
    _Rule(
        "stripe-webhook-secret",
        re.compile(r"whsec_[0-9A-Za-z+/=]{20,}"),
        _mask_word("stripe-webhook-secret"),
        ("whsec_",),
    ),
    _Rule("npm-token", re.compile(r"npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])"), _mask_word("npm-token"), ("npm_",)),
    _Rule(
        "npm-auth-token",
        re.compile(r":_auth(?:Token)?[ \t]*=[ \t]*(?!<redacted:)\"?([^\s\"]+)"),
        _mask_group("npm-token"),
        (":_auth",),
    ),
    _Rule(
        "sendgrid-key",
        re.compile(r"SG\.[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{16,64}"),
        _mask_word("sendgrid-key"),
        ("sg.",),
    ),
    _Rule(
        "llm-api-key",
        re.compile(
            r"sk-(?:proj-|ant-(?:api\d+-)?)?(?=[A-Za-z0-9_-]*[A-Z])(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{20,}"
        ),
        _mask_word("api-key"),
        ("sk-",),
    ),
    _Rule(
        "vault-token", re.compile(r"hv[sb]\.[A-Za-z0-9_-]{20,}"), _mask_word("vault-token"), ("hvs.", "hvb.")
    ),
    _Rule(
        "signed-url-signature",
        re.compile(rf"[?&](?:X-Amz-Signature|Signature)=([0-9A-Za-z%{_B64}=]{{16,}})"),
        _mask_group("aws-signature"),
        ("signature=",),
    ),
    _Rule(
        "aws-session-token-parameter",
        re.compile(r"[?&]X-Amz-Security-Token=([^&\s\"']+)"),
        _mask_group("aws-session-token"),
        ("security-token",),
    ),
    _Rule(
        "azure-sas-signature",
        re.compile(rf"[?&]sig=([%{_B64}=]{{16,}})"),
        _mask_group("azure-sas-signature"),
        ("sig=",),
    ),
    _Rule(
        "docker-auth",
        re.compile(r"""(?:auth|identitytoken|registrytoken)\\?"\s*:\s*\\?"([A-Za-z0-9+/=_-]{8,})"""),
        _docker_auth_replace,
        ('auth"', 'auth\\"', 'token"', 'token\\"'),
    ),
    # An env entry printed as JSON or YAML: the NAME says the value is secret.
    _Rule(
        "env-json",
        re.compile(
            r"""name\\?"\s*:\s*\\?"(?P<name>[A-Za-z_][A-Za-z0-9_.-]*)\\?"\s*,\s*"""
            r"""\\?"value\\?"\s*:\s*\\?"(?P<value>[^"\\]*)"""
        ),
        _env_pair_replace,
        ("value",),
    ),
    _Rule(
        "env-yaml",
        re.compile(
            r"""name:[ \t]*["']?(?P<name>[A-Za-z_][A-Za-z0-9_.-]*)["']?[ \t]*\r?\n[ \t]*"""
            r"""value:[ \t]*["']?(?P<value>[^"'\r\n]*)"""
        ),
        _env_pair_replace,
        ("value:",),
    ),
    _Rule(
        "url-credentials",
        re.compile(r"""://[^:/?#@\s"'<>]*:(?!<redacted:)([^@/?#\s"'<>]+)@"""),
        _mask_group("password"),
        ("://",),
    ),
    # Go's MySQL DSN has no scheme: user:password@tcp(host:3306)/db
    _Rule(
        "go-mysql-dsn",
        re.compile(r""":(?!<redacted:)([^@\s:/"'<>]{1,128})@(?:tcp|unix)\("""),
        _mask_group("password"),
        ("@tcp(", "@unix("),
    ),
    _Rule(
        "authorization-basic",
        re.compile(
            rf"(?:{_cased('authorization')}){_QUOTE}?[ \t]*[:=][ \t]*{_QUOTE}?(?:{_cased('basic')})[ \t]+"
            rf"([{_B64}]+=*)"
        ),
        _mask_group("basic-auth"),
        ("basic",),
    ),
    _Rule("basic", re.compile(rf"(?:Basic|BASIC)[ \t]+([{_B64}]{{8,}}=*)"), _basic_replace, ("basic",)),
    _Rule(
        "bearer",
        re.compile(rf"(?:{_cased('bearer', 'token')})[ \t]+(?!<redacted:)([A-Za-z0-9._~+/-]{{8,}}=*)"),
        _bearer_replace,
        ("bearer", "token"),
    ),
    # ``--password hunter2`` / ``--token abc`` on a command line (``--token-ttl 3600`` is not).
    _Rule(
        "cli-flag",
        re.compile(
            r"(?P<word>password|passwd|token|secret|api-key|apikey|key)[ \t]+(?!-)(?!<redacted:)"
            r"(?P<value>[^\s\"']+)"
        ),
        _flag_replace,
        ("pass", "token", "secret", "key"),
    ),
    _Rule(
        "curl-user",
        re.compile(r"(?:-u|--user)[ =]+['\"]?[^\s:'\"]+:(?!<redacted:)([^\s'\"]+)"),
        _curl_user_replace,
        ("-u", "--user"),
    ),
    # key=value, key: value and "key": "value" where the key ends with a secret word.
    _Rule(
        "key-value",
        re.compile(
            # the leading lookahead is a first-character filter: it halves the scan time of
            # this many-branched alternation in Python's ``re``
            rf"""(?=[pPsStTkKcCdD])(?P<word>(?:{_cased("pass")})(?i:word|wd|phrase)?|{_cased("pwd", "secret", "token", "key")}|"""
            rf"""{_cased("credentials", "credential", "dsn", "string")}){_QUOTE}?{_SEPARATOR}{_VALUE}"""
        ),
        _kv_replace,
        ("pass", "pwd", "secret", "token", "key", "credential", "dsn", "string"),
    ),
)


_SHORT_TEXT = 2048
_ANY_TRIGGER = re.compile(
    "|".join(
        re.escape(t) for t in sorted({t for rule in _RULES for t in rule.triggers}, key=len, reverse=True)
    )
)


def redact_text(text: str) -> str:
    """``text`` with every secret replaced by ``<redacted:kind>``; the rest is left as it was."""
    if not text:
        return text
    lowered = text.lower()
    # Most strings in an object (names, labels, timestamps) hold no trigger at all: one search
    # answers that for all rules. Long texts nearly always hold some trigger, so skip it there.
    if len(text) <= _SHORT_TEXT and _ANY_TRIGGER.search(lowered) is None:
        return text
    for rule in _RULES:
        if not any(trigger in lowered for trigger in rule.triggers):
            continue
        redacted = rule.pattern.sub(rule.replace, text)
        if redacted != text:
            text = redacted
            lowered = text.lower()
    return text


# --- objects ------------------------------------------------------------------------------


def redact_object(obj: Any) -> Any:
    """A deep copy of ``obj`` with every string redacted.

    Beyond :func:`redact_text`: env entries ``{"name": X, "value": V}`` whose name looks secret
    get ``V`` masked; map entries whose key looks secret get a string value masked; a Secret
    keeps metadata, type and key names only (its last-applied annotation, which repeats the
    data, is masked too).
    """
    if isinstance(obj, str):
        return redact_text(obj)
    if isinstance(obj, list):
        return _redact_list(obj)
    if isinstance(obj, tuple):
        return tuple(redact_object(item) for item in obj)
    if isinstance(obj, dict):
        return _redact_mapping(obj)
    return obj


# Maps whose keys are label keys: a label is indexed and public, and a diagnosis compares
# selectors against labels, so their values must stay as they are.
_LABEL_MAPS = frozenset({"labels", "matchLabels", "selector", "nodeSelector"})
_FLAG_NAME = re.compile(r"--?([A-Za-z][A-Za-z0-9_.-]*)")


def _redact_list(items: list[Any]) -> list[Any]:
    """Redact each item; in an argv-like list, the item after ``--db-password`` is its value."""
    result: list[Any] = []
    secret_kind: str | None = None
    for item in items:
        if (
            secret_kind is not None
            and isinstance(item, str)
            and not item.startswith("-")
            and _is_secret_value(item)
        ):
            result.append(mask(secret_kind))
            secret_kind = None
            continue
        secret_kind = None
        if isinstance(item, str) and (flag := _FLAG_NAME.fullmatch(item)):
            secret_kind = kind_of_key(flag.group(1))
        result.append(redact_object(item))
    return result


_CAMEL_KEY_FIELD = re.compile(r"[a-z]Key\Z")
_KEY_NAME_VALUE = re.compile(r"[A-Za-z_][A-Za-z_.-]{0,31}\Z")


def _names_a_key(key: str, value: str) -> bool:
    """``secretKey: password`` in a CRD (External Secrets, cert-manager) names a Secret's key."""
    return _CAMEL_KEY_FIELD.search(key) is not None and _KEY_NAME_VALUE.match(value) is not None


def _redact_mapping(obj: dict[Any, Any], labels: bool = False) -> dict[Any, Any]:
    """``labels``: the keys are label keys (never secrets, and selectors must stay comparable)."""
    if obj.get("kind") == "Secret" and isinstance(obj.get("metadata"), dict):
        obj = strip_secret(obj)
        annotations = obj["metadata"].get("annotations")
        if isinstance(annotations, dict) and LAST_APPLIED in annotations:
            obj = {**obj, "metadata": {**obj["metadata"], "annotations": dict(annotations)}}
            obj["metadata"]["annotations"][LAST_APPLIED] = mask("secret-manifest")
    if labels:
        return {
            key: _redact_mapping(value, labels=True) if isinstance(value, dict) else redact_object(value)
            for key, value in obj.items()
        }
    name = obj.get("name")
    env_kind = kind_of_key(name) if isinstance(name, str) and isinstance(obj.get("value"), str) else None
    result: dict[Any, Any] = {}
    for key, value in obj.items():
        kind = env_kind if key == "value" else None
        if kind is None and isinstance(key, str) and key != "name":
            kind = kind_of_key(key)
            if kind is not None and isinstance(value, str) and _names_a_key(key, value):
                kind = None
        if kind is not None and isinstance(value, str) and _is_secret_value(value):
            result[key] = mask(kind)
        elif isinstance(value, dict) and key in _LABEL_MAPS:
            result[key] = _redact_mapping(value, labels=True)
        else:
            result[key] = redact_object(value)
    return result


# --- logging ------------------------------------------------------------------------------

_STANDARD_RECORD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
}


class RedactingFilter(logging.Filter):
    """Redacts a record's message, arguments, traceback and string ``extra`` fields.

    Attach it to *handlers*: a filter on a logger does not see records of its child loggers.
    It never drops a record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact_text(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        for attr, value in list(record.__dict__.items()):
            if attr not in _STANDARD_RECORD_ATTRS and isinstance(value, str | dict | list):
                setattr(record, attr, redact_object(value))
        return True
