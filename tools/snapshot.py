"""A FORMAT.md snapshot folder (``cluster.json`` + ``logs/``) answering like the API would."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from tools.kinds import infer_kind_info
from tools.reader import DEFAULT_LOG_LIMIT_BYTES, DEFAULT_TAIL_LINES, K8sObject, strip_secret
from tools.results import ErrorReason, ReadRequest, ReadResult, failed, ok
from tools.selectors import SelectorError, parse_field_selector, parse_label_selector


class SnapshotError(ValueError):
    """The folder is not a readable snapshot."""


def load_snapshot_items(path: Path) -> list[K8sObject]:
    """The objects of a snapshot folder; a missing ``cluster.json`` means an empty cluster."""
    cluster = path / "cluster.json"
    if not path.is_dir():
        raise SnapshotError(f"snapshot folder not found: {path}")
    if not cluster.exists():
        return []
    try:
        doc = json.loads(cluster.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SnapshotError(f"{cluster}: invalid JSON: {exc}") from exc
    items = doc.get("items") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise SnapshotError(f"{cluster}: expected a List with an 'items' array")
    return [item for item in items if isinstance(item, dict) and item.get("kind")]


def tail_text(text: str, tail_lines: int | None, limit_bytes: int) -> str:
    """The last ``tail_lines`` lines, then at most ``limit_bytes`` bytes from the end.

    The API applies ``limitBytes`` from the start of the selected lines; for diagnosis the end
    of a log is where the failure is, so we keep the end and cut at a line boundary.
    """
    if tail_lines is not None:
        lines = text.splitlines(keepends=True)
        text = "".join(lines[-tail_lines:]) if tail_lines > 0 else ""
    data = text.encode("utf-8")
    if len(data) > limit_bytes:
        data = data[-limit_bytes:]
        newline = data.find(b"\n")
        if 0 <= newline < len(data) - 1:
            data = data[newline + 1 :]
    return data.decode("utf-8", errors="replace")


class SnapshotReader:
    """Reads a snapshot folder; every answer follows the API's semantics."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        items = load_snapshot_items(self.path)
        self._by_kind: dict[str, list[K8sObject]] = defaultdict(list)
        self._by_name: dict[tuple[str, str, str], K8sObject] = {}
        for item in items:
            kind = str(item["kind"])
            if kind == "Secret":
                item = strip_secret(item)
            meta = item.get("metadata") or {}
            self._by_kind[kind].append(item)
            self._by_name[(kind, meta.get("namespace") or "", meta.get("name") or "")] = item
        self._requests = 0

    @property
    def description(self) -> str:
        return f"snapshot:{self.path}"

    @property
    def request_count(self) -> int:
        return self._requests

    def items(self) -> list[K8sObject]:
        """Every object in the snapshot (for the API stand-in and for capture tests)."""
        return [obj for objs in self._by_kind.values() for obj in objs]

    def _namespaced(self, kind: str) -> bool:
        objs = self._by_kind.get(kind)
        api_version = str(objs[0].get("apiVersion", "v1")) if objs else "v1"
        return infer_kind_info(api_version, kind).namespaced

    def get(self, kind: str, name: str, namespace: str | None = None) -> ReadResult[K8sObject]:
        self._requests += 1
        ns = namespace if self._namespaced(kind) else None
        request = ReadRequest("get", kind, ns, name)
        obj = self._by_name.get((kind, ns or "", name))
        if obj is None:
            return failed(request, ErrorReason.NOT_FOUND, f'{kind} "{name}" not found', 404)
        return ok(request, obj)

    def list(
        self,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
    ) -> ReadResult[list[K8sObject]]:
        self._requests += 1
        ns = namespace if self._namespaced(kind) else None
        request = ReadRequest(
            "list", kind, ns, None, {"labelSelector": label_selector, "fieldSelector": field_selector}
        )
        try:
            label_match = parse_label_selector(label_selector)
            field_match = parse_field_selector(field_selector)
        except SelectorError as exc:
            return failed(request, ErrorReason.BAD_REQUEST, str(exc), 400)
        found: list[K8sObject] = []
        for obj in self._by_kind.get(kind, []):
            meta: dict[str, Any] = obj.get("metadata") or {}
            if ns and meta.get("namespace") != ns:
                continue
            if label_match(meta.get("labels") or {}) and field_match(obj):
                found.append(obj)
                if limit is not None and len(found) >= limit:
                    break
        return ok(request, found)

    def logs(
        self,
        namespace: str,
        pod: str,
        container: str,
        *,
        previous: bool = False,
        tail_lines: int | None = DEFAULT_TAIL_LINES,
        limit_bytes: int = DEFAULT_LOG_LIMIT_BYTES,
    ) -> ReadResult[str]:
        self._requests += 1
        request = ReadRequest(
            "logs",
            "Pod",
            namespace,
            pod,
            {"container": container, "previous": previous, "tailLines": tail_lines},
        )
        if ("Pod", namespace, pod) not in self._by_name:
            return failed(request, ErrorReason.NOT_FOUND, f'pods "{pod}" not found', 404)
        suffix = ".previous.log" if previous else ".log"
        log_file = self.path / "logs" / namespace / pod / f"{container}{suffix}"
        if not log_file.is_file():
            what = "previous terminated container" if previous else "container"
            message = f'{what} "{container}" in pod "{pod}" has no log in this snapshot'
            return failed(request, ErrorReason.NOT_FOUND, message, 404)
        text = log_file.read_text(encoding="utf-8", errors="replace")
        return ok(request, tail_text(text, tail_lines, limit_bytes))

    def ping(self) -> ReadResult[K8sObject]:
        request = ReadRequest("get", "version")
        return ok(request, {"gitVersion": "snapshot", "platform": str(self.path)})
