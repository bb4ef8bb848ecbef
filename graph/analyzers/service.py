"""ServiceUnreachable: a Service (or the Ingress in front of it) has no ready endpoint to send traffic to.

The endpoints controller adds a pod to a Service's Endpoints when the Service selector
matches the pod's labels, the pod is Ready, and a named targetPort resolves to one of the
pod's container ports. So the chain to check is Ingress -> backend Service (and port) ->
selector vs the labels of the pods that look like its backends -> readiness -> targetPort,
and, when endpoints exist but traffic still does not arrive, the NetworkPolicies selecting
those pods. Ingress controllers answer 503 for a backend without endpoints, 502 when the
endpoint refuses the connection and 504 when it never answers.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from graph.analyzers.base import Analyzer, Fact, Finding, ref, src_obj
from graph.analyzers.common import workload_ref
from graph.analyzers.dns import DNS_LABEL, DNS_NAMESPACE
from graph.evidence import EvidenceView, K8sObject, name_of, namespace_of
from graph.k8s import label_selector_matches, pod_condition, selector_matches
from graph.schemas import ReadSpec

_HOST = re.compile(r"\b((?:[a-z0-9](?:[-a-z0-9]*[a-z0-9])?\.)+[a-z]{2,})\b", re.I)
_SVC_DNS = re.compile(r"\b([a-z0-9](?:[-a-z0-9]*[a-z0-9])?)\.([a-z0-9](?:[-a-z0-9]*[a-z0-9])?)\.svc(?![\w-])")
# An HTTP status or an external host: the request may have come in through an Ingress.
_HTTP_EDGE = re.compile(
    r"\b50[234]\b|https?://(?![\w.-]*\.svc\b)|ingress|bad gateway|service unavailable|upstream", re.I
)
_TIMEOUT = re.compile(r"\b504\b|timed? ?out|i/o timeout|gateway timeout|deadline exceeded", re.I)
_REFUSED = re.compile(r"\b502\b|connection refused|bad gateway|connect\(\) failed \(111", re.I)


@dataclass
class Problem:
    score: float
    cause_id: str
    cause: str
    facts: list[Fact] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)
    affected: list[K8sObject] = field(default_factory=list)


def _live_pods(view: EvidenceView, namespace: str | None) -> list[K8sObject]:
    return [
        p
        for p in view.objs("Pod", namespace)
        if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
    ]


def _ready(pod: K8sObject) -> bool:
    cond = pod_condition(pod, "Ready")
    return bool(cond and cond.get("status") == "True")


def _labels(obj: K8sObject) -> dict[str, Any]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


def _ready_addresses(view: EvidenceView, service: K8sObject) -> tuple[int, int, K8sObject | None]:
    """(ready, not ready) endpoint addresses of a Service, from Endpoints or EndpointSlices."""
    ns, name = namespace_of(service), name_of(service)
    endpoints = view.obj("Endpoints", name, ns)
    if endpoints is not None:
        subsets = endpoints.get("subsets") or []
        ready = sum(len(s.get("addresses") or []) for s in subsets)
        not_ready = sum(len(s.get("notReadyAddresses") or []) for s in subsets)
        return ready, not_ready, endpoints
    ready = not_ready = 0
    found = None
    for eps in view.objs("EndpointSlice", ns):
        if _labels(eps).get("kubernetes.io/service-name") != name:
            continue
        found = eps
        for endpoint in eps.get("endpoints") or []:
            if (endpoint.get("conditions") or {}).get("ready", True):
                ready += 1
            else:
                not_ready += 1
    return ready, not_ready, found


def _container_ports(pod: K8sObject) -> list[dict[str, Any]]:
    ports = []
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            ports.append({**port, "container": container.get("name")})
    return ports


def _port_text(port: dict[str, Any]) -> str:
    name = f" ({port['name']})" if port.get("name") else ""
    return f"{port.get('containerPort')}{name}"


_NAME_KEYS = {"app", "app.kubernetes.io/name", "k8s-app", "name", "app.kubernetes.io/component", "component"}


def _look_alikes(pods: list[K8sObject], service: K8sObject) -> list[K8sObject]:
    """Pods that look like the Service's intended backends: most selector pairs in common."""
    selector = (service.get("spec") or {}).get("selector") or {}
    name = name_of(service)
    scored = []
    for pod in pods:
        labels = _labels(pod)
        # The app's name labels say more than release/version/tier ones; a pod named like the
        # Service (its Deployment shares the name) breaks the remaining ties.
        same = sum(2 if k in _NAME_KEYS else 1 for k, v in selector.items() if labels.get(k) == v)
        if same:
            scored.append((same + (0.5 if name_of(pod).startswith(name + "-") else 0), pod))
    if scored:
        best = max(s for s, _ in scored)
        return [p for s, p in scored if s == best]
    # Nothing in common: fall back to the naming convention (Deployment named like the Service).
    return [p for p in pods if name_of(p).startswith(name + "-")]


