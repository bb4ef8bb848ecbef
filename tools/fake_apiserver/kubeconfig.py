"""A kubeconfig file that points ``kubectl`` and the ``kubernetes`` client at a stand-in."""

from __future__ import annotations

from pathlib import Path

import yaml

CONTEXT_NAME = "idp-fake"


def kubeconfig_document(
    url: str, namespace: str | None = None, context: str = CONTEXT_NAME
) -> dict[str, object]:
    """A one-cluster, one-context kubeconfig for ``url`` (plain HTTP, a dummy bearer token)."""
    ctx: dict[str, str] = {"cluster": context, "user": context}
    if namespace:
        ctx["namespace"] = namespace
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": {"server": url}}],
        # A token proves the client sends credentials; the stand-in accepts any.
        "users": [{"name": context, "user": {"token": "idp-fake-token"}}],
        "contexts": [{"name": context, "context": ctx}],
        "current-context": context,
        "preferences": {},
    }


def write_kubeconfig(
    path: str | Path, url: str, namespace: str | None = None, context: str = CONTEXT_NAME
) -> Path:
    """Write the kubeconfig for ``url`` to ``path`` and return the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(
        yaml.safe_dump(kubeconfig_document(url, namespace, context), sort_keys=False), encoding="utf-8"
    )
    return target
