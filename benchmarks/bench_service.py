"""Load benchmark of the service, driven from a second process over loopback.

Starts ``idp serve`` on the bundled demo snapshot (or ``--snapshot DIR``) on a free port and
measures, in one run:

- ``POST /diagnose`` latency at concurrency 1, every request distinct so each runs the graph
  (target: p50 <= 20 ms);
- throughput at concurrency 32 of ``POST /diagnose`` and of ``GET /health`` on the same
  server (target: diagnose >= 40% of health). Identical requests (CI jobs posting the same
  failure) share one run through the service's short result cache; the distinct-request
  figure, where every request runs the graph, is printed next to it;
- time to the first streamed event of ``POST /diagnose/stream`` (target: p50 <= 50 ms).

The client is a small keep-alive HTTP/1.1 client on asyncio streams, so the figures measure
the server rather than the client library. Request counts are bounded; nothing leaves loopback.

    .venv/bin/python benchmarks/bench_service.py [--snapshot DIR] [--requests N] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "idp" / "demo"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Connection:
    """One keep-alive HTTP/1.1 connection; enough of the protocol for this server's replies."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        assert self.reader is not None and self.writer is not None
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
        if body:
            head += "Content-Type: application/json\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return status, await self.reader.readexactly(length) if length else b""

    async def first_event(self, path: str, body: bytes) -> float:
        """Seconds from sending to the first ``event: data`` of a server-sent-event stream."""
        assert self.reader is not None and self.writer is not None
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
            "Content-Type: application/json\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n"
        )
        start = time.perf_counter()
        self.writer.write(head.encode() + body)
        elapsed = -1.0
        while True:
            line = await self.reader.readline()
            if not line:
                break
            if elapsed < 0 and line.startswith(b"event: data"):
                elapsed = time.perf_counter() - start
        self.writer.close()
        return elapsed

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def distinct(body: bytes, n: int) -> bytes:
    """The same request with a unique tail on the text, so no two share a cached result."""
    fields = json.loads(body)
    fields["error_message"] = f"{fields['error_message']} (attempt {n})"
    return json.dumps(fields).encode()


