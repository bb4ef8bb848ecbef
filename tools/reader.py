"""The read-only cluster interface every source implements.

There are two sources: :mod:`tools.snapshot` (a FORMAT.md folder) and :mod:`tools.live`
(the official ``kubernetes`` client). The interface has no verb that writes; neither does
any implementation.

Secrets never carry values: a Secret comes back with ``data``/``stringData`` removed and its
key names under ``keyNames``.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from tools.results import ReadResult

K8sObject = dict[str, Any]

# Logs are read to explain a failure, not to archive it: the tail is what matters.
DEFAULT_TAIL_LINES = 200
DEFAULT_LOG_LIMIT_BYTES = 64 * 1024


@runtime_checkable
class ClusterReader(Protocol):
    """Read-only access to one cluster (or a snapshot of one)."""

    @property
    def description(self) -> str:
        """Where the data comes from, for logs and ``/ready`` (``snapshot:/path``, ``live:ctx``)."""
        ...

    @property
    def request_count(self) -> int:
        """How many API requests this reader has made (for budgets and metrics)."""
        ...

    def get(self, kind: str, name: str, namespace: str | None = None) -> ReadResult[K8sObject]:
        """One object; NotFound comes back as ``no_data``."""
        ...

    def list(
        self,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
    ) -> ReadResult[list[K8sObject]]:
        """Objects of a kind; ``namespace=None`` lists across namespaces. ``limit`` caps the total."""
        ...

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
        """A container's log, current or of the previous instance, last lines, bounded in bytes."""
        ...

    def ping(self) -> ReadResult[K8sObject]:
        """The server's version document; proves the source answers."""
        ...


# kubectl apply copies the whole manifest, data included, into this annotation.
LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"


def strip_secret(obj: K8sObject) -> K8sObject:
    """A Secret reduced to metadata, type and key names (and no last-applied copy of its data)."""
    keys = sorted({*(obj.get("data") or {}), *(obj.get("stringData") or {})})
    slim = {k: v for k, v in obj.items() if k not in ("data", "stringData")}
    meta = slim.get("metadata")
    if isinstance(meta, dict) and LAST_APPLIED_ANNOTATION in (meta.get("annotations") or {}):
        annotations = {**meta["annotations"], LAST_APPLIED_ANNOTATION: "<redacted:secret-manifest>"}
        slim["metadata"] = {**meta, "annotations": annotations}
    slim["keyNames"] = keys if keys else list(obj.get("keyNames") or [])
    return slim
