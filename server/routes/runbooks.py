"""``POST /suggest-runbook``: runbooks for an error text, without a diagnosis."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from runbooks.suggest import suggest_runbooks
from server.deps import ServiceDep
from server.errors import NotReady, RunbookNotFound
from server.schemas import (
    RunbookDocument,
    RunbookSection,
    RunbookSuggestion,
    SuggestRunbookBody,
    SuggestRunbookReply,
)
from tools.redact import redact_text

router = APIRouter(tags=["runbooks"])


@router.post("/suggest-runbook", response_model=SuggestRunbookReply)
async def suggest_runbook(body: SuggestRunbookBody, service: ServiceDep) -> SuggestRunbookReply:
    """Rank runbooks for an error message or keywords, best first."""
    index = service.deps.runbooks
    if index is None or not index.ready:
        raise NotReady("runbook index not ready")
    hits = await asyncio.to_thread(suggest_runbooks, index, redact_text(body.error_message), body.top_k)
    return SuggestRunbookReply(
        runbooks=[
            RunbookSuggestion(id=h.id, title=h.title, score=round(float(h.score), 4), section=h.section)
            for h in hits
        ]
    )


@router.get("/runbooks/{runbook_id}", response_model=RunbookDocument)
async def get_runbook(runbook_id: str, service: ServiceDep) -> RunbookDocument:
    """One runbook's sections (what the Diagnosis's runbook ids link to)."""
    index = service.deps.runbooks
    if index is None or not index.ready:
        raise NotReady("runbook index not ready")
    book = index.get(runbook_id)
    if book is None:
        raise RunbookNotFound()
    return RunbookDocument(
        id=book.id,
        title=book.title,
        categories=list(book.categories),
        sections=[RunbookSection(heading=h, text=t) for h, t in book.sections.items()],
    )
