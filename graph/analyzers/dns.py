"""DNSFailure: name resolution fails inside pods.

Resolvers say which way it fails: a timeout to the cluster DNS address (``read udp
...->10.96.0.10:53: i/o timeout``) means nobody answers (CoreDNS down or crash-looping, or a
NetworkPolicy dropping egress to port 53); ``no such host``/NXDOMAIN means CoreDNS answered
that the name does not exist (a wrong Service name or namespace, or a pod whose dnsPolicy
does not use the cluster DNS); ``server misbehaving``/SERVFAIL means CoreDNS could not get an
answer upstream. CoreDNS's own log names its failure (``[FATAL] plugin/loop: Loop ...
detected`` when ``forward . /etc/resolv.conf`` points back at a local stub resolver such as
systemd-resolved's 127.0.0.53). An init container failing on DNS is an InitContainerFailure,
so pods whose init container fails are left to that analyzer.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from typing import Any

from graph.analyzers.base import Analyzer, Fact, Finding, ref, src_log, src_obj
from graph.analyzers.common import candidate_pods, in_pod_template, workload_ref
from graph.evidence import EvidenceView, K8sObject, name_of, namespace_of
from graph.k8s import container_states, label_selector_matches
from graph.schemas import ReadSpec

DNS_NAMESPACE = "kube-system"
DNS_LABEL = "k8s-app=kube-dns"
DEFAULT_CLUSTER_DOMAIN = "cluster.local"
_KUBERNETES_ZONE = re.compile(r"^\s*kubernetes\s+([\w.-]+)", re.M)
_SVC_DOMAIN = re.compile(r"\b[a-z0-9-]+\.[a-z0-9-]+\.svc\.([a-z0-9-]+(?:\.[a-z0-9-]+)*)")

_LOOKUP = re.compile(
    r"lookup (?P<name>[\w.-]+)(?: on (?P<server>[\d.:\[\]a-f]+))?: (?P<error>no such host|server misbehaving|"
    r"i/o timeout|read udp [^\s]+: i/o timeout|dial udp [^\s]+: [^\n\"]+|[^\n\"]*timeout[^\n\"]*)"
)
_OTHER = re.compile(
    r"getaddrinfo (?P<code>ENOTFOUND|EAI_AGAIN) (?P<name>[\w.-]+)"
    r"|could not translate host name \\?\"(?P<pg>[\w.-]+)\\?\" to address: (?P<pgerr>[^\n\"]+)"
    r"|UnknownHostException: (?P<java>[\w.-]+)"
    r"|Could not resolve host: (?P<curl>[\w.-]+)"
    r"|Name or service not known.*?(?P<py>[\w-]+(?:\.[\w-]+)+)?"
    r"|Temporary failure in name resolution"
    r"|nodename nor servname provided"
)
_FATAL = re.compile(r"^.*(?:\[(?:FATAL|ERROR)\]|Error during parsing|^panic:).*$", re.M)
# CoreDNS plugin setup errors are printed bare, without a level tag ("plugin/forward: not an IP address or file: ...").
_SETUP_ERROR = re.compile(r"^\s*plugin/[\w-]+: .+$", re.M)
_LEVEL_TAG = re.compile(r"^\s*\[(?:INFO|WARNING|DEBUG)\]")
_FORWARD_ANY = re.compile(r"^\s*forward\s+(?P<zone>\S+)\s+(?P<targets>[^{\n#]+?)\s*(?:\{|#|$)", re.M)
_IP_TARGET = re.compile(
    r"^(?:(?:dns|tls)://)?(?:\d{1,3}(?:\.\d{1,3}){3}|\[?[0-9a-fA-F:]*:[0-9a-fA-F:.]*\]?)(?::\d+)?$"
)
# CoreDNS's errors plugin: "[ERROR] plugin/errors: 2 api.example.com. A: read udp 10.244.0.5:41234->10.0.0.2:53: i/o timeout"
_UPSTREAM_ERROR = re.compile(
    r"\[ERROR\] plugin/errors: \d+ (?P<name>\S+) \w+: (?:read|dial) (?:udp|tcp) [^\s]+->(?P<upstream>[\d.:\[\]a-f]+): "
    r"(?P<error>[^\n]+)"
)
_LOOP = re.compile(r"plugin/loop: Loop \((?P<pair>[^)]+)\) detected")
_FORWARD = re.compile(r"^\s*forward\s+\.\s+(?P<target>[^{\n]+?)\s*(?:\{|$)", re.M)
# Egress to the cluster DNS pods on UDP and TCP 53.
_DNS_EGRESS_RULE: dict[str, Any] = {
    "to": [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": DNS_NAMESPACE}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
        }
    ],
    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
}


def _dns_egress_patch(policy: K8sObject) -> str:
    """A JSON patch adding the DNS rule (creating the egress list when the policy has none)."""
    op: dict[str, Any]
    if (policy.get("spec") or {}).get("egress"):
        op = {"op": "add", "path": "/spec/egress/-", "value": _DNS_EGRESS_RULE}
    else:
        op = {"op": "add", "path": "/spec/egress", "value": [_DNS_EGRESS_RULE]}
    return json.dumps([op], separators=(",", ":"))


@dataclass(frozen=True)
class Lookup:
    name: str
    kind: str
    """timeout | nxdomain | servfail | unknown"""
    line: str
    source: str
    server: str = ""

    @property
    def cluster_parts(self) -> tuple[str, str | None] | None:
        """(service, namespace) when the name is a cluster Service name; namespace None for a short name."""
        parts = self.name.rstrip(".").split(".")
        if not parts[0]:
            return None
        if len(parts) >= 3 and parts[2] == "svc":
            return parts[0], parts[1]
        if len(parts) == 2 and parts[1] not in _TLDS:
            return parts[0], parts[1]
        if len(parts) == 1:
            return parts[0], None
        return None

    @property
    def cluster_domain(self) -> str | None:
        """The domain after ``svc`` in a fully qualified Service name (``cluster.local``), if any."""
        parts = self.name.rstrip(".").split(".")
        if len(parts) >= 4 and parts[2] == "svc":
            return ".".join(parts[3:]).lower()
        return None


_TLDS = {"com", "net", "org", "io", "dev", "cloud", "internal", "local", "de", "uk", "eu", "co", "ai", "app"}


def _kind(error: str) -> str:
    low = error.lower()
    if "no such host" in low or "enotfound" in low or "unknownhost" in low or "not known" in low:
        return "nxdomain"
    if "misbehaving" in low or "servfail" in low:
        return "servfail"
    if "timeout" in low or "eai_again" in low or "temporary failure" in low or "connection refused" in low:
        return "timeout"
    return "unknown"


def parse_lookups(text: str, source: str) -> list[Lookup]:
    found = []
    for match in _LOOKUP.finditer(text):
        line = _line_of(text, match.start())
        found.append(
            Lookup(
                match.group("name"), _kind(match.group("error")), line, source, match.group("server") or ""
            )
        )
    for match in _OTHER.finditer(text):
        name = next(
            (
                g
                for g in (
                    match.group("name"),
                    match.group("pg"),
                    match.group("java"),
                    match.group("curl"),
                    match.group("py"),
                )
                if g
            ),
            "",
        )
        error = match.group("code") or match.group("pgerr") or match.group(0)
        kind = _kind(error) if "temporary failure" not in match.group(0).lower() else "timeout"
        if match.group("java") or match.group("curl"):
            kind = "nxdomain"
        found.append(Lookup(name, kind, _line_of(text, match.start()), source))
    return list(dict.fromkeys(found))


def _ndots(pod: K8sObject) -> int:
    """The pod's resolver ndots option (Kubernetes writes 5 into resolv.conf unless dnsConfig overrides it)."""
    for option in ((pod.get("spec") or {}).get("dnsConfig") or {}).get("options") or []:
        if option.get("name") == "ndots" and str(option.get("value", "")).isdigit():
            return int(option["value"])
    return 5


