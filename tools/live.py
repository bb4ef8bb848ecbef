"""The live source: a :class:`~tools.reader.ClusterReader` over the official ``kubernetes`` client.

One generic GET path serves every kind in :mod:`tools.kinds` (``ApiClient.call_api`` on the
REST path of the kind), so there are no per-kind methods and no verb but GET anywhere.

- Every call carries ``_request_timeout``; urllib3 retries are off, so a timeout costs one
  timeout and a dropped connection is reported, not silently repeated.
- Lists are paginated (``limit``/``continue``) and capped in total.
- Expected failures (403, 404, timeout, unreachable, 5xx) come back as typed ``ReadResult``
  errors; only bugs raise.
- Secrets: the response body is read raw (the client's models are never built) and parsed
  with a hook that replaces each value by ``None`` as soon as its object is decoded; then
  :func:`~tools.reader.strip_secret` keeps key names only. Kubernetes cannot list key names
  without sending values, so they exist briefly in the response buffer and the parser;
  nothing the reader returns, logs or keeps holds them.
- ``metadata.managedFields`` is removed from every object: it is large and says nothing a
  diagnosis needs.
"""

from __future__ import annotations

import builtins
import json
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import urllib3
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException

from tools.kinds import KINDS, KindInfo
from tools.reader import DEFAULT_LOG_LIMIT_BYTES, DEFAULT_TAIL_LINES, K8sObject, strip_secret
from tools.results import ErrorReason, ReadRequest, ReadResult, failed, ok
from tools.snapshot import tail_text

if TYPE_CHECKING:
    from idp.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 500
DEFAULT_MAX_ITEMS = 5000
# Each retry asks for fewer lines, so the search for a tail that fits limitBytes ends quickly.
_MAX_LOG_ATTEMPTS = 6
# A list may come back in pages that the server fills with fewer items than asked (selectors).
_MAX_PAGES = 200

# Discovery of kinds outside the table reads at most this many API groups.
_MAX_DISCOVERED_GROUPS = 200

Query = list[tuple[str, Any]]


class LiveConfigError(ValueError):
    """The kubeconfig or in-cluster configuration could not be loaded."""


@dataclass(frozen=True)
class _Answer:
    """A 2xx body, or the typed error that replaced it."""

    body: bytes = b""
    error: tuple[ErrorReason, str, int | None] | None = None


def _strip_managed_fields(obj: K8sObject) -> K8sObject:
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        meta.pop("managedFields")
    return obj


