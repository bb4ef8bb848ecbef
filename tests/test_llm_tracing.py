"""LangSmith tracing when it is switched on, proved against a loopback LangSmith ingest endpoint.

The real ``langsmith`` client uploads runs to ``LANGSMITH_ENDPOINT``; here that is a stdlib
HTTP server that records the multipart uploads, so run names and metadata can be checked
without a network. (The untraced path, no connection and no warning, is in test_llm_graph.py.)
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from evals.cases import load_cases
from evals.runner import run_case
from graph.context import Deps
from graph.llm import build_model
from graph.tracing import flush_traces, tracing_enabled
from idp.settings import Settings
from tools.fake_gemini import FakeGemini, agree_with_rules
from tools.snapshot import SnapshotReader

CASES = Path(__file__).resolve().parent.parent / "evals" / "cases"
OOM = CASES / "oom-search-indexer-heap-above-limit"
INFO = {
    "version": "0.10.0",
    "batch_ingest_config": {
        "use_multipart_endpoint": True,
        "size_limit": 100,
        "size_limit_bytes": 20_971_520,
        "scale_up_nthreads_limit": 4,
        "scale_up_qsize_trigger": 1000,
        "scale_down_nempty_trigger": 4,
    },
    "instance_flags": {},
}


class _Ingest(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    uploads: list[tuple[str, str, bytes]]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        return

    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        self.uploads.append((self.path, self.headers.get("content-type") or "", body))
        data = json.dumps(INFO if self.path.startswith("/info") else {}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = _answer  # noqa: N815 - the stdlib's names


@pytest.fixture
def langsmith_endpoint() -> Iterator[tuple[str, list[tuple[str, str, bytes]]]]:
    uploads: list[tuple[str, str, bytes]] = []
    handler = type("Ingest", (_Ingest,), {"uploads": uploads})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", uploads
    finally:
        server.shutdown()
        server.server_close()


def runs_in(uploads: list[tuple[str, str, bytes]]) -> dict[str, dict[str, Any]]:
    """Runs by id, merged from every multipart part (post.<id>, patch.<id>, post.<id>.inputs ...)."""
    runs: dict[str, dict[str, Any]] = {}
    for path, content_type, body in uploads:
        if not path.startswith("/runs/multipart"):
            continue
        message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition") or ""
            _, run_id, *field = str(name).split(".")
            value = json.loads(part.get_payload(decode=True) or b"null")
            run = runs.setdefault(run_id, {})
            if field:
                run[field[0]] = value
            elif isinstance(value, dict):
                extra = {**run.get("extra", {}), **(value.get("extra") or {})}
                run.update(value)
                run["extra"] = extra
    return runs


def test_a_traced_eval_case_names_its_runs_and_records_the_outcome(
    langsmith_endpoint: tuple[str, list[tuple[str, str, bytes]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, uploads = langsmith_endpoint
    for name in ("LANGSMITH_TRACING", "LANGCHAIN_TRACING_V2", "LANGSMITH_API_KEY", "LANGSMITH_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    case = next(c for c in load_cases(CASES) if c.path == OOM)
    with FakeGemini(agree_with_rules) as gemini:
        settings = Settings(
            LANGSMITH_TRACING="true",
            LANGSMITH_API_KEY="lsv2-test-key",
            LANGSMITH_ENDPOINT=url,
            GOOGLE_API_KEY="k",
            GEMINI_BASE_URL=gemini.url,
            IDP_LLM_MAX_RETRIES=0,
        )
        assert tracing_enabled(settings)
        result = run_case(
            case, Deps(reader=SnapshotReader(OOM), model=build_model(settings), settings=settings)
        )
        flush_traces(settings)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(
        r.get("name") == "diagnose" for r in runs_in(uploads).values()
    ):
        time.sleep(0.1)
        flush_traces(settings)
    runs = runs_in(uploads)
    names = {r.get("name") for r in runs.values()}
    assert {
        "diagnose",
        "classify",
        "inspect_cluster",
        "analyze",
        "critique",
        "finalize",
        "analyze.model",
    } <= names
    top = next(r for r in runs.values() if r.get("name") == "diagnose" and not r.get("parent_run_id"))
    metadata = top["extra"].get("metadata", {})
    assert metadata.get("case_id") == case.id
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "category" not in metadata:
        time.sleep(0.1)
        flush_traces(settings)
        top = runs_in(uploads)[str(top["id"])]
        metadata = top["extra"].get("metadata", {})
    assert metadata.get("category") == result.category == "OOMKilled"
    assert metadata.get("mode") == "llm"
    assert metadata.get("loops") == result.loops
    # Only the ingest endpoint was called, with the key from settings.
    assert all(p.startswith(("/info", "/runs")) for p, _, _ in uploads)