class ServiceUnreachableAnalyzer(Analyzer):
    category = "ServiceUnreachable"

    def _interested(self, view: EvidenceView) -> bool:
        # A failed lookup explains a 503 better than the Service does: DNS is checked first.
        dns_first = view.hypotheses.get("DNSFailure", -1.0) > view.hypotheses.get(self.category, -1.0)
        tls_first = "x509:" in view.error_message
        return not dns_first and not tls_first and view.suspects(self.category)

    @staticmethod
    def _named_services(view: EvidenceView) -> list[tuple[str, str]]:
        """(namespace, name) of Services the text names as ``svc.ns.svc`` hostnames."""
        return [(m.group(2), m.group(1)) for m in _SVC_DNS.finditer(view.error_message)]

    def plan(self, view: EvidenceView) -> list[ReadSpec]:
        ns = view.namespace
        if not self._interested(view):
            return []
        if not ns:
            return self._find_namespace_by_host(view)
        specs = [
            ReadSpec(verb="list", kind="Service", namespace=ns, why="the Services traffic goes through"),
            ReadSpec(verb="list", kind="Endpoints", namespace=ns, why="which Services have ready endpoints"),
        ]
        if _HTTP_EDGE.search(view.error_message):
            specs.append(
                ReadSpec(verb="list", kind="Ingress", namespace=ns, why="Ingress backends of the namespace")
            )
        for other_ns, name in self._named_services(view):
            if other_ns != ns:
                specs.append(
                    ReadSpec(
                        verb="get", kind="Service", namespace=other_ns, name=name, why="the named Service"
                    )
                )
                specs.append(
                    ReadSpec(verb="get", kind="Endpoints", namespace=other_ns, name=name, why="its endpoints")
                )
        endpoints_read = ReadSpec(verb="list", kind="Endpoints", namespace=ns).key()
        if view.read_status(endpoints_read) == "error":
            specs.append(
                ReadSpec(
                    verb="list", kind="EndpointSlice", namespace=ns, why="endpoints (Endpoints unreadable)"
                )
            )
        services = view.objs("Service", ns)
        if services and not self._problems(view):
            if _TIMEOUT.search(view.error_message):
                specs.append(
                    ReadSpec(
                        verb="list", kind="NetworkPolicy", namespace=ns, why="policies that may drop traffic"
                    )
                )
            # Services and endpoints are fine: the backends may be failing on name resolution instead.
            specs.append(_COREDNS_PODS)
        return [s for s in specs if not view.was_read(s.key())]

    @staticmethod
    def _find_namespace_by_host(view: EvidenceView) -> list[ReadSpec]:
        """No namespace given: the Ingress serving the host in the text says where to look."""
        hosts = {h.lower() for h in _HOST.findall(view.error_message)}
        if not hosts:
            return []
        specs = [ReadSpec(verb="list", kind="Ingress", why="which Ingress serves the host in the text")]
        for ing in view.objs("Ingress"):
            if {str(r.get("host", "")).lower() for r in (ing.get("spec") or {}).get("rules") or []} & hosts:
                ing_ns = namespace_of(ing)
                specs += [
                    ReadSpec(
                        verb="list", kind="Service", namespace=ing_ns, why="the Services behind the Ingress"
                    ),
                    ReadSpec(verb="list", kind="Endpoints", namespace=ing_ns, why="their endpoints"),
                ]
                if not view.was_read(ReadSpec(verb="list", kind="Pod").key()):
                    specs.append(
                        ReadSpec(verb="list", kind="Pod", namespace=ing_ns, why="the pods behind the Ingress")
                    )
        return [s for s in specs if not view.was_read(s.key())]

    def analyze(self, view: EvidenceView) -> Finding | None:
        if not view.objs("Service"):
            return self._pending(view)
        problems = self._problems(view)
        if not problems:
            return self._pending(view)
        best = max(problems, key=lambda p: p.score)
        if not self._interested(view):
            # A broken Service nobody complained about is worth reporting, but not over a pod-level cause.
            best.score = min(best.score, 0.5)
        return Finding(
            category=self.category,
            score=best.score,
            root_cause_id=best.cause_id,
            root_cause=best.cause,
            summary=best.cause.split(": ")[0][:200],
            facts=best.facts,
            fix_commands=best.fixes,
            prevention=[
                "Derive the Service selector and the pod template labels from one value in the chart "
                "(selectorLabels helper) and never put release- or version-specific labels in a selector.",
                "Alert on Services with zero ready endpoints (kube_endpoint_address_available == 0) and on "
                "Ingress 5xx rates per backend.",
                "Check `kubectl get endpoints` in the deploy pipeline after each release.",
            ],
            affected=[ref(o) for o in best.affected],
        )

    def _pending(self, view: EvidenceView) -> Finding | None:
        """No fault found yet but reads are left: a weak finding, so the critic asks for them."""
        if not self._interested(view):
            return None
        wanted = self.plan(view)
        if not wanted:
            return None
        ns = view.namespace
        services = view.objs("Service", ns) if ns else []
        if services:
            root = f"Requests fail, but the Services read in {ns} have ready endpoints and matching ports."
            facts = [Fact(f"{len(services)} Service(s) in {ns} have ready endpoints", f"Endpoints in {ns}")]
        else:
            root = "The Services behind the failing requests have not been read yet."
            facts = [Fact(view.error_message.strip().splitlines()[0][:200], "pasted error")]
        return Finding(
            category=self.category,
            score=0.3,
            root_cause_id="service.endpoints-healthy" if services else "service.not-read",
            root_cause=root,
            facts=facts,
            fix_commands=[f"kubectl get svc,endpoints,ingress{' -n ' + ns if ns else ' -A'}"],
            missing=[f"{s.verb} {s.kind}" + (f" in {s.namespace}" if s.namespace else "") for s in wanted],
        )

    # --- the checks ---

    def _problems(self, view: EvidenceView) -> list[Problem]:
        ns = view.namespace
        services = {(namespace_of(s), name_of(s)): s for s in view.objs("Service")}
        problems: list[Problem] = []
        ingress_backends: dict[tuple[str | None, str], list[tuple[K8sObject, dict[str, Any], str]]] = {}
        for ingress in view.objs("Ingress", ns):
            if "acme.cert-manager.io/http01-solver" in _labels(ingress):
                continue
            for backend, host in _ingress_backends(ingress):
                svc_name = str((backend.get("service") or {}).get("name", ""))
                if svc_name:
                    ingress_backends.setdefault((namespace_of(ingress), svc_name), []).append(
                        (ingress, backend, host)
                    )
        for (ing_ns, svc_name), uses in ingress_backends.items():
            ingress, backend, host = uses[0]
            service = services.get((ing_ns, svc_name))
            if service is None:
                if view.read_status(ReadSpec(verb="list", kind="Service", namespace=ing_ns).key()) in (
                    "ok",
                    "no_data",
                ):
                    problems.append(
                        Problem(
                            0.9,
                            "service.ingress-backend-missing",
                            f"Ingress {name_of(ingress)} (host {host}) routes to Service {svc_name}, which does not "
                            f"exist in namespace {ing_ns}: the ingress controller has no backend and answers 503.",
                            [
                                Fact(
                                    f"backend service {svc_name} of host {host}",
                                    src_obj(ingress, "spec.rules"),
                                )
                            ],
                            [
                                f"kubectl get svc -n {ing_ns}",
                                f"kubectl edit ingress {name_of(ingress)} -n {ing_ns}",
                            ],
                            [ingress],
                        )
                    )
                continue
            port_problem = _ingress_port_problem(ingress, backend, host, service)
            if port_problem:
                problems.append(port_problem)
        first, rest = self._relevant_services(view, services, ingress_backends)
        # Services the text names or an Ingress routes to are the suspects; an unrelated leftover
        # Service without pods elsewhere in the namespace must not explain someone else's outage.
        relevant = first or rest
        for service in relevant:
            problem = self._service_problem(view, service, ingress_backends)
            if problem:
                problems.append(problem)
        if not problems:
            problems += self._network_policy_problems(view, relevant)
        return problems

    def _relevant_services(
        self,
        view: EvidenceView,
        services: dict[tuple[str | None, str], K8sObject],
        ingress_backends: dict[tuple[str | None, str], list[tuple[K8sObject, dict[str, Any], str]]],
    ) -> tuple[list[K8sObject], list[K8sObject]]:
        """(Services the text or an Ingress points at, the others)."""
        text = view.error_message
        named = {name for name in view.entities.get("names") or []}
        named |= {n for _, n in self._named_services(view)}
        hosts = {h.lower() for h in _HOST.findall(text)}
        first: list[K8sObject] = []
        rest: list[K8sObject] = []
        for key, service in services.items():
            uses = ingress_backends.get(key, [])
            if name_of(service) in named or any(host.lower() in hosts for _, _, host in uses) or uses:
                first.append(service)
            else:
                rest.append(service)
        return first, rest

    def _service_problem(
        self,
        view: EvidenceView,
        service: K8sObject,
        ingress_backends: dict[tuple[str | None, str], list[tuple[K8sObject, dict[str, Any], str]]],
    ) -> Problem | None:
        spec = service.get("spec") or {}
        selector = spec.get("selector") or {}
        ns, name = namespace_of(service), name_of(service)
        if spec.get("type") == "ExternalName" or not selector:
            return None
        ready, not_ready, endpoints = _ready_addresses(view, service)
        pods = _live_pods(view, ns)
        if not pods and not view.was_read(ReadSpec(verb="list", kind="Pod", namespace=ns).key()):
            return None
        selected = [p for p in pods if selector_matches(selector, _labels(p))]
        uses = ingress_backends.get((ns, name), [])
        front = ""
        facts: list[Fact] = []
        affected: list[K8sObject] = [service]
        if uses:
            ingress, _, host = uses[0]
            front = f"; Ingress {name_of(ingress)} (host {host}) therefore answers 503"
            affected.append(ingress)
        if endpoints is not None:
            facts.append(
                Fact(
                    f"{endpoints.get('kind')} {name_of(endpoints)}: {ready} ready, {not_ready} not-ready address(es)",
                    src_obj(endpoints, "subsets" if endpoints.get("kind") == "Endpoints" else "endpoints"),
                )
            )
        selector_text = ",".join(f"{k}={v}" for k, v in selector.items())
        facts.append(Fact(f"Service {name} selector {selector_text}", src_obj(service, "spec.selector")))

        if not selected:
            return self._selector_problem(view, service, pods, facts, affected, front)
        ready_pods = [p for p in selected if _ready(p)]
        if not ready_pods:
            if ready:
                return None
            states = ", ".join(f"{name_of(p)} ({_pod_state(p)})" for p in selected[:3])
            facts.append(Fact(f"pods selected but not Ready: {states}", "pods in namespace"))
            target = workload_ref(view, selected[0])
            return Problem(
                0.55,
                "service.no-ready-pods",
                f"Service {name} in {ns} selects {len(selected)} pod(s) of {target}, but none is Ready "
                f"({states}), so it has no ready endpoints{front}. The pods' own failure is the cause to fix.",
                facts,
                [
                    f"kubectl describe pod {name_of(selected[0])} -n {ns}",
                    f"kubectl get endpoints {name} -n {ns}",
                ],
                affected + selected[:1],
            )
        return self._port_problem(view, service, ready_pods, ready, facts, affected, front)

    @staticmethod
    def _selector_problem(
        view: EvidenceView,
        service: K8sObject,
        pods: list[K8sObject],
        facts: list[Fact],
        affected: list[K8sObject],
        front: str,
    ) -> Problem:
        ns, name = namespace_of(service), name_of(service)
        selector = dict((service.get("spec") or {}).get("selector") or {})
        alikes = _look_alikes(pods, service)
        if not alikes:
            scaled = [
                d
                for d in view.objs("Deployment", ns)
                if selector_matches(
                    selector,
                    (((d.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels"),
                )
            ]
            if scaled:
                deployment = scaled[0]
                replicas = (deployment.get("spec") or {}).get("replicas", 1)
                facts.append(
                    Fact(
                        f"Deployment {name_of(deployment)} replicas {replicas}",
                        src_obj(deployment, "spec.replicas"),
                    )
                )
                return Problem(
                    0.85,
                    "service.backend-scaled-to-zero",
                    f"Service {name} in {ns} has no endpoints: the only workload its selector matches, Deployment "
                    f"{name_of(deployment)}, has {replicas} replicas and no pods{front}.",
                    facts,
                    [f"kubectl scale deployment/{name_of(deployment)} --replicas=2 -n {ns}"],
                    [*affected, deployment],
                )
            return Problem(
                0.7,
                "service.selector-matches-nothing",
                f"Service {name} in {ns} selects {','.join(f'{k}={v}' for k, v in selector.items())}, which "
                f"matches no pod in the namespace, so it has no endpoints{front}.",
                facts,
                [f"kubectl get pods -n {ns} --show-labels", f"kubectl get endpoints {name} -n {ns}"],
                affected,
            )
        sample = alikes[0]
        labels = _labels(sample)
        differences = []
        new_selector: dict[str, Any] = {}
        for key, value in selector.items():
            actual = labels.get(key)
            if actual == value:
                continue
            differences.append((key, value, actual))
            new_selector[key] = actual  # None removes the key in a merge patch
        target = workload_ref(view, sample)
        diff_text = "; ".join(
            f"{key}={wanted} in the Service vs {key}={actual} on the pods"
            if actual is not None
            else f"{key}={wanted} in the Service but the pods have no {key} label"
            for key, wanted, actual in differences
        )
        facts.append(
            Fact(
                f"pods of {target} ({len(alikes)}, e.g. {name_of(sample)}) are labelled "
                + ",".join(f"{k}={labels.get(k)}" for k in selector if k in labels),
                src_obj(sample, "metadata.labels"),
            )
        )
        patch = json.dumps({"spec": {"selector": new_selector}})
        return Problem(
            0.93,
            "service.selector-mismatch",
            f"Service {name} in {ns} selects no pod: its selector does not match the labels of the {target} pods "
            f"({diff_text}), so its Endpoints are empty{front}.",
            facts,
            [
                f"kubectl patch service {name} -n {ns} -p '{patch}'",
                f"kubectl get endpoints {name} -n {ns}  # should now list the {target} pods",
            ],
            [*affected, sample],
        )

    @staticmethod
    def _port_problem(
        view: EvidenceView,
        service: K8sObject,
        ready_pods: list[K8sObject],
        ready: int,
        facts: list[Fact],
        affected: list[K8sObject],
        front: str,
    ) -> Problem | None:
        ns, name = namespace_of(service), name_of(service)
        pod = ready_pods[0]
        declared = _container_ports(pod)
        target = workload_ref(view, pod)
        for index, port in enumerate((service.get("spec") or {}).get("ports") or []):
            target_port = port.get("targetPort", port.get("port"))
            declared_text = ", ".join(_port_text(p) for p in declared) or "none declared"
            if isinstance(target_port, str) and not target_port.isdigit():
                if any(p.get("name") == target_port for p in declared):
                    continue
                fix_port = _serving_port(pod, declared)
                facts.append(
                    Fact(
                        f"container ports of {name_of(pod)}: {declared_text}",
                        src_obj(pod, "spec.containers[].ports"),
                    )
                )
                patch = json.dumps(
                    [
                        {
                            "op": "replace",
                            "path": f"/spec/ports/{index}/targetPort",
                            "value": fix_port or "<port>",
                        }
                    ]
                )
                return Problem(
                    0.92,
                    "service.targetport-name-missing",
                    f'Service {name} in {ns} port {port.get("port")} has targetPort "{target_port}" (a named port), but '
                    f"the {target} pods declare no port with that name ({declared_text}); the endpoints controller "
                    f"cannot resolve it, so the Service has no endpoints{front}.",
                    facts,
                    [f"kubectl patch service {name} -n {ns} --type=json -p '{patch}'"],
                    [*affected, pod],
                )
            number = int(target_port)
            if declared and all(int(p.get("containerPort", 0)) != number for p in declared):
                facts.append(
                    Fact(
                        f"container ports of {name_of(pod)}: {declared_text}",
                        src_obj(pod, "spec.containers[].ports"),
                    )
                )
                fix_port = _serving_port(pod, declared)
                patch = json.dumps(
                    [{"op": "replace", "path": f"/spec/ports/{index}/targetPort", "value": fix_port}]
                )
                # The client's "connection refused" / 502 confirms nothing listens on the targetPort.
                return Problem(
                    0.9 if _REFUSED.search(view.error_message) else 0.85,
                    "service.targetport-mismatch",
                    f"Service {name} in {ns} forwards port {port.get('port')} to targetPort {number}, but the "
                    f"{target} pods listen on {declared_text}: the {ready} endpoint(s) refuse the connection "
                    f"(upstream 502/connection refused){front.replace('503', '502')}.",
                    facts,
                    [f"kubectl patch service {name} -n {ns} --type=json -p '{patch}'"],
                    [*affected, pod],
                )
        return None

    def _network_policy_problems(self, view: EvidenceView, services: list[K8sObject]) -> list[Problem]:
        problems = []
        for service in services[:3]:
            ns = namespace_of(service)
            selector = (service.get("spec") or {}).get("selector") or {}
            backends = [p for p in _live_pods(view, ns) if selector_matches(selector, _labels(p))]
            if not backends:
                continue
            pod = backends[0]
            policies = [
                p
                for p in view.objs("NetworkPolicy", ns)
                if label_selector_matches((p.get("spec") or {}).get("podSelector"), _labels(pod))
                and ("Ingress" in ((p.get("spec") or {}).get("policyTypes") or ["Ingress"]))
            ]
            if not policies:
                continue
            ports = (
                {
                    str(p.get("targetPort", p.get("port")))
                    for p in (service.get("spec") or {}).get("ports") or []
                }
                | {str(p.get("containerPort")) for p in _container_ports(pod)}
                | {str(p.get("name")) for p in _container_ports(pod) if p.get("name")}
            )
            rules = [r for p in policies for r in (p.get("spec") or {}).get("ingress") or []]
            if not rules:
                names = ", ".join(name_of(p) for p in policies)
                problems.append(
                    Problem(
                        0.8,
                        "service.networkpolicy-deny-all",
                        f"NetworkPolicy {names} in {ns} selects the pods behind Service {name_of(service)} with "
                        "policyType Ingress and no ingress rule, so all incoming traffic to them is dropped "
                        "(clients time out).",
                        [
                            Fact(
                                f"NetworkPolicy {name_of(p)} podSelector matches {name_of(pod)}; ingress rules: none",
                                src_obj(p, "spec"),
                            )
                            for p in policies
                        ],
                        [
                            f"kubectl describe networkpolicy {name_of(policies[0])} -n {ns}",
                            f"kubectl get networkpolicy -n {ns} -o yaml  # add an ingress rule allowing the clients "
                            f"(e.g. the ingress controller's namespace) to port {sorted(ports)[0]}",
                        ],
                        [service, *policies],
                    )
                )
                continue
            allowed_ports = [
                str(port.get("port"))
                for r in rules
                for port in r.get("ports") or []
                if port.get("port") is not None
            ]
            if allowed_ports and not ports & set(allowed_ports) and all(r.get("ports") for r in rules):
                problems.append(
                    Problem(
                        0.75,
                        "service.networkpolicy-port",
                        f"The NetworkPolicies selecting the pods behind Service {name_of(service)} in {ns} allow "
                        f"ingress only on port(s) {', '.join(allowed_ports)}, not the port the Service targets "
                        f"({', '.join(sorted(ports))}).",
                        [
                            Fact(
                                f"NetworkPolicy {name_of(p)} ingress ports {allowed_ports}",
                                src_obj(p, "spec.ingress"),
                            )
                            for p in policies
                        ],
                        [f"kubectl edit networkpolicy {name_of(policies[0])} -n {ns}"],
                        [service, *policies],
                    )
                )
        return problems


_COREDNS_PODS = ReadSpec(
    verb="list",
    kind="Pod",
    namespace=DNS_NAMESPACE,
    label_selector=DNS_LABEL,
    why="is the cluster DNS serving?",
)
_AUX_PORT = re.compile(r"metric|admin|debug|health|prom|mgmt|management", re.I)


def _serving_port(pod: K8sObject, declared: list[dict[str, Any]]) -> str | int:
    """The container port that serves traffic: the readiness probe's, else the first non-auxiliary one."""
    for container in (pod.get("spec") or {}).get("containers") or []:
        probe = container.get("readinessProbe") or {}
        action = probe.get("httpGet") or probe.get("tcpSocket") or probe.get("grpc") or {}
        port = action.get("port")
        if port is not None and any(port in (p.get("name"), p.get("containerPort")) for p in declared):
            return str(port) if isinstance(port, str) else int(port)
    main = [p for p in declared if not _AUX_PORT.search(str(p.get("name", "")))] or declared
    if not main:
        return "<port>"
    return str(main[0]["name"]) if main[0].get("name") else int(main[0]["containerPort"])


def _pod_state(pod: K8sObject) -> str:
    status = pod.get("status") or {}
    for c in status.get("containerStatuses") or []:
        waiting = (c.get("state") or {}).get("waiting") or {}
        if waiting.get("reason"):
            return str(waiting["reason"])
    cond = pod_condition(pod, "Ready") or {}
    return str(cond.get("reason") or status.get("phase") or "not ready")


def _ingress_backends(ingress: K8sObject) -> list[tuple[dict[str, Any], str]]:
    spec = ingress.get("spec") or {}
    found = []
    if spec.get("defaultBackend"):
        found.append((dict(spec["defaultBackend"]), "*"))
    for rule in spec.get("rules") or []:
        for path in (rule.get("http") or {}).get("paths") or []:
            if path.get("backend"):
                found.append((dict(path["backend"]), str(rule.get("host") or "*")))
    return found


def _ingress_port_problem(
    ingress: K8sObject, backend: dict[str, Any], host: str, service: K8sObject
) -> Problem | None:
    wanted = (backend.get("service") or {}).get("port") or {}
    ports = (service.get("spec") or {}).get("ports") or []
    ns = namespace_of(ingress)
    if "name" in wanted and not any(p.get("name") == wanted["name"] for p in ports):
        missing = f'port name "{wanted["name"]}"'
    elif "number" in wanted and not any(p.get("port") == wanted["number"] for p in ports):
        missing = f"port {wanted['number']}"
    else:
        return None
    have = ", ".join(f"{p.get('port')}" + (f" ({p['name']})" if p.get("name") else "") for p in ports)
    return Problem(
        0.88,
        "service.ingress-port-mismatch",
        f"Ingress {name_of(ingress)} (host {host}) sends traffic to Service {name_of(service)} {missing}, which the "
        f"Service does not expose (it has {have}); the ingress controller has no upstream and answers 503.",
        [
            Fact(f"Ingress backend {name_of(service)} {missing}", src_obj(ingress, "spec.rules")),
            Fact(f"Service {name_of(service)} ports {have}", src_obj(service, "spec.ports")),
        ],
        [f"kubectl edit ingress {name_of(ingress)} -n {ns}  # backend.service.port must be one of: {have}"],
        [ingress, service],
    )
