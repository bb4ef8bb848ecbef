"""Identical stateless diagnoses share one run: a short-lived result cache plus single-flight.

CI fans out: one broken base image fails thirty jobs, and each posts the same error within
seconds. Running the graph once for them (and reading the cluster once) is what the API
server's read budget wants; the answer cannot differ within a few seconds anyway. Requests
in a chat thread and streams are never cached: they are about this conversation and this
moment. ``IDP_DIAGNOSIS_CACHE_TTL=0`` turns the cache off.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

MAX_ENTRIES = 1024


def request_key(fields: dict[str, Any], max_loops: int) -> str:
    return json.dumps([fields, max_loops], sort_keys=True, separators=(",", ":"))


class DiagnosisCache:
    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self._done: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()
        self._running: dict[str, asyncio.Future[dict[str, Any]]] = {}

    async def get_or_run(
        self, key: str, run: Callable[[], Awaitable[dict[str, Any]]]
    ) -> tuple[dict[str, Any], bool]:
        """The result for ``key`` and whether it came from another run (cached or in flight)."""
        if self.ttl_s <= 0:
            return await run(), False
        now = self.clock()
        done = self._done.get(key)
        if done is not None and done[0] > now:
            self._done.move_to_end(key)
            return done[1], True
        running = self._running.get(key)
        if running is not None:
            # shield: a caller that disconnects must not cancel the run the others wait for.
            return await asyncio.shield(running), True
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._running[key] = future
        try:
            result = await run()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here, so an unwaited failure logs no warning
            raise
        finally:
            self._running.pop(key, None)
        future.set_result(result)
        self._done[key] = (self.clock() + self.ttl_s, result)
        while len(self._done) > MAX_ENTRIES:
            self._done.popitem(last=False)
        return result, False
