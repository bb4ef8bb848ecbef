"""Domain errors of the service, mapped to HTTP once (in :func:`install_error_handlers`).

::

    ServiceError                 500  (never raised as such)
    ├── NotReady                 503  "not ready"
    ├── ClusterUnavailable       503  "cluster source unavailable"
    ├── ThreadError
    │   ├── NoDiagnosisInThread  409  "thread has no diagnosis yet"
    │   └── ThreadStoreError     503  "thread store unavailable"
    ├── RunbookNotFound          404  "runbook not found"
    └── BadRequest               400  (detail given by the raiser, naming the field)

The ``detail`` strings are short and stable: clients and tests match on them.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse


class ServiceError(Exception):
    """Base of every error the service maps to an HTTP answer."""

    status_code = 500
    detail = "internal error"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or self.detail)
        if detail:
            self.detail = detail


class NotReady(ServiceError):
    status_code = 503
    detail = "not ready"


class ClusterUnavailable(ServiceError):
    status_code = 503
    detail = "cluster source unavailable"


class ThreadError(ServiceError):
    status_code = 500
    detail = "thread error"


class NoDiagnosisInThread(ThreadError):
    status_code = 409
    detail = "thread has no diagnosis yet"


class ThreadStoreError(ThreadError):
    status_code = 503
    detail = "thread store unavailable"


class RunbookNotFound(ServiceError):
    status_code = 404
    detail = "runbook not found"


class BadRequest(ServiceError):
    status_code = 400
    detail = "bad request"


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    """``("body", "namespace")`` → ``namespace``; the request part stays when it is all there is."""
    parts = [str(p) for p in loc]
    if len(parts) > 1 and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts) or "body"


def describe_validation_errors(errors: list[Any]) -> tuple[int, str, list[dict[str, str]]]:
    """Status, one-line detail and per-field messages for pydantic/FastAPI validation errors.

    Malformed JSON is a 400 naming the body; anything else is a 422 naming the first field.
    """
    fields: list[dict[str, str]] = []
    status = 422
    for error in errors:
        if not isinstance(error, dict):
            # LangServe raises RequestValidationError(["Invalid JSON body"]) for a bad body.
            text = str(error)
            if "json" in text.lower():
                status = 400
            fields.append({"field": "body", "message": text})
            continue
        kind = str(error.get("type", ""))
        msg = str(error.get("msg", "invalid"))
        if kind == "json_invalid":
            status = 400
            fields.append(
                {"field": "body", "message": f"malformed JSON: {error.get('ctx', {}).get('error', msg)}"}
            )
            continue
        loc = error.get("loc") or ("body",)
        if kind == "missing" and len(loc) == 1:
            fields.append({"field": "body", "message": "request body is required"})
            continue
        fields.append({"field": _field(loc), "message": msg})
    if not fields:
        fields = [{"field": "body", "message": "invalid request"}]
    first = fields[0]
    return status, f"{first['field']}: {first['message']}", fields


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    status, detail, fields = describe_validation_errors(list(exc.errors()))
    return JSONResponse({"detail": detail, "errors": fields}, status_code=status)


async def _service_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)


async def _json_error(request: Request, exc: Exception) -> JSONResponse:
    # LangServe reads request.json() itself; a malformed body surfaces as a decode error.
    return JSONResponse({"detail": f"body: malformed JSON: {exc}"}, status_code=400)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(json.JSONDecodeError, _json_error)
