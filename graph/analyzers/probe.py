"""ProbeFailure: a liveness, readiness or startup probe keeps failing.

The kubelet's ``Unhealthy`` events say which probe fails and how (connection refused on a
port, an HTTP status, a timeout, an exec probe's output); ``Killing`` events and restarts
whose last exit was a clean shutdown show that liveness kills a working app. The probe spec,
the container's ports and what the app logs it listens on tell a wrong port from a wrong
path, a slow start or a failing dependency.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from graph.analyzers.base import Analyzer, Fact, Finding, ns_flag, ref, src_event, src_log, src_obj
from graph.analyzers.common import (
    candidate_pods,
    container_json_path,
    error_lines,
    in_pod_template,
    outside_focus,
    pasted_line,
    serving_replicaset,
    text_only_finding,
    workload_ref,
)
from graph.evidence import EvidenceView, K8sObject, name_of, namespace_of
from graph.k8s import ContainerState, container_spec, container_states
from graph.schemas import ReadSpec

_FAILED = re.compile(r"^(Liveness|Readiness|Startup) probe (?:failed|errored):?\s*(.*)$", re.I | re.S)
_KILLED = re.compile(r"failed (liveness|startup) probe", re.I)
_URL = re.compile(r"Get \"?(https?)://[^:/\"]+:(\d+)(/[^\"\s]*)?")
_DIAL = re.compile(r"dial tcp [^\s:]+:(\d+): (?:connect: )?(connection refused|i/o timeout|no route to host)")
_STATUS = re.compile(r"statuscode: (\d{3})")
_TIMEOUT = re.compile(
    r"context deadline exceeded|Client\.Timeout exceeded|timeout:|timed out|i/o timeout", re.I
)
# The runtime cannot start an exec probe's command: it is not in the image (distroless, slimmed images).
_EXEC_MISSING = re.compile(
    r"exec: \\?\"(?P<cmd>[^\"\\]+)\\?\": (?P<why>(?:stat [^:]+: )?no such file or directory|"
    r"executable file not found in \$PATH)"
)
_ADDR_PORT = re.compile(r"(?:-addr|--addr|-port|--port)[= ]\S*?:?(\d{2,5})\b")


def _native_probe(probe: K8sObject, command: str, ports: list[int]) -> dict[str, object] | None:
    """A kubelet-native probe (grpc or tcpSocket) to replace an exec probe whose command is missing.

    ``grpc_health_probe -addr=:PORT`` maps to the kubelet's own gRPC health check; other commands to a
    TCP check of the port they name or the container's only port. Timing fields are kept.
    """
    args = " ".join(map(str, (probe.get("exec") or {}).get("command") or []))
    named = _ADDR_PORT.search(args)
    port = int(named.group(1)) if named else (ports[0] if len(ports) == 1 else None)
    if port is None:
        return None
    handler: dict[str, object] = (
        {"grpc": {"port": port}} if "grpc_health_probe" in command else {"tcpSocket": {"port": port}}
    )
    timing = {k: v for k, v in probe.items() if k not in ("exec", "httpGet", "tcpSocket", "grpc")}
    return {**handler, **timing}


_GRPC_PORT = re.compile(r"failed to connect service \"[^\"]*:(\d+)\"")
_CLOCK = re.compile(r"\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?")
_LISTEN_PORT = re.compile(r"(?::|\bport[\"'=:\s]+)(\d{2,5})\b", re.I)
_SIDE_PORT = re.compile(r"metric|pprof|debug|admin|prometheus|management|grpc-health|profil", re.I)
_PATHS = re.compile(
    r"\"?(/(?:[\w.-]+/)*(?:health|healthz|healthcheck|livez|readyz|ready|ping|status)[\w/.-]*)"
)
_DEPENDENCY_ERROR = re.compile(
    r"connection refused|ECONNREFUSED|no such host|i/o timeout|timed out|unreachable|connect:", re.I
)
_APP_ERROR = re.compile(r"\b(error|exception|fatal|panic|traceback|failed)\b", re.I)
_PROBE_FIELD = {"liveness": "livenessProbe", "readiness": "readinessProbe", "startup": "startupProbe"}


@dataclass
class ProbeTrouble:
    """What the events say about one container's probes."""

    pod: K8sObject
    state: ContainerState
    failures: dict[str, list[K8sObject]] = field(default_factory=dict)
    kills: list[K8sObject] = field(default_factory=list)


