"""``POST /diagnose``: the plain-JSON route for CI (LangServe's routes live under ``/diagnose/``)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from server.deps import ServiceDep
from server.errors import ThreadStoreError
from server.schemas import DiagnoseBody, DiagnoseReply

router = APIRouter(tags=["diagnose"])


@router.post("/diagnose", response_model=DiagnoseReply, response_model_exclude_none=True)
async def diagnose(body: DiagnoseBody, service: ServiceDep) -> JSONResponse:
    """Diagnose a pasted error and return the Diagnosis.

    With a ``thread_id``, the run joins that chat thread: a short question after a diagnosis
    (or an explicit ``question``) is answered from the thread's diagnosis under ``answer``.
    """
    try:
        output = await service.run(body, body.thread_id)
    except OSError as exc:
        raise ThreadStoreError() from exc
    # finalize built the diagnosis through the Diagnosis model and answer_followup the answer
    # through FollowupAnswer; validating them again per request (a cached answer too) would
    # cost more than the rest of the request, so the reply is assembled as it is.
    reply = dict(output["diagnosis"])
    if body.thread_id:
        reply["thread_id"] = body.thread_id
    if output.get("answer"):
        reply["answer"] = output["answer"]
    return JSONResponse(reply)
