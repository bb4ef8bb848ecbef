"""Label and field selectors with the API server's semantics, for sources that filter locally.

The snapshot source and the loopback API stand-in both answer ``labelSelector`` and
``fieldSelector`` the way kube-apiserver does, so a diagnosis reads the same objects from a
snapshot as from a live cluster.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Predicate = Callable[[Mapping[str, Any]], bool]

_SET_EXPR = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


class SelectorError(ValueError):
    """A selector the API server would reject with 400 BadRequest."""


def _split_requirements(selector: str) -> list[str]:
    """Split on commas that are not inside a set expression's parentheses."""
    parts, depth, current = [], 0, []
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def parse_label_selector(selector: str | None) -> Callable[[Mapping[str, str]], bool]:
    """A predicate over a label map, for ``a=b,c!=d,e in (f,g),h notin (i),j,!k``."""
    if not selector:
        return lambda labels: True
    checks: list[Callable[[Mapping[str, str]], bool]] = []
    for req in _split_requirements(selector):
        set_match = _SET_EXPR.match(req)
        if set_match:
            key, op, values_raw = set_match.groups()
            values = {v.strip() for v in values_raw.split(",") if v.strip()}
            if op == "in":
                checks.append(lambda lb, k=key, vs=values: lb.get(k) in vs)
            else:
                checks.append(lambda lb, k=key, vs=values: lb.get(k) not in vs)
        elif "!=" in req:
            key, value = (s.strip() for s in req.split("!=", 1))
            checks.append(lambda lb, k=key, v=value: lb.get(k) != v)
        elif "==" in req or "=" in req:
            key, value = (s.strip() for s in re.split("==|=", req, maxsplit=1))
            checks.append(lambda lb, k=key, v=value: lb.get(k) == v)
        elif req.startswith("!"):
            key = req[1:].strip()
            checks.append(lambda lb, k=key: k not in lb)
        elif re.fullmatch(r"[A-Za-z0-9_./-]+", req):
            checks.append(lambda lb, k=req: k in lb)
        else:
            raise SelectorError(f"unable to parse requirement: {req!r}")
    return lambda labels: all(check(labels) for check in checks)


def _field_value(obj: Mapping[str, Any], path: str) -> str:
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return ""
        node = node.get(part)
    if node is None:
        return ""
    return str(node)


def parse_field_selector(selector: str | None) -> Predicate:
    """A predicate over a whole object, for ``metadata.name=x,status.phase!=Running``."""
    if not selector:
        return lambda obj: True
    checks: list[Predicate] = []
    for req in _split_requirements(selector):
        if "!=" in req:
            path, value = (s.strip() for s in req.split("!=", 1))
            checks.append(lambda o, p=path, v=value: _field_value(o, p) != v)
        elif "=" in req:
            path, value = (s.strip() for s in re.split("==|=", req, maxsplit=1))
            checks.append(lambda o, p=path, v=value: _field_value(o, p) == v)
        else:
            raise SelectorError(f"invalid field selector requirement: {req!r}")
    return lambda obj: all(check(obj) for check in checks)


def matches_label_selector_object(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Whether ``labels`` satisfy a structured selector (``matchLabels`` + ``matchExpressions``).

    An empty or missing selector matches nothing, as for a Service with no selector.
    """
    if not selector:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), set(expr.get("values") or [])
        present = key in labels
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and present and labels.get(key) in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True
