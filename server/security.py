"""The service's gate, as one ASGI middleware: body size, API keys, rate limit, request metrics.

Pure ASGI rather than ``BaseHTTPMiddleware``: every request passes here, streaming responses
included, and a wrapper that buffers or spawns tasks would cost latency on each one.

- Body: a ``Content-Length`` above ``IDP_MAX_BODY_BYTES`` is refused (413) before the body is
  read; a chunked body is counted as it arrives and cut off at the limit.
- Keys: with ``IDP_API_KEYS`` set, every request but the open paths needs
  ``Authorization: Bearer KEY`` or ``X-API-Key: KEY`` (401 otherwise); keys are compared with
  :func:`hmac.compare_digest`.
- Rate: ``RATE_LIMIT_REQUESTS`` per minute per key (or per client address without keys), a
  token bucket; over it, 429 with ``Retry-After``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException

from server.metrics import Metrics

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Liveness and readiness probes carry no credentials; the chat page's files hold no data
# (the page asks for a key when the API answers 401).
OPEN_PATHS = frozenset({"/health", "/ready"})
PAGE_PATHS = frozenset({"/", "/favicon.ico"})
PAGE_PREFIX = "/static/"
# Probes and scrapes are not rate limited: a limit would make the service look down.
UNLIMITED_PATHS = OPEN_PATHS | {"/metrics"}
MAX_BUCKETS = 10_000


class BodyTooLarge(HTTPException):
    """Raised while the body streams in; an HTTPException so FastAPI's body parsing passes it on."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")


class TokenBuckets:
    """Per-client token buckets, ``per_minute`` tokens refilled evenly; bounded in memory."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.clock = clock
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, client: str) -> float:
        """0 when the request may go ahead, else seconds until a token is available."""
        now = self.clock()
        tokens, last = self.buckets.pop(client, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self.buckets[client] = (tokens, now)
        if len(self.buckets) > MAX_BUCKETS:
            # The least recently seen client goes first; a full bucket loses nothing.
            self.buckets.popitem(last=False)
        return wait


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or []:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def presented_key(scope: Scope) -> str | None:
    auth = _header(scope, b"authorization")
    if auth and auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    key = _header(scope, b"x-api-key")
    return key.strip() if key else None


def _route_label(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    raw = str(scope.get("path", ""))
    if raw.startswith("/diagnose/"):
        # LangServe's routes are mounted without a route object on the scope.
        return "/diagnose/" + raw.split("/")[2]
    if raw.startswith(PAGE_PREFIX):
        return PAGE_PREFIX
    return "unmatched"


async def _reply(
    send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class GateMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        api_keys: list[str],
        rate_limit_per_minute: int,
        max_body_bytes: int,
        metrics: Metrics,
    ) -> None:
        self.app = app
        # Digests of equal length: compare_digest's time does not depend on the key's length.
        self.keys = [hashlib.sha256(k.encode()).digest() for k in api_keys]
        self.buckets = TokenBuckets(rate_limit_per_minute) if rate_limit_per_minute > 0 else None
        self.max_body = max_body_bytes
        self.metrics = metrics

    def _authorised(self, key: str | None) -> bool:
        if key is None:
            return False
        digest = hashlib.sha256(key.encode()).digest()
        found = False
        for known in self.keys:
            found |= hmac.compare_digest(digest, known)
        return found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status_holder = {"status": 500}

        async def send_recording(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = int(message["status"])
            await send(message)

        try:
            await self._gate(scope, receive, send_recording)
        finally:
            route = _route_label(scope)
            method = str(scope.get("method", ""))
            self.metrics.requests.labels(
                method=method, route=route, status=str(status_holder["status"])
            ).inc()
            self.metrics.latency.labels(method=method, route=route).observe(time.perf_counter() - start)

    async def _gate(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        page = path in PAGE_PATHS or path.startswith(PAGE_PREFIX)
        key = presented_key(scope)
        guarded = path not in OPEN_PATHS and not page and scope.get("method") != "OPTIONS"
        if self.keys and guarded and not self._authorised(key):
            await _reply(send, 401, "missing or invalid API key", [(b"www-authenticate", b"Bearer")])
            return
        if (
            self.buckets is not None
            and path not in UNLIMITED_PATHS
            and not page
            and scope.get("method") != "OPTIONS"
        ):
            client = (
                f"key:{hashlib.sha256(key.encode()).hexdigest()[:16]}"
                if key and self.keys
                else (f"addr:{(scope.get('client') or ('unknown', 0))[0]}")
            )
            wait = self.buckets.take(client)
            if wait > 0:
                retry = str(max(1, math.ceil(wait))).encode()
                await _reply(send, 429, "rate limit exceeded", [(b"retry-after", retry)])
                return
        length = _header(scope, b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            await _reply(send, 413, f"request body larger than {self.max_body} bytes")
            return
        await self._limited_body(scope, receive, send)

    async def _limited_body(self, scope: Scope, receive: Receive, send: Send) -> None:
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise BodyTooLarge(self.max_body)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _reply(send, 413, f"request body larger than {self.max_body} bytes")