class LiveReader:
    """Reads a live cluster through ``kubernetes.client.ApiClient`` with GET requests only."""

    def __init__(
        self,
        api_client: k8s_client.ApiClient,
        *,
        description: str = "live",
        timeout_s: float = 5.0,
        page_size: int = DEFAULT_PAGE_SIZE,
        max_items: int = DEFAULT_MAX_ITEMS,
    ) -> None:
        self._api = api_client
        self._description = description
        self._timeout_s = timeout_s
        self._page_size = page_size
        self._max_items = max_items
        self._count = 0
        self._count_lock = threading.Lock()
        self._discovered: dict[str, KindInfo] = {}
        self._groups: builtins.list[tuple[str, str]] | None = None

    # --- construction ---

    @classmethod
    def from_kubeconfig(
        cls,
        path: str | None = None,
        context: str | None = None,
        *,
        timeout_s: float = 5.0,
        page_size: int = DEFAULT_PAGE_SIZE,
        max_items: int = DEFAULT_MAX_ITEMS,
    ) -> LiveReader:
        """From a kubeconfig file (``None``: the client's default lookup) and an optional context."""
        configuration = k8s_client.Configuration()
        try:
            k8s_config.load_kube_config(
                config_file=path, context=context, client_configuration=configuration, persist_config=False
            )
        except (ConfigException, OSError) as exc:
            raise LiveConfigError(f"cannot load kubeconfig {path or '(default)'}: {exc}") from exc
        return cls(
            _api_client(configuration),
            # The server names the cluster: two kubeconfigs may share a context name.
            description=f"live:{context or 'current-context'}@{configuration.host}",
            timeout_s=timeout_s,
            page_size=page_size,
            max_items=max_items,
        )

    @classmethod
    def in_cluster(
        cls, *, timeout_s: float = 5.0, page_size: int = DEFAULT_PAGE_SIZE, max_items: int = DEFAULT_MAX_ITEMS
    ) -> LiveReader:
        """From the pod's service account (token, CA and ``KUBERNETES_SERVICE_*``)."""
        configuration = k8s_client.Configuration()
        try:
            k8s_config.load_incluster_config(client_configuration=configuration)
        except ConfigException as exc:
            raise LiveConfigError(f"not running in a cluster: {exc}") from exc
        return cls(
            _api_client(configuration),
            description="live:in-cluster",
            timeout_s=timeout_s,
            page_size=page_size,
            max_items=max_items,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> LiveReader:
        from idp.settings import ClusterSource

        if settings.resolved_cluster_source() is ClusterSource.IN_CLUSTER:
            return cls.in_cluster(timeout_s=settings.api_timeout_s)
        return cls.from_kubeconfig(
            settings.kubeconfig, settings.kube_context, timeout_s=settings.api_timeout_s
        )

    def close(self) -> None:
        self._api.close()

    # --- ClusterReader ---

    @property
    def description(self) -> str:
        return self._description

    @property
    def request_count(self) -> int:
        return self._count

    def get(self, kind: str, name: str, namespace: str | None = None) -> ReadResult[K8sObject]:
        info = self._kind_info(kind)
        ns = namespace if not isinstance(info, KindInfo) or info.namespaced else None
        request = ReadRequest("get", kind, ns, name)
        if not isinstance(info, KindInfo):
            return self._unknown_kind(request, info)
        if info.namespaced and not ns:
            return failed(request, ErrorReason.BAD_REQUEST, f"{kind} is namespaced: a namespace is required")
        answer = self._get(_resource_path(info, ns, name), [])
        if answer.error:
            return self._failed(request, answer, info)
        obj = self._decode(request, answer.body)
        if isinstance(obj, ReadResult):
            return obj
        return ok(request, self._normalise(obj, info))

    def list(
        self,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
    ) -> ReadResult[list[K8sObject]]:
        info = self._kind_info(kind)
        ns = namespace if not isinstance(info, KindInfo) or info.namespaced else None
        request = ReadRequest(
            "list", kind, ns, None, {"labelSelector": label_selector, "fieldSelector": field_selector}
        )
        if not isinstance(info, KindInfo):
            return self._unknown_kind(request, info)
        cap = min(limit, self._max_items) if limit else self._max_items
        selectors = [
            (k, v) for k, v in (("labelSelector", label_selector), ("fieldSelector", field_selector)) if v
        ]
        path = _resource_path(info, ns, None)
        items: list[K8sObject] = []
        token: str | None = None
        for _ in range(_MAX_PAGES):
            query: Query = [("limit", min(self._page_size, cap - len(items))), *selectors]
            if token:
                query.append(("continue", token))
            answer = self._get(path, query)
            if answer.error:
                return self._failed(request, answer, info)
            doc = self._decode(request, answer.body)
            if isinstance(doc, ReadResult):
                return doc
            for item in doc.get("items") or []:
                items.append(self._normalise(item, info))
            token = (doc.get("metadata") or {}).get("continue") or None
            if not token or len(items) >= cap:
                break
        if token and not limit:
            log.warning("%s: stopped after %d items (cap); more remain", request.describe(), len(items))
        return ok(request, items[:cap])

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
        """The end of a log, at most ``limit_bytes``.

        The API cuts ``limitBytes`` from the *start* of the selected lines, but a failure is
        at the end: when the answer fills the budget, ask again for fewer lines (at most a
        few times), then keep the end of the last answer.
        """
        request = ReadRequest(
            "logs",
            "Pod",
            namespace,
            pod,
            {"container": container, "previous": previous, "tailLines": tail_lines},
        )
        path = f"/api/v1/namespaces/{quote(namespace, safe='')}/pods/{quote(pod, safe='')}/log"
        lines = tail_lines
        text = ""
        for _ in range(_MAX_LOG_ATTEMPTS):
            query: Query = [("container", container), ("limitBytes", limit_bytes)]
            if previous:
                query.append(("previous", "true"))
            if lines is not None:
                query.append(("tailLines", lines))
            answer = self._get(path, query, accept="*/*", max_bytes=limit_bytes)
            if answer.error:
                return self._failed(request, answer, KINDS["Pod"], log_request=True)
            text = answer.body.decode("utf-8", errors="replace")
            if len(answer.body) < limit_bytes:
                return ok(request, text)
            complete = answer.body.count(b"\n")
            if complete <= 1 or lines == 1:
                break
            lines = max(1, min(complete, lines or complete) - 1)
        return ok(request, tail_text(text, None, limit_bytes))

    def ping(self) -> ReadResult[K8sObject]:
        request = ReadRequest("get", "version")
        answer = self._get("/version", [])
        if answer.error:
            return self._failed(request, answer, None)
        doc = self._decode(request, answer.body)
        return doc if isinstance(doc, ReadResult) else ok(request, doc)

    # --- kinds outside the table (CRDs such as Gatekeeper constraints) ---

    def _kind_info(self, kind: str) -> KindInfo | _Answer | None:
        """The table row, else the kind as the cluster's discovery documents describe it.

        Discovery is lazy and per kind: the group list is read once, then groups' resource
        lists one at a time (CRD groups, which the table does not cover, first) until the kind
        turns up, so finding a Gatekeeper constraint costs two requests, not one per group.
        An error answer is returned (and not cached) when discovery itself cannot be read.
        """
        if kind in KINDS:
            return KINDS[kind]
        if kind in self._discovered:
            return self._discovered[kind]
        if self._groups is None:
            groups = self._group_versions()
            if isinstance(groups, _Answer):
                return groups
            self._groups = groups
        while self._groups:
            group, version = self._groups.pop(0)
            self._read_group(group, version)
            if kind in self._discovered:
                return self._discovered[kind]
        return None

    def _group_versions(self) -> builtins.list[tuple[str, str]] | _Answer:
        answer = self._get("/apis", [])
        if answer.error:
            return answer
        try:
            groups = json.loads(answer.body).get("groups") or []
        except (ValueError, AttributeError):
            return _Answer(error=(ErrorReason.SERVER_ERROR, "invalid discovery document from /apis", None))
        known = {info.group for info in KINDS.values()}
        versions = [
            (str(g.get("name") or ""), str((g.get("preferredVersion") or {}).get("version") or ""))
            for g in groups[:_MAX_DISCOVERED_GROUPS]
        ]
        versions = [(g, v) for g, v in versions if v]
        # Groups the table does not cover are where unknown kinds live; built-in groups last.
        return sorted(versions, key=lambda gv: gv[0] in known) + [("", "v1")]

    def _read_group(self, group: str, version: str) -> None:
        answer = self._get(f"/apis/{group}/{version}" if group else "/api/v1", [])
        if answer.error:
            return  # an aggregated API that is down hides only its own kinds
        try:
            resources = json.loads(answer.body).get("resources") or []
        except (ValueError, AttributeError):
            return
        for res in resources:
            plural, kind = str(res.get("name") or ""), str(res.get("kind") or "")
            if plural and kind and "/" not in plural and kind not in self._discovered:
                self._discovered[kind] = KindInfo(kind, group, version, plural, bool(res.get("namespaced")))

    @staticmethod
    def _unknown_kind(request: ReadRequest, info: _Answer | None) -> ReadResult[Any]:
        if info is not None and info.error is not None:
            reason, message, code = info.error
            return failed(request, reason, f"discovery failed: {message}", code)
        message = f'the server doesn\'t have a resource type "{request.kind}"'
        return failed(request, ErrorReason.NOT_FOUND, message, 404)

    # --- plumbing ---

    def _get(self, path: str, query: Query, accept: str = "application/json", max_bytes: int = 0) -> _Answer:
        """One GET; transport failures become typed errors, never exceptions."""
        with self._count_lock:
            self._count += 1
        method, url, headers, _, _ = self._api.param_serialize(
            "GET", path, query_params=query, header_params={"Accept": accept}, auth_settings=["BearerToken"]
        )
        try:
            response = self._api.call_api(method, url, headers, _request_timeout=self._timeout_s)
            raw = response.response
            reusable = False
            try:
                bounded = bool(max_bytes) and response.status < 300
                body = raw.read(max_bytes + 1) if bounded else raw.read()
                reusable = not bounded or len(body) <= max_bytes
            finally:
                # A body left half-read would corrupt the next request on a pooled connection.
                if reusable:
                    raw.release_conn()
                else:
                    raw.close()
        except urllib3.exceptions.NewConnectionError as exc:
            # NewConnectionError subclasses ConnectTimeoutError in urllib3 2: test it first.
            return _Answer(
                error=(ErrorReason.UNREACHABLE, f"cannot connect to the API server: {_reason(exc)}", None)
            )
        except urllib3.exceptions.TimeoutError:
            message = f"no answer within {self._timeout_s:g}s"
            return _Answer(error=(ErrorReason.TIMEOUT, message, None))
        except urllib3.exceptions.ProtocolError as exc:
            message = f"connection dropped before the API server answered: {_reason(exc)}"
            return _Answer(error=(ErrorReason.UNREACHABLE, message, None))
        except k8s_client.ApiException as exc:  # TLS failures are wrapped as status 0
            return _Answer(
                error=(ErrorReason.UNREACHABLE, f"cannot reach the API server: {exc.reason}", None)
            )
        if 200 <= response.status < 300:
            return _Answer(body=body)
        return _Answer(error=_http_error(response.status, body))

    def _failed(
        self, request: ReadRequest, answer: _Answer, info: KindInfo | None, log_request: bool = False
    ) -> ReadResult[Any]:
        assert answer.error is not None
        reason, message, code = answer.error
        if reason is ErrorReason.FORBIDDEN and info is not None:
            resource = f"{info.plural}/log" if log_request else info.plural
            scope = f" in namespace {request.namespace}" if request.namespace else ""
            verb = "get" if log_request else request.verb
            message = f"cannot {verb} {resource}{scope}: {message}"
        if (
            log_request
            and reason is ErrorReason.BAD_REQUEST
            and ("not found" in message or "waiting to start" in message)
        ):
            # The API says 400 when a container has no (previous) log; for a reader that is no data.
            reason = ErrorReason.NOT_FOUND
        return failed(request, reason, message, code)

    @staticmethod
    def _decode(request: ReadRequest, body: bytes) -> dict[str, Any] | ReadResult[Any]:
        # A Secret's values are dropped while the JSON is parsed, before the document is complete.
        hook = _drop_secret_values if request.kind == "Secret" else None
        try:
            doc = json.loads(body, object_pairs_hook=hook)
        except ValueError as exc:
            return failed(request, ErrorReason.SERVER_ERROR, f"the API answered with invalid JSON: {exc}")
        if not isinstance(doc, dict):
            return failed(
                request, ErrorReason.SERVER_ERROR, "the API answered with a JSON value that is not an object"
            )
        return doc

    @staticmethod
    def _normalise(obj: K8sObject, info: KindInfo) -> K8sObject:
        # List items come without kind/apiVersion; callers get whole objects either way.
        obj.setdefault("kind", info.kind)
        obj.setdefault("apiVersion", info.api_version)
        _strip_managed_fields(obj)
        if info.kind == "Secret":
            return strip_secret(obj)
        return obj


def _drop_secret_values(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if "metadata" in obj:  # an object, not a nested map: its data/stringData hold the values
        for field in ("data", "stringData"):
            if isinstance(obj.get(field), dict):
                obj[field] = dict.fromkeys(obj[field])
    return obj


def _api_client(configuration: k8s_client.Configuration) -> k8s_client.ApiClient:
    configuration.retries = False
    return k8s_client.ApiClient(configuration)


def _resource_path(info: KindInfo, namespace: str | None, name: str | None) -> str:
    path = info.base_path
    if info.namespaced and namespace:
        path += f"/namespaces/{quote(namespace, safe='')}"
    path += f"/{info.plural}"
    if name is not None:
        path += f"/{quote(name, safe='')}"
    return path


def _reason(exc: BaseException) -> str:
    inner = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], BaseException) else None
    return str(inner or exc).split(": ", 1)[-1]


def _http_error(code: int, body: bytes) -> tuple[ErrorReason, str, int | None]:
    """Map a non-2xx answer (usually a ``Status`` object) to a typed error."""
    message = body[:2000].decode("utf-8", errors="replace").strip()
    try:
        doc = json.loads(body)
        if isinstance(doc, dict) and doc.get("message"):
            message = str(doc["message"])
    except ValueError:
        pass
    message = message or f"HTTP {code}"
    if code in (401, 403):
        return ErrorReason.FORBIDDEN, message, code
    if code == 404:
        return ErrorReason.NOT_FOUND, message, code
    if code in (408, 504):
        return ErrorReason.TIMEOUT, message, code
    if code >= 500 or code == 429:
        return ErrorReason.SERVER_ERROR, message, code
    return ErrorReason.BAD_REQUEST, message, code
