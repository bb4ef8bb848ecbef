"""``POST /diagnose``: the plain-JSON route for CI (LangServe's routes live under ``/diagnose/``)."""

from __future__ import annotations

from fastapi import APIRouter

from server.deps import ServiceDep
from server.errors import ThreadStoreError
from server.schemas import DiagnoseBody, DiagnoseReply, GraphInput

router = APIRouter(tags=["diagnose"])


@router.post("/diagnose", response_model=DiagnoseReply, response_model_exclude_none=True)
async def diagnose(body: DiagnoseBody, service: ServiceDep) -> DiagnoseReply:
    """Diagnose a pasted error and return the Diagnosis.

    With a ``thread_id``, the run joins that chat thread: a short question after a diagnosis
    (or an explicit ``question``) is answered from the thread's diagnosis under ``answer``.
    """
    request = GraphInput.model_validate(body.model_dump(exclude={"thread_id"}))
    try:
        output = await service.run(request, body.thread_id)
    except OSError as exc:
        raise ThreadStoreError() from exc
    return DiagnoseReply.model_validate(
        {**output["diagnosis"], "thread_id": body.thread_id, "answer": output.get("answer")}
    )
