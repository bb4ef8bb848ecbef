"""InitContainerFailure: an init container fails or loops, so the app containers never start.

Shows as Init:Error or Init:CrashLoopBackOff (or Init:StartError). Whatever the reason the init
container fails — a host that does not resolve, a dependency that refuses connections, a failed
database migration, a permission error — the label is this one; the log of the crashed instance
says why, and the finding quotes it. When the log names a host that is not a Service of the
namespace, the Service it most likely meant (same port, similar name) is proposed.
"""

from __future__ import annotations

import json
import re

from graph.analyzers.base import Analyzer, Fact, Finding, ns_flag, ref, src_log, src_obj
from graph.analyzers.common import (
    container_json_path,
    error_lines,
    failing_containers,
    latest_log,
    similar_names,
    workload_ref,
)
from graph.analyzers.credentials import credential_fixes, credential_sources, rejected_credentials
from graph.analyzers.oomkilled import memory_remedy
from graph.evidence import EvidenceView, K8sObject, name_of, namespace_of
from graph.k8s import ContainerState, container_spec, pod_spec
from graph.schemas import ReadSpec

_HOST_ERRORS = (
    re.compile(r"UnknownHostException:? ([\w.-]+)"),
    re.compile(r"lookup ([\w.-]+)(?: on [\d.:\[\]a-f]+)?: no such host"),
    re.compile(r"could not translate host name \"([\w.-]+)\""),
    re.compile(r"getaddrinfo (?:ENOTFOUND|EAI_AGAIN) ([\w.-]+)"),
    re.compile(r"Unknown (?:MySQL )?server host '([\w.-]+)'"),
    re.compile(r"bad address '([\w.-]+)'"),
    re.compile(r"can't resolve '?([\w.-]+)'?"),
    re.compile(r"server can't find ([\w.-]+?)\.?: NXDOMAIN"),
    re.compile(r"unknown host:? '?([\w.-]+)'?", re.I),
    re.compile(r"([\w.-]+): (?:Name or service not known|Temporary failure in name resolution)"),
)
_CONNECT = re.compile(
    r"server at \"([\w.-]+)\" \([^)]*\), port (\d+) failed: (Connection refused|[^\n]*timed out)|"
    r"([A-Za-z0-9][\w.-]*):(\d{2,5})\b[^\n]{0,60}?(connection refused|timed out|i/o timeout|no route to host)|"
    r"(connection refused|Connection timed out|ECONNREFUSED|could not connect to server)",
    re.I,
)
# Most specific first: the failing migration's name beats a generic "migration failed" line.
# Flyway "Migration checksum mismatch for migration version 27", Liquibase "Validation Failed: 1 change sets check sum".
_CHECKSUM = re.compile(
    r"[^\n]*\b(?:checksum mismatch|check ?sums? (?:changed|validation|was)|change sets check sum)[^\n]*",
    re.IGNORECASE,
)
_MIGRATION = (
    re.compile(r"Migration \"?([\w.-]*V[\w.]+__[\w.-]+|[\w.-]+\.sql)\"? failed"),
    re.compile(r"Validate failed[^\n]*|checksum mismatch[^\n]*|Dirty database version \d+[^\n]*", re.I),
    re.compile(r"alembic[^\n]*(?:Error|error)[^\n]*|migration[^\n]*(?:failed|error)[^\n]*", re.I),
)
_SQL_ERROR = re.compile(r"^(?:Message\s*:\s*)?((?:ERROR|FATAL):\s+(?!Migration)[^\n]+)$", re.M)
_PERMISSION = re.compile(r"(?:permission denied|Operation not permitted|read-only file system)[^\n]*", re.I)
_PORT_AFTER_HOST = r"{host}:(\d{{2,5}})"


def _failing_init(c: ContainerState) -> bool:
    if not c.init:
        return False
    if c.waiting_reason in ("CrashLoopBackOff", "CreateContainerError", "RunContainerError"):
        return True
    if c.terminated_reason is not None and (c.terminated_exit_code or 0) != 0:
        return True
    return (
        c.restarts > 0
        and c.last_reason not in (None, "Completed")
        and not c.ready
        and c.terminated_reason is None
    )


def _host_in(text: str) -> str | None:
    for pattern in _HOST_ERRORS:
        found = pattern.search(text)
        if found:
            return found.group(1).rstrip(".")
    return None


