"""OOMKilled: a container killed for exceeding its memory limit (reason OOMKilled, exit 137)."""

from __future__ import annotations

import re
from decimal import Decimal

from graph.analyzers.base import Analyzer, Fact, Finding, ns_flag, ref, src_obj
from graph.analyzers.common import failing_containers, workload_ref
from graph.evidence import EvidenceView, name_of, namespace_of
from graph.k8s import container_spec, format_bytes, parse_quantity

_HEAP = re.compile(r"-Xmx(\d+[kKmMgG]?)\b|--max-old-space-size=(\d+)")
_UNITS = {"k": 2**10, "m": 2**20, "g": 2**30}


def _heap_bytes(flag: str) -> int:
    unit = flag[-1].lower()
    return int(flag[:-1]) * _UNITS[unit] if unit in _UNITS else int(flag)


def memory_remedy(spec: dict[str, object], limit: str | None) -> tuple[str, str, str | None, str]:
    """(cause clause, suggested limit, heap flag, where the flag is set) for a container killed at ``limit``.

    A runtime that sizes its heap from a flag (-Xmx, --max-old-space-size) at or above the limit is
    guaranteed to be killed; below it, off-heap memory pushes it over.
    """
    heap_flag, heap_source = OOMKilledAnalyzer._heap_flag(spec)
    limit_bytes = parse_quantity(limit)
    new_limit = format_bytes(limit_bytes * 2) if limit_bytes else "1Gi"
    if heap_flag and limit_bytes:
        heap = _heap_bytes(heap_flag.split("=")[-1].removeprefix("-Xmx"))
        if heap >= limit_bytes:
            new_limit = format_bytes(max(limit_bytes * 2, Decimal(heap * 3 // 2)))
            return (
                f"the heap is configured with {heap_flag}, which is larger than the {limit} limit",
                new_limit,
                heap_flag,
                heap_source,
            )
        return (
            f"the heap ({heap_flag}) fits, so off-heap memory (threads, buffers, metaspace) pushes it over",
            new_limit,
            heap_flag,
            heap_source,
        )
    return "its working set grows past the limit", new_limit, None, ""


class OOMKilledAnalyzer(Analyzer):
    category = "OOMKilled"

    def analyze(self, view: EvidenceView) -> Finding | None:
        hits = list(
            failing_containers(
                view, lambda c: c.last_reason == "OOMKilled" or c.terminated_reason == "OOMKilled"
            )
        )
        if not hits:
            return None
        pod, state = hits[0]
        ns, pod_name = namespace_of(pod), name_of(pod)
        spec = container_spec(pod, state.name) or {}
        limits = (spec.get("resources") or {}).get("limits") or {}
        limit = limits.get("memory")
        target = workload_ref(view, pod)
        source = src_obj(pod, f"status.containerStatuses[{state.name}]")
        exit_code = state.last_exit_code if state.last_reason == "OOMKilled" else state.terminated_exit_code
        facts = [
            Fact(
                f"container {state.name} last terminated with reason OOMKilled, exit code {exit_code}, "
                f"after {state.restarts} restart(s)",
                source,
            )
        ]
        cause = f"Container {state.name} in pod {pod_name} ({target}) is killed by the kernel for exceeding its memory"
        if limit:
            facts.append(
                Fact(
                    f"memory limit of container {state.name} is {limit}",
                    src_obj(pod, f"spec.containers[{state.name}].resources.limits.memory"),
                )
            )
            cause += f" limit of {limit}"
        else:
            cause += " (no memory limit is set: the node ran out of memory)"

        # Runtimes that size their heap from a flag: a heap above the limit guarantees the kill.
        heap_flag, heap_source = self._heap_flag(spec)
        limit_bytes = parse_quantity(limit)
        new_limit = format_bytes(limit_bytes * 2) if limit_bytes else "1Gi"
        root_cause_id = "oomkilled.limit-exceeded"
        if heap_flag and limit_bytes:
            heap = _heap_bytes(heap_flag.split("=")[-1].removeprefix("-Xmx"))
            facts.append(Fact(f"the process is configured with {heap_flag}", heap_source))
            if heap >= limit_bytes:
                root_cause_id = "oomkilled.heap-above-limit"
                cause += f": the heap is configured with {heap_flag}, which is larger than the {limit} limit"
                new_limit = format_bytes(max(limit_bytes * 2, Decimal(heap * 3 // 2)))
            else:
                cause += f"; the heap ({heap_flag}) fits, so off-heap memory (threads, buffers, metaspace) pushes it over"
        else:
            cause += "; its working set grows past the limit under load"
        cause += "."
        fixes = [
            f"kubectl set resources {target}{ns_flag(ns)} -c {state.name} --limits=memory={new_limit} "
            f"--requests=memory={new_limit}",
        ]
        if heap_flag and heap_source.startswith("env "):
            env_name = heap_source.split(" ", 1)[1]
            old = next((str(e.get("value")) for e in spec.get("env") or [] if e.get("name") == env_name), "")
            new = _HEAP.sub("-XX:MaxRAMPercentage=75.0", old, count=1)
            fixes.append(f"kubectl set env {target}{ns_flag(ns)} -c {state.name} {env_name}='{new}'")
        fixes.append(f"kubectl top pod {pod_name}{ns_flag(ns)} --containers")
        return Finding(
            category=self.category,
            score=0.95,
            root_cause_id=root_cause_id,
            root_cause=cause,
            summary=f"{target} OOMKilled at {limit or 'node memory'}",
            facts=facts,
            fix_commands=fixes,
            prevention=[
                "Size the heap from the container limit (-XX:MaxRAMPercentage=75 for the JVM) instead of a fixed -Xmx.",
                "Set memory requests equal to limits for steady workloads and alert on container_memory_working_set_bytes "
                "approaching the limit.",
                "Load-test memory with production-sized data before raising replicas or batch sizes.",
            ],
            affected=[ref(pod)],
        )

    @staticmethod
    def _heap_flag(spec: dict[str, object]) -> tuple[str | None, str]:
        for env in spec.get("env") or []:  # type: ignore[attr-defined]
            value = str(env.get("value") or "")
            match = _HEAP.search(value)
            if match:
                return match.group(0), f"env {env.get('name')}"
        for field in ("command", "args"):
            for arg in spec.get(field) or []:  # type: ignore[attr-defined]
                match = _HEAP.search(str(arg))
                if match:
                    return match.group(0), f"container {field}"
        return None, ""
