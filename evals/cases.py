"""Loading scenario cases in the ../shared/evals/FORMAT.md layout."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class CaseError(ValueError):
    """A case folder that does not follow FORMAT.md."""


@dataclass(frozen=True)
class Expectation:
    category: str
    mentions: list[str] = field(default_factory=list)
    fix_mentions: list[str] = field(default_factory=list)
    runbook: str | None = None
    forbid: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Case:
    id: str
    title: str
    path: Path
    input: dict[str, Any]
    expect: Expectation


def load_case(path: Path) -> Case:
    doc_path = path / "case.yaml"
    try:
        doc = yaml.safe_load(doc_path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CaseError(f"{doc_path}: {exc}") from exc
    if not isinstance(doc, dict) or "input" not in doc or "expect" not in doc:
        raise CaseError(f"{doc_path}: needs 'input' and 'expect'")
    expect = doc["expect"] or {}
    if "category" not in expect:
        raise CaseError(f"{doc_path}: expect.category is required")
    return Case(
        id=str(doc.get("id") or path.name),
        title=str(doc.get("title") or ""),
        path=path,
        input={k: v for k, v in (doc["input"] or {}).items() if v not in (None, "")},
        expect=Expectation(
            category=str(expect["category"]),
            mentions=[str(m) for m in expect.get("mentions") or []],
            fix_mentions=[str(m) for m in expect.get("fix_mentions") or []],
            runbook=expect.get("runbook"),
            forbid=[str(m) for m in expect.get("forbid") or []],
        ),
    )


def load_cases(root: Path) -> list[Case]:
    """Every case under ``root`` (a folder of case folders, or one case folder), sorted by id."""
    if (root / "case.yaml").exists():
        return [load_case(root)]
    if not root.is_dir():
        raise CaseError(f"cases folder not found: {root}")
    return sorted((load_case(p) for p in root.iterdir() if (p / "case.yaml").exists()), key=lambda c: c.id)