class InitContainerFailureAnalyzer(Analyzer):
    category = "InitContainerFailure"

    def plan(self, view: EvidenceView) -> list[ReadSpec]:
        specs: list[ReadSpec] = []
        for pod, state in (failing_init_containers(view) or stuck_init_containers(view))[:1]:
            ns, name = namespace_of(pod), name_of(pod)
            restarted = (state.restarts > 0 or state.last_reason is not None) and not state.running
            specs.append(
                ReadSpec(
                    verb="logs",
                    kind="Pod",
                    namespace=ns,
                    name=name,
                    container=state.name,
                    previous=restarted,
                    why="log of the failing init container",
                )
            )
            logged = latest_log(view, pod, state.name)
            connect = _CONNECT.search(logged[0]) if logged else None
            dep_host = (connect.group(1) or connect.group(4)) if connect else None
            if dep_host and not dep_host.replace(".", "").isdigit():
                labels = dep_host.split(".")
                svc_ns = labels[1] if len(labels) > 1 and labels[1] not in ("svc", "cluster") else ns
                specs.append(
                    ReadSpec(
                        verb="get",
                        kind="Endpoints",
                        namespace=svc_ns,
                        name=labels[0],
                        why="whether the dependency's Service has ready endpoints",
                    )
                )
            if logged and (_host_in(logged[0]) or connect):
                specs.append(
                    ReadSpec(
                        verb="list",
                        kind="Service",
                        namespace=ns,
                        why="which Services the init container could mean",
                    )
                )
                spec = container_spec(pod, state.name) or {}
                for cm in _configmaps_of(spec):
                    specs.append(
                        ReadSpec(
                            verb="get",
                            kind="ConfigMap",
                            namespace=ns,
                            name=cm,
                            why="where the host name is configured",
                        )
                    )
        return [s for s in specs if not view.was_read(s.key())]

    def analyze(self, view: EvidenceView) -> Finding | None:
        hits = failing_init_containers(view)
        stuck = not hits
        if stuck:
            hits = stuck_init_containers(view)
        if not hits:
            return None
        pod, state = hits[0]
        ns, pod_name = namespace_of(pod), name_of(pod)
        target = workload_ref(view, pod)
        spec = container_spec(pod, state.name) or {}
        inits = [str(c.get("name")) for c in pod_spec(pod).get("initContainers") or []]
        index = inits.index(state.name) if state.name in inits else 0
        position = f" (init container {index + 1} of {len(inits)})" if state.name in inits else ""
        exit_code = state.terminated_exit_code if state.terminated_reason else state.last_exit_code
        reason = state.terminated_reason or state.last_reason or state.waiting_reason
        status_src = src_obj(pod, f"status.initContainerStatuses[{state.name}]")
        if stuck:
            facts = [
                Fact(
                    f"init container {state.name}{position} is still running and has not completed; the pod shows "
                    f"Init:{index}/{len(inits)}",
                    status_src,
                )
            ]
        else:
            status_word = (
                "Init:CrashLoopBackOff" if state.waiting_reason == "CrashLoopBackOff" else f"Init:{reason}"
            )
            facts = [
                Fact(
                    f"init container {state.name}{position} is {state.waiting_reason or 'terminated'} after "
                    f"{state.restarts} restart(s); last exit code {exit_code} ({reason}); the pod shows {status_word}",
                    status_src,
                )
            ]
        blocked = [c.get("name") for c in pod_spec(pod).get("containers") or []]
        if blocked:
            facts.append(
                Fact(
                    f"app container(s) {', '.join(map(str, blocked))} wait in PodInitializing",
                    src_obj(pod, "status"),
                )
            )
        message = (
            state.waiting_message
            if state.waiting_reason in ("CreateContainerError", "RunContainerError")
            else None
        )
        message = message or state.terminated_message or state.last_message
        if message:
            facts.append(Fact(f"termination message: {message.strip()[:300]}", status_src))
        logged = latest_log(view, pod, state.name)
        where = f"Init container {state.name} of pod {pod_name} ({target})"
        fixes: list[str] = []
        missing: list[str] = []
        cause_id, detail = "init.failed", ""
        score = 0.95
        if reason == "OOMKilled":
            # Killed by the kernel at its memory limit: the log only shows what it was doing then.
            limit = ((spec.get("resources") or {}).get("limits") or {}).get("memory")
            clause, new_limit, heap_flag, heap_source = memory_remedy(spec, limit)
            cause_id = "init.oomkilled"
            detail = (
                f"it is OOMKilled, killed for exceeding its memory limit of {limit}: {clause}"
                if limit
                else "it is OOMKilled (no memory limit is set: the node ran out of memory)"
            )
            if limit:
                facts.append(
                    Fact(
                        f"memory limit of init container {state.name} is {limit}",
                        src_obj(pod, f"spec.initContainers[{state.name}].resources.limits.memory"),
                    )
                )
            if heap_flag:
                facts.append(
                    Fact(f"the process is configured with {heap_flag}", f"{heap_source} of {state.name}")
                )
            if logged:
                text, previous = logged
                lines = [line for line in text.splitlines() if line.strip()]
                if lines:
                    detail += f"; it was killed while: {lines[-1].strip()[:200]}"
                    facts.append(
                        Fact(
                            f"log: {lines[-1].strip()[:300]}",
                            src_log(ns or "", pod_name, state.name, previous),
                        )
                    )
            fixes.append(
                f"kubectl set resources {target}{ns_flag(ns)} -c {state.name} --limits=memory={new_limit} "
                f"--requests=memory={new_limit}"
            )
        elif logged:
            text, previous = logged
            source = src_log(ns or "", pod_name, state.name, previous)
            for line in error_lines(text, limit=4):
                facts.append(Fact(f"log: {line}", source))
            cause_id, detail, more_facts, fixes = self._explain(view, pod, state, spec, text)
            facts += more_facts
            if stuck:
                repeated = _repeated_line(text)
                if cause_id == "init.failed" and repeated:
                    cause_id, detail = "init.waiting-forever", f"it loops on: {repeated}"
                elif cause_id == "init.failed":
                    # A running init container whose log shows no loop or error may simply be slow.
                    score = 0.5
                else:
                    score = 0.85
        elif message:
            detail = f"the runtime reports: {message.strip()[:200]}"
        else:
            missing.append(
                f"log of init container {state.name} (kubectl logs {pod_name} -c {state.name}"
                f"{'' if stuck else ' --previous'})"
            )
            detail = (
                "its log could not be read"
                if stuck
                else f"it exits with code {exit_code} ({reason}); its log could not be read"
            )
            if stuck:
                score = 0.55 if view.suspects(self.category) else 0.35
        if stuck:
            cause = f"{where} never completes, so the app never starts: {detail}."
        else:
            code = f" with exit code {exit_code}" if exit_code is not None else ""
            cause = f"{where} fails{code}, so the app never starts: {detail}."
        fixes.append(f"kubectl logs {pod_name}{ns_flag(ns)} -c {state.name}{'' if stuck else ' --previous'}")
        return Finding(
            category=self.category,
            score=score,
            root_cause_id=cause_id,
            root_cause=cause,
            summary=f"{target}: init container {state.name} fails ({cause_id.split('.', 1)[1]})",
            facts=facts,
            fix_commands=fixes,
            prevention=[
                "Make init containers wait for dependencies with a bounded retry and a clear log line, and test them in "
                "the same pipeline as the app.",
                "Reference Services by a name managed in the same release (Helm value or ConfigMap), and rename them "
                "only together with their clients.",
                "Run schema migrations as a Job gated before the rollout, so a failed migration never blocks serving pods.",
            ],
            affected=[ref(pod)],
            missing=missing,
        )

    def _explain(
        self, view: EvidenceView, pod: K8sObject, state: ContainerState, spec: K8sObject, text: str
    ) -> tuple[str, str, list[Fact], list[str]]:
        ns = namespace_of(pod)
        target = workload_ref(view, pod)
        rejected = rejected_credentials(text)
        if rejected is not None:
            return self._credentials_rejected(pod, state, target, rejected.quote, rejected.user)
        host = _host_in(text)
        if host:
            return self._unknown_host(view, pod, state, spec, text, host)
        connect = _CONNECT.search(text)
        if connect:
            return self._unreachable(view, pod, connect)
        migration = next((m for pattern in _MIGRATION if (m := pattern.search(text))), None)
        if migration:
            detail = f"the database migration fails ({migration.group(0).strip().rstrip('.!')[:200]})"
            sql_error = _SQL_ERROR.search(text)
            if sql_error:
                detail += f": {sql_error.group(1).strip().rstrip('.')[:200]}"
            serving = [
                rs
                for rs in view.objs("ReplicaSet", ns)
                if (rs.get("status") or {}).get("readyReplicas")
                and view.workload_of(rs) == view.workload_of(pod)
            ]
            fixes = [f"kubectl rollout undo {target}{ns_flag(ns)}"] if serving else []
            drift = _CHECKSUM.search(text)
            if drift:
                # An applied migration was edited afterwards: either restore the file or record the
                # new checksum with the tool's repair command, run once from the same image.
                detail += f"; {drift.group(0).strip()[:160]}"
                image = str(spec.get("image") or "<migration image>")
                fixes.insert(
                    0,
                    f"kubectl run {target.split('/', 1)[1]}-migrate-repair{ns_flag(ns)} --rm -i --restart=Never "
                    f"--image={image} -- repair  # ⚠ only after confirming the applied migration's content is "
                    "the intended one (otherwise revert the edited migration file)",
                )
            return "init.migration-failed", detail, [], fixes
        permission = _PERMISSION.search(text)
        if permission:
            kind, _, name = target.partition("/")
            return (
                "init.permission-denied",
                f"it is denied access to the filesystem ({permission.group(0).strip()[:200]})",
                [],
                [
                    f"kubectl patch {kind} {name}{ns_flag(ns)} -p "
                    '\'{"spec":{"template":{"spec":{"securityContext":{"fsGroup":1000}}}}}\''
                ],
            )
        lines = error_lines(text, limit=1)
        return "init.failed", f"its log ends with: {lines[-1] if lines else '(empty)'}", [], []

    @staticmethod
    def _credentials_rejected(
        pod: K8sObject, state: ContainerState, target: str, quote: str, user: str | None
    ) -> tuple[str, str, list[Fact], list[str]]:
        """The dependency was reached and refused the credentials: point at the Secret they come from."""
        sources = credential_sources(pod, state.name)
        detail = f"the server rejects its credentials ({quote})"
        facts = []
        if sources:
            names = "; ".join(f"Secret {s.secret} via {s.how}" for s in sources[:2])
            detail += f"; it takes them from {names}, which no longer matches what the server expects"
            facts.append(
                Fact(
                    f"init container {state.name} reads credentials from {names}",
                    src_obj(pod, f"spec.initContainers[{state.name}]"),
                )
            )
        return (
            "init.credentials-rejected",
            detail,
            facts,
            credential_fixes(sources, namespace_of(pod), target, user),
        )

    def _unreachable(
        self, view: EvidenceView, pod: K8sObject, connect: re.Match[str]
    ) -> tuple[str, str, list[Fact], list[str]]:
        ns = namespace_of(pod)
        dep_host = connect.group(1) or connect.group(4)
        port = connect.group(2) or connect.group(5)
        what = connect.group(3) or connect.group(6) or connect.group(7)
        if not dep_host:
            return (
                "init.dependency-unreachable",
                f"it cannot connect to its dependency ({what})",
                [],
                [f"kubectl get svc,endpoints{ns_flag(ns)}"],
            )
        detail = f"it cannot connect to {dep_host}:{port} ({what}); the dependency is not up or not reachable"
        if dep_host.replace(".", "").isdigit():
            return "init.dependency-unreachable", detail, [], []
        labels = dep_host.split(".")
        svc_name = labels[0]
        svc_ns = labels[1] if len(labels) > 1 and labels[1] not in ("svc", "cluster") else ns
        facts: list[Fact] = []
        fixes = [f"kubectl get endpoints {svc_name} -n {svc_ns}"]
        service = view.obj("Service", svc_name, svc_ns)
        endpoints = view.obj("Endpoints", svc_name, svc_ns)
        if service is not None:
            selector = (service.get("spec") or {}).get("selector") or {}
            label_query = ",".join(f"{k}={v}" for k, v in selector.items())
            ready = sum(len(sub.get("addresses") or []) for sub in (endpoints or {}).get("subsets") or [])
            if endpoints is not None and ready == 0:
                not_ready = sum(
                    len(sub.get("notReadyAddresses") or []) for sub in endpoints.get("subsets") or []
                )
                facts.append(
                    Fact(
                        f"Service {svc_name} has no ready endpoints ({not_ready} not ready); selector {label_query}",
                        src_obj(endpoints, "subsets"),
                    )
                )
                detail = (
                    f"it cannot connect to {dep_host}:{port} ({what}): Service {svc_name} has no ready endpoints — "
                    f"no pod matching {label_query} is running and ready"
                )
            if label_query:
                fixes.append(f"kubectl get pods -n {svc_ns} -l {label_query} -o wide")
        return "init.dependency-unreachable", detail, facts, fixes

    def _unknown_host(
        self, view: EvidenceView, pod: K8sObject, state: ContainerState, spec: K8sObject, text: str, host: str
    ) -> tuple[str, str, list[Fact], list[str]]:
        ns = namespace_of(pod)
        labels = host.split(".")
        svc_name = labels[0]
        svc_ns = labels[1] if len(labels) > 1 and labels[1] not in ("svc", "cluster") else ns
        in_cluster = len(labels) == 1 or ".svc" in host or len(labels) == 2
        facts: list[Fact] = []
        fixes: list[str] = []
        services = view.objs("Service", svc_ns)
        listed = view.was_read(ReadSpec(verb="list", kind="Service", namespace=svc_ns).key())
        if not in_cluster:
            return (
                "init.host-unresolvable",
                f"the host {host} does not resolve (the name is not a Service of the cluster; check the external DNS record)",
                facts,
                [
                    f"kubectl run -it --rm dns-check{ns_flag(ns)} --image=busybox:1.36 --restart=Never -- nslookup {host}"
                ],
            )
        existing = [s for s in services if name_of(s) == svc_name]
        if existing:
            facts.append(Fact(f"Service {svc_name} exists in namespace {svc_ns}", src_obj(existing[0])))
            return (
                "init.dns-failure",
                f"the host {host} does not resolve although Service {svc_name} exists in namespace {svc_ns}: cluster DNS "
                "is failing for this pod",
                facts,
                ["kubectl get pods -n kube-system -l k8s-app=kube-dns -o wide"],
            )
        port_match = re.search(_PORT_AFTER_HOST.format(host=re.escape(host)), text)
        port = int(port_match.group(1)) if port_match else None
        candidate = self._likely_service(view, pod, services, svc_name, port)
        if listed:
            facts.append(
                Fact(
                    f"no Service named {svc_name} in namespace {svc_ns}; Services: "
                    + ", ".join(sorted(name_of(s) for s in services))[:300],
                    f"list Service -n {svc_ns}",
                )
            )
        detail = f"the host {host} does not resolve — there is no Service {svc_name} in namespace {svc_ns}"
        if candidate is not None:
            new_host = ".".join([name_of(candidate), *labels[1:]])
            ports = ", ".join(str(p.get("port")) for p in (candidate.get("spec") or {}).get("ports") or [])
            facts.append(
                Fact(
                    f"Service {name_of(candidate)} exposes port(s) {ports}", src_obj(candidate, "spec.ports")
                )
            )
            detail += f"; the intended Service is most likely {name_of(candidate)} ({new_host})"
            fixes += self._host_fixes(view, pod, state, spec, host, new_host)
        else:
            fixes.append(f"kubectl get svc -n {svc_ns}")
        return "init.unknown-host", detail, facts, fixes

    @staticmethod
    def _likely_service(
        view: EvidenceView, pod: K8sObject, services: list[K8sObject], wanted: str, port: int | None
    ) -> K8sObject | None:
        labels = (pod.get("metadata") or {}).get("labels") or {}
        # A Service selecting the failing pod itself is not the dependency it waits for.
        others = [
            s
            for s in services
            if not (
                (sel := (s.get("spec") or {}).get("selector"))
                and all(labels.get(k) == v for k, v in sel.items())
            )
        ]
        if port is not None:
            same_port = [
                s
                for s in others
                if any(p.get("port") == port for p in (s.get("spec") or {}).get("ports") or [])
            ]
            if len(same_port) == 1:
                return same_port[0]
            if same_port:
                others = same_port
        close = similar_names(wanted, [name_of(s) for s in others], limit=1)
        if close:
            return next(s for s in others if name_of(s) == close[0])
        prefix = wanted.split("-")[0]
        shared = [s for s in others if name_of(s).split("-")[0] == prefix]
        return shared[0] if len(shared) == 1 else None

    @staticmethod
    def _host_fixes(
        view: EvidenceView, pod: K8sObject, state: ContainerState, spec: K8sObject, host: str, new_host: str
    ) -> list[str]:
        ns = namespace_of(pod)
        target = workload_ref(view, pod)
        for env in spec.get("env") or []:
            value = str(env.get("value") or "")
            if host in value or (value and value == host.split(".")[0]):
                new_value = value.replace(host, new_host) if host in value else new_host.split(".")[0]
                return [
                    f"kubectl set env {target}{ns_flag(ns)} -c {state.name} {env.get('name')}={new_value}"
                ]
        for cm_name in _configmaps_of(spec):
            cm = view.obj("ConfigMap", cm_name, ns)
            for key, value in ((cm or {}).get("data") or {}).items():
                if host in str(value):
                    new_value = str(value).replace(host, new_host)
                    return [
                        f"kubectl patch configmap {cm_name}{ns_flag(ns)} --type=merge -p "
                        f'\'{{"data":{{"{key}":"{new_value}"}}}}\'',
                        f"kubectl rollout restart {target}{ns_flag(ns)}",
                    ]
        kind_word, _, workload = target.partition("/")
        for field in ("command", "args"):
            values = [str(v) for v in spec.get(field) or []]
            if any(host in v or host.split(".")[0] in v.split() for v in values):
                # Point the script at the intended Service: its full name, and its short name where used alone.
                short_old, short_new = host.split(".")[0], new_host.split(".")[0]
                new_values = [
                    re.sub(
                        rf"(?<![\w.-]){re.escape(short_old)}(?![\w-])", short_new, v.replace(host, new_host)
                    )
                    for v in values
                ]
                path = f"{container_json_path(view, pod, state.name)}/{field}"
                patch = json.dumps(
                    [{"op": "replace", "path": path, "value": new_values}], separators=(",", ":")
                )
                return [f"kubectl patch {kind_word} {workload}{ns_flag(ns)} --type=json -p '{patch}'"]
        return [f"kubectl set env {target}{ns_flag(ns)} -c {state.name} <HOST_VARIABLE>={new_host}"]


