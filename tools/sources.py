"""Choose the cluster source for a process: a snapshot, the demo, a kubeconfig, in-cluster, or none.

The live client is imported only when a live source is chosen, so offline runs never load it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tools.reader import DEFAULT_LOG_LIMIT_BYTES, DEFAULT_TAIL_LINES, ClusterReader, K8sObject
from tools.results import ErrorReason, ReadRequest, ReadResult, failed

if TYPE_CHECKING:
    from idp.settings import Settings

NO_CLUSTER_MESSAGE = "no cluster configured"


class NoClusterReader:
    """A reader for runs with no cluster (a Terraform error, say): every read is an error."""

    def __init__(self) -> None:
        self._count = 0

    @property
    def description(self) -> str:
        return "none"

    @property
    def request_count(self) -> int:
        return self._count

    def _refuse(self, request: ReadRequest) -> ReadResult[Any]:
        self._count += 1
        return failed(request, ErrorReason.UNREACHABLE, NO_CLUSTER_MESSAGE)

    def get(self, kind: str, name: str, namespace: str | None = None) -> ReadResult[K8sObject]:
        return self._refuse(ReadRequest("get", kind, namespace, name))

    def list(
        self,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
    ) -> ReadResult[list[K8sObject]]:
        params = {"labelSelector": label_selector, "fieldSelector": field_selector}
        return self._refuse(ReadRequest("list", kind, namespace, None, params))

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
        params = {"container": container, "previous": previous, "tailLines": tail_lines}
        return self._refuse(ReadRequest("logs", "Pod", namespace, pod, params))

    def ping(self) -> ReadResult[K8sObject]:
        return self._refuse(ReadRequest("get", "version"))


def build_reader(settings: Settings) -> ClusterReader:
    """The reader ``settings`` ask for (``IDP_CLUSTER_SOURCE``, resolved from ``auto``).

    Raises :class:`tools.snapshot.SnapshotError` or :class:`tools.live.LiveConfigError` when
    the chosen source cannot be opened: a misconfigured process should fail at start-up.
    """
    from idp.settings import DEMO_SNAPSHOT, ClusterSource
    from tools.snapshot import SnapshotError, SnapshotReader

    source = settings.resolved_cluster_source()
    if source is ClusterSource.SNAPSHOT:
        if settings.snapshot is None:
            raise SnapshotError("IDP_CLUSTER_SOURCE=snapshot needs IDP_SNAPSHOT (a snapshot folder)")
        return SnapshotReader(settings.snapshot)
    if source is ClusterSource.DEMO:
        return SnapshotReader(DEMO_SNAPSHOT)
    if source is ClusterSource.NONE:
        return NoClusterReader()
    from tools.live import LiveReader

    return LiveReader.from_settings(settings)
