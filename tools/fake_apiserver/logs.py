"""``pods/{name}/log`` for the stand-in: which container, which instance, and the API's cuts.

kube-apiserver applies ``tailLines`` first and then stops after ``limitBytes`` bytes counted
from the start of what is left (the final line may be cut); the stand-in does the same, so a
client that wants the end of a long log has to cope with it as it would on a real cluster.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LogKey = tuple[str, str, str, bool]  # namespace, pod, container, previous


@dataclass(frozen=True)
class LogAnswer:
    code: int
    text: str = ""
    reason: str = ""  # Status reason when code is not 200


class LogSource:
    """Log text from a snapshot's ``logs/`` folder or from an in-memory mapping."""

    def __init__(self, root: Path | None = None, texts: Mapping[LogKey, str] | None = None) -> None:
        self.root = root
        self.texts = dict(texts or {})

    def read(self, namespace: str, pod: str, container: str, previous: bool) -> str | None:
        key = (namespace, pod, container, previous)
        if key in self.texts:
            return self.texts[key]
        if self.root is None:
            return None
        suffix = ".previous.log" if previous else ".log"
        path = self.root / namespace / pod / f"{container}{suffix}"
        if not path.is_file():
            return None
        return path.read_text(encoding="utf-8", errors="replace")


def _container_names(pod: Mapping[str, Any]) -> list[str]:
    spec = pod.get("spec") or {}
    names: list[str] = []
    for section in ("initContainers", "containers", "ephemeralContainers"):
        names.extend(str(c.get("name")) for c in spec.get(section) or [] if c.get("name"))
    return names


def _waiting_reason(pod: Mapping[str, Any], container: str) -> str | None:
    status = pod.get("status") or {}
    for section in ("initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses"):
        for cs in status.get(section) or []:
            if cs.get("name") == container:
                waiting = (cs.get("state") or {}).get("waiting")
                return str(waiting.get("reason") or "ContainerCreating") if waiting else None
    return None


def apply_cuts(text: str, tail_lines: int | None, limit_bytes: int | None) -> str:
    if tail_lines is not None:
        lines = text.splitlines(keepends=True)
        text = "".join(lines[-tail_lines:]) if tail_lines > 0 else ""
    if limit_bytes is not None:
        text = text.encode("utf-8")[:limit_bytes].decode("utf-8", errors="ignore")
    return text


def answer_log(
    source: LogSource,
    namespace: str,
    pod: Mapping[str, Any],
    container: str | None,
    previous: bool,
    tail_lines: int | None,
    limit_bytes: int | None,
) -> LogAnswer:
    """What kube-apiserver answers for this log request, with its 400 messages."""
    name = str((pod.get("metadata") or {}).get("name"))
    names = _container_names(pod)
    regular = [str(c.get("name")) for c in (pod.get("spec") or {}).get("containers") or []]
    if container is None:
        if len(regular) != 1:
            choices = " ".join(regular)
            return LogAnswer(
                400,
                f"a container name must be specified for pod {name}, choose one of: [{choices}]",
                "BadRequest",
            )
        container = regular[0]
    if container not in names:
        return LogAnswer(400, f"container {container} is not valid for pod {name}", "BadRequest")
    text = source.read(namespace, name, container, previous)
    if text is None:
        if previous:
            message = f'previous terminated container "{container}" in pod "{name}" not found'
            return LogAnswer(400, message, "BadRequest")
        waiting = _waiting_reason(pod, container)
        if waiting:
            message = f'container "{container}" in pod "{name}" is waiting to start: {waiting}'
            return LogAnswer(400, message, "BadRequest")
        text = ""
    return LogAnswer(200, apply_cuts(text, tail_lines, limit_bytes))
