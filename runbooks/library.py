"""Runbooks on disk: markdown files with YAML front matter, parsed into :class:`Runbook` objects.

A runbook file looks like::

    ---
    id: oomkilled
    title: Container killed for exceeding its memory limit (OOMKilled)
    categories: [OOMKilled]
    keywords: [OOMKilled, exit code 137]
    symptoms: ["Last State: Terminated, Reason: OOMKilled"]
    ---
    # Title
    ## Symptoms
    ...

The built-in library lives next to this module; teams add folders through ``IDP_RUNBOOKS_DIRS``
(``Settings.runbooks_dirs``). A team runbook whose ``id`` equals a built-in one replaces it, so a team
can adapt the shipped procedure without forking the package.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

log = logging.getLogger(__name__)

BUILTIN_DIR = Path(__file__).resolve().parent
"""Folder holding the shipped runbooks (``*.md`` beside the package modules)."""

SKELETON: tuple[str, ...] = ("Symptoms", "Diagnose", "Fix", "Prevent", "References")
"""Section headings every shipped runbook has, in this order."""

REQUIRED_FIELDS: tuple[str, ...] = ("id", "title", "categories", "keywords", "symptoms")

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)
_HEADING = re.compile(r"^(#{1,2})[ \t]+(.+?)[ \t]*#*[ \t]*$")
# libyaml's safe loader when present: parsing front matter dominates loading a large library
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


class RunbookError(ValueError):
    """A runbook file cannot be parsed (bad front matter, missing field, bad id)."""


@dataclass(frozen=True)
class Runbook:
    """One parsed runbook; ``sections`` keeps the ``##`` headings in file order."""

    id: str
    title: str
    categories: list[str]
    keywords: list[str]
    symptoms: list[str]
    sections: dict[str, str]
    path: str | None = None
    content_hash: str = ""
    extra: dict[str, object] = field(default_factory=dict)

    def section(self, name: str) -> str | None:
        """The text under heading ``name`` (case-insensitive), or None."""
        wanted = name.strip().lower()
        for heading, text in self.sections.items():
            if heading.lower() == wanted:
                return text
        return None

    def excerpt(self, name: str, max_chars: int = 600) -> str:
        """A section's text cut at a line boundary to at most ``max_chars`` characters."""
        text = self.section(name) or ""
        if len(text) <= max_chars:
            return text
        cut = text.rfind("\n", 0, max_chars)
        return text[: cut if cut > 0 else max_chars].rstrip() + "\n…"


def _string_list(value: object, field_name: str, source: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str | int | float) for item in value):
        return [str(item) for item in value]
    raise RunbookError(f"{source}: '{field_name}' must be a list of strings")


def split_sections(body: str) -> tuple[str | None, dict[str, str]]:
    """Split markdown into its ``#`` title and its ``##`` sections (heading -> text).

    Lines inside fenced code blocks are never headings: shell comments start with ``#`` too.
    """
    title: str | None = None
    sections: dict[str, str] = {}
    current: str | None = None
    lines: list[str] = []
    in_fence = False

    def flush() -> None:
        if current is None:
            return
        text = "\n".join(lines).strip()
        # a repeated heading keeps both texts rather than silently dropping one
        sections[current] = f"{sections[current]}\n\n{text}" if current in sections else text

    for line in body.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match is None:
            lines.append(line)
            continue
        level, heading = match.group(1), match.group(2).strip()
        if level == "#":
            title = title or heading
            continue
        flush()
        current, lines = heading, []
    flush()
    return title, sections


def parse_runbook(text: str, path: str | None = None) -> Runbook:
    """Parse one runbook file's text; raise :class:`RunbookError` when it is not a runbook."""
    source = path or "<runbook>"
    match = _FRONT_MATTER.match(text)
    if match is None:
        raise RunbookError(f"{source}: no YAML front matter (a '---' block at the top)")
    try:
        meta = yaml.load(match.group(1), Loader=_YAML_LOADER) or {}
    except yaml.YAMLError as exc:
        raise RunbookError(f"{source}: front matter is not valid YAML: {exc}") from exc
    if not isinstance(meta, dict):
        raise RunbookError(f"{source}: front matter must be a mapping")
    missing = [name for name in REQUIRED_FIELDS if name not in meta]
    if missing:
        raise RunbookError(f"{source}: front matter misses {', '.join(missing)}")
    runbook_id = str(meta["id"]).strip()
    if not _ID.match(runbook_id):
        raise RunbookError(f"{source}: id {runbook_id!r} must be lower-case letters, digits, '.', '_' or '-'")
    heading_title, sections = split_sections(text[match.end() :])
    title = str(meta["title"]).strip() or heading_title or runbook_id
    extra = {key: value for key, value in meta.items() if key not in REQUIRED_FIELDS}
    return Runbook(
        id=runbook_id,
        title=title,
        categories=_string_list(meta["categories"], "categories", source),
        keywords=_string_list(meta["keywords"], "keywords", source),
        symptoms=_string_list(meta["symptoms"], "symptoms", source),
        sections=sections,
        path=path,
        content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        extra=extra,
    )


def runbook_files(directory: Path) -> list[Path]:
    """Markdown files directly inside ``directory`` that start with front matter, sorted by name."""
    files = []
    for candidate in sorted(directory.glob("*.md")):
        with candidate.open("r", encoding="utf-8") as handle:
            if handle.readline().rstrip() == "---":
                files.append(candidate)
    return files


def load_runbooks(dirs: Iterable[Path | str]) -> list[Runbook]:
    """Load every runbook in ``dirs`` (in order); a later folder's runbook replaces an earlier same id.

    A file that is not a valid runbook is skipped with a warning, so one team's typo does not
    take the whole library down.
    """
    by_id: dict[str, Runbook] = {}
    for raw_dir in dirs:
        directory = Path(raw_dir).expanduser()
        if not directory.is_dir():
            log.warning("runbook folder %s does not exist; skipped", directory)
            continue
        for file in runbook_files(directory):
            try:
                runbook = parse_runbook(file.read_text(encoding="utf-8"), str(file))
            except RunbookError as exc:
                log.warning("skipping runbook: %s", exc)
                continue
            if runbook.id in by_id:
                log.info("runbook %s from %s replaces %s", runbook.id, file, by_id[runbook.id].path)
            by_id[runbook.id] = runbook
    return sorted(by_id.values(), key=lambda runbook: runbook.id)


def library_dirs(extra_dirs: Sequence[Path | str] = ()) -> list[Path]:
    """The built-in folder followed by the team folders (later ones win on equal ids)."""
    return [BUILTIN_DIR, *(Path(directory) for directory in extra_dirs)]


def corpus_hash(runbooks: Iterable[Runbook]) -> str:
    """One hash over every runbook's content: the key of a persisted index."""
    digest = hashlib.sha256()
    for runbook in sorted(runbooks, key=lambda item: item.id):
        digest.update(runbook.id.encode("utf-8"))
        digest.update(b"\0")
        digest.update(runbook.content_hash.encode("ascii"))
        digest.update(b"\n")
    return digest.hexdigest()
