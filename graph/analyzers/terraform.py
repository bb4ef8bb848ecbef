"""TerraformStateLock: Terraform cannot take its state lock because another run holds it.

Everything needed is in the pasted text: Terraform prints a ``Lock Info`` block (ID, Path,
Operation, Who, Version, Created) for every locking backend, and the backend's own error
says which store refused the lock (DynamoDB's ConditionalCheckFailedException, S3's or
GCS's failed precondition on the ``.tflock`` object, an azurerm blob lease, Consul...).
Breaking a lock is only safe once the holder is known to be gone, so the fix checks the
holder first and carries the warning on the force-unlock line itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from graph.analyzers.base import Analyzer, Fact, Finding
from graph.evidence import EvidenceView

_LOCK_ERROR = re.compile(
    r"error acquiring the state lock|error locking state|state blob is already locked|"
    r"workspace (?:is )?already locked|lock(?:ed)? by another|conditionalcheckfailedexception.*lock|"
    r"failed to (?:lock|acquire lock)|error acquiring lock",
    re.IGNORECASE | re.DOTALL,
)
# Lines of the Lock Info block, with or without the "│ " frame Terraform draws around errors.
_FIELD = re.compile(r"^[\s│|]*(ID|Path|Operation|Who|Version|Created|Info):[ \t]*(.*?)[ \t]*$", re.MULTILINE)
# What CI systems and terminals put before each line of Terraform's output: timestamps (GitHub
# Actions raw logs, GitLab, Jenkins timestamper), workflow commands (##[error]), Google Cloud
# Build step labels ('Step #2 - "tf-apply": '), colour codes and the box Terraform draws around diagnostics.
_LINE_PREFIX = re.compile(
    r"^(?:\x1b\[[0-9;]*[A-Za-z]|[ \t]*\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?[ \t]?"
    r"|[ \t]*\[\d{2}:\d{2}:\d{2}(?:\.\d+)?\][ \t]?|[ \t]*##\[\w+\][ \t]?|[ \t]*[│╷╵|][ \t]?"
    r'|[ \t]*Step #\d+(?: - "[^"\n]*")?:[ \t]?)+',
    re.MULTILINE,
)
_INLINE_ID = re.compile(r"\(lock ID: \"([^\"]+)\"\)")
_MESSAGE = re.compile(r"Error message:[ \t]*(\S[^\n]*)")
_CHDIR = re.compile(r"\bterraform\s+(-chdir=\S+)")
_GCS_LOCK = re.compile(r"gs://([\w.-]+)/(\S+?\.tflock)")
_S3_LOCK = re.compile(r"s3://([\w.-]+)/(\S+?\.tflock)|\b([\w.-]+/\S+?\.tflock)\b")


@dataclass(frozen=True)
class LockInfo:
    lock_id: str
    path: str
    operation: str
    who: str
    version: str
    created: str


@dataclass(frozen=True)
class Backend:
    name: str
    """How the user would call it: "S3 + DynamoDB", "GCS"..."""
    evidence: str
    """The phrase of the error that identifies it."""


_BACKENDS: tuple[tuple[re.Pattern[str], Backend], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), backend)
    for pattern, backend in (
        (
            r"ConditionalCheckFailedException|DynamoDB",
            Backend("S3 + DynamoDB", "DynamoDB ConditionalCheckFailedException"),
        ),
        (
            r"storage\.googleapis\.com|gs://|googleapi|conditionNotMet",
            Backend("GCS", "GCS precondition failed"),
        ),
        (
            r"state blob is already locked|blob is already leased|LeaseAlreadyPresent|azurerm|\.blob\.core\.",
            Backend("azurerm", "Azure blob lease already present"),
        ),
        (
            r"\.tflock|PreconditionFailed|s3:",
            Backend("S3 (use_lockfile)", "S3 lock file precondition failed"),
        ),
        (r"consul", Backend("Consul", "Consul lock held")),
        (
            r"workspace (?:is )?already locked|app\.terraform\.io|HCP Terraform|Terraform Cloud",
            Backend("HCP Terraform / remote", "workspace already locked"),
        ),
        (r"\bpq:|postgres", Backend("pg", "PostgreSQL advisory lock held")),
        (r"\blease\b.*\bkube|kubernetes", Backend("kubernetes", "Lease already held")),
    )
)


def strip_line_prefixes(text: str) -> str:
    """Terraform's output without the timestamps, CI markers and frame characters before each line."""
    return _LINE_PREFIX.sub("", text)


def parse_lock_info(text: str) -> LockInfo | None:
    """The Lock Info block of a Terraform locking error, or None when the text has none."""
    text = strip_line_prefixes(text)
    fields: dict[str, str] = {}
    for match in _FIELD.finditer(text):
        fields.setdefault(match.group(1), match.group(2).strip())
    inline = _INLINE_ID.search(text)
    if not fields.get("ID") and inline:
        # Remote/HCP Terraform: "workspace already locked (lock ID: "org/workspace")".
        fields["ID"] = inline.group(1)
    if not fields.get("ID"):
        return None
    return LockInfo(
        lock_id=fields["ID"],
        path=fields.get("Path", ""),
        operation=fields.get("Operation", ""),
        who=fields.get("Who", ""),
        version=fields.get("Version", ""),
        created=fields.get("Created", ""),
    )


def detect_backend(text: str) -> Backend | None:
    for pattern, backend in _BACKENDS:
        if pattern.search(text):
            return backend
    return None


