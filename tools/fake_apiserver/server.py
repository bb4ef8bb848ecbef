"""The loopback Kubernetes API stand-in: a snapshot served over the real REST paths.

``FakeApiServer`` runs a stdlib ``ThreadingHTTPServer`` on a background thread. It answers
GET only: every other verb gets 405 and is recorded, and every stand-in started in the
process is kept in a registry so a test session can assert that no write ever reached one
(:func:`all_recorded_requests`). Faults (latency, 500s, 403 on resources, dropped
connections) can be changed while it runs.
"""

from __future__ import annotations

import json
import logging
import random
import socket
import struct
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tools.fake_apiserver import documents, tables
from tools.fake_apiserver.logs import LogKey, LogSource, answer_log
from tools.fake_apiserver.store import (
    BadContinue,
    KindIndex,
    ObjectStore,
    decode_continue,
    encode_continue,
    supported_fields,
)
from tools.reader import K8sObject
from tools.selectors import SelectorError, parse_field_selector, parse_label_selector
from tools.snapshot import load_snapshot_items

log = logging.getLogger(__name__)

# Idle keep-alive connections are closed after this, so handler threads do not pile up.
_IDLE_TIMEOUT_S = 30.0


@dataclass
class Faults:
    """Faults injected into resource requests (discovery answers normally, after the latency).

    ``forbid`` holds resources (``pods``, ``secrets``, ``pods/log``) answered with 403.
    ``fail_rate`` and ``drop_rate`` are probabilities per request (1.0 = always).
    """

    latency_ms: float = 0.0
    fail_rate: float = 0.0
    drop_rate: float = 0.0
    forbid: frozenset[str] = frozenset()
    seed: int = 0


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: str
    status: int  # 0 when the connection was dropped without an answer


