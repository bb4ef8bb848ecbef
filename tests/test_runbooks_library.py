"""The shipped runbook library: front matter, skeleton, coverage of the taxonomy, and command hygiene.

kubectl commands are checked twice: statically (known verb, well-formed flags) and by the real
kubectl's own argument parser, pointed at a closed loopback port so nothing can reach a cluster.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from graph.taxonomy import CATEGORIES
from runbooks.library import (
    BUILTIN_DIR,
    REQUIRED_FIELDS,
    SKELETON,
    Runbook,
    RunbookError,
    load_runbooks,
    parse_runbook,
)

TAXONOMY = list(CATEGORIES)

KUBECTL_VERBS = frozenset(
    [
        "get",
        "describe",
        "logs",
        "top",
        "auth",
        "exec",
        "port-forward",
        "rollout",
        "set",
        "create",
        "patch",
        "apply",
        "edit",
        "delete",
        "label",
        "annotate",
        "cordon",
        "uncordon",
        "drain",
        "scale",
        "debug",
        "explain",
        "api-resources",
        "version",
        "cluster-info",
        "events",
        "wait",
        "diff",
        "taint",
    ]
)
READ_ONLY_VERBS = frozenset(
    [
        "get",
        "describe",
        "logs",
        "top",
        "auth",
        "explain",
        "api-resources",
        "version",
        "cluster-info",
        "events",
    ]
)
READ_ONLY_SUBCOMMANDS = {"rollout": {"status", "history"}, "exec": None, "port-forward": None}
"""Diagnose may also look inside a container and forward a port: neither changes an object."""

DESTRUCTIVE = re.compile(
    r"kubectl delete (?:namespaces?|ns|pv|pvc|persistentvolumes?|persistentvolumeclaims?|nodes?)\b"
    r"|kubectl drain\b|terraform force-unlock",
)
FLAG = re.compile(r"^(?:--[a-z][a-z0-9-]*(?:=.*)?|-[a-zA-Z](?:=.*)?|-)$")
RISK_MARKER = "⚠ risky"
INT_PLACEHOLDER = re.compile(
    r"^(--(?:revision|to-revision|replicas|tail|grace-period|timeout-seconds))=<[^>]+>$"
)

RUNBOOKS = load_runbooks([BUILTIN_DIR])
BY_FILE = {Path(runbook.path or "").name: runbook for runbook in RUNBOOKS}


def _code_lines(text: str) -> list[str]:
    lines, inside = [], False
    for line in text.splitlines():
        if line.strip().startswith("```"):
            inside = not inside
            continue
        if inside and line.strip() and not line.strip().startswith("#"):
            lines.append(line.strip())
    return lines


def _inline_commands(text: str) -> list[str]:
    return re.findall(r"`(kubectl [^`]+)`", text)


def _kubectl_segments(line: str) -> list[list[str]]:
    """Each pipeline segment of ``line`` that runs kubectl, as argv (trailing comments dropped)."""
    argv = shlex.split(line, comments=True)
    segments: list[list[str]] = [[]]
    for token in argv:
        if token == "|":
            segments.append([])
        else:
            segments[-1].append(token)
    return [segment for segment in segments if segment[:1] == ["kubectl"]]


def _commands(runbook: Runbook, sections: tuple[str, ...] = ("Diagnose", "Fix", "Prevent")) -> list[str]:
    found: list[str] = []
    for name in sections:
        text = runbook.section(name) or ""
        found.extend(_code_lines(text))
        found.extend(_inline_commands(text))
    return found


def _all_kubectl_argvs() -> list[tuple[str, list[str]]]:
    argvs: list[tuple[str, list[str]]] = []
    for runbook in RUNBOOKS:
        for line in _commands(runbook, ("Symptoms", "Diagnose", "Fix", "Prevent")):
            argvs.extend((runbook.id, segment) for segment in _kubectl_segments(line))
    return argvs


# ----- front matter, skeleton, coverage ---------------------------------------------------------


@pytest.mark.parametrize("runbook", RUNBOOKS, ids=lambda runbook: runbook.id)
def test_front_matter_has_every_field(runbook: Runbook) -> None:
    text = Path(runbook.path or "").read_text(encoding="utf-8")
    front = text.split("---", 2)[1]
    for name in REQUIRED_FIELDS:
        assert re.search(rf"^{name}:", front, re.MULTILINE), f"{runbook.path}: no {name}"
    assert runbook.title and runbook.categories and runbook.keywords and runbook.symptoms
    assert set(runbook.categories) <= set(TAXONOMY), f"{runbook.id}: unknown category"


@pytest.mark.parametrize("runbook", RUNBOOKS, ids=lambda runbook: runbook.id)
def test_sections_follow_the_skeleton_in_order(runbook: Runbook) -> None:
    assert tuple(runbook.sections) == SKELETON
    assert all(text.strip() for text in runbook.sections.values())


@pytest.mark.parametrize("runbook", RUNBOOKS, ids=lambda runbook: runbook.id)
def test_references_link_documentation(runbook: Runbook) -> None:
    urls = re.findall(r"https://\S+", runbook.section("References") or "")
    assert urls
    if runbook.categories != ["TerraformStateLock"]:
        assert any(url.startswith("https://kubernetes.io/docs/") for url in urls)


def test_ids_are_unique() -> None:
    files = sorted(BUILTIN_DIR.glob("*.md"))
    ids = [parse_runbook(file.read_text(encoding="utf-8"), str(file)).id for file in files]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 24


@pytest.mark.parametrize("label", TAXONOMY)
def test_every_category_has_the_runbook_named_after_it(label: str) -> None:
    runbook = next((runbook for runbook in RUNBOOKS if runbook.id == label.lower()), None)
    assert runbook is not None, f"no runbook with id {label.lower()}"
    assert label in runbook.categories


def test_seed_file_names_are_kept() -> None:
    expected = {
        "crashloopbackoff.md": "crashloopbackoff",
        "oomkilled.md": "oomkilled",
        "imagepullbackoff.md": "imagepullbackoff",
        "terraform-state-lock.md": "terraformstatelock",
    }
    assert {name: BY_FILE[name].id for name in expected} == expected


# ----- command hygiene --------------------------------------------------------------------------


@pytest.mark.parametrize("runbook", RUNBOOKS, ids=lambda runbook: runbook.id)
def test_kubectl_commands_use_known_verbs_and_well_formed_flags(runbook: Runbook) -> None:
    for line in _commands(runbook, ("Symptoms", "Diagnose", "Fix", "Prevent")):
        for argv in _kubectl_segments(line):
            assert len(argv) > 1 and argv[1] in KUBECTL_VERBS, f"{runbook.id}: {line}"
            for token in argv[2:]:
                if (
                    token.startswith("-")
                    and not token.startswith("--")
                    and len(token) > 2
                    and "=" not in token
                ):
                    pytest.fail(f"{runbook.id}: merged short flags are not used here: {token} in {line}")
                if token.startswith("-") and token != "--":
                    assert FLAG.match(token), f"{runbook.id}: malformed flag {token!r} in {line}"


@pytest.mark.parametrize("runbook", RUNBOOKS, ids=lambda runbook: runbook.id)
def test_diagnose_is_read_only(runbook: Runbook) -> None:
    for line in _commands(runbook, ("Diagnose",)):
        for argv in _kubectl_segments(line):
            verb = argv[1]
            # a dry run goes through admission but persists nothing
            if verb in READ_ONLY_VERBS or any(token.startswith("--dry-run=") for token in argv):
                continue
            assert verb in READ_ONLY_SUBCOMMANDS, f"{runbook.id}: '{line}' changes the cluster"
            allowed = READ_ONLY_SUBCOMMANDS[verb]
            assert allowed is None or argv[2] in allowed, f"{runbook.id}: '{line}' changes the cluster"


@pytest.mark.parametrize("runbook", RUNBOOKS, ids=lambda runbook: runbook.id)
def test_destructive_commands_carry_a_risk_marker_on_the_same_line(runbook: Runbook) -> None:
    text = "\n".join(runbook.sections.values())
    for line in text.splitlines():
        if DESTRUCTIVE.search(line):
            assert RISK_MARKER in line, f"{runbook.id}: unmarked destructive command: {line.strip()}"


@pytest.mark.parametrize("runbook", RUNBOOKS, ids=lambda runbook: runbook.id)
def test_fix_commands_use_placeholders_not_invented_names(runbook: Runbook) -> None:
    fixes = [line for line in _code_lines(runbook.section("Fix") or "") if not line.startswith("systemctl")]
    assert fixes, f"{runbook.id}: Fix has no commands"
    assert any("<" in line and ">" in line for line in fixes), f"{runbook.id}: no <placeholders> in Fix"


def test_terraform_runbook_never_disables_locking_and_marks_force_unlock() -> None:
    text = Path(BY_FILE["terraform-state-lock.md"].path or "").read_text(encoding="utf-8")
    assert "-lock=false" not in text
    unlocks = [line for line in text.splitlines() if line.startswith("terraform force-unlock")]
    assert unlocks
    fix = BY_FILE["terraform-state-lock.md"].section("Fix") or ""
    lines = fix.splitlines()
    for position, line in enumerate(lines):
        if line.startswith("terraform force-unlock"):
            assert RISK_MARKER in line or RISK_MARKER in lines[position - 1]
    diagnose = BY_FILE["terraform-state-lock.md"].section("Diagnose") or ""
    assert "Lock Info" in diagnose and "Who" in diagnose


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kubectl_itself_accepts_every_command(tmp_path: Path) -> None:
    """kubectl parses each command; the closed loopback server makes every request fail to connect."""
    kubeconfig = tmp_path / "closed.kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\n"
        "clusters: [{name: closed, cluster: {server: 'https://127.0.0.1:9'}}]\n"
        "users: [{name: nobody, user: {token: not-a-token}}]\n"
        "contexts: [{name: closed, context: {cluster: closed, user: nobody}}]\n"
        "current-context: closed\n",
        encoding="utf-8",
    )
    # URLs would make kubectl fetch them; those commands are covered by the static check only
    argvs = {tuple(argv): rb for rb, argv in _all_kubectl_argvs() if not any("://" in t for t in argv)}
    parse_errors = (
        "unknown flag",
        "unknown shorthand flag",
        "unknown command",
        "flag needs an argument",
        "invalid argument",
        "required flag",
        "accepts ",
        "expected '",
    )

    def run(argv: tuple[str, ...]) -> tuple[tuple[str, ...], str]:
        # integer flags cannot parse a <placeholder>; give them a sample value
        concrete = [INT_PLACEHOLDER.sub(r"\1=1", token) for token in argv]
        completed = subprocess.run(
            [*concrete, "--kubeconfig", str(kubeconfig), "--request-timeout=2s"],
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        return argv, completed.stderr

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(run, argvs))
    failures = [
        f"{argvs[argv]}: {' '.join(argv)} -> {stderr.strip().splitlines()[0]}"
        for argv, stderr in results
        if any(marker in stderr for marker in parse_errors)
    ]
    assert len(argvs) > 100
    assert not failures, "\n".join(failures)


# ----- parsing and team folders -----------------------------------------------------------------

TEAM_RUNBOOK = """---
id: {id}
title: {title}
categories: [OOMKilled]
keywords: [payments heap]
symptoms: ["payments JVM dies"]
---
# {title}