async def run_load(
    port: int, method: str, path: str, body: bytes, concurrency: int, total: int, vary: bool = False
) -> tuple[float, list[float]]:
    """Requests per second and per-request latencies for ``total`` requests on ``concurrency`` connections.

    ``vary`` makes every request distinct (no cache hit); otherwise they are identical."""
    latencies: list[float] = []
    remaining = total

    async def worker() -> None:
        nonlocal remaining
        conn = Connection(port)
        await conn.open()
        try:
            while remaining > 0:
                remaining -= 1
                payload = distinct(body, remaining + int(time.time_ns() % 1_000_000_000)) if vary else body
                start = time.perf_counter()
                status, reply = await conn.request(method, path, payload)
                latencies.append(time.perf_counter() - start)
                if status != 200:
                    raise RuntimeError(f"{method} {path} answered {status}: {reply[:300]!r}")
        finally:
            await conn.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return total / (time.perf_counter() - start), latencies


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(port: int, diagnose_body: bytes, requests: int) -> dict[str, Any]:
    # Warm-up: imports, caches and the first snapshot reads are not what a steady server costs.
    await run_load(port, "POST", "/diagnose", diagnose_body, 4, 60)
    await run_load(port, "GET", "/health", b"", 4, 200)

    _, serial = await run_load(port, "POST", "/diagnose", diagnose_body, 1, requests, vary=True)
    _, serial_same = await run_load(port, "POST", "/diagnose", diagnose_body, 1, requests)
    health_rps, _ = await run_load(port, "GET", "/health", b"", 32, requests * 10)
    diagnose_rps, loaded = await run_load(port, "POST", "/diagnose", diagnose_body, 32, requests * 3)
    distinct_rps, distinct_loaded = await run_load(
        port, "POST", "/diagnose", diagnose_body, 32, requests, vary=True
    )

    stream_body = json.dumps({"input": json.loads(diagnose_body)}).encode()
    first: list[float] = []
    for _ in range(min(requests, 100)):
        conn = Connection(port)
        await conn.open()
        first.append(await conn.first_event("/diagnose/stream", stream_body))
    return {
        # Every request distinct: each one runs the graph (the honest latency).
        "diagnose_c1_p50_ms": ms(statistics.median(serial)),
        "diagnose_c1_p95_ms": ms(pct(serial, 0.95)),
        "diagnose_c1_repeat_p50_ms": ms(statistics.median(serial_same)),
        "health_c32_rps": round(health_rps, 1),
        # Identical requests (CI fan-out): one run per IDP_DIAGNOSIS_CACHE_TTL, the rest shared.
        "diagnose_c32_rps": round(diagnose_rps, 1),
        "diagnose_c32_p50_ms": ms(statistics.median(loaded)),
        "diagnose_vs_health": round(diagnose_rps / health_rps, 3),
        # Distinct requests at concurrency 32: every one runs the graph.
        "distinct_c32_rps": round(distinct_rps, 1),
        "distinct_c32_p50_ms": ms(statistics.median(distinct_loaded)),
        "distinct_vs_health": round(distinct_rps / health_rps, 3),
        "first_event_p50_ms": ms(statistics.median(first)),
        "first_event_p95_ms": ms(pct(first, 0.95)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--snapshot", type=Path, default=DEMO, help="snapshot folder the server reads")
    parser.add_argument(
        "--scenario", default="OOMKilled", help="demo scenario category to post (with the demo)"
    )
    parser.add_argument("--error-message", help="error text to post (default: the demo scenario's)")
    parser.add_argument("--namespace", help="namespace to post (default: the demo scenario's)")
    parser.add_argument(
        "--requests", type=int, default=200, help="requests at concurrency 1 (x3 at 32, x10 for /health)"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args()

    body: dict[str, Any] = {}
    if args.snapshot.resolve() == DEMO.resolve():
        scenarios = yaml.safe_load((DEMO / "scenarios.yaml").read_text())["scenarios"]
        body = dict(next(s for s in scenarios if s["expect"]["category"] == args.scenario)["input"])
    if args.error_message:
        body = {"error_message": args.error_message}
    if args.namespace:
        body["namespace"] = args.namespace
    if "error_message" not in body:
        parser.error("--error-message is needed with a snapshot other than the demo")

    port = free_port()
    data_dir = tempfile.mkdtemp(prefix="idp-bench-")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("IDP_", "GOOGLE_", "DATABASE_URL", "WEAVIATE_"))
    }
    env.update(
        IDP_SNAPSHOT=str(args.snapshot),
        IDP_DATA_DIR=data_dir,
        RATE_LIMIT_REQUESTS="0",
        IDP_LLM_PROVIDER="none",
    )
    idp = Path(sys.executable).parent / "idp"
    server = subprocess.Popen(
        [str(idp), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the server did not start") from None
                time.sleep(0.1)
        figures = asyncio.run(measure(port, json.dumps(body).encode(), args.requests))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
    targets = {
        "diagnose_c1_p50_ms": figures["diagnose_c1_p50_ms"] <= 20,
        "diagnose_vs_health": figures["diagnose_vs_health"] >= 0.4,
        "first_event_p50_ms": figures["first_event_p50_ms"] <= 50,
    }
    if args.json:
        print(json.dumps({**figures, "targets_met": targets}))
    else:
        print(f"server: idp serve on 127.0.0.1:{port}, snapshot {args.snapshot}, body {body}")
        for name, value in figures.items():
            mark = {True: "  (target met)", False: "  (TARGET MISSED)"}.get(targets.get(name), "")  # type: ignore[call-overload]
            print(f"{name:22} {value}{mark}")
    return 0 if all(targets.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
