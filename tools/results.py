"""Typed results of cluster reads.

Expected API outcomes (403, 404, timeouts, an unreachable server) are values the critic and
the model can act on; only bugs raise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class ReadStatus(StrEnum):
    OK = "ok"
    ERROR = "error"
    NO_DATA = "no_data"


class ErrorReason(StrEnum):
    FORBIDDEN = "Forbidden"
    NOT_FOUND = "NotFound"
    TIMEOUT = "Timeout"
    UNREACHABLE = "Unreachable"
    SERVER_ERROR = "ServerError"
    BAD_REQUEST = "BadRequest"


@dataclass(frozen=True)
class ApiError:
    """What the API answered when a read did not succeed."""

    reason: ErrorReason
    message: str
    code: int | None = None


@dataclass(frozen=True)
class ReadRequest:
    """What was asked: the verb, the resource and its parameters, for messages and metrics."""

    verb: str  # get | list | logs
    kind: str
    namespace: str | None = None
    name: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        target = f"{self.kind}/{self.name}" if self.name else self.kind
        where = f" -n {self.namespace}" if self.namespace else ""
        extra = "".join(f" {k}={v}" for k, v in sorted(self.params.items()) if v not in (None, False))
        return f"{self.verb} {target}{where}{extra}"


@dataclass(frozen=True)
class ReadResult(Generic[T]):
    request: ReadRequest
    status: ReadStatus
    data: T | None = None
    error: ApiError | None = None

    @property
    def ok(self) -> bool:
        return self.status is ReadStatus.OK

    def explain(self) -> str:
        """One line for ``missing_data``: what was asked and why it came back empty."""
        if self.error is None:
            return f"{self.request.describe()}: no data"
        code = f" {self.error.code}" if self.error.code else ""
        return f"{self.request.describe()}: {self.error.reason.value}{code}: {self.error.message}"


def ok(request: ReadRequest, data: T) -> ReadResult[T]:
    return ReadResult(request, ReadStatus.OK, data)


def failed(
    request: ReadRequest, reason: ErrorReason, message: str, code: int | None = None
) -> ReadResult[Any]:
    status = ReadStatus.NO_DATA if reason is ErrorReason.NOT_FOUND else ReadStatus.ERROR
    return ReadResult(request, status, None, ApiError(reason, message, code))
