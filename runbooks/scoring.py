"""Result shape and score blending shared by every index implementation.

Both the embedded index and the Weaviate index produce a lexical/vector relevance in
``[0, 1)`` per runbook, then blend in the classifier's category hypotheses the same way, so
the service sees comparable scores whichever backend answered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pydantic import BaseModel, Field

CATEGORY_BOOST = 1.0
"""How much a category weight of 1.0 counts against a perfect text match (1.0)."""


class RunbookHit(BaseModel):
    """One ranked runbook: its id, title, score (higher is better) and best-matching section."""

    id: str
    title: str
    score: float = Field(description="relevance in [0, 1]; higher is better")
    section: str | None = Field(None, description="heading of the best-matching section")
    path: str | None = Field(None, description="file the runbook was loaded from")
    categories: list[str] = Field(default_factory=list, description="taxonomy labels the runbook covers")


def normalise_categories(categories: Mapping[str, float] | None) -> dict[str, float]:
    """Lower-cased label -> weight clipped to [0, 1]; labels with no positive weight are dropped."""
    if not categories:
        return {}
    cleaned: dict[str, float] = {}
    for label, weight in categories.items():
        value = min(max(float(weight), 0.0), 1.0)
        if value > 0:
            key = label.strip().lower()
            cleaned[key] = max(cleaned.get(key, 0.0), value)
    return cleaned


def category_weight(runbook_categories: Iterable[str], runbook_id: str, wanted: Mapping[str, float]) -> float:
    """The strongest hypothesised weight among the categories a runbook covers (its id counts too)."""
    best = wanted.get(runbook_id.lower(), 0.0)
    for label in runbook_categories:
        best = max(best, wanted.get(label.lower(), 0.0))
    return best


def blend(text_score: float, category_score: float) -> float:
    """Text relevance and category weight -> one score in [0, 1]."""
    return (text_score + CATEGORY_BOOST * category_score) / (1.0 + CATEGORY_BOOST)