## Symptoms
Team specific.

## Diagnose
```bash
# a shell comment is not a heading
kubectl get pods -n payments
```

## Fix
Ask the payments team.

## Prevent
Nothing.

## References
- https://kubernetes.io/docs/
"""


def test_parse_keeps_code_comments_inside_sections() -> None:
    runbook = parse_runbook(TEAM_RUNBOOK.format(id="payments-oom", title="Payments OOM"), "team.md")
    assert tuple(runbook.sections) == SKELETON
    assert "# a shell comment is not a heading" in (runbook.section("diagnose") or "")
    assert runbook.content_hash and runbook.path == "team.md"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# no front matter\n", "no YAML front matter"),
        ("---\nid: x\ntitle: t\n---\n", "misses categories, keywords, symptoms"),
        (
            "---\nid: Bad Id\ntitle: t\ncategories: []\nkeywords: []\nsymptoms: []\n---\n",
            "must be lower-case",
        ),
        ("---\nid: x\ntitle: t\ncategories: {a: 1}\nkeywords: []\nsymptoms: []\n---\n", "must be a list"),
    ],
    ids=["no-front-matter", "missing-fields", "bad-id", "categories-not-a-list"],
)
def test_parse_rejects_malformed_runbooks(text: str, message: str) -> None:
    with pytest.raises(RunbookError, match=message):
        parse_runbook(text, "bad.md")


def test_team_folders_add_and_override_runbooks(tmp_path: Path) -> None:
    team = tmp_path / "team"
    team.mkdir()
    (team / "payments.md").write_text(TEAM_RUNBOOK.format(id="payments-oom", title="Payments OOM"), "utf-8")
    (team / "oom.md").write_text(TEAM_RUNBOOK.format(id="oomkilled", title="Our OOM procedure"), "utf-8")
    (team / "notes.md").write_text("# just notes, no front matter\n", "utf-8")
    (team / "broken.md").write_text("---\nid: broken\n---\n", "utf-8")

    runbooks = {runbook.id: runbook for runbook in load_runbooks([BUILTIN_DIR, team, tmp_path / "missing"])}

    assert runbooks["payments-oom"].title == "Payments OOM"
    assert runbooks["oomkilled"].title == "Our OOM procedure"
    assert "broken" not in runbooks
    assert len(runbooks) == len(RUNBOOKS) + 1


def test_settings_runbooks_dirs_reads_several_folders(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from idp.settings import Settings

    monkeypatch.setenv("IDP_RUNBOOKS_DIRS", f"{tmp_path / 'a'},{tmp_path / 'b'}")
    settings = Settings()  # type: ignore[call-arg]  # pydantic-settings fills fields from the env
    assert settings.runbooks_dirs == [tmp_path / "a", tmp_path / "b"]
