"""Node timing: each node reports how long it took under ``timings_ms``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def timed(node: str, sink: dict[str, float]) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        sink[node] = round((time.perf_counter() - start) * 1000, 3)
