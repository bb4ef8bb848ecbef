"""A loopback Kubernetes API stand-in serving a snapshot over the real REST paths.

Tests start it in-process (``with FakeApiServer(path) as api: ... api.url``); users run
``idp fake-apiserver SNAPSHOT_DIR --port N``. It only ever answers GET.
"""

from tools.fake_apiserver.kubeconfig import kubeconfig_document, write_kubeconfig
from tools.fake_apiserver.server import FakeApiServer, Faults, RecordedRequest, all_recorded_requests

__all__ = [
    "FakeApiServer",
    "Faults",
    "RecordedRequest",
    "all_recorded_requests",
    "kubeconfig_document",
    "write_kubeconfig",
]
