"""The JSON documents the stand-in answers with: discovery, ``Status`` errors and ``List`` pages.

They follow kube-apiserver's shapes closely enough for the ``kubernetes`` client and
``kubectl`` (legacy discovery: APIVersions, APIGroupList, APIResourceList).
"""

from __future__ import annotations

import json
from typing import Any

from tools.fake_apiserver.store import ObjectStore
from tools.kinds import KindInfo

SERVER_VERSION = {
    "major": "1",
    "minor": "30",
    "gitVersion": "v1.30.0-idp-fake",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2024-05-01T00:00:00Z",
    "goVersion": "go1.22.2",
    "compiler": "gc",
    "platform": "linux/amd64",
}

READ_VERBS = ["get", "list"]

# kubectl resolves short names through discovery; these are the upstream ones.
_SHORT_NAMES: dict[str, list[str]] = {
    "pods": ["po"],
    "events": ["ev"],
    "nodes": ["no"],
    "namespaces": ["ns"],
    "services": ["svc"],
    "endpoints": ["ep"],
    "configmaps": ["cm"],
    "serviceaccounts": ["sa"],
    "persistentvolumeclaims": ["pvc"],
    "persistentvolumes": ["pv"],
    "resourcequotas": ["quota"],
    "limitranges": ["limits"],
    "deployments": ["deploy"],
    "replicasets": ["rs"],
    "statefulsets": ["sts"],
    "daemonsets": ["ds"],
    "cronjobs": ["cj"],
    "horizontalpodautoscalers": ["hpa"],
    "ingresses": ["ing"],
    "networkpolicies": ["netpol"],
    "storageclasses": ["sc"],
    "certificates": ["cert", "certs"],
}


# `kubectl get all` expands the "all" category through discovery; these are upstream's members.
_ALL_CATEGORY = frozenset(
    {
        "pods",
        "services",
        "daemonsets",
        "deployments",
        "replicasets",
        "statefulsets",
        "horizontalpodautoscalers",
        "cronjobs",
        "jobs",
    }
)


def status(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """A ``Status`` object as the API returns it for a failed request."""
    doc: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        doc["details"] = details
    return doc


def not_found(info: KindInfo, name: str) -> dict[str, Any]:
    group = f".{info.group}" if info.group else ""
    return status(
        404,
        "NotFound",
        f'{info.plural}{group} "{name}" not found',
        {"name": name, "group": info.group, "kind": info.plural},
    )


def forbidden(
    info_plural: str, group: str, verb: str, namespace: str | None, name: str | None
) -> dict[str, Any]:
    """403 worded like RBAC's denial: it names the user, the verb, the resource and the scope."""
    scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    target = f'{info_plural} "{name}"' if name else info_plural
    resource = info_plural.split("/")[0]
    sub = f' with subresource "{info_plural.split("/")[1]}"' if "/" in info_plural else ""
    message = (
        f'{target} is forbidden: User "system:serviceaccount:idp:idp-agent" cannot {verb} resource '
        f'"{resource}"{sub} in API group "{group}" {scope}'
    )
    details: dict[str, Any] = {"group": group, "kind": resource}
    if name:
        details["name"] = name
    return status(403, "Forbidden", message, details)


def api_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _group_doc(group: str, versions: list[str]) -> dict[str, Any]:
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": entries, "preferredVersion": entries[0]}


def api_group_list(store: ObjectStore) -> dict[str, Any]:
    groups = [_group_doc(g, vs) for g, vs in sorted(store.groups().items()) if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(store: ObjectStore, group: str) -> dict[str, Any] | None:
    versions = store.groups().get(group)
    if not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_doc(group, versions)}


def api_resource_list(store: ObjectStore, group: str, version: str) -> dict[str, Any] | None:
    infos = store.resources(group, version)
    if not infos:
        return None
    resources: list[dict[str, Any]] = []
    for info in infos:
        entry: dict[str, Any] = {
            "name": info.plural,
            "singularName": info.kind.lower(),
            "namespaced": info.namespaced,
            "kind": info.kind,
            "verbs": READ_VERBS,
        }
        if info.plural in _SHORT_NAMES:
            entry["shortNames"] = _SHORT_NAMES[info.plural]
        if info.plural in _ALL_CATEGORY:
            entry["categories"] = ["all"]
        resources.append(entry)
        if info.plural == "pods":
            resources.append(
                {"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod", "verbs": ["get"]}
            )
    group_version = f"{group}/{version}" if group else version
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }


def list_document(
    info: KindInfo, items: list[bytes], resource_version: str, continue_token: str | None
) -> bytes:
    """A ``<Kind>List`` page built from items already encoded (see ``ObjectStore.list_item_json``)."""
    meta: dict[str, Any] = {"resourceVersion": resource_version}
    if continue_token:
        meta["continue"] = continue_token
    head = {"kind": f"{info.kind}List", "apiVersion": info.api_version, "metadata": meta}
    return json.dumps(head, separators=(",", ":"))[:-1].encode() + b',"items":[' + b",".join(items) + b"]}"