def _config_map_reads(pod: K8sObject) -> list[ReadSpec]:
    """The ConfigMaps the pod's env reads (configMapKeyRef, envFrom): a failing name may come from one."""
    names: list[str] = []
    for container in (pod.get("spec") or {}).get("containers") or []:
        for env in container.get("env") or []:
            ref = (env.get("valueFrom") or {}).get("configMapKeyRef") or {}
            if ref.get("name"):
                names.append(str(ref["name"]))
        names += [
            str(s["configMapRef"]["name"])
            for s in container.get("envFrom") or []
            if (s.get("configMapRef") or {}).get("name")
        ]
    return [
        ReadSpec(
            verb="get", kind="ConfigMap", namespace=namespace_of(pod), name=n, why="env values the pod reads"
        )
        for n in list(dict.fromkeys(names))[:2]
    ]


def _line_of(text: str, index: int) -> str:
    start = text.rfind("\n", 0, index) + 1
    end = text.find("\n", index)
    return text[start : end if end >= 0 else len(text)].strip()[:300]


def invalid_forward_targets(corefile: str) -> list[tuple[str, str]]:
    """(server block, target) of ``forward`` upstreams that are neither IP addresses nor files.

    The forward plugin accepts only IP[:port] (optionally dns:// or tls://) or a resolv.conf-style file;
    a hostname stops CoreDNS at startup, so every replica crash-loops on the same Corefile.
    """
    found: list[tuple[str, str]] = []
    block, depth = "", 0
    for line in corefile.splitlines():
        stripped = line.split("#", 1)[0].strip()
        if depth == 0 and stripped.endswith("{"):
            block = stripped[:-1].strip()
        match = _FORWARD_ANY.match(line)
        if match and depth >= 1:
            for target in match.group("targets").split():
                if not target.startswith("/") and not _IP_TARGET.match(target):
                    found.append((block, target))
        depth += stripped.count("{") - stripped.count("}")
    return found


def _fatal_lines(text: str, crashed: bool) -> list[str]:
    """The lines that say why a CoreDNS process stopped: tagged errors and bare plugin setup errors;
    for a crashed container with neither, its last line (what the process printed before exiting)."""
    lines = [
        m.group(0).strip()
        for m in sorted([*_FATAL.finditer(text), *_SETUP_ERROR.finditer(text)], key=lambda m: m.start())
    ]
    if not lines and crashed:
        tail = [ln.strip() for ln in text.splitlines() if ln.strip() and not _LEVEL_TAG.match(ln)]
        lines = tail[-1:]
    return list(dict.fromkeys(lines))


def _init_failing(pod: K8sObject) -> bool:
    return any(
        c.init
        and not c.ready
        and (c.restarts > 0 or c.waiting_reason or c.terminated_reason not in (None, "Completed"))
        for c in container_states(pod)
    )