def _container_of(event: K8sObject) -> str | None:
    path = str((event.get("involvedObject") or {}).get("fieldPath") or "")
    found = re.search(r"\{([^}]+)\}", path)
    return found.group(1) if found else None


def probe_troubles(view: EvidenceView) -> list[ProbeTrouble]:
    """Containers of candidate pods with probe failures in their events, failing ones first."""
    found: list[ProbeTrouble] = []
    for pod in candidate_pods(view):
        states = {s.name: s for s in container_states(pod) if not s.init}
        if not states:
            continue
        by_name: dict[str, ProbeTrouble] = {}
        for event in view.events_for(pod):
            message = str(event.get("message") or "")
            name = _container_of(event) or next(iter(states))
            if name not in states:
                continue
            trouble = by_name.setdefault(name, ProbeTrouble(pod, states[name]))
            failed = _FAILED.match(message)
            if event.get("reason") == "Unhealthy" and failed:
                trouble.failures.setdefault(failed.group(1).lower(), []).append(event)
            elif event.get("reason") == "Killing" and _KILLED.search(message):
                trouble.kills.append(event)
        found += [t for t in by_name.values() if t.failures]
    return found


def _resolve_port(container: K8sObject, port: object) -> int | None:
    if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
        return int(port)
    for item in container.get("ports") or []:
        if item.get("name") == port:
            return int(item.get("containerPort"))
    return None


def _probe_target(probe: K8sObject) -> tuple[str, object]:
    for kind in ("httpGet", "tcpSocket", "grpc"):
        if kind in probe:
            return kind, (probe.get(kind) or {}).get("port")
    return ("exec", None) if "exec" in probe else ("none", None)


def listening_ports(log: str) -> list[tuple[int, bool]]:
    """Ports the app says it listens on, with whether the line is a side port (metrics, admin)."""
    ports: list[tuple[int, bool]] = []
    for line in log.splitlines():
        if not re.search(r"listen|serving|started (?:on|server)|bound to|running on", line, re.I):
            continue
        clean = _CLOCK.sub("", line)
        for match in _LISTEN_PORT.finditer(clean):
            port = int(match.group(1))
            if 0 < port < 65536 and (port, bool(_SIDE_PORT.search(line))) not in ports:
                ports.append((port, bool(_SIDE_PORT.search(line))))
    return ports