def stuck_init_containers(view: EvidenceView) -> list[tuple[K8sObject, ContainerState]]:
    """Init containers still running in pods that are Pending: the pod shows Init:N/M."""
    found: list[tuple[K8sObject, ContainerState]] = []
    seen: set[int] = set()
    for pod, state in failing_containers(view, lambda c: c.running and not c.ready, init=True):
        if id(pod) not in seen and (pod.get("status") or {}).get("phase") == "Pending":
            seen.add(id(pod))
            found.append((pod, state))
    return found


def _repeated_line(log: str, times: int = 3) -> str | None:
    """A line the log repeats (digits aside) at least ``times`` times: a wait loop."""
    counts: dict[str, int] = {}
    last: dict[str, str] = {}
    for line in log.splitlines():
        line = line.strip()
        if not line:
            continue
        shape = re.sub(r"\d+", "#", line)
        counts[shape] = counts.get(shape, 0) + 1
        last[shape] = line
    looping = [shape for shape, n in counts.items() if n >= times]
    return last[looping[-1]][:200] if looping else None


def failing_init_containers(view: EvidenceView) -> list[tuple[K8sObject, ContainerState]]:
    """Failing init containers of the candidate pods (the first failing one of each pod)."""
    found: list[tuple[K8sObject, ContainerState]] = []
    seen: set[int] = set()
    for pod, state in failing_containers(view, _failing_init, init=True):
        if id(pod) not in seen:
            seen.add(id(pod))
            found.append((pod, state))
    return found


def _configmaps_of(spec: K8sObject) -> list[str]:
    names = [
        str(item["configMapRef"].get("name"))
        for item in spec.get("envFrom") or []
        if item.get("configMapRef")
    ]
    names += [
        str(((env.get("valueFrom") or {}).get("configMapKeyRef") or {}).get("name"))
        for env in spec.get("env") or []
        if (env.get("valueFrom") or {}).get("configMapKeyRef")
    ]
    return list(dict.fromkeys(names))[:2]
