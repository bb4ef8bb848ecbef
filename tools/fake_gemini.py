"""A loopback Gemini stand-in: the real ``ChatGoogleGenerativeAI`` talks to it over real HTTP.

No model can be reached from CI, so tests and benchmarks point ``GEMINI_BASE_URL`` at this
server. It speaks the two REST calls google-genai makes (``POST /{version}/models/{model}:
generateContent`` and ``:streamGenerateContent?alt=sse``), records every request body, and
answers from a script: a fixed :class:`Reply` per call, or a function of the request.
Replies cover what a real endpoint does: a JSON answer, text that is not JSON, an error status
(429 quota), and a slow answer (beyond the client's timeout). Streamed answers arrive as
several SSE events, so token streaming is exercised too.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_PATH = re.compile(
    r"^/(?P<version>v1\w*)/models/(?P<model>[^:/]+):(?P<method>generateContent|streamGenerateContent)"
)
CHUNK_CHARS = 24


@dataclass(frozen=True)
class Reply:
    """One scripted answer."""

    text: str = ""
    status: int = 200
    delay_s: float = 0.0
    """Wait this long before answering (a slow model)."""

    @classmethod
    def json(cls, value: Any, delay_s: float = 0.0) -> Reply:
        return cls(text=json.dumps(value), delay_s=delay_s)

    @classmethod
    def error(cls, status: int) -> Reply:
        return cls(status=status)


@dataclass
class Recorded:
    """A request the stand-in received."""

    method: str
    model: str
    body: dict[str, Any]
    raw: str

    def prompt(self) -> str:
        """Every text part the client sent: system instruction and messages."""
        texts = [p.get("text", "") for p in (self.body.get("systemInstruction") or {}).get("parts", [])]
        for content in self.body.get("contents", []):
            texts += [p.get("text", "") for p in content.get("parts", [])]
        return "\n".join(texts)


Responder = Callable[[Recorded], Reply]


@dataclass
class FakeGemini:
    """``with FakeGemini(script) as gemini: ...`` serves on a free loopback port until the block ends.

    ``script`` is a list of replies used in order (the last one repeats) or a function of the
    recorded request.
    """

    script: list[Reply] | Responder = field(default_factory=lambda: [Reply.json({})])
    requests: list[Recorded] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self._server is not None, "the stand-in is not running"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeGemini:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        stand_in = self

        class Handler(_Handler):
            owner = stand_in

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="fake-gemini", daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def next_reply(self, request: Recorded) -> Reply:
        with self._lock:
            self.requests.append(request)
            if callable(self.script):
                return self.script(request)
            index = min(len(self.requests), len(self.script)) - 1
            return self.script[index]


class _Handler(BaseHTTPRequestHandler):
    owner: FakeGemini
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        return  # keep test output quiet

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        match = _PATH.match(self.path)
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length).decode("utf-8", "replace")
        if match is None:
            self._send_json(
                404, {"error": {"code": 404, "message": f"no route {self.path}", "status": "NOT_FOUND"}}
            )
            return
        try:
            body = json.loads(raw or "{}")
        except json.JSONDecodeError:
            self._send_json(
                400, {"error": {"code": 400, "message": "body is not JSON", "status": "INVALID_ARGUMENT"}}
            )
            return
        request = Recorded(method=match["method"], model=match["model"], body=body, raw=raw)
        reply = self.owner.next_reply(request)
        if reply.delay_s:
            time.sleep(reply.delay_s)
        if reply.status != 200:
            status = {429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}.get(
                reply.status, "UNKNOWN"
            )
            message = (
                "Resource has been exhausted (e.g. check quota)." if reply.status == 429 else "scripted error"
            )
            self._send_json(
                reply.status, {"error": {"code": reply.status, "message": message, "status": status}}
            )
            return
        if request.method == "streamGenerateContent":
            self._send_stream(reply.text, request)
        else:
            self._send_json(200, _response([reply.text], request, final=True))

    def _send_json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_stream(self, text: str, request: Recorded) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("connection", "close")
        self.end_headers()
        pieces = [text[i : i + CHUNK_CHARS] for i in range(0, len(text), CHUNK_CHARS)] or [""]
        for index, piece in enumerate(pieces):
            event = _response([piece], request, final=index == len(pieces) - 1)
            self.wfile.write(b"data: " + json.dumps(event).encode() + b"\r\n\r\n")
            self.wfile.flush()
        self.close_connection = True


def _response(texts: list[str], request: Recorded, final: bool) -> dict[str, Any]:
    candidate: dict[str, Any] = {
        "content": {"role": "model", "parts": [{"text": t} for t in texts]},
        "index": 0,
    }
    out: dict[str, Any] = {"candidates": [candidate], "modelVersion": request.model}
    if final:
        candidate["finishReason"] = "STOP"
        prompt_tokens = len(request.raw) // 4
        answer_tokens = sum(len(t) for t in texts) // 4
        out["usageMetadata"] = {
            "promptTokenCount": prompt_tokens,
            "candidatesTokenCount": answer_tokens,
            "totalTokenCount": prompt_tokens + answer_tokens,
        }
    return out


# --- scripted responders ---

_FINDING = re.compile(
    r"^1\. (?P<category>\w+) \(score [0-9.]+, (?P<id>[^)]*)\): (?P<cause>.*)$", re.MULTILINE
)


def agree_with_rules(request: Recorded) -> Reply:
    """A model that answers exactly what the analyzers found (the top finding the prompt shows).

    With it, a diagnosis through the model must score as the rules alone do: the merge may
    not lose anything on the way.
    """
    prompt = request.prompt()
    if "Judge whether the evidence" in prompt:
        return Reply.json({"reasons": ["the facts support the draft"], "sufficient": True, "fetch": []})
    match = _FINDING.search(prompt)
    if match is None:
        return Reply.json(
            {"category": "Unknown", "root_cause": "No analyzer found a cause.", "confidence": 0.1}
        )
    block = prompt[match.end() :].split("\n2. ", 1)[0]
    facts = re.findall(r"^   fact: (.*)$", block, re.MULTILINE)
    fixes = re.findall(r"^   fix: (.*)$", block, re.MULTILINE)
    return Reply.json(
        {
            "category": match["category"],
            "root_cause": match["cause"],
            "root_cause_id": match["id"],
            "evidence": facts,
            "fix_commands": fixes,
            "prevention": [],
            "confidence": 0.9,
        }
    )