class ProbeFailureAnalyzer(Analyzer):
    category = "ProbeFailure"

    def plan(self, view: EvidenceView) -> list[ReadSpec]:
        specs: list[ReadSpec] = []
        for trouble in probe_troubles(view)[:1]:
            ns, name = namespace_of(trouble.pod), name_of(trouble.pod)
            # What the running app says it listens on tells a wrong probe port from a slow start.
            if trouble.state.running:
                specs.append(
                    ReadSpec(
                        verb="logs",
                        kind="Pod",
                        namespace=ns,
                        name=name,
                        container=trouble.state.name,
                        why="current log: what the app listens on",
                    )
                )
            # An unhealthy answer (5xx) usually names a dependency; the namespace's Services say which.
            failures = [str(e.get("message")) for events in trouble.failures.values() for e in events]
            log = view.log(ns or "", name, trouble.state.name) or ""
            if any(re.search(r"statuscode: 5\d\d", f) for f in failures) and _DEPENDENCY_ERROR.search(log):
                specs.append(
                    ReadSpec(
                        verb="list",
                        kind="Service",
                        namespace=ns,
                        why="which dependency the health check reports",
                    )
                )
        return [s for s in specs if not view.was_read(s.key())]

    def analyze(self, view: EvidenceView) -> Finding | None:
        troubles = probe_troubles(view)
        if not troubles:
            return self._without_events(view) or self._from_text(view)
        trouble = max(
            troubles,
            key=lambda t: (bool(t.kills) or t.state.restarts > 0, len(t.failures), -troubles.index(t)),
        )
        pod, state = trouble.pod, trouble.state
        ns, pod_name = namespace_of(pod), name_of(pod)
        target = workload_ref(view, pod)
        spec = container_spec(pod, state.name) or {}
        probe_type = next(
            (
                p
                for p in ("liveness", "startup")
                if p in trouble.failures and (trouble.kills or state.restarts)
            ),
            "readiness" if "readiness" in trouble.failures else next(iter(trouble.failures)),
        )
        events = trouble.failures[probe_type]
        latest = events[0]
        detail = _FAILED.match(str(latest.get("message") or ""))
        failure = detail.group(2).strip() if detail else str(latest.get("message"))
        probe = spec.get(_PROBE_FIELD[probe_type]) or {}
        kind, raw_port = _probe_target(probe)
        probe_port = _resolve_port(spec, raw_port)
        container_ports = [
            int(p.get("containerPort")) for p in spec.get("ports") or [] if p.get("containerPort")
        ]
        count = sum(int(e.get("count") or 1) for e in events)
        facts = [Fact(f"{probe_type.capitalize()} probe failed: {failure[:300]}", src_event(latest))]
        if trouble.kills:
            facts.append(Fact(str(trouble.kills[0].get("message")), src_event(trouble.kills[0])))
        facts.append(
            Fact(
                f"{probe_type}Probe: {self._describe(probe)}",
                src_obj(pod, f"spec.containers[{state.name}].{_PROBE_FIELD[probe_type]}"),
            )
        )
        if container_ports:
            facts.append(
                Fact(
                    f"container {state.name} declares containerPort(s) {', '.join(map(str, container_ports))}",
                    src_obj(pod, f"spec.containers[{state.name}].ports"),
                )
            )
        status_src = src_obj(pod, f"status.containerStatuses[{state.name}]")
        if state.restarts:
            facts.append(
                Fact(
                    f"container {state.name} restarted {state.restarts} time(s); last exit code {state.last_exit_code} "
                    f"({state.last_reason})",
                    status_src,
                )
            )
        elif not state.ready:
            facts.append(Fact(f"container {state.name} is running but not ready", status_src))

        log_text, log_facts = self._logs(view, pod, state)
        facts += log_facts
        app_crash = state.last_reason in ("OOMKilled", "StartError", "ContainerCannotRun") or (
            state.last_reason == "Error"
            and state.last_exit_code not in (None, 0, 137, 143)
            and not trouble.kills
        )
        if probe_type == "readiness":
            score = 0.85 if not state.ready else 0.5
        else:
            score = 0.92 if trouble.kills or state.last_exit_code in (0, 137, 143) else 0.8
        if app_crash or state.waiting_reason in ("CrashLoopBackOff",) and not trouble.kills:
            score = min(score, 0.5)

        where = f"The {probe_type} probe of container {state.name} in pod {pod_name} ({target})"
        effect = {
            "liveness": "so the kubelet kills and restarts a container that is otherwise working",
            "startup": "so the kubelet kills the container before it finishes starting",
            "readiness": "so the pod is kept out of its Service's endpoints",
        }[probe_type]
        patch_prefix = self._patch_prefix(target, ns)
        fixes: list[str] = []
        refused = _DIAL.search(failure)
        status = _STATUS.search(failure)
        url = _URL.search(failure)
        failing_port = int(refused.group(1)) if refused else (int(url.group(2)) if url else probe_port)
        if grpc := _GRPC_PORT.search(failure):
            failing_port = int(grpc.group(1))
        listening = listening_ports(log_text) if log_text else []
        cause_id = f"probe.{probe_type}-failing"
        if refused and refused.group(2) == "connection refused" or (grpc and "connect" in failure):
            right = self._right_port(failing_port, listening, container_ports, spec, probe_type)
            if right is not None and right != failing_port:
                cause_id = "probe.wrong-port"
                how = (
                    f"the app logs that it listens on {right}"
                    if any(p == right for p, _ in listening)
                    else f"the container serves on port {right}"
                )
                cause = (
                    f"{where} targets port {failing_port}, where nothing listens (connection refused); {how}. "
                    f"The probe fails every time, {effect}."
                )
                fixes.append(self._patch(patch_prefix, state.name, probe_type, kind, {"port": right}))
            else:
                cause_id = "probe.slow-start"
                killed = "so the kubelet kills the container before it finishes starting"
                cause = (
                    f"{where} gets connection refused on port {failing_port}: the app is not listening yet when the "
                    f"probe starts (initialDelaySeconds {probe.get('initialDelaySeconds', 0)}), "
                    f"{killed if probe_type != 'readiness' else effect}."
                )
                previous_log = view.log(ns or "", pod_name, state.name, previous=True)
                if previous_log and previous_log.strip():
                    last_line = previous_log.strip().splitlines()[-1].strip()[:300]
                    facts.append(
                        Fact(
                            f"the killed instance's log ends while still starting: {last_line}",
                            src_log(ns or "", pod_name, state.name, True),
                        )
                    )
                fixes.append(self._startup_patch(patch_prefix, state.name, probe, kind, spec))
        elif status:
            code = int(status.group(1))
            path = (
                url.group(3) if url and url.group(3) else str((probe.get("httpGet") or {}).get("path") or "/")
            )
            if code == 404:
                cause_id = "probe.wrong-path"
                logged_paths = [p for p in dict.fromkeys(_PATHS.findall(log_text or "")) if p != path]
                right_path = logged_paths[0] if logged_paths else None
                cause = (
                    f"{where} requests {path} on port {failing_port}, which answers 404 Not Found"
                    + (f"; the app serves its health check on {right_path}" if right_path else "")
                    + f". The probe fails every time, {effect}."
                )
                fixes.append(
                    self._patch(
                        patch_prefix,
                        state.name,
                        probe_type,
                        "httpGet",
                        {"path": right_path or "<health path>"},
                    )
                )
            else:
                cause_id = "probe.unhealthy-response"
                reason = (
                    error_lines(log_text, limit=1)[-1] if log_text and error_lines(log_text, limit=1) else ""
                )
                dependency = self._dependency(view, pod, log_text)
                cause = f"{where} gets HTTP {code} from {path} on port {failing_port}: the app reports itself unhealthy"
                if dependency is not None:
                    service, line = dependency
                    cause_id = "probe.dependency-down"
                    cause += f" because its dependency, Service {name_of(service)}, is failing ({line[:200]})"
                    selector = ",".join(
                        f"{k}={v}" for k, v in ((service.get("spec") or {}).get("selector") or {}).items()
                    )
                    facts.append(
                        Fact(
                            f"Service {name_of(service)} ({(service.get('spec') or {}).get('clusterIP')}) is the "
                            "dependency the health check reports",
                            src_obj(service, "spec"),
                        )
                    )
                    fixes.append(f"kubectl get endpoints {name_of(service)}{ns_flag(ns)}")
                    if selector:
                        fixes.append(f"kubectl get pods{ns_flag(ns)} -l {selector} -o wide")
                elif reason:
                    cause += f" ({reason})"
                cause += f", {effect}."
                fixes.append(f"kubectl logs {pod_name}{ns_flag(ns)} -c {state.name}")
        elif _TIMEOUT.search(failure):
            cause_id = "probe.timeout"
            timeout = probe.get("timeoutSeconds", 1)
            cause = (
                f"{where} times out after {timeout}s ({failure[:160]}): the endpoint answers too slowly under load "
                f"or during start-up, {effect}."
            )
            fixes.append(
                self._patch(
                    patch_prefix, state.name, probe_type, None, {"timeoutSeconds": max(5, int(timeout) * 5)}
                )
            )
            if probe_type == "liveness":
                fixes.append(self._startup_patch(patch_prefix, state.name, probe, kind, spec))
        elif kind == "exec" and (missing := _EXEC_MISSING.search(str(latest.get("message") or ""))):
            cause_id = "probe.exec-command-missing"
            command = " ".join(map(str, (probe.get("exec") or {}).get("command") or []))
            image = str(spec.get("image") or state.image or "")
            facts.append(Fact(missing.group(0), src_event(latest)))
            cause = (
                f"{where} runs `{command}`, but {missing.group('cmd')} does not exist in image {image} "
                f"({missing.group('why')}): every probe errors, {effect}."
            )
            previous = serving_replicaset(view, pod, state.name, image)
            if previous:
                cause = (
                    cause[:-1]
                    + f"; the previous image {previous[1]} (ReplicaSet {name_of(previous[0])}) had it."
                )
                facts.append(
                    Fact(
                        f"the previous ReplicaSet {name_of(previous[0])} runs {previous[1]} with ready pods",
                        src_obj(previous[0], "spec.template"),
                    )
                )
            replacement = _native_probe(probe, missing.group("cmd"), container_ports)
            if replacement is not None:
                path = f"{container_json_path(view, pod, state.name)}/{_PROBE_FIELD[probe_type]}"
                body = json.dumps(
                    [{"op": "replace", "path": path, "value": replacement}], separators=(",", ":")
                )
                fixes.append(
                    f"kubectl patch {patch_prefix[0]} {patch_prefix[1]}{ns_flag(ns)} --type=json -p '{body}'"
                    "  # a probe the kubelet runs itself, needing nothing in the image"
                )
            fixes.append(f"# or add {missing.group('cmd')} back to the image")
        elif kind == "exec":
            cause_id = "probe.exec-failing"
            command = " ".join(map(str, (probe.get("exec") or {}).get("command") or []))
            cause = f"{where} runs `{command}`, which fails: {failure[:200]}, {effect}."
            fixes.append(f"kubectl exec {pod_name}{ns_flag(ns)} -c {state.name} -- {command}")
        else:
            cause = f"{where} fails: {failure[:200]}, {effect}."
        fixes.append(f"kubectl describe pod {pod_name}{ns_flag(ns)}")
        if count > 1:
            facts.append(Fact(f"{count} {probe_type} probe failures recorded", "Events Unhealthy"))
        return Finding(
            category=self.category,
            score=score,
            root_cause_id=cause_id,
            root_cause=cause,
            summary=f"{target}: {probe_type} probe failing ({cause_id.split('.', 1)[1]})",
            facts=facts,
            fix_commands=fixes,
            prevention=[
                "Reference probe ports by the containerPort name (port: http) so a port change cannot leave the probe behind.",
                "Use a startupProbe for slow starters instead of a long initialDelaySeconds on the liveness probe.",
                "Keep liveness checks local (no dependency calls); let readiness reflect dependencies.",
            ],
            affected=[ref(pod)],
        )

    @staticmethod
    def _dependency(view: EvidenceView, pod: K8sObject, log: str) -> tuple[K8sObject, str] | None:
        """The Service a failing health check names, by name or cluster IP, in its error lines."""
        lines = [line for line in log.splitlines() if _DEPENDENCY_ERROR.search(line)]
        if not lines:
            return None
        labels = (pod.get("metadata") or {}).get("labels") or {}
        for service in view.objs("Service", namespace_of(pod)):
            spec = service.get("spec") or {}
            selector = spec.get("selector") or {}
            if selector and all(labels.get(k) == v for k, v in selector.items()):
                continue  # the pod's own Service
            name, ip = name_of(service), str(spec.get("clusterIP") or "")
            for line in reversed(lines):
                if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", line) or (
                    ip and ip != "None" and ip in line
                ):
                    return service, line.strip()
        return None

    @staticmethod
    def _describe(probe: K8sObject) -> str:
        kind, _ = _probe_target(probe)
        target = probe.get(kind) or {}
        what = {
            "httpGet": f"httpGet {target.get('path', '/')} port {target.get('port')}",
            "tcpSocket": f"tcpSocket port {target.get('port')}",
            "grpc": f"grpc port {target.get('port')}",
            "exec": f"exec {' '.join(map(str, target.get('command') or []))}",
        }.get(kind, "none")
        timing = ", ".join(
            f"{k} {probe[k]}"
            for k in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "failureThreshold")
            if k in probe
        )
        return what + (f" ({timing})" if timing else "")

    @staticmethod
    def _logs(view: EvidenceView, pod: K8sObject, state: ContainerState) -> tuple[str, list[Fact]]:
        ns, name = namespace_of(pod) or "", name_of(pod)
        facts: list[Fact] = []
        texts: list[str] = []
        for previous in (False, True):
            text = view.log(ns, name, state.name, previous)
            if not text:
                continue
            texts.append(text)
            lines = [ln for ln in text.splitlines() if listening_ports(ln)]
            main = [ln for ln in lines if any(not side for _, side in listening_ports(ln))]
            if main or lines:
                line = (main or lines)[0]
                facts.append(Fact(f"log: {line.strip()[:300]}", src_log(ns, name, state.name, previous)))
            shutdown = [
                ln
                for ln in text.splitlines()
                if re.search(r"signal|SIGTERM|shutting down|terminated", ln, re.I)
            ]
            if previous and shutdown:
                facts.append(
                    Fact(
                        f"log: {shutdown[-1].strip()[:300]} (a clean shutdown on SIGTERM, not a crash)",
                        src_log(ns, name, state.name, True),
                    )
                )
        return "\n".join(texts), facts[:3]

    def _without_events(self, view: EvidenceView) -> Finding | None:
        """Probe trouble the pod spec and status show when the Unhealthy events have expired.

        A probe on a port the container does not declare, while the app logs that it listens on
        another, fails every time. Otherwise a running container that is not ready, or one that
        keeps being restarted after clean shutdowns, points at its probes, but only weakly.
        """
        for pod in candidate_pods(view):
            if (pod.get("status") or {}).get("phase") != "Running":
                continue
            for state in container_states(pod):
                # Exit 143 is the SIGTERM the kubelet sends; a clean exit 0 counts only while the container runs.
                sigterm = (
                    state.restarts > 0 and state.last_exit_code == 143 and state.last_reason != "OOMKilled"
                )
                if state.init or not (
                    state.running or (sigterm and state.waiting_reason == "CrashLoopBackOff")
                ):
                    continue
                spec = container_spec(pod, state.name) or {}
                killed = sigterm or (state.running and state.restarts > 0 and state.last_exit_code == 0)
                wanted = [p for p, field_name in _PROBE_FIELD.items() if spec.get(field_name)]
                if killed and "liveness" in wanted:
                    probe_type = "liveness"
                elif not state.ready and "readiness" in wanted and state.restarts == 0:
                    probe_type = "readiness"
                else:
                    continue
                return self._static_finding(view, pod, state, spec, probe_type)
        return None

    def _static_finding(
        self, view: EvidenceView, pod: K8sObject, state: ContainerState, spec: K8sObject, probe_type: str
    ) -> Finding:
        ns, pod_name = namespace_of(pod), name_of(pod)
        target = workload_ref(view, pod)
        probe = spec.get(_PROBE_FIELD[probe_type]) or {}
        kind, raw_port = _probe_target(probe)
        probe_port = _resolve_port(spec, raw_port)
        ports = [int(p.get("containerPort")) for p in spec.get("ports") or [] if p.get("containerPort")]
        log_text, log_facts = self._logs(view, pod, state)
        listening = listening_ports(log_text) if log_text else []
        status_src = src_obj(pod, f"status.containerStatuses[{state.name}]")
        facts = [
            Fact(
                f"{probe_type}Probe: {self._describe(probe)}",
                src_obj(pod, f"spec.containers[{state.name}].{_PROBE_FIELD[probe_type]}"),
            ),
            Fact(
                f"container {state.name} restarted {state.restarts} time(s); last exit code {state.last_exit_code} "
                f"({state.last_reason})"
                if probe_type == "liveness"
                else f"container {state.name} is running but not ready",
                status_src,
            ),
            *log_facts,
        ]
        if ports:
            facts.append(
                Fact(
                    f"container {state.name} declares containerPort(s) {', '.join(map(str, ports))}",
                    src_obj(pod, f"spec.containers[{state.name}].ports"),
                )
            )
        where = f"The {probe_type} probe of container {state.name} in pod {pod_name} ({target})"
        fixes: list[str] = []
        right = (
            self._right_port(probe_port, listening, ports, spec, probe_type)
            if probe_port is not None
            else None
        )
        serving = {p for p, _ in listening} | set(ports)
        if probe_port is not None and right is not None and right != probe_port and probe_port not in serving:
            cause_id, score = "probe.wrong-port", 0.8
            cause = (
                f"{where} targets port {probe_port}, which the container neither declares nor (by its log) listens on; "
                f"it serves on {right}, so the probe cannot succeed."
            )
            fixes.append(
                self._patch(self._patch_prefix(target, ns), state.name, probe_type, kind, {"port": right})
            )
        elif probe_type == "liveness":
            previous = view.log(ns or "", pod_name, state.name, previous=True) or ""
            # A crashed instance whose log shows no error of its own was stopped from outside.
            quiet = bool(previous) and not _APP_ERROR.search(previous)
            cause_id, score = "probe.liveness-failing", 0.7 if quiet else 0.55
            cause = (
                f"{where} most likely fails: the container is restarted after clean exits (code "
                f"{state.last_exit_code}), as the kubelet does when liveness fails."
            )
        else:
            cause_id, score = "probe.readiness-failing", 0.5
            cause = f"{where} keeps failing: the container runs but never becomes ready."
        fixes.append(f"kubectl get events{ns_flag(ns)} --field-selector involvedObject.name={pod_name}")
        fixes.append(f"kubectl describe pod {pod_name}{ns_flag(ns)}")
        return Finding(
            category=self.category,
            score=min(score, 0.5) if outside_focus(view, pod) else score,
            root_cause_id=cause_id,
            root_cause=cause,
            summary=f"{target}: {probe_type} probe ({cause_id.split('.', 1)[1]})",
            facts=facts,
            fix_commands=fixes,
            prevention=[
                "Reference probe ports by the containerPort name (port: http) so a port change cannot leave the probe behind.",
                "Keep liveness checks local (no dependency calls); let readiness reflect dependencies.",
            ],
            affected=[ref(pod)],
            missing=["the pod's Unhealthy events (expired or not read): they say how the probe fails"],
        )

    @staticmethod
    def _right_port(
        failing: int | None,
        listening: list[tuple[int, bool]],
        ports: list[int],
        spec: K8sObject,
        probe_type: str,
    ) -> int | None:
        main = [p for p, side in listening if not side and p != failing]
        if main:
            return main[0]
        if failing in [p for p, _ in listening]:
            return failing
        # Another probe of the same container pointing elsewhere is a hint of the serving port.
        for other, field_name in _PROBE_FIELD.items():
            if other == probe_type:
                continue
            _, port = _probe_target(spec.get(field_name) or {})
            resolved = _resolve_port(spec, port)
            if resolved is not None and resolved != failing and resolved in ports:
                return resolved
        named = {
            int(p.get("containerPort")): str(p.get("name") or "")
            for p in spec.get("ports") or []
            if p.get("containerPort")
        }
        main_ports = [p for p in ports if not _SIDE_PORT.search(named.get(p, ""))]
        if failing in ports:
            return failing
        return main_ports[0] if main_ports else None

    @staticmethod
    def _patch_prefix(target: str, ns: str | None) -> tuple[str, str, str | None]:
        kind, _, name = target.partition("/")
        return kind, name, ns

    def _patch(
        self,
        prefix: tuple[str, str, str | None],
        container: str,
        probe_type: str,
        kind: str | None,
        values: dict[str, object],
    ) -> str:
        workload_kind, name, ns = prefix
        probe_body: dict[str, object] = (
            {kind: values} if kind and kind not in ("exec", "none") else dict(values)
        )
        container_body = {"name": container, _PROBE_FIELD[probe_type]: probe_body}
        body = in_pod_template(
            workload_kind, json.dumps({"containers": [container_body]}, separators=(",", ":"))
        )
        return f"kubectl patch {workload_kind} {name}{ns_flag(ns)} -p '{body}'"

    def _startup_patch(
        self,
        prefix: tuple[str, str, str | None],
        container: str,
        probe: K8sObject,
        kind: str,
        spec: K8sObject,
    ) -> str:
        """Give a slow starter time: a startupProbe like the failing probe, or a longer existing one."""
        workload_kind, name, ns = prefix
        existing = spec.get("startupProbe")
        if existing:
            threshold = max(30, int(existing.get("failureThreshold", 3)) * 3)
            startup: dict[str, object] = {"failureThreshold": threshold, "periodSeconds": 10}
        else:
            handler = probe.get(kind) if kind in ("httpGet", "tcpSocket", "grpc") else None
            startup = {"periodSeconds": 10, "failureThreshold": 30}
            if handler:
                startup = {kind: handler, **startup}
        body = in_pod_template(
            workload_kind,
            f'{{"containers":[{{"name":"{container}","startupProbe":{json.dumps(startup, separators=(",", ":"))}}}]}}',
        )
        return f"kubectl patch {workload_kind} {name}{ns_flag(ns)} -p '{body}'"

    def _from_text(self, view: EvidenceView) -> Finding | None:
        found = pasted_line(view, re.compile(r"(Liveness|Readiness|Startup) probe (?:failed|errored)", re.I))
        if found is None:
            return None
        line, match = found
        probe_type = match.group(1).lower()
        return text_only_finding(
            view,
            self.category,
            f"probe.{probe_type}-failing",
            f"The {probe_type} probe of the container fails",
            line,
            [],
            [
                "Reference probe ports by the containerPort name so a port change cannot leave the probe behind."
            ],
        )