class DNSFailureAnalyzer(Analyzer):
    category = "DNSFailure"

    def _lookups(self, view: EvidenceView) -> list[tuple[Lookup, K8sObject | None]]:
        found: list[tuple[Lookup, K8sObject | None]] = [
            (lk, None) for lk in parse_lookups(view.error_message, "pasted error")
        ]
        for pod in candidate_pods(view)[:6]:
            if _init_failing(pod):
                continue
            init_names = {c.name for c in container_states(pod) if c.init}
            for key, text in view.pod_logs(pod).items():
                container, _, previous = key.partition("#")
                if container in init_names:
                    continue
                source = src_log(namespace_of(pod) or "", name_of(pod), container, bool(previous))
                found += [(lk, pod) for lk in parse_lookups(text, source)[-2:]]
        return found

    @staticmethod
    def _dns_pods(view: EvidenceView) -> list[K8sObject]:
        return [
            p
            for p in view.objs("Pod", DNS_NAMESPACE)
            if ((p.get("metadata") or {}).get("labels") or {}).get("k8s-app") == "kube-dns"
        ]

    def _coredns_down(self, view: EvidenceView) -> bool:
        """CoreDNS pods were read (another analyzer asked) and some are not serving: a cluster-wide cause."""
        return any(not self._pod_ok(p) for p in self._dns_pods(view))

    def _claimed_by_init(self, view: EvidenceView) -> bool:
        """The pods in focus fail in an init container: InitContainerFailure's case."""
        return any(_init_failing(p) for p in view.focus_pods()[:3])

    def plan(self, view: EvidenceView) -> list[ReadSpec]:
        lookups = self._lookups(view)
        if not lookups and not view.suspects(self.category) and not self._coredns_down(view):
            return []
        specs: list[ReadSpec] = []
        names = [(lk, lk.cluster_parts) for lk, _ in lookups[:2]]
        # NXDOMAIN for a cluster name means CoreDNS answered: the name is the question, not CoreDNS.
        if not names or any(lk.kind != "nxdomain" or parts is None for lk, parts in names):
            upstream = any(
                lk.kind == "servfail" or (lk.kind == "timeout" and parts is None) for lk, parts in names
            )
            specs += self._coredns_reads(view, upstream)
        ns = view.namespace
        for lookup, parts in names:
            pod = next((p for lk, p in lookups if lk is lookup), None) or next(iter(view.focus_pods()), None)
            if (
                lookup.kind == "nxdomain"
                and pod is not None
                and not self._env_carrier(view, pod, lookup.name)
            ):
                specs += _config_map_reads(pod)
            if lookup.kind == "nxdomain" and parts and self._wrong_domain(view, lookup, pod) is None:
                specs += self._name_reads(view, parts[0], parts[1])
            elif (
                lookup.kind == "timeout"
                and ns
                and self._dns_pods(view)
                and all(self._pod_ok(p) for p in self._dns_pods(view))
                and not self._upstream_explains(view, parts)
            ):
                specs.append(
                    ReadSpec(
                        verb="list", kind="NetworkPolicy", namespace=ns, why="egress policies dropping DNS"
                    )
                )
        return [s for s in {s.key(): s for s in specs}.values() if not view.was_read(s.key())]

    def _upstream_explains(self, view: EvidenceView, parts: tuple[str, str | None] | None) -> bool:
        """For a name outside the cluster, CoreDNS's log comes first: its upstream errors (or a log not read
        yet) make an egress NetworkPolicy of the client the less likely cause, and not worth a read now."""
        if parts is not None:
            return False
        dns_pods = {name_of(p) for p in self._dns_pods(view)}
        tried = any(
            key.startswith("logs|Pod|" + DNS_NAMESPACE + "|") and key.split("|")[3] in dns_pods
            for key in view.evidence["reads"]
        )
        logs = [text for p in self._dns_pods(view) for text in view.pod_logs(p).values()]
        return not tried or any(_UPSTREAM_ERROR.search(text) for text in logs)

    def _coredns_reads(self, view: EvidenceView, upstream: bool = False) -> list[ReadSpec]:
        specs = [
            ReadSpec(
                verb="list", kind="Pod", namespace=DNS_NAMESPACE, label_selector=DNS_LABEL, why="CoreDNS pods"
            ),
            ReadSpec(
                verb="get", kind="ConfigMap", namespace=DNS_NAMESPACE, name="coredns", why="the Corefile"
            ),
        ]
        broken = sorted(
            (p for p in self._dns_pods(view) if not self._pod_ok(p)),
            key=lambda p: -sum(c.restarts for c in container_states(p)),
        )
        # A healthy CoreDNS that answers SERVFAIL (or times out on external names) logs why: read one log.
        healthy = [p for p in self._dns_pods(view) if self._pod_ok(p)] if upstream and not broken else []
        for pod in broken[:1] + healthy[:1]:
            for c in container_states(pod):
                if not c.init:
                    specs.append(
                        ReadSpec(
                            verb="logs",
                            kind="Pod",
                            namespace=DNS_NAMESPACE,
                            name=name_of(pod),
                            container=c.name,
                            previous=c.restarts > 0,
                            why="the CoreDNS log",
                        )
                    )
        node = (broken[0].get("spec") or {}).get("nodeName") if broken else None
        if node and self._loop_line(view):
            specs.append(
                ReadSpec(
                    verb="get",
                    kind="Node",
                    name=str(node),
                    why="the node OS whose resolv.conf CoreDNS forwards to",
                )
            )
        return specs

    def _name_reads(self, view: EvidenceView, svc: str, svc_ns: str | None) -> list[ReadSpec]:
        """Where a Service of that name lives (one narrow list by name), and what the target namespace holds."""
        ns = view.namespace
        by_name = ReadSpec(
            verb="list",
            kind="Service",
            field_selector=f"metadata.name={svc}",
            why="where a Service of that name lives",
        )
        specs = [by_name]
        if svc_ns and svc_ns != ns:
            specs.append(
                ReadSpec(
                    verb="get", kind="Namespace", name=svc_ns, why="whether the looked-up namespace exists"
                )
            )
        target_ns = svc_ns or ns
        if (
            view.was_read(by_name.key())
            and not [s for s in view.objs("Service") if name_of(s) == svc]
            and target_ns
        ):
            specs.append(
                ReadSpec(verb="list", kind="Service", namespace=target_ns, why="Services with a close name")
            )
        return specs

    @staticmethod
    def _services(view: EvidenceView, ns: str) -> list[K8sObject] | None:
        status = view.read_status(ReadSpec(verb="list", kind="Service", namespace=ns).key())
        return view.objs("Service", ns) if status in ("ok", "no_data") else None

    @staticmethod
    def _pod_ok(pod: K8sObject) -> bool:
        return all(c.ready for c in container_states(pod) if not c.init) and bool(container_states(pod))

    def _loop_line(self, view: EvidenceView) -> list[str]:
        lines = []
        for pod in self._dns_pods(view):
            for text in view.pod_logs(pod).values():
                lines += [m.group(0).strip() for m in _FATAL.finditer(text) if _LOOP.search(m.group(0))]
        return lines

    def analyze(self, view: EvidenceView) -> Finding | None:
        lookups = self._lookups(view)
        if not lookups and not view.suspects(self.category) and not self._coredns_down(view):
            return None
        if self._claimed_by_init(view):
            return None
        facts = [Fact(lk.line, lk.source) for lk, _ in lookups[:2]]
        if lookups and lookups[0][0].kind == "nxdomain":
            # NXDOMAIN is an answer: a resolver that is down times out instead. Look at the name first.
            named = self._name_problem(view, lookups[0][0], lookups[0][1], list(facts))
            if named is not None:
                return named
        coredns = self._coredns_problem(view, facts)
        if coredns is not None:
            return coredns
        if not lookups:
            return self._text_only(view, facts)
        lookup, pod = lookups[0]
        finding = None
        if lookup.kind == "nxdomain":
            finding = self._name_problem(view, lookup, pod, facts)
        elif lookup.kind == "timeout":
            finding = self._egress_problem(view, lookup, facts)
        return finding or self._text_only(view, facts, lookup)

    # --- CoreDNS itself ---

    def _coredns_problem(self, view: EvidenceView, facts: list[Fact]) -> Finding | None:
        pods = self._dns_pods(view)
        listed = view.read_status(
            ReadSpec(verb="list", kind="Pod", namespace=DNS_NAMESPACE, label_selector=DNS_LABEL).key()
        )
        corefile = str(
            ((view.obj("ConfigMap", "coredns", DNS_NAMESPACE) or {}).get("data") or {}).get("Corefile", "")
        )
        forward = _FORWARD.search(corefile)
        fixes = []
        if listed == "no_data":
            facts.append(
                Fact(
                    f"no pod labelled {DNS_LABEL} in {DNS_NAMESPACE}",
                    f"list Pod -n {DNS_NAMESPACE} -l {DNS_LABEL}",
                )
            )
            return self._finding(
                0.85,
                "dns.coredns-absent",
                f"No CoreDNS pod (label {DNS_LABEL}) runs in {DNS_NAMESPACE}, so every lookup against the cluster "
                "DNS Service times out.",
                facts,
                [
                    f"kubectl -n {DNS_NAMESPACE} get deployment coredns",
                    f"kubectl -n {DNS_NAMESPACE} scale deployment/coredns --replicas=2",
                ],
                [],
            )
        broken = [p for p in pods if not self._pod_ok(p)]
        if pods and not broken:
            return self._upstream_problem(view, pods, facts, forward.group("target") if forward else None)
        if not pods:
            return None
        states = []
        for pod in broken[:2]:
            worst = max(
                (c for c in container_states(pod) if not c.init), key=lambda c: c.restarts, default=None
            )
            if worst is not None:
                state = worst.waiting_reason or (
                    "Running, not ready" if worst.running else worst.terminated_reason or "not ready"
                )
                states.append(f"{name_of(pod)} {state} ({worst.restarts} restarts)")
                facts.append(
                    Fact(
                        f"CoreDNS container {worst.name} is {state}, ready=false, {worst.restarts} restart(s)"
                        + (
                            f", last exit code {worst.last_exit_code}"
                            if worst.last_exit_code is not None
                            else ""
                        ),
                        src_obj(pod, f"status.containerStatuses[{worst.name}]"),
                    )
                )
        log_lines: list[tuple[str, str]] = []
        for pod in broken:
            for key, text in view.pod_logs(pod).items():
                container, _, previous = key.partition("#")
                source = src_log(DNS_NAMESPACE, name_of(pod), container, bool(previous))
                log_lines += [(line[:300], source) for line in _fatal_lines(text, bool(previous))]
            if log_lines:
                break
        # What stopped the process outranks the per-query errors logged before it.
        log_lines = sorted(log_lines[-20:], key=lambda item: "[ERROR] plugin/errors" in item[0])
        for line, source in log_lines[:2]:
            facts.append(Fact(line, source))
        if forward:
            facts.append(
                Fact(
                    f"Corefile: forward . {forward.group('target')}",
                    src_obj(
                        view.obj("ConfigMap", "coredns", DNS_NAMESPACE)
                        or {"kind": "ConfigMap", "metadata": {"name": "coredns", "namespace": DNS_NAMESPACE}},
                        "data.Corefile",
                    ),
                )
            )
        who = ", ".join(states) or ", ".join(name_of(p) for p in broken)
        restart = f"kubectl -n {DNS_NAMESPACE} rollout restart deployment/coredns"
        loop = next((line for line, _ in log_lines if _LOOP.search(line)), None)
        affected = broken[:2]
        if loop:
            node_note = ""
            node_name = (broken[0].get("spec") or {}).get("nodeName")
            node = view.obj("Node", str(node_name)) if node_name else None
            if node is not None:
                os_image = ((node.get("status") or {}).get("nodeInfo") or {}).get("osImage")
                if os_image:
                    facts.append(
                        Fact(
                            f"node {name_of(node)} runs {os_image}", src_obj(node, "status.nodeInfo.osImage")
                        )
                    )
                    node_note = f" (node {name_of(node)} runs {os_image})"
            target = forward.group("target") if forward else "/etc/resolv.conf"
            cause = (
                f'CoreDNS is down: its pods ({who}) exit with "{loop[:200]}". The Corefile forwards to {target}, '
                f"which on the nodes{node_note} points at a local stub resolver (systemd-resolved, 127.0.0.53), so "
                "CoreDNS's upstream queries come back to itself; the loop plugin stops it and every lookup in the "
                "cluster times out."
            )
            fixes = [
                f"kubectl -n {DNS_NAMESPACE} edit configmap coredns  # forward . /run/systemd/resolve/resolv.conf "
                "(the real upstreams) or forward . <upstream DNS IP>",
                restart,
                "# on the nodes: set the kubelet's resolvConf to /run/systemd/resolve/resolv.conf "
                "(KubeletConfiguration resolvConf) so pods with dnsPolicy Default do not inherit the stub either",
            ]
            return self._finding(0.95, "dns.coredns-forward-loop", cause, facts, fixes, affected)
        if log_lines:
            line = log_lines[0][0]
            cause = f'CoreDNS is down: its pods ({who}) fail with "{line[:200]}", so lookups in the cluster time out.'
            bad_targets = invalid_forward_targets(corefile) if "not an IP address or file" in line else []
            if bad_targets:
                blocks = sorted({b for b, _ in bad_targets})
                hosts = ", ".join(t for _, t in bad_targets)
                facts.append(
                    Fact(
                        f"Corefile server block {', '.join(blocks)} forwards to {hosts}",
                        f"ConfigMap {DNS_NAMESPACE}/coredns data.Corefile",
                    )
                )
                cause = (
                    f'CoreDNS is down: its pods ({who}) exit at startup with "{line[:200]}". The Corefile\'s '
                    f"server block {', '.join(blocks)} forwards to {hosts}, but the forward plugin accepts only IP "
                    "addresses (or a resolv.conf file), so every CoreDNS replica fails on the same Corefile and "
                    "lookups in the cluster are refused or time out."
                )
                fixes += [
                    f"kubectl -n {DNS_NAMESPACE} edit configmap coredns  # in {block}: forward . "
                    + " ".join(f"<IP of {t}>" for b, t in bad_targets if b == block)
                    for block in blocks
                ]
                cause_id = "dns.corefile-invalid"
            elif "forbidden" in line.lower():
                fixes.append(
                    "kubectl auth can-i list endpointslices.discovery.k8s.io --as=system:serviceaccount:kube-system:coredns"
                )
                cause_id = "dns.coredns-rbac"
            elif (
                "Corefile" in line
                or "parse" in line.lower()
                or "unknown directive" in line.lower()
                or _SETUP_ERROR.match(line)
            ):
                fixes.append(
                    f"kubectl -n {DNS_NAMESPACE} edit configmap coredns  # fix the Corefile error: {line[:120]}"
                )
                cause_id = "dns.corefile-invalid"
            else:
                fixes.append(f"kubectl -n {DNS_NAMESPACE} logs deployment/coredns --previous")
                cause_id = "dns.coredns-crashing"
            fixes.append(restart)
            return self._finding(0.9, cause_id, cause, facts, fixes, affected)
        cause = (
            f"CoreDNS is not serving: its pods are not ready ({who}), so the cluster DNS Service has no ready "
            "endpoint and lookups time out."
        )
        fixes = [f"kubectl -n {DNS_NAMESPACE} logs -l {DNS_LABEL} --previous --tail=50", restart]
        return self._finding(
            0.8, "dns.coredns-not-ready", cause, facts, fixes, affected, missing=["the CoreDNS log"]
        )

    def _upstream_problem(
        self, view: EvidenceView, pods: list[K8sObject], facts: list[Fact], forward: str | None
    ) -> Finding | None:
        """CoreDNS runs, but its upstream resolvers do not answer: external names fail, cluster names work."""
        for pod in pods:
            for key, text in view.pod_logs(pod).items():
                errors = list(_UPSTREAM_ERROR.finditer(text))
                if not errors:
                    continue
                container, _, previous = key.partition("#")
                last = errors[-1]
                upstreams = sorted({m.group("upstream") for m in errors})
                expansion = self._search_expansion(view, errors)
                if expansion is not None:
                    facts.append(
                        Fact(
                            last.group(0)[:300],
                            src_log(DNS_NAMESPACE, name_of(pod), container, bool(previous)),
                        )
                    )
                    return self._expansion_finding(view, *expansion, last, facts)
                facts.append(
                    Fact(last.group(0)[:300], src_log(DNS_NAMESPACE, name_of(pod), container, bool(previous)))
                )
                if forward:
                    facts.append(
                        Fact(
                            f"Corefile: forward . {forward}",
                            f"ConfigMap {DNS_NAMESPACE}/coredns data.Corefile",
                        )
                    )
                cause = (
                    f"CoreDNS runs but its upstream resolver(s) {', '.join(upstreams)} do not answer "
                    f"({last.group('error').strip()[:120]}), so names outside the cluster fail with SERVFAIL/timeouts"
                    + (f"; the Corefile forwards to {forward}" if forward else "")
                    + "."
                )
                return self._finding(
                    0.8,
                    "dns.upstream-unreachable",
                    cause,
                    facts,
                    [
                        f"kubectl -n {DNS_NAMESPACE} edit configmap coredns  # forward . <reachable upstream resolver IPs>",
                        f"kubectl -n {DNS_NAMESPACE} rollout restart deployment/coredns",
                    ],
                    [pod],
                )
        return None

    def _search_expansion(
        self, view: EvidenceView, errors: list[re.Match[str]]
    ) -> tuple[Lookup, K8sObject, str] | None:
        """(lookup, pod, expanded name) when upstream failures are for a search-path expansion of a name a
        pod looks up (``name.<search domain>``).

        With the default ``ndots:5`` a name with fewer dots is first tried with every search domain; when
        the upstream does not answer for one of those (typically the node's domain), the client's timeout
        runs out before the real name is asked.
        """
        for lookup, pod in self._lookups(view):
            name = lookup.name.rstrip(".")
            if pod is None or name.count(".") >= _ndots(pod) or name.count(".") < 1:
                continue
            hits = [m for m in errors if m.group("name").rstrip(".").startswith(name + ".")]
            if hits:
                return lookup, pod, hits[-1].group("name").rstrip(".")
        return None

    def _expansion_finding(
        self,
        view: EvidenceView,
        lookup: Lookup,
        pod: K8sObject,
        expanded: str,
        last: re.Match[str],
        facts: list[Fact],
    ) -> Finding:
        name = lookup.name.rstrip(".")
        ndots = _ndots(pod)
        target = workload_ref(view, pod)
        ns = namespace_of(pod)
        dots = min(name.count("."), 4)
        facts.append(
            Fact(
                f"pod {name_of(pod)} resolves with ndots:{ndots} (a name with fewer dots is tried with each "
                "search domain first)",
                src_obj(pod, "spec.dnsConfig"),
            )
        )
        option = json.dumps(
            {"dnsConfig": {"options": [{"name": "ndots", "value": str(dots)}]}}, separators=(",", ":")
        )
        patch = in_pod_template(target.split("/", 1)[0], option)
        suffix = expanded[len(name) + 1 :]
        cause = (
            f"Lookups of {name} from {target} time out: the name has {name.count('.')} dot(s), fewer than "
            f"ndots:{ndots}, so the resolver first tries it with each search domain, and CoreDNS's upstream "
            f"{last.group('upstream')} does not answer for the expansion {expanded} "
            f"({last.group('error').strip()[:80]}); the client gives up before {name} itself is asked."
        )
        return self._finding(
            0.88,
            "dns.search-path-expansion",
            cause,
            facts,
            [
                f"kubectl patch {target} -n {ns} -p '{patch}'  # ndots:{dots}: {name} is asked as is first",
                f"# or call it by its fully qualified name with a trailing dot: {name}.",
                f"kubectl -n {DNS_NAMESPACE} logs -l {DNS_LABEL} --tail=100 | grep {suffix}"
                "  # the upstream failing for that search domain",
            ],
            [pod],
        )

    # --- names that do not exist ---

    def _name_problem(
        self, view: EvidenceView, lookup: Lookup, pod: K8sObject | None, facts: list[Fact]
    ) -> Finding | None:
        parts = lookup.cluster_parts
        ns = view.namespace
        pod = pod or next(iter(view.focus_pods()), None)
        policy = self._dns_policy(pod) if pod is not None else None
        if policy and parts:
            facts.append(
                Fact(f"pod {name_of(pod or {})} dnsPolicy {policy}", src_obj(pod or {}, "spec.dnsPolicy"))
            )
            target = workload_ref(view, pod) if pod else "the workload"
            return self._finding(
                0.88,
                "dns.dns-policy",
                f"Pod {name_of(pod or {})} resolves {lookup.name} with the node's resolver, not CoreDNS: its dnsPolicy "
                f"is {policy}, so cluster Service names return no such host.",
                facts,
                [
                    f'kubectl patch {target} -n {ns} -p \'{{"spec":{{"template":{{"spec":'
                    f'{{"dnsPolicy":"{"ClusterFirstWithHostNet" if "hostNetwork" in policy else "ClusterFirst"}"}}}}}}}}\''
                ],
                [pod] if pod else [],
            )
        if not parts:
            return None
        svc, svc_ns = parts
        target_ns = svc_ns or ns
        if not target_ns:
            return None
        env_fix = self._env_fix(view, pod, lookup.name)
        carrier = self._env_carrier(view, pod, lookup.name) if pod is not None else None
        if carrier is not None:
            facts.append(carrier[0])
        wrong = self._wrong_domain(view, lookup, pod)
        if wrong is not None:
            expected, how = wrong
            domain = lookup.cluster_domain or ""
            fixed_name = lookup.name.rstrip(".")[: -len(domain)] + expected
            facts.append(Fact(f"the cluster domain is {expected}", how))
            where = f" (set in {carrier[1]})" if carrier is not None else ""
            return self._finding(
                0.9,
                "dns.wrong-cluster-domain",
                f"The lookup of {lookup.name}{where} fails with no such host because its cluster domain "
                f"{domain} is not the cluster's domain {expected}: the name must be {fixed_name}.",
                facts,
                env_fix(fixed_name),
                [o for o in (pod,) if o is not None],
            )
        namespace_read = view.read_status(ReadSpec(verb="get", kind="Namespace", name=svc_ns or "").key())
        # Objects read in a namespace prove it exists (snapshots and RBAC may hide Namespace objects).
        namespace_seen = bool(svc_ns) and any(
            namespace_of(o) == svc_ns for o in view.evidence["objects"].values()
        )
        if svc_ns and svc_ns != ns and namespace_read == "no_data" and not namespace_seen:
            # The namespace that actually holds a Service of that name, the closest first.
            homes = sorted(
                (s for s in view.objs("Service") if name_of(s) == svc),
                key=lambda s: -difflib.SequenceMatcher(None, svc_ns, namespace_of(s) or "").ratio(),
            )
            found = homes[0] if homes else None
            home = namespace_of(found) if found is not None else None
            right = f"{svc}.{home}.svc.cluster.local" if home else None
            facts.append(Fact(f"namespace {svc_ns} does not exist", f"get Namespace {svc_ns}"))
            if found is not None:
                facts.append(Fact(f"Service {svc} exists in namespace {home}", src_obj(found)))
            cause = (
                f"The lookup of {lookup.name} fails with no such host because namespace {svc_ns} does not exist"
                + (f"; the Service {svc} lives in namespace {home} ({right})" if right else "")
                + "."
            )
            return self._finding(
                0.9,
                "dns.wrong-namespace",
                cause,
                facts,
                env_fix(right) if right else [f"kubectl get svc -A | grep {svc}"],
                [found] if found is not None else [],
            )
        if view.obj("Service", svc, target_ns) is not None:
            return None
        elsewhere = [s for s in view.objs("Service") if name_of(s) == svc and namespace_of(s) != target_ns]
        if elsewhere:
            other = namespace_of(elsewhere[0])
            right = f"{svc}.{other}.svc.cluster.local"
            facts.append(
                Fact(f"Service {svc} exists in namespace {other}, not in {target_ns}", src_obj(elsewhere[0]))
            )
            return self._finding(
                0.9,
                "dns.wrong-namespace",
                f"{lookup.name} does not resolve: there is no Service {svc} in namespace {target_ns}; it lives in "
                f"namespace {other}, so the name must be {right}.",
                facts,
                env_fix(right),
                elsewhere[:1],
            )
        services = self._services(view, target_ns)
        if services is None:
            return None
        names = [name_of(s) for s in services]
        close_names = difflib.get_close_matches(svc, names, n=1, cutoff=0.5)
        facts.append(
            Fact(
                f"Services in {target_ns}: {', '.join(names[:10]) or 'none'}", f"list Service -n {target_ns}"
            )
        )
        right = f"{close_names[0]}.{target_ns}.svc.cluster.local" if close_names else None
        cause = (
            f"{lookup.name} does not resolve (no such host): there is no Service {svc} in namespace {target_ns}"
            + (f"; the closest existing Service is {close_names[0]} ({right})" if close_names else "")
            + "."
        )
        return self._finding(
            0.88,
            "dns.wrong-service-name",
            cause,
            facts,
            env_fix(right) if right else [f"kubectl get svc -n {target_ns}"],
            [s for s in services if close_names and name_of(s) == close_names[0]],
        )

    @staticmethod
    def _dns_policy(pod: K8sObject) -> str | None:
        spec = pod.get("spec") or {}
        policy = spec.get("dnsPolicy", "ClusterFirst")
        if policy == "Default":
            return "Default"
        if spec.get("hostNetwork") and policy == "ClusterFirst":
            return "ClusterFirst with hostNetwork (falls back to the node's resolver)"
        return None

    def _env_fix(self, view: EvidenceView, pod: K8sObject | None, bad: str):  # type: ignore[no-untyped-def]
        """Commands that replace ``bad`` with the right name where the pod's env carries it."""
        ns = view.namespace

        def fixes(right: str | None) -> list[str]:
            if not right:
                return []
            carrier = self._env_carrier(view, pod, bad) if pod is not None else None
            if pod is not None and carrier is not None:
                _, _, kind, name, key, value = carrier
                target = workload_ref(view, pod)
                new_value = value.replace(bad, right)
                if kind == "env":
                    return [f"kubectl set env {target} -n {ns} -c {name} {key}={new_value}"]
                patch = json.dumps({"data": {key: new_value}}, separators=(",", ":"))
                return [
                    f"kubectl patch configmap {name} -n {ns} --type=merge -p '{patch}'",
                    f"kubectl rollout restart {target} -n {ns}  # env from a ConfigMap is read at start",
                ]
            return [f"# point the client at {right} instead of {bad} (its config or env), then roll it out"]

        return fixes

    @staticmethod
    def _env_carrier(
        view: EvidenceView, pod: K8sObject, bad: str
    ) -> tuple[Fact, str, str, str, str, str] | None:
        """Where the pod's spec carries the failing name: a literal env value, or a ConfigMap key its env reads.

        Returns (fact, words, "env"|"configmap", container-or-ConfigMap name, variable-or-key, value).
        """
        ns = namespace_of(pod)
        for container in (pod.get("spec") or {}).get("containers") or []:
            cname = str(container.get("name"))
            for env in container.get("env") or []:
                value = str(env.get("value") or "")
                if bad in value:
                    return (
                        Fact(
                            f"container {cname} env {env.get('name')}={value}",
                            src_obj(pod, f"spec.containers[{cname}].env[{env.get('name')}]"),
                        ),
                        f"env {env.get('name')} of container {cname}",
                        "env",
                        cname,
                        str(env.get("name")),
                        value,
                    )
                ref = ((env.get("valueFrom") or {}).get("configMapKeyRef")) or {}
                cm = view.obj("ConfigMap", str(ref.get("name")), ns) if ref else None
                value = str(((cm or {}).get("data") or {}).get(str(ref.get("key"))) or "")
                if cm is not None and bad in value:
                    words = f"env {env.get('name')} of container {cname}, from ConfigMap {name_of(cm)} key {ref.get('key')}"
                    return (
                        Fact(
                            f"ConfigMap {name_of(cm)} {ref.get('key')}={value}",
                            src_obj(cm, f"data.{ref.get('key')}"),
                        ),
                        words,
                        "configmap",
                        name_of(cm),
                        str(ref.get("key")),
                        value,
                    )
            for source in container.get("envFrom") or []:
                ref = source.get("configMapRef") or {}
                cm = view.obj("ConfigMap", str(ref.get("name")), ns) if ref else None
                for key, value in ((cm or {}).get("data") or {}).items():
                    if cm is not None and bad in str(value):
                        return (
                            Fact(f"ConfigMap {name_of(cm)} {key}={value}", src_obj(cm, f"data.{key}")),
                            f"env {source.get('prefix') or ''}{key} of container {cname}, from ConfigMap {name_of(cm)}",
                            "configmap",
                            name_of(cm),
                            str(key),
                            str(value),
                        )
        return None

    @staticmethod
    def _wrong_domain(view: EvidenceView, lookup: Lookup, pod: K8sObject | None) -> tuple[str, str] | None:
        """(cluster domain, where it was read) when the looked-up Service name ends in another domain.

        The cluster's domain comes from the Corefile's ``kubernetes`` zone when read, else from the
        other Service names the pod's env uses; without either, only a near-miss of the default
        ``cluster.local`` (a typo) counts.
        """
        domain = lookup.cluster_domain
        if not domain:
            return None
        corefile = str(
            ((view.obj("ConfigMap", "coredns", DNS_NAMESPACE) or {}).get("data") or {}).get("Corefile") or ""
        )
        zone = _KUBERNETES_ZONE.search(corefile)
        if zone:
            expected, how = zone.group(1).rstrip(".").lower(), f"ConfigMap {DNS_NAMESPACE}/coredns Corefile"
            return (expected, how) if domain != expected else None
        siblings = []
        for container in ((pod or {}).get("spec") or {}).get("containers") or []:
            for env in container.get("env") or []:
                value = str(env.get("value") or "")
                if lookup.name not in value:
                    siblings += [m.group(1).lower() for m in _SVC_DOMAIN.finditer(value)]
        others = [d for d in siblings if d != domain]
        if others and domain not in siblings:
            return others[0], f"the other Service names in pod {name_of(pod or {})}'s env"
        if (
            domain != DEFAULT_CLUSTER_DOMAIN
            and difflib.SequenceMatcher(None, domain, DEFAULT_CLUSTER_DOMAIN).ratio() >= 0.75
        ):
            return DEFAULT_CLUSTER_DOMAIN, "the Kubernetes default cluster domain"
        return None

    # --- nobody answers although CoreDNS runs ---

    def _egress_problem(self, view: EvidenceView, lookup: Lookup, facts: list[Fact]) -> Finding | None:
        ns = view.namespace
        pod = next(iter(view.focus_pods()), None) or next(iter(view.objs("Pod", ns)), None)
        if pod is None or not ns:
            return None
        labels = (pod.get("metadata") or {}).get("labels") or {}
        egress = [
            p
            for p in view.objs("NetworkPolicy", ns)
            if "Egress" in ((p.get("spec") or {}).get("policyTypes") or [])
            and label_selector_matches((p.get("spec") or {}).get("podSelector"), labels)
        ]
        if not egress:
            return None
        allows_dns = any(
            not rule.get("ports")
            or any(str(port.get("port")) in ("53", "dns") for port in rule.get("ports") or [])
            for p in egress
            for rule in (p.get("spec") or {}).get("egress") or []
        )
        if allows_dns:
            return None
        names = ", ".join(name_of(p) for p in egress)
        for policy in egress:
            facts.append(
                Fact(
                    f"NetworkPolicy {name_of(policy)} restricts egress; no rule allows port 53",
                    src_obj(policy, "spec.egress"),
                )
            )
        return self._finding(
            0.85,
            "dns.egress-blocked",
            f"Lookups from pod {name_of(pod)} time out because NetworkPolicy {names} in {ns} selects it with "
            "policyType Egress and allows no traffic to port 53, so queries to the cluster DNS Service are dropped.",
            facts,
            [
                f"kubectl patch networkpolicy {name_of(egress[0])} -n {ns} --type=json -p '{_dns_egress_patch(egress[0])}'",
                f"kubectl exec -n {ns} {name_of(pod)} -- nslookup kubernetes.default  # verify once patched",
            ],
            egress,
        )

    def _text_only(self, view: EvidenceView, facts: list[Fact], lookup: Lookup | None = None) -> Finding:
        what = f"{lookup.name} ({lookup.kind})" if lookup else "names"
        return self._finding(
            0.45 if lookup else 0.35,
            "dns.lookup-failing",
            f"Name resolution fails for {what}, but CoreDNS and the Services read do not show why.",
            facts
            or [
                Fact(
                    view.error_message.strip().splitlines()[0][:200] if view.error_message.strip() else "",
                    "pasted error",
                )
            ],
            [
                f"kubectl -n {DNS_NAMESPACE} get pods -l {DNS_LABEL}",
                f"kubectl -n {DNS_NAMESPACE} logs -l {DNS_LABEL} --tail=50",
            ],
            [],
            missing=["the CoreDNS pods, their log and the Corefile"],
        )

    def _finding(
        self,
        score: float,
        cause_id: str,
        cause: str,
        facts: list[Fact],
        fixes: list[str],
        affected: list[K8sObject],
        missing: list[str] | None = None,
    ) -> Finding:
        return Finding(
            category=self.category,
            score=score,
            root_cause_id=cause_id,
            root_cause=cause,
            summary=cause.split(": ")[0][:200],
            facts=facts,
            fix_commands=fixes,
            prevention=[
                "Alert on CoreDNS health (coredns_dns_responses_total by rcode, pod restarts) and on kube-dns having "
                "no ready endpoints.",
                "Use fully qualified Service names (svc.namespace.svc.cluster.local) from configuration that is "
                "validated at deploy time.",
                "Pin CoreDNS's upstream to explicit resolvers instead of the node's /etc/resolv.conf when node images "
                "may change their resolver.",
            ],
            affected=[ref(o) for o in affected],
            missing=missing or [],
        )
