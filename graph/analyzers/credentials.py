"""Credentials a dependency rejects, traced to the Secrets the container takes them from.

A database, cache or broker that answers "password authentication failed" (PostgreSQL),
"Access denied for user" (MySQL), "Login failed for user" (SQL Server), ``WRONGPASS`` (Redis)
or ``ACCESS_REFUSED`` (RabbitMQ) was reached: the network and the name are fine, the
credentials are not — typically a password rotated on the server but not in the Secret, or a
Secret re-synced with a new key. The container receives them through ``env[].valueFrom.
secretKeyRef``, ``envFrom[].secretRef`` or a mounted Secret volume; those Secrets (never their
data) are what to check and update.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from graph.evidence import K8sObject

_REJECTED = re.compile(
    r"password authentication failed for user \"?(?P<pg>[\w.@-]+)\"?"
    r"|Access denied for user '(?P<my>[\w.@-]+)'@'[^']*'(?: \(using password: \w+\))?"
    r"|Login failed for user '(?P<ms>[\w.@\\-]+)'"
    r"|WRONGPASS[^\n]*|NOAUTH Authentication required[^\n]*"
    r"|ACCESS_REFUSED - Login was refused[^\n]*"
    r"|Authentication failed\.?(?: for user \"?(?P<gen>[\w.@-]+)\"?)?"
    r"|SASL authentication failed[^\n]*|invalid username/password[^\n]*",
    re.IGNORECASE,
)
# Keys that carry credentials: a password, a user, a connection string with both.
_CREDENTIAL_KEY = re.compile(r"pass|pwd|secret|user|login|cred|auth|token|url|uri|dsn|conn", re.I)


@dataclass(frozen=True)
class Rejection:
    quote: str
    user: str | None


@dataclass(frozen=True)
class CredentialSource:
    secret: str
    keys: tuple[str, ...]
    """keys the container reads (empty: every key, through envFrom or a volume)"""
    how: str
    """env VAR / envFrom / volume mounted at PATH"""


def rejected_credentials(log: str) -> Rejection | None:
    """The last line of the log where a server refuses the credentials, and the user it names."""
    hits = list(_REJECTED.finditer(log))
    if not hits:
        return None
    found = hits[-1]
    start = log.rfind("\n", 0, found.start()) + 1
    end = log.find("\n", found.end())
    line = log[start : end if end >= 0 else len(log)].strip()
    user = next((found.group(g) for g in ("pg", "my", "ms", "gen") if found.group(g)), None)
    return Rejection(line[:300], user)


def credential_sources(pod: K8sObject, container: str) -> list[CredentialSource]:
    """The Secrets ``container`` takes credentials from, credential-looking keys first."""
    spec = pod.get("spec") or {}
    found: list[CredentialSource] = []
    for item in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if item.get("name") != container:
            continue
        refs: dict[str, list[tuple[str, str]]] = {}
        for env in item.get("env") or []:
            ref = (env.get("valueFrom") or {}).get("secretKeyRef") or {}
            if ref.get("name"):
                refs.setdefault(str(ref["name"]), []).append((str(ref.get("key")), str(env.get("name"))))
        for secret, pairs in refs.items():
            pairs.sort(key=lambda pair: not _CREDENTIAL_KEY.search(pair[0] + " " + pair[1]))
            found.append(
                CredentialSource(
                    secret,
                    tuple(k for k, _ in pairs),
                    ", ".join(f"env {var} (key {key})" for key, var in pairs),
                )
            )
        for source in item.get("envFrom") or []:
            ref = source.get("secretRef") or {}
            if ref.get("name"):
                found.append(CredentialSource(str(ref["name"]), (), "envFrom"))
        volumes = {v.get("name"): v for v in spec.get("volumes") or []}
        for mount in item.get("volumeMounts") or []:
            volume_secret = ((volumes.get(mount.get("name")) or {}).get("secret") or {}).get("secretName")
            if volume_secret:
                found.append(
                    CredentialSource(str(volume_secret), (), f"volume mounted at {mount.get('mountPath')}")
                )
    # Secrets named like credentials first.
    return sorted(found, key=lambda s: not _CREDENTIAL_KEY.search(s.secret))


def credential_fixes(
    sources: list[CredentialSource], namespace: str | None, target: str, user: str | None
) -> list[str]:
    """Update the Secret's credential key with the value the server now expects, then restart the workload."""
    where = f" -n {namespace}" if namespace else ""
    if not sources:
        return [
            f"# the container reads its credentials from no Secret: check its env/config for {user or 'the user'}"
        ]
    source = sources[0]
    key = source.keys[0] if source.keys else "<key>"
    value = f"<the current credentials{f' of user {user}' if user else ''}>"
    patch = json.dumps({"stringData": {key: value}}, separators=(",", ":"))
    return [
        f"kubectl patch secret {source.secret}{where} --type=merge -p '{patch}'"
        "  # or re-sync it from its source (ExternalSecret / sealed secret / vault) after the rotation",
        f"kubectl rollout restart {target}{where}  # env from a Secret is read only at container start",
    ]