def _check_command(backend: Backend | None, lock: LockInfo | None, text: str) -> str | None:
    """A read-only look at the lock record itself, when the backend says where it lives."""
    if backend is None:
        return None
    path = lock.path if lock else ""
    if backend.name == "S3 + DynamoDB" and path:
        return (
            "aws dynamodb get-item --table-name <lock-table> "
            f'--key \'{{"LockID":{{"S":"{path}"}}}}\'  # the lock item: Who, Operation, Created'
        )
    if backend.name == "GCS":
        match = _GCS_LOCK.search(text)
        target = f"gs://{match.group(1)}/{match.group(2)}" if match else (f"gs://{path}" if path else "")
        return f"gcloud storage cat {target}  # the lock file: Who, Operation, Created" if target else None
    if backend.name == "S3 (use_lockfile)":
        match = _S3_LOCK.search(text)
        target = (match.group(1) + "/" + match.group(2)) if match and match.group(1) else ""
        target = target or (match.group(3) if match else f"{path}.tflock" if path else "")
        return f"aws s3 cp s3://{target} -  # the lock file: Who, Operation, Created" if target else None
    if backend.name == "azurerm":
        return (
            "az storage blob show --account-name <storage-account> --container-name <container> "
            f"--name {path.rsplit('/', 1)[-1] or '<state-blob>'} --query properties.lease"
        )
    return None


class TerraformStateLockAnalyzer(Analyzer):
    category = "TerraformStateLock"

    def analyze(self, view: EvidenceView) -> Finding | None:
        text = strip_line_prefixes(view.error_message)
        lock = parse_lock_info(text)
        if not _LOCK_ERROR.search(text) and not (lock and re.search(r"lock", text, re.IGNORECASE)):
            return None
        backend = detect_backend(text)
        facts: list[Fact] = []
        source = "pasted Terraform output"
        if backend is not None:
            facts.append(Fact(f"backend {backend.name}: {backend.evidence}", source))
        message = _MESSAGE.search(text)
        if message:
            facts.append(Fact(f"Error message: {message.group(1)[:300]}", source))
        chdir_match = _CHDIR.search(text)
        chdir = f" {chdir_match.group(1)}" if chdir_match else ""
        if lock is None:
            return Finding(
                category=self.category,
                score=0.8,
                root_cause_id="terraform.state-lock-held",
                root_cause=(
                    "Terraform could not acquire the state lock: another run (or a crashed one) holds it"
                    + (f" in the {backend.name} backend" if backend else "")
                    + "; the error does not show the Lock Info block, so the lock ID and holder are unknown."
                ),
                summary="Terraform state lock held by another run",
                facts=[*facts, Fact("Error acquiring the state lock", source)],
                fix_commands=[
                    f"terraform{chdir} plan -lock-timeout=10m  # re-run to print the Lock Info (ID, Who) of the holder",
                    f"terraform{chdir} force-unlock <LOCK_ID>  # ⚠ only after confirming the holder is no longer running",
                ],
                prevention=_PREVENTION,
                missing=["the Lock Info block (lock ID and holder) of the error"],
            )

        facts += [
            Fact(f"lock ID {lock.lock_id}", f"{source}, Lock Info ID"),
            *(
                [
                    Fact(
                        f"lock held by {lock.who} for {lock.operation or 'an operation'}",
                        f"{source}, Lock Info Who",
                    )
                ]
                if lock.who
                else []
            ),
            *([Fact(f"locked state path {lock.path}", f"{source}, Lock Info Path")] if lock.path else []),
            *(
                [
                    Fact(
                        f"lock created {lock.created} by Terraform {lock.version}",
                        f"{source}, Lock Info Created",
                    )
                ]
                if lock.created
                else []
            ),
        ]
        holder = lock.who or "the lock holder"
        operation = lock.operation.removeprefix("OperationType").lower() or "an operation"
        root = (
            f"Terraform cannot take the state lock on {lock.path or 'the state'}"
            + (f" ({backend.name} backend: {backend.evidence})" if backend else "")
            + f": lock {lock.lock_id} is held by {holder}, which started a terraform {operation}"
            + (f" at {lock.created}" if lock.created else "")
            + " and either is still running or died without releasing the lock."
        )
        fixes = [
            f"# first confirm that {holder} ({operation} started {lock.created or 'earlier'}) is no longer running "
            "(its CI job, pipeline or shell session)",
        ]
        check = _check_command(backend, lock, text)
        if check:
            fixes.append(check)
        fixes.append(
            f"terraform{chdir} force-unlock {lock.lock_id}  # ⚠ only after confirming {holder} is no longer running"
        )
        fixes.append(
            f"terraform{chdir} plan -lock-timeout=10m  # then re-plan before applying: the state may have changed"
        )
        return Finding(
            category=self.category,
            score=0.95,
            root_cause_id="terraform.state-lock-held",
            root_cause=root,
            summary=f"State lock {lock.lock_id} held by {holder}",
            facts=facts,
            fix_commands=fixes,
            prevention=_PREVENTION,
        )


_PREVENTION = [
    "Run Terraform in CI with -lock-timeout=10m so a concurrent run waits instead of failing.",
    "Serialise applies per state (a CI concurrency group per workspace/state path) and do not cancel running "
    "applies; a cancelled job is the usual source of an orphaned lock.",
    "Alert on state locks older than the longest expected apply instead of discovering them at the next run.",
]
