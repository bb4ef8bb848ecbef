"""Label and field selectors with the API server's semantics, for sources that filter locally.

The snapshot source and the loopback API stand-in both answer ``labelSelector`` and
``fieldSelector`` the way kube-apiserver does, so a diagnosis reads the same objects from a
snapshot as from a live cluster.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

Predicate = Callable[[Mapping[str, Any]], bool]

_SET_EXPR = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


class SelectorError(ValueError):
    """A selector the API server would reject with 400 BadRequest."""


def _split_requirements(selector: str) -> list[str]:
    """Split on commas that are not inside a set expression's parentheses."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
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


def _label_in(key: str, values: frozenset[str], labels: Mapping[str, str]) -> bool:
    return labels.get(key) in values


def _label_not_in(key: str, values: frozenset[str], labels: Mapping[str, str]) -> bool:
    return labels.get(key) not in values


def _label_eq(key: str, value: str, labels: Mapping[str, str]) -> bool:
    return labels.get(key) == value


def _label_ne(key: str, value: str, labels: Mapping[str, str]) -> bool:
    return labels.get(key) != value


def _label_exists(key: str, labels: Mapping[str, str]) -> bool:
    return key in labels


def _label_absent(key: str, labels: Mapping[str, str]) -> bool:
    return key not in labels


def parse_label_selector(selector: str | None) -> Callable[[Mapping[str, str]], bool]:
    """A predicate over a label map, for ``a=b,c!=d,e in (f,g),h notin (i),j,!k``."""
    if not selector:
        return lambda labels: True
    checks: list[Callable[[Mapping[str, str]], bool]] = []
    for req in _split_requirements(selector):
        set_match = _SET_EXPR.match(req)
        if set_match:
            key, op, values_raw = set_match.groups()
            values = frozenset(v.strip() for v in values_raw.split(",") if v.strip())
            checks.append(partial(_label_in if op == "in" else _label_not_in, key, values))
        elif "!=" in req:
            key, value = (s.strip() for s in req.split("!=", 1))
            checks.append(partial(_label_ne, key, value))
        elif "=" in req:
            key, value = (s.strip() for s in re.split("==|=", req, maxsplit=1))
            checks.append(partial(_label_eq, key, value))
        elif req.startswith("!"):
            checks.append(partial(_label_absent, req[1:].strip()))
        elif re.fullmatch(r"[A-Za-z0-9_./-]+", req):
            checks.append(partial(_label_exists, req))
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


def _field_eq(path: str, value: str, obj: Mapping[str, Any]) -> bool:
    return _field_value(obj, path) == value


def _field_ne(path: str, value: str, obj: Mapping[str, Any]) -> bool:
    return _field_value(obj, path) != value


def parse_field_selector(selector: str | None) -> Predicate:
    """A predicate over a whole object, for ``metadata.name=x,status.phase!=Running``."""
    if not selector:
        return lambda obj: True
    checks: list[Predicate] = []
    for req in _split_requirements(selector):
        if "!=" in req:
            path, value = (s.strip() for s in req.split("!=", 1))
            checks.append(partial(_field_ne, path, value))
        elif "=" in req:
            path, value = (s.strip() for s in re.split("==|=", req, maxsplit=1))
            checks.append(partial(_field_eq, path, value))
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