@dataclass
class _Route:
    index: KindIndex
    namespace: str | None
    name: str | None
    subresource: str | None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    app: FakeApiServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (its timeout) closes the socket under us: expected, not an error.
        log.debug("fake-apiserver: connection from %s ended early", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # or every small answer waits ~40 ms for a delayed ACK
    timeout = _IDLE_TIMEOUT_S
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("fake-apiserver: " + format, *args)

    def do_GET(self) -> None:
        self.server.app._serve(self)

    def __getattr__(self, name: str) -> Any:
        # Any other verb (POST, PUT, PATCH, DELETE, HEAD, ...) is refused and recorded.
        if name.startswith("do_"):
            return lambda: self.server.app._refuse_write(self)
        raise AttributeError(name)

    def send_json(self, code: int, doc: Any) -> None:
        self.send_body(code, json.dumps(doc, separators=(",", ":")).encode(), "application/json")

    def send_body(self, code: int, body: bytes, content_type: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


_REGISTRY: list[FakeApiServer] = []
_REGISTRY_LOCK = threading.Lock()


def all_recorded_requests() -> list[RecordedRequest]:
    """Every request any stand-in in this process has received (for a session-wide check)."""
    with _REGISTRY_LOCK:
        servers = list(_REGISTRY)
    return [r for s in servers for r in s.requests]


class FakeApiServer:
    """A read-only Kubernetes API over a snapshot folder or a list of objects.

    ``FakeApiServer(path)`` serves ``path/cluster.json`` and ``path/logs/``;
    ``FakeApiServer(items, logs={(ns, pod, container, previous): text})`` serves objects
    built in a test. ``start()`` binds a free port (or ``port``) and returns the base URL.
    """

    def __init__(
        self,
        source: str | Path | Iterable[K8sObject],
        *,
        logs: Mapping[LogKey, str] | None = None,
        faults: Faults | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if isinstance(source, str | Path):
            root = Path(source)
            items = load_snapshot_items(root)
            self._logs = LogSource(root / "logs", logs)
        else:
            items = list(source)
            self._logs = LogSource(None, logs)
        self.store = ObjectStore(items)
        self.faults = faults or Faults()
        self._host = host
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._random = random.Random(self.faults.seed)
        self._requests: list[RecordedRequest] = []
        with _REGISTRY_LOCK:
            _REGISTRY.append(self)

    # --- lifecycle ---

    def start(self) -> str:
        """Serve on a background thread; returns ``http://host:port``."""
        if self._server is not None:
            return self.url
        server = _Server((self._host, self._port), _Handler)
        server.app = self
        self._server = server
        # A short poll interval keeps stop() quick: shutdown() waits for the next poll.
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name="fake-apiserver", daemon=True
        )
        self._thread.start()
        log.info(
            "fake-apiserver serving %d objects at %s",
            sum(len(k.all) for k in self.store.kinds.values()),
            self.url,
        )
        return self.url

    def wait(self) -> None:
        """Block until the server thread ends (the CLI; Ctrl-C interrupts)."""
        if self._thread is not None:
            self._thread.join()

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeApiServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the stand-in is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        """Forget the log of this stand-in (non-GET attempts stay visible to the registry check)."""
        with self._lock:
            self._requests = [r for r in self._requests if r.method != "GET"]

    # --- request handling ---

    def _record(self, handler: _Handler, status: int) -> None:
        parts = urlsplit(handler.path)
        with self._lock:
            self._requests.append(RecordedRequest(handler.command, parts.path, parts.query, status))

    def _refuse_write(self, handler: _Handler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        if length:
            handler.rfile.read(length)
        # A chunked body is not read, so the connection cannot carry another request.
        handler.close_connection = True
        self._record(handler, 405)
        doc = documents.status(
            405,
            "MethodNotAllowed",
            f"the server does not allow this method on the requested resource: {handler.command}"
            " (read-only stand-in)",
        )
        handler.send_json(405, doc)

    def _roll(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._lock:
            return self._random.random() < rate

    def _serve(self, handler: _Handler) -> None:
        faults = self.faults
        if faults.latency_ms > 0:
            time.sleep(faults.latency_ms / 1000)
        parts = urlsplit(handler.path)
        path = parts.path.rstrip("/") or "/"
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        code, body = self._discovery(path)
        if code == 0:
            code, body = self._resource(path, query, handler)
        if code == 0:
            self._record(handler, 0)
            handler.close_connection = True
            # An abrupt close (RST) rather than a clean FIN, like a proxy dying mid-request.
            handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        self._record(handler, code)
        if isinstance(body, str):
            handler.send_body(code, body.encode("utf-8"), "text/plain; charset=utf-8")
        elif isinstance(body, bytes):
            handler.send_body(code, body, "application/json")
        else:
            handler.send_json(code, body)

    def _discovery(self, path: str) -> tuple[int, Any]:
        store = self.store
        if path == "/version":
            return 200, documents.SERVER_VERSION
        if path == "/api":
            return 200, documents.api_versions(f"{self._host}:{self.port}")
        if path == "/apis":
            return 200, documents.api_group_list(store)
        if path == "/api/v1":
            return 200, documents.api_resource_list(store, "", "v1")
        if path.startswith("/openapi/"):
            # kubectl falls back to discovery when the OpenAPI documents are not served.
            return 404, documents.status(404, "NotFound", "the server could not find the requested resource")
        segments = path.strip("/").split("/")
        if segments[0] == "apis" and len(segments) == 2:
            group_doc = documents.api_group(store, segments[1])
            return (200, group_doc) if group_doc else (404, _page_not_found())
        if segments[0] == "apis" and len(segments) == 3:
            resources = documents.api_resource_list(store, segments[1], segments[2])
            return (200, resources) if resources else (404, _page_not_found())
        return 0, None

    def _route(self, path: str) -> _Route | None:
        segments = [unquote(s) for s in path.strip("/").split("/")]
        if segments[0] == "api" and len(segments) >= 3:
            group, version, rest = "", segments[1], segments[2:]
        elif segments[0] == "apis" and len(segments) >= 4:
            group, version, rest = segments[1], segments[2], segments[3:]
        else:
            return None
        namespace: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        if len(rest) > 3:
            return None
        index = self.store.by_resource.get((group, version, rest[0]))
        if index is None or (namespace is not None and not index.info.namespaced):
            return None
        name = rest[1] if len(rest) >= 2 else None
        sub = rest[2] if len(rest) == 3 else None
        if name is not None and namespace is None and index.info.namespaced:
            return None
        return _Route(index, namespace, name, sub)

    def _resource(self, path: str, query: dict[str, str], handler: _Handler) -> tuple[int, Any]:
        route = self._route(path)
        if route is None:
            return 404, _page_not_found()
        info = route.index.info
        resource = f"{info.plural}/{route.subresource}" if route.subresource else info.plural
        verb = "get" if route.name else ("watch" if query.get("watch") in ("1", "true") else "list")
        faults = self.faults
        if self._roll(faults.drop_rate):
            return 0, None
        if resource in faults.forbid or info.plural in faults.forbid:
            return 403, documents.forbidden(resource, info.group, verb, route.namespace, route.name)
        if self._roll(faults.fail_rate):
            return 500, documents.status(500, "InternalError", "Internal error occurred: injected fault")
        if verb == "watch":
            return 405, documents.status(
                405, "MethodNotAllowed", "watch is not served by the read-only stand-in"
            )
        if route.subresource is not None:
            if (info.kind, route.subresource) != ("Pod", "log"):
                return 404, _page_not_found()
            return self._log(route, query)
        if route.name is not None:
            obj = route.index.by_name.get((route.namespace or "", route.name))
            if obj is None:
                return 404, documents.not_found(info, route.name)
            if tables.wants_table(handler.headers.get("Accept")):
                return 200, tables.table_document(
                    info.kind, [obj], self.store.resource_version, None, query.get("includeObject")
                )
            return 200, obj
        return self._list(route, query, handler.headers.get("Accept"))

    def _list(self, route: _Route, query: dict[str, str], accept: str | None) -> tuple[int, Any]:
        index = route.index
        info = index.info
        try:
            label_match = parse_label_selector(query.get("labelSelector"))
            field_selector = query.get("fieldSelector")
            field_match = parse_field_selector(field_selector)
            _check_fields(info.kind, field_selector)
            limit = int(query["limit"]) if query.get("limit") else 0
            if limit < 0:
                raise ValueError("limit must not be negative")
            namespace = route.namespace or ""
            start = decode_continue(query["continue"], info.plural, namespace) if query.get("continue") else 0
        except (SelectorError, BadContinue, ValueError) as exc:
            return 400, documents.status(400, "BadRequest", str(exc))
        candidates = index.by_namespace.get(route.namespace, []) if route.namespace else index.all
        filtering = bool(query.get("labelSelector") or field_selector)
        items: list[K8sObject] = []
        position = start
        token: str | None = None
        while position < len(candidates):
            obj = candidates[position]
            position += 1
            if filtering and not (
                label_match((obj.get("metadata") or {}).get("labels") or {}) and field_match(obj)
            ):
                continue
            items.append(obj)
            if limit and len(items) >= limit:
                if position < len(candidates):
                    token = encode_continue(info.plural, namespace, position, self.store.resource_version)
                break
        if tables.wants_table(accept):
            table = tables.table_document(
                info.kind, items, self.store.resource_version, token, query.get("includeObject")
            )
            return 200, table
        page = [self.store.list_item_json(obj) for obj in items]
        return 200, documents.list_document(info, page, self.store.resource_version, token)

    def _log(self, route: _Route, query: dict[str, str]) -> tuple[int, Any]:
        namespace, name = route.namespace or "", route.name or ""
        pod = self.store.pod(namespace, name)
        if pod is None:
            return 404, documents.not_found(route.index.info, name)
        try:
            tail = int(query["tailLines"]) if query.get("tailLines") else None
            limit = int(query["limitBytes"]) if query.get("limitBytes") else None
        except ValueError as exc:
            return 400, documents.status(400, "BadRequest", str(exc))
        previous = query.get("previous") in ("1", "true", "True")
        answer = answer_log(self._logs, namespace, pod, query.get("container"), previous, tail, limit)
        if answer.code != 200:
            return answer.code, documents.status(answer.code, answer.reason, answer.text)
        return 200, answer.text


def _check_fields(kind: str, selector: str | None) -> None:
    if not selector:
        return
    allowed = supported_fields(kind)
    for req in selector.split(","):
        label = req.split("!=")[0].split("=")[0].strip()
        if label and label not in allowed:
            raise SelectorError(f"field label not supported: {label}")


def _page_not_found() -> dict[str, Any]:
    return documents.status(404, "NotFound", "the server could not find the requested resource")
