"""Network, access and TLS analyzers: ServiceUnreachable, DNSFailure, AdmissionDenied, RBACForbidden,
CertificateError, TerraformStateLock.

Table-driven over seeded evidence (the objects and logs an inspection would have read), plus graph
runs through the real SnapshotReader over the eval cases of these categories.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evals.cases import load_case
from evals.scoring import score
from graph.analyzers.admission import (
    AdmissionDeniedAnalyzer,
    image_violates,
    parse_denials,
    required_labels,
    split_image,
)
from graph.analyzers.base import Analyzer, Finding
from graph.analyzers.certificate import CertificateErrorAnalyzer, dns01_secret_refs
from graph.analyzers.dns import DNSFailureAnalyzer, invalid_forward_targets, parse_lookups
from graph.analyzers.rbac import RBACForbiddenAnalyzer, rule_allows
from graph.analyzers.rbac import parse_denials as parse_rbac
from graph.analyzers.service import ServiceUnreachableAnalyzer
from graph.analyzers.terraform import TerraformStateLockAnalyzer, detect_backend, parse_lock_info
from graph.builder import graph
from graph.context import Context, Deps
from graph.evidence import EvidenceView, K8sObject, empty_evidence, key_of, log_key, name_of
from graph.nodes.classify import rank_hypotheses
from graph.safety import unsafe_reason
from graph.schemas import ReadSpec
from tools.snapshot import SnapshotReader

NS = "shop"
CASES = Path(__file__).resolve().parents[1] / "evals" / "cases"


# --- builders: the smallest objects that still look like what the API returns ---


def _meta(name: str, ns: str | None = NS, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "uid": f"uid-{ns}-{name}"}
    if ns:
        meta["namespace"] = ns
    meta.update(extra)
    return meta


def pod(
    name: str,
    labels: dict[str, str],
    *,
    ports: list[dict[str, Any]] | None = None,
    ready: bool = True,
    ns: str = NS,
    owner: str | None = None,
    waiting: str | None = None,
    restarts: int = 0,
    init_failing: bool = False,
    spec_extra: dict[str, Any] | None = None,
) -> K8sObject:
    meta = _meta(name, ns, labels=labels)
    if owner:
        meta["ownerReferences"] = [{"kind": "ReplicaSet", "name": owner, "controller": True}]
    state: dict[str, Any] = {"waiting": {"reason": waiting}} if waiting else {"running": {}}
    status: dict[str, Any] = {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        "containerStatuses": [
            {"name": "app", "ready": ready, "restartCount": restarts, "state": state, "image": "app:1"}
        ],
    }
    if init_failing:
        status["initContainerStatuses"] = [
            {
                "name": "wait-db",
                "ready": False,
                "restartCount": 4,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"reason": "Error", "exitCode": 1}},
            }
        ]
    spec = {"containers": [{"name": "app", "image": "app:1", "ports": ports or []}], **(spec_extra or {})}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status}


def service(
    name: str, selector: dict[str, str], target_port: int | str, port_name: str = "http"
) -> K8sObject:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(name),
        "spec": {"selector": selector, "ports": [{"name": port_name, "port": 80, "targetPort": target_port}]},
    }


def endpoints(name: str, ips: list[str], ns: str = NS, ready: bool = True) -> K8sObject:
    key = "addresses" if ready else "notReadyAddresses"
    subsets = [{key: [{"ip": ip} for ip in ips], "ports": [{"port": 8080}]}] if ips else []
    obj: K8sObject = {"apiVersion": "v1", "kind": "Endpoints", "metadata": _meta(name, ns)}
    if subsets:
        obj["subsets"] = subsets
    return obj


def ingress(name: str, host: str, backend: str, port: dict[str, Any], cls: str = "nginx") -> K8sObject:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": _meta(name),
        "spec": {
            "ingressClassName": cls,
            "rules": [
                {
                    "host": host,
                    "http": {
                        "paths": [{"path": "/", "backend": {"service": {"name": backend, "port": port}}}]
                    },
                }
            ],
        },
    }


def view_of(
    objects: list[K8sObject],
    *,
    text: str = "",
    logs: dict[tuple[str, str, str, bool], str] | None = None,
    focus: list[K8sObject] | None = None,
    reads: dict[str, str] | None = None,
    ns: str | None = NS,
) -> EvidenceView:
    evidence = empty_evidence(ns)
    for obj in objects:
        evidence["objects"][key_of(obj)] = obj
    for (log_ns, pod_name, container, previous), body in (logs or {}).items():
        evidence["logs"][log_key(log_ns, pod_name, container, previous)] = body
    evidence["focus"] = [key_of(o) for o in focus or []]
    evidence["reads"] = dict(reads or {})
    hypotheses = [dict(h) for h in rank_hypotheses(text)] if text else []
    return EvidenceView(evidence, text, {}, hypotheses)


def read(verb: str, kind: str, ns: str | None = None, **extra: Any) -> str:
    return ReadSpec(verb=verb, kind=kind, namespace=ns, **extra).key()  # type: ignore[arg-type]


NS_LISTED = {read("list", "Pod", NS): "ok", read("list", "Service", NS): "ok"}


def analyze(analyzer: Analyzer, view: EvidenceView) -> Finding:
    finding = analyzer.analyze(view)
    assert finding is not None, f"{analyzer.category} found nothing"
    for command in finding.fix_commands:
        assert unsafe_reason(command) is None, command
    return finding


def text_of(finding: Finding) -> str:
    return " ".join([finding.root_cause, *(f.render() for f in finding.facts)])


# --- ServiceUnreachable ---

_WEB = {"app": "web", "release": "web-v2"}


@pytest.mark.parametrize(
    ("name", "objects", "root_id", "mentions", "fix"),
    [
        (
            "selector names an old release label",
            [
                service("web", {"app": "web", "release": "web-v1"}, "http"),
                endpoints("web", []),
                pod("web-1", _WEB, ports=[{"name": "http", "containerPort": 8080}]),
            ],
            "service.selector-mismatch",
            ["release=web-v1", "release=web-v2"],
            '"release": "web-v2"',
        ),
        (
            "selector key the pods do not carry is removed in the patch",
            [
                service("web", {"app": "web", "tier": "frontend"}, "http"),
                endpoints("web", []),
                pod("web-1", {"app": "web"}, ports=[{"name": "http", "containerPort": 8080}]),
            ],
            "service.selector-mismatch",
            ["no tier label"],
            '"tier": null',
        ),
        (
            "named targetPort missing on the pods",
            [
                service("web", {"app": "web"}, "http"),
                endpoints("web", []),
                pod("web-1", _WEB, ports=[{"name": "web", "containerPort": 8080}]),
            ],
            "service.targetport-name-missing",
            ['"http"', "8080 (web)"],
            '"value": "web"',
        ),
        (
            "numeric targetPort nobody listens on",
            [
                service("web", {"app": "web"}, 8080),
                endpoints("web", ["10.0.0.5"]),
                pod("web-1", _WEB, ports=[{"name": "http", "containerPort": 9000}]),
            ],
            "service.targetport-mismatch",
            ["targetPort 8080", "9000"],
            '"value": "http"',  # the container's port name: survives a later port change
        ),
        (
            "ingress routes to a Service that does not exist",
            [
                ingress("web", "web.example.com", "web-frontend", {"number": 80}),
                service("web", {"app": "web"}, 8080),
            ],
            "service.ingress-backend-missing",
            ["web-frontend", "web.example.com"],
            "kubectl edit ingress web",
        ),
        (
            "ingress uses a port name the Service lacks",
            [
                ingress("web", "web.example.com", "web", {"name": "https"}),
                service("web", {"app": "web"}, 8080),
                endpoints("web", ["10.0.0.5"]),
                pod("web-1", _WEB, ports=[{"containerPort": 8080}]),
            ],
            "service.ingress-port-mismatch",
            ['port name "https"'],
            "backend.service.port",
        ),
    ],
)
def test_service_unreachable_sub_causes(
    name: str, objects: list[K8sObject], root_id: str, mentions: list[str], fix: str
) -> None:
    view = view_of(objects, text="HTTP/2 503 from https://web.example.com", reads=NS_LISTED)
    finding = analyze(ServiceUnreachableAnalyzer(), view)
    assert finding.root_cause_id == root_id, name
    for word in mentions:
        assert word in text_of(finding), (word, finding.root_cause)
    assert any(fix in c for c in finding.fix_commands), finding.fix_commands
    assert finding.score >= 0.85


def test_service_with_unready_pods_leaves_the_label_to_the_pods_failure() -> None:
    objects = [
        service("web", {"app": "web"}, "http"),
        endpoints("web", ["10.0.0.5"], ready=False),
        pod(
            "web-1",
            _WEB,
            ports=[{"name": "http", "containerPort": 8080}],
            ready=False,
            waiting="CrashLoopBackOff",
        ),
    ]
    finding = analyze(ServiceUnreachableAnalyzer(), view_of(objects, text="503", reads=NS_LISTED))
    assert finding.root_cause_id == "service.no-ready-pods"
    assert finding.score < 0.65  # below CrashLoopBackOff / ProbeFailure findings
    assert "CrashLoopBackOff" in finding.root_cause


def test_healthy_service_is_not_a_finding() -> None:
    objects = [
        service("web", {"app": "web"}, "http"),
        endpoints("web", ["10.0.0.5"]),
        pod("web-1", _WEB, ports=[{"name": "http", "containerPort": 8080}]),
    ]
    listed = {**NS_LISTED, read("list", "Endpoints", NS): "ok", read("list", "Ingress", NS): "no_data"}
    view = view_of(objects, text="503", reads=listed)
    weak = ServiceUnreachableAnalyzer().analyze(view)
    # Nothing wrong with the Service: only a weak finding that asks whether the cluster DNS serves.
    assert weak is not None and weak.root_cause_id == "service.endpoints-healthy" and weak.score < 0.5
    assert [(s.kind, s.namespace, s.label_selector) for s in ServiceUnreachableAnalyzer().plan(view)] == [
        ("Pod", "kube-system", "k8s-app=kube-dns")
    ]
    healthy_dns = pod("coredns-1", {"k8s-app": "kube-dns"}, ns="kube-system")
    done = view_of(
        [*objects, healthy_dns],
        text="503",
        reads={**listed, read("list", "Pod", "kube-system", label_selector="k8s-app=kube-dns"): "ok"},
    )
    assert ServiceUnreachableAnalyzer().analyze(done) is None


def test_networkpolicy_without_ingress_rules_drops_traffic() -> None:
    policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta("default-deny"),
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    }
    objects = [
        service("web", {"app": "web"}, "http"),
        endpoints("web", ["10.0.0.5"]),
        pod("web-1", _WEB, ports=[{"name": "http", "containerPort": 8080}]),
        policy,
    ]
    finding = analyze(ServiceUnreachableAnalyzer(), view_of(objects, text="upstream request timeout 504"))
    assert finding.root_cause_id == "service.networkpolicy-deny-all"
    assert "default-deny" in finding.root_cause


def test_service_plan_reads_the_namespace_only_when_suspected() -> None:
    analyzer = ServiceUnreachableAnalyzer()
    assert analyzer.plan(view_of([], text="pod OOMKilled")) == []
    kinds = [s.kind for s in analyzer.plan(view_of([], text="curl https://shop.example.com -> HTTP 503"))]
    assert kinds == ["Service", "Endpoints", "Ingress"]
    # A failed lookup explains the 503 better: DNS is checked instead.
    dns_text = "lookup redis.cart.svc.cluster.local on 10.96.0.10:53: i/o timeout; requests return 503"
    assert analyzer.plan(view_of([], text=dns_text)) == []


# --- DNSFailure ---


def _coredns(ready: bool, restarts: int = 0) -> K8sObject:
    return pod(
        "coredns-5d78c9869d-abcde",
        {"k8s-app": "kube-dns"},
        ns="kube-system",
        ready=ready,
        waiting=None if ready else "CrashLoopBackOff",
        restarts=restarts,
    )


_COREFILE = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": _meta("coredns", "kube-system"),
    "data": {
        "Corefile": ".:53 {\n    forward . /etc/resolv.conf {\n       max_concurrent 1000\n    }\n    loop\n}\n"
    },
}
_TIMEOUT = "dial tcp: lookup orders-db.shop.svc.cluster.local on 10.96.0.10:53: read udp 10.0.0.9:4123->10.96.0.10:53: i/o timeout"


def test_parse_lookups_classifies_resolver_errors() -> None:
    kinds = {
        lk.name: lk.kind
        for lk in parse_lookups(
            _TIMEOUT + "\n"
            "lookup api.example.com on 10.96.0.10:53: server misbehaving\n"
            "dial tcp: lookup redis on 10.96.0.10:53: no such host\n"
            "getaddrinfo ENOTFOUND payments.internal\n",
            "log",
        )
    }
    assert kinds == {
        "orders-db.shop.svc.cluster.local": "timeout",
        "api.example.com": "servfail",
        "redis": "nxdomain",
        "payments.internal": "nxdomain",
    }


def test_coredns_forward_loop_names_the_corefile_and_the_stub_resolver() -> None:
    coredns = _coredns(ready=False, restarts=9)
    fatal = '[FATAL] plugin/loop: Loop (127.0.0.1:53370 -> :53) detected for zone ".", see https://coredns.io/plugins/loop'
    view = view_of(
        [coredns, _COREFILE],
        text=_TIMEOUT,
        logs={
            ("kube-system", "coredns-5d78c9869d-abcde", "app", True): ".:53\nCoreDNS-1.11.1\n" + fatal + "\n"
        },
    )
    finding = analyze(DNSFailureAnalyzer(), view)
    assert finding.root_cause_id == "dns.coredns-forward-loop"
    assert "plugin/loop" in finding.root_cause and "/etc/resolv.conf" in finding.root_cause
    assert any("configmap coredns" in c for c in finding.fix_commands)
    assert any("rollout restart deployment/coredns" in c for c in finding.fix_commands)


def test_dns_plan_reads_coredns_for_timeouts_but_not_for_nxdomain() -> None:
    analyzer = DNSFailureAnalyzer()
    timeout_kinds = {(s.kind, s.namespace) for s in analyzer.plan(view_of([], text=_TIMEOUT))}
    assert ("Pod", "kube-system") in timeout_kinds and ("ConfigMap", "kube-system") in timeout_kinds
    nx = analyzer.plan(
        view_of([], text="lookup pgbouncer.billing-db.svc.cluster.local on 10.96.0.10:53: no such host")
    )
    assert ("Pod", "kube-system") not in {(s.kind, s.namespace) for s in nx}
    by_name = [s for s in nx if s.kind == "Service"]
    assert by_name and by_name[0].field_selector == "metadata.name=pgbouncer" and by_name[0].namespace is None


def test_nxdomain_for_a_namespace_that_does_not_exist_points_at_the_real_one() -> None:
    real = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta("pgbouncer", "billing-database"),
        "spec": {},
    }
    decoy = {"apiVersion": "v1", "kind": "Service", "metadata": _meta("pgbouncer-old", "billing"), "spec": {}}
    app = pod(
        "invoice-api-1",
        {"app": "invoice-api"},
        spec_extra={},
    )
    app["spec"]["containers"][0]["env"] = [
        {"name": "DB_HOST", "value": "pgbouncer.billing-db.svc.cluster.local"}
    ]
    view = view_of(
        [real, decoy, app],
        text="lookup pgbouncer.billing-db.svc.cluster.local on 10.96.0.10:53: no such host",
        focus=[app],
        reads={
            read("get", "Namespace", name="billing-db"): "no_data",
            read("list", "Service", field_selector="metadata.name=pgbouncer"): "ok",
        },
    )
    finding = analyze(DNSFailureAnalyzer(), view)
    assert finding.root_cause_id == "dns.wrong-namespace"
    assert "billing-database" in finding.root_cause
    assert finding.fix_commands == [
        "kubectl set env pod/invoice-api-1 -n shop -c app DB_HOST=pgbouncer.billing-database.svc.cluster.local"
    ]


def test_nxdomain_for_a_misspelt_service_names_the_closest_one() -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": _meta("payments-svc"), "spec": {}}
    text = "dial tcp: lookup payment-svc on 10.96.0.10:53: no such host"
    by_name = read("list", "Service", field_selector="metadata.name=payment-svc")
    analyzer = DNSFailureAnalyzer()
    # Nobody has a Service of that name: read the namespace's Services to find a close one.
    plan = analyzer.plan(view_of([], text=text, reads={by_name: "no_data"}))
    assert [(s.kind, s.namespace) for s in plan] == [("Service", NS)]
    view = view_of([svc], text=text, reads={by_name: "no_data", read("list", "Service", NS): "ok"})
    finding = analyze(analyzer, view)
    assert finding.root_cause_id == "dns.wrong-service-name"
    assert "payments-svc.shop.svc.cluster.local" in finding.root_cause


def test_dns_policy_default_explains_nxdomain_for_cluster_names() -> None:
    app = pod("batch-1", {"app": "batch"}, spec_extra={"dnsPolicy": "Default"})
    view = view_of(
        [app, _coredns(ready=True)],
        text="lookup orders.shop.svc.cluster.local on 169.254.169.253:53: no such host",
        focus=[app],
    )
    finding = analyze(DNSFailureAnalyzer(), view)
    assert finding.root_cause_id == "dns.dns-policy"
    assert "ClusterFirst" in finding.fix_commands[0]


def test_egress_policy_without_port_53_explains_timeouts() -> None:
    app = pod("api-1", {"app": "api"})
    policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta("lockdown"),
        "spec": {
            "podSelector": {"matchLabels": {"app": "api"}},
            "policyTypes": ["Egress"],
            "egress": [{"ports": [{"port": 5432, "protocol": "TCP"}]}],
        },
    }
    finding = analyze(
        DNSFailureAnalyzer(), view_of([app, policy, _coredns(ready=True)], text=_TIMEOUT, focus=[app])
    )
    assert finding.root_cause_id == "dns.egress-blocked"
    assert "lockdown" in finding.root_cause


def test_healthy_coredns_whose_upstream_times_out() -> None:
    coredns = _coredns(ready=True)
    text = "lookup api.partner.example.com on 10.96.0.10:53: server misbehaving"
    plan = DNSFailureAnalyzer().plan(view_of([coredns, _COREFILE], text=text))
    assert [(s.verb, s.name) for s in plan if s.verb == "logs"] == [("logs", "coredns-5d78c9869d-abcde")]
    log = "[ERROR] plugin/errors: 2 api.partner.example.com. A: read udp 10.244.0.5:41234->10.0.0.2:53: i/o timeout\n"
    view = view_of(
        [coredns, _COREFILE], text=text, logs={("kube-system", "coredns-5d78c9869d-abcde", "app", False): log}
    )
    finding = analyze(DNSFailureAnalyzer(), view)
    assert finding.root_cause_id == "dns.upstream-unreachable"
    assert "10.0.0.2:53" in finding.root_cause and "/etc/resolv.conf" in finding.root_cause


def test_resolver_errors_without_a_name_do_not_become_service_lookups() -> None:
    view = view_of([], text="psycopg2.OperationalError: Temporary failure in name resolution")
    assert all(s.kind != "Service" for s in DNSFailureAnalyzer().plan(view))
    assert analyze(DNSFailureAnalyzer(), view).score < 0.5


def test_failing_init_container_is_left_to_init_container_failure() -> None:
    app = pod("payments-1", {"app": "payments"}, init_failing=True, ready=False)
    view = view_of([app], text="lookup payments-db on 10.96.0.10:53: no such host", focus=[app])
    assert DNSFailureAnalyzer().analyze(view) is None


# --- AdmissionDenied ---

_GATEKEEPER = (
    'Error from server (Forbidden): error when creating "k8s/api.yaml": admission webhook "validation.gatekeeper.sh" '
    'denied the request: [must-have-owner] you must provide labels: {"owner", "team"}'
)
_PSS = (
    'Error creating: pods "api-7f9c-x2x9q" is forbidden: violates PodSecurity "restricted:latest": '
    'allowPrivilegeEscalation != false (container "api" must set securityContext.allowPrivilegeEscalation=false), '
    'runAsNonRoot != true (pod or container "api" must set securityContext.runAsNonRoot=true)'
)
_VAP = (
    "The deployments \"batch\" is invalid: : ValidatingAdmissionPolicy 'replica-limit.acme.io' with binding "
    "'replica-limit-binding' denied request: failed expression: object.spec.replicas <= 5"
)
_X509_WEBHOOK = (
    'Internal error occurred: failed calling webhook "validate.nginx.ingress.kubernetes.io": failed to call webhook: '
    'Post "https://ingress-nginx-controller-admission.ingress-nginx.svc:443/networking/v1/ingresses?timeout=10s": '
    "tls: failed to verify certificate: x509: certificate signed by unknown authority"
)


def test_parse_admission_denials() -> None:
    (gk,) = parse_denials(_GATEKEEPER)
    assert (gk.controller, gk.policy, gk.file) == ("gatekeeper", "must-have-owner", "k8s/api.yaml")
    assert required_labels(gk.message) == ["owner", "team"]
    (pss,) = parse_denials(_PSS)
    assert (pss.controller, pss.level, len(pss.items)) == ("pod-security", "restricted", 2)
    (vap,) = parse_denials(_VAP)
    assert (vap.controller, vap.policy, vap.rule) == (
        "validating-admission-policy",
        "replica-limit.acme.io",
        "replica-limit-binding",
    )
    assert parse_denials(_X509_WEBHOOK) == []  # a webhook the API server cannot trust is a CertificateError
    applied = (
        'Resource: "apps/v1, Resource=deployments", GroupVersionKind: "apps/v1, Kind=Deployment"\n'
        'Name: "referral", Namespace: "growth"\nfor: "k8s/d.yaml": ' + _GATEKEEPER.split(": ", 1)[1]
    )
    (patched,) = parse_denials(applied)
    assert (patched.object_kind, patched.object_name) == ("Deployment", "referral")


def test_gatekeeper_denial_adds_the_missing_labels_and_reads_the_constraint() -> None:
    template = {
        "apiVersion": "templates.gatekeeper.sh/v1",
        "kind": "ConstraintTemplate",
        "metadata": _meta("k8srequiredlabels", None),
        "spec": {
            "crd": {"spec": {"names": {"kind": "K8sRequiredLabels"}}},
            "targets": [{"rego": 'msg := sprintf("you must provide labels: %v", [missing])'}],
        },
    }
    analyzer = AdmissionDeniedAnalyzer()
    assert [s.kind for s in analyzer.plan(view_of([], text=_GATEKEEPER))] == ["ConstraintTemplate"]
    plan = analyzer.plan(view_of([template], text=_GATEKEEPER))
    assert [(s.verb, s.kind, s.name) for s in plan] == [("get", "K8sRequiredLabels", "must-have-owner")]
    finding = analyze(analyzer, view_of([template], text=_GATEKEEPER))
    assert "must-have-owner" in finding.root_cause
    assert any("owner=<value> team=<value>" in c and "k8s/api.yaml" in c for c in finding.fix_commands)
    assert not any("delete" in c for c in finding.fix_commands)


def test_gatekeeper_lists_every_violated_constraint_and_pins_an_allowed_image() -> None:
    text = (
        'error when creating "web.yaml": admission webhook "validation.gatekeeper.sh" denied the request: '
        '[allowed-repos] container <web> has an invalid image repo <nginx:1.25>, allowed repos are ["registry.acme.io/"]\n'
        '[must-have-owner] you must provide labels: {"owner"}'
    )
    finding = analyze(AdmissionDeniedAnalyzer(), view_of([], text=text))
    assert 'allowed repos are ["registry.acme.io/"]' in finding.root_cause
    assert "[must-have-owner]" in finding.root_cause
    assert finding.fix_commands[0].startswith(
        "kubectl set image --local -f web.yaml '*=registry.acme.io/<image>"
    )
    assert any("owner=<value>" in c for c in finding.fix_commands)


def test_pod_security_denial_from_replicaset_events_patches_the_deployment() -> None:
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta("api"), "spec": {}}
    rs = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": _meta(
            "api-7f9c", ownerReferences=[{"kind": "Deployment", "name": "api", "controller": True}]
        ),
    }
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": _meta("api-7f9c.1"),
        "involvedObject": {"kind": "ReplicaSet", "name": "api-7f9c", "namespace": NS},
        "reason": "FailedCreate",
        "message": _PSS,
        "type": "Warning",
    }
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": _meta(NS, None, labels={"pod-security.kubernetes.io/enforce": "restricted"}),
    }
    finding = analyze(AdmissionDeniedAnalyzer(), view_of([deployment, rs, event, namespace]))
    assert finding.root_cause_id == "admission.pod-security"
    assert "Deployment api" in finding.root_cause
    patch = finding.fix_commands[0]
    assert patch.startswith("kubectl patch deployment/api -n shop")
    body = json.loads(patch.split(" -p '", 1)[1].rstrip("'"))
    pod_spec = body["spec"]["template"]["spec"]
    assert pod_spec["securityContext"] == {"runAsNonRoot": True}
    assert pod_spec["containers"] == [{"name": "api", "securityContext": {"allowPrivilegeEscalation": False}}]


def test_validating_admission_policy_names_policy_and_binding() -> None:
    finding = analyze(AdmissionDeniedAnalyzer(), view_of([], text=_VAP))
    assert "replica-limit.acme.io" in finding.root_cause and "object.spec.replicas <= 5" in finding.root_cause
    assert any("validatingadmissionpolicybinding replica-limit-binding" in c for c in finding.fix_commands)


# --- RBACForbidden ---

_FORBIDDEN = (
    'Error from server (Forbidden): deployments.apps "web" is forbidden: User "system:serviceaccount:ci:deployer" '
    'cannot patch resource "deployments" in API group "apps" in the namespace "staging"'
)


def _binding(
    kind: str, name: str, ns: str | None, role_kind: str, role: str, subject: dict[str, str]
) -> K8sObject:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": _meta(name, ns),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
        "subjects": [subject],
    }


def test_parse_rbac_denials() -> None:
    (d,) = parse_rbac(_FORBIDDEN)
    assert (d.user, d.verb, d.resource, d.group, d.namespace, d.object_name) == (
        "system:serviceaccount:ci:deployer",
        "patch",
        "deployments",
        "apps",
        "staging",
        "web",
    )
    assert d.service_account == ("ci", "deployer") and d.resource_ref == "deployments.apps"
    (cluster,) = parse_rbac(
        'User "jane@example.com" cannot list resource "nodes" in API group "" at the cluster scope'
    )
    assert cluster.namespace is None and cluster.service_account is None
    (sub,) = parse_rbac(
        'User "bob" cannot create resource "pods/exec" in API group "" in the namespace "prod"'
    )
    assert sub.resource_ref == "pods/exec"


@pytest.mark.parametrize(
    ("rule", "allowed"),
    [
        ({"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list"]}, False),
        ({"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["patch"]}, True),
        ({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}, True),
        ({"apiGroups": [""], "resources": ["deployments"], "verbs": ["patch"]}, False),
        (
            {
                "apiGroups": ["apps"],
                "resources": ["deployments"],
                "verbs": ["patch"],
                "resourceNames": ["api"],
            },
            False,
        ),
    ],
)
def test_rule_allows(rule: dict[str, Any], allowed: bool) -> None:
    (denial,) = parse_rbac(_FORBIDDEN)
    assert rule_allows(rule, denial) is allowed


def test_rbac_names_the_bound_role_and_proposes_a_least_privilege_role() -> None:
    sa = {"kind": "ServiceAccount", "name": "deployer", "namespace": "ci"}
    binding = _binding("RoleBinding", "deployer", "staging", "Role", "readonly", sa)
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": _meta("readonly", "staging"),
        "rules": [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "watch"]}],
    }
    analyzer = RBACForbiddenAnalyzer()
    first = analyzer.plan(view_of([], text=_FORBIDDEN, ns="staging"))
    assert [(s.verb, s.kind, s.namespace) for s in first] == [("list", "RoleBinding", "staging")]
    second = analyzer.plan(
        view_of(
            [binding], text=_FORBIDDEN, ns="staging", reads={read("list", "RoleBinding", "staging"): "ok"}
        )
    )
    assert [(s.verb, s.kind, s.name) for s in second] == [("get", "Role", "readonly")]
    view = view_of(
        [binding, role], text=_FORBIDDEN, ns="staging", reads={read("list", "RoleBinding", "staging"): "ok"}
    )
    finding = analyze(analyzer, view)
    assert finding.root_cause_id == "rbac.verb-not-granted"
    assert "Role readonly" in finding.root_cause and "patch" in finding.root_cause
    assert finding.fix_commands[:2] == [
        "kubectl create role deployer-deployments-patch --verb=get,patch --resource=deployments.apps -n staging",
        "kubectl create rolebinding deployer-deployments-patch --role=deployer-deployments-patch "
        "--serviceaccount=ci:deployer -n staging",
    ]


def test_rbac_cluster_scope_without_bindings_uses_a_clusterrole() -> None:
    text = 'nodes is forbidden: User "jane@example.com" cannot list resource "nodes" in API group "" at the cluster scope'
    view = view_of([], text=text, ns=None, reads={read("list", "ClusterRoleBinding"): "no_data"})
    finding = analyze(RBACForbiddenAnalyzer(), view)
    assert finding.root_cause_id == "rbac.no-binding"
    assert any(
        c.startswith("kubectl create clusterrolebinding") and "--user=jane@example.com" in c
        for c in finding.fix_commands
    )


def test_rbac_denials_in_a_controller_log_are_found() -> None:
    controller = pod("syncer-1", {"app": "syncer"}, ns="tools")
    line = (
        'E1106 10:02:01 reflector.go:158] "Unhandled Error" err="failed to list *v1.Secret: secrets is forbidden: '
        'User \\"system:serviceaccount:tools:syncer\\" cannot list resource \\"secrets\\" in API group \\"\\" in the '
        'namespace \\"team-{}\\""'
    )
    logs = {("tools", "syncer-1", "app", False): "\n".join(line.format(n) for n in "abab")}
    view = view_of([controller], logs=logs, focus=[controller], ns="tools")
    finding = analyze(RBACForbiddenAnalyzer(), view)
    assert 'namespaces "team-a", "team-b"' in finding.root_cause
    assert sum(c.startswith("kubectl create role ") for c in finding.fix_commands) == 2


# --- CertificateError ---


def _cert_chain(solver_class: str, serving_class: str) -> list[K8sObject]:
    cert = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": _meta("app-tls"),
        "spec": {
            "secretName": "app-tls",
            "dnsNames": ["app.example.com"],
            "issuerRef": {"kind": "ClusterIssuer", "name": "le-prod"},
        },
        "status": {
            "conditions": [{"type": "Ready", "status": "False", "reason": "Expired", "message": "expired"}]
        },
    }
    issuer: K8sObject = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "ClusterIssuer",
        "metadata": _meta("le-prod", None),
        "spec": {"acme": {"solvers": [{"http01": {"ingress": {"class": solver_class}}}]}},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }
    challenge = {
        "apiVersion": "acme.cert-manager.io/v1",
        "kind": "Challenge",
        "metadata": _meta("app-tls-1-2-3"),
        "spec": {
            "dnsName": "app.example.com",
            "type": "HTTP-01",
            "solver": issuer["spec"]["acme"]["solvers"][0],
        },
        "status": {"state": "pending", "reason": "wrong status code '404', expected '200'"},
    }
    serving = ingress("app", "app.example.com", "app", {"number": 80}, cls=serving_class)
    return [cert, issuer, challenge, serving]


def test_http01_solver_class_that_no_controller_serves() -> None:
    view = view_of(
        _cert_chain("nginx", "nginx-public"), text="NET::ERR_CERT_DATE_INVALID on https://app.example.com"
    )
    finding = analyze(CertificateErrorAnalyzer(), view)
    assert finding.root_cause_id == "certificate.http01-wrong-ingress-class"
    assert "app-tls" in finding.root_cause and "nginx-public" in finding.root_cause
    patch = finding.fix_commands[0]
    assert patch.startswith("kubectl patch clusterissuer le-prod --type=merge")
    solvers = json.loads(patch.split(" -p '", 1)[1].rstrip("'"))["spec"]["acme"]["solvers"]
    assert solvers == [{"http01": {"ingress": {"ingressClassName": "nginx-public"}}}]


def test_issuer_not_ready_is_the_cause_before_any_challenge() -> None:
    chain = _cert_chain("nginx", "nginx")
    chain[1]["status"] = {
        "conditions": [
            {
                "type": "Ready",
                "status": "False",
                "reason": "ErrGetKeyPair",
                "message": 'secrets "ca-kp" not found',
            }
        ]
    }
    chain[1]["spec"] = {"ca": {"secretName": "ca-kp"}}
    finding = analyze(
        CertificateErrorAnalyzer(), view_of(chain, text="x509: certificate has expired or is not yet valid")
    )
    assert finding.root_cause_id == "certificate.issuer-not-ready"
    assert any("kubectl create secret tls ca-kp -n cert-manager" in c for c in finding.fix_commands)


def test_certificate_pointing_at_a_missing_issuer() -> None:
    cert = _cert_chain("nginx", "nginx")[0]
    view = view_of(
        [cert],
        text="cert-manager certificate not ready",
        reads={read("get", "ClusterIssuer", name="le-prod"): "no_data"},
    )
    finding = analyze(CertificateErrorAnalyzer(), view)
    assert finding.root_cause_id == "certificate.issuer-missing"
    assert "ClusterIssuer le-prod, which does not exist" in finding.root_cause


def test_webhook_x509_reads_only_webhook_configurations_and_is_not_an_admission_denial() -> None:
    view = view_of([], text=_X509_WEBHOOK)
    kinds = [s.kind for s in CertificateErrorAnalyzer().plan(view)]
    assert kinds == ["ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"]
    config = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": _meta("ingress-nginx-admission", None),
        "webhooks": [
            {
                "name": "validate.nginx.ingress.kubernetes.io",
                "clientConfig": {
                    "service": {"namespace": "ingress-nginx", "name": "ingress-nginx-controller-admission"}
                },
            }
        ],
    }
    view = view_of([config], text=_X509_WEBHOOK)
    finding = analyze(CertificateErrorAnalyzer(), view)
    assert finding.root_cause_id == "certificate.webhook-tls"
    assert "ingress-nginx-admission" in finding.root_cause and "caBundle empty" in text_of(finding)
    assert AdmissionDeniedAnalyzer().analyze(view) is None


def test_x509_in_an_application_log() -> None:
    app = pod("orders-1", {"app": "orders"})
    log = 'Get "https://vault.internal:8200/v1/kv": tls: failed to verify certificate: x509: certificate signed by unknown authority'
    view = view_of([app], logs={(NS, "orders-1", "app", False): log}, focus=[app])
    finding = analyze(CertificateErrorAnalyzer(), view)
    assert finding.root_cause_id == "certificate.unknown-authority"
    assert "vault.internal" in finding.root_cause
    assert any("SSL_CERT_FILE" in c for c in finding.fix_commands)


# --- TerraformStateLock ---

_LOCK = """Error: Error acquiring the state lock
│ Error message: {backend}
│ Lock Info:
│   ID:        {lock_id}
│   Path:      {path}
│   Operation: OperationTypeApply
│   Who:       runner@ci-42
│   Version:   1.9.8
│   Created:   2024-11-07 09:40:12.087114 +0000 UTC
│   Info:
"""


@pytest.mark.parametrize(
    ("backend", "lock_id", "path", "name", "check"),
    [
        (
            "operation error DynamoDB: PutItem, ConditionalCheckFailedException: The conditional request failed",
            "f3b6c2a1-8d4e-7b09-52c1-e6a94d0b7f35",
            "tfstate-prod/network/terraform.tfstate",
            "S3 + DynamoDB",
            "aws dynamodb get-item",
        ),
        (
            'writing "gs://tf-state/prod/default.tflock" failed: googleapi: Error 412: ..., conditionNotMet',
            "1730972412095512",
            "gs://tf-state/prod/default.tflock",
            "GCS",
            "gcloud storage cat gs://tf-state/prod/default.tflock",
        ),
        (
            "state blob is already locked",
            "6b0a4f1e-2f67",
            "tfstate/aks.terraform.tfstate",
            "azurerm",
            "az storage blob show",
        ),
    ],
)
def test_terraform_lock_names_id_holder_and_warns_on_force_unlock(
    backend: str, lock_id: str, path: str, name: str, check: str
) -> None:
    text = _LOCK.format(backend=backend, lock_id=lock_id, path=path)
    lock = parse_lock_info(text)
    assert lock is not None and (lock.lock_id, lock.path, lock.who) == (lock_id, path, "runner@ci-42")
    assert detect_backend(text) is not None and detect_backend(text).name == name  # type: ignore[union-attr]
    finding = analyze(TerraformStateLockAnalyzer(), view_of([], text=text, ns=None))
    assert lock_id in finding.root_cause and "runner@ci-42" in finding.root_cause
    unlock = [c for c in finding.fix_commands if "force-unlock" in c]
    assert unlock == [
        f"terraform force-unlock {lock_id}  # ⚠ only after confirming runner@ci-42 is no longer running"
    ]
    assert any(c.startswith(check) for c in finding.fix_commands)
    assert not any("-lock=false" in c for c in finding.fix_commands)


def test_terraform_without_lock_info_and_unrelated_text() -> None:
    finding = analyze(
        TerraformStateLockAnalyzer(), view_of([], text="Error: Error acquiring the state lock", ns=None)
    )
    assert finding.score < 0.9 and finding.missing
    assert (
        TerraformStateLockAnalyzer().analyze(
            view_of([], text="Error: Invalid provider configuration", ns=None)
        )
        is None
    )


# --- graph runs over the eval cases of these categories (real SnapshotReader) ---

_MINE = ("svc-", "dns-", "admission-", "rbac-", "cert-", "terraform-")
CASE_IDS = sorted(p.name for p in CASES.iterdir() if p.name.startswith(_MINE) and (p / "case.yaml").exists())


def test_every_category_has_several_cases() -> None:
    for prefix in _MINE:
        assert sum(c.startswith(prefix) for c in CASE_IDS) >= 3, prefix


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_case_diagnosis(case_id: str) -> None:
    case = load_case(CASES / case_id)
    out = graph.invoke(
        case.input, context=Context(deps=Deps(reader=SnapshotReader(case.path), runbooks=None))
    )
    diagnosis = out["diagnosis"]
    checks = {k: v for k, v in score(case.expect, diagnosis).items() if k != "runbook"}
    assert all(checks.values()), (checks, json.dumps(diagnosis, indent=1)[:3000])
    # The budget holds when the namespace is given; without one, finding it costs a cluster-wide pod
    # list and the reads of the namespace guessed first (a browser error names only a host).
    assert diagnosis["api_requests"] <= (10 if case.input.get("namespace") else 12)


# --- held-out follow-ups: the offending image, CoreDNS setup errors, DNS-01 credential Secrets ---

_KYVERNO_LATEST = (
    "resource Deployment/{ns}/{name} was blocked due to the following policies \n\n"
    "disallow-latest-tag:\n"
    "  autogen-validate-image-tag: 'validation error: Using a mutable image tag e.g. ''latest''\n"
    "    is not allowed. rule autogen-validate-image-tag failed at path /spec/template/spec/containers/0/image/'"
)
_KYVERNO_HOOK = 'admission webhook "validate.kyverno.svc-fail" denied the request: \n\n'


def _workload_with_template(image: str) -> list[K8sObject]:
    template = {"spec": {"containers": [{"name": "web", "image": image}]}}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta("web"),
        "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.27.2"}]}}},
    }
    rs = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": _meta(
            "web-5c8d", ownerReferences=[{"kind": "Deployment", "name": "web", "controller": True}]
        ),
        "spec": {"template": template},
    }
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": _meta("web-5c8d.1"),
        "involvedObject": {"kind": "ReplicaSet", "name": "web-5c8d", "namespace": NS},
        "reason": "FailedCreate",
        "type": "Warning",
        "message": 'Error creating: admission webhook "validate.kyverno.svc-fail" denied the request: \n\n'
        "resource Pod/shop/web-5c8d-x was blocked due to the following policies \n\n"
        "disallow-latest-tag:\n  validate-image-tag: 'validation error: Using a mutable image tag e.g. ''latest'' "
        "is not allowed. rule validate-image-tag failed at path /spec/containers/0/image/'",
    }
    return [deployment, rs, event]


@pytest.mark.parametrize(
    ("text", "objects", "image", "fix"),
    [
        pytest.param(
            "$ kubectl apply -f k8s/\nError from server: error when applying patch:\n"
            '{"spec":{"template":{"spec":{"containers":[{"image":"eu.gcr.io/acme/banner:latest","name":"banner"}]}}}}\n'
            'to:\nResource: "apps/v1, Resource=deployments", GroupVersionKind: "apps/v1, Kind=Deployment"\n'
            'Name: "banner", Namespace: "shop"\nfor: "k8s/deployment.yaml": error when patching '
            '"k8s/deployment.yaml": ' + _KYVERNO_HOOK + _KYVERNO_LATEST.format(ns=NS, name="banner"),
            [],
            "eu.gcr.io/acme/banner:latest (container banner)",
            "kubectl set image --local -f k8s/deployment.yaml 'banner=eu.gcr.io/acme/banner:<immutable tag",
            id="kubectl-apply-patch-quotes-the-latest-image",
        ),
        pytest.param(
            'error when creating "k8s/app.yaml": '
            + _KYVERNO_HOOK
            + _KYVERNO_LATEST.format(ns=NS, name="app")
            + "\n---\nspec:\n  containers:\n    - name: app\n      image: registry.acme.io/app:1.4.0\n"
            "    - name: proxy\n      image: envoyproxy/envoy\n",
            [],
            "envoyproxy/envoy",
            "kubectl set image --local -f k8s/app.yaml '*=<allowed-registry>/<image>",
            id="untagged-image-in-a-pasted-manifest-is-latest",
        ),
        pytest.param(
            "",
            _workload_with_template("nginx"),
            "nginx (container web)",
            "kubectl set image deployment/web 'web=nginx:<immutable tag or @sha256 digest>' -n shop"
            "  # e.g. the running 1.27.2",
            id="replicaset-template-of-a-failedcreate-event",
        ),
        pytest.param(
            'error when creating "web.yaml": admission webhook "validation.gatekeeper.sh" denied the request: '
            "[allowed-repos] container <web> has an invalid image repo <nginx:1.25>, allowed repos are "
            '["registry.acme.io/"]',
            [],
            "nginx:1.25",
            "kubectl set image --local -f web.yaml '*=registry.acme.io/<image>",
            id="gatekeeper-allowed-repos-quotes-the-rejected-image",
        ),
    ],
)
def test_admission_image_denial_quotes_the_offending_image(
    text: str, objects: list[K8sObject], image: str, fix: str
) -> None:
    finding = analyze(AdmissionDeniedAnalyzer(), view_of(objects, text=text))
    assert f"the offending image is {image}" in finding.root_cause
    assert any(c.startswith(fix) for c in finding.fix_commands), finding.fix_commands
    assert not any("delete" in c for c in finding.fix_commands)


@pytest.mark.parametrize(
    ("image", "message", "violates"),
    [
        ("nginx", "Using a mutable image tag e.g. 'latest' is not allowed", True),
        ("nginx:latest", "Using a mutable image tag e.g. 'latest' is not allowed", True),
        ("registry:5000/team/app", "Using a mutable image tag e.g. 'latest' is not allowed", True),
        ("registry:5000/team/app:1.2", "Using a mutable image tag e.g. 'latest' is not allowed", False),
        ("app@sha256:abc", "Using a mutable image tag e.g. 'latest' is not allowed", False),
        ("app:1.2", "images must use a digest", True),
        ("app:1.2@sha256:abc", "images must use a digest", False),
        ("docker.io/app:1", 'allowed repos are ["registry.acme.io/"]', True),
        ("registry.acme.io/app:1", 'allowed repos are ["registry.acme.io/"]', False),
        ("app:1", "you must provide labels", None),
    ],
)
def test_image_violates(image: str, message: str, violates: bool | None) -> None:
    assert image_violates(image, message) is violates


def test_split_image_keeps_the_registry_port_out_of_the_tag() -> None:
    assert split_image("registry:5000/team/app") == ("registry:5000/team/app", None, None)
    assert split_image("registry:5000/team/app:1.2@sha256:ab") == (
        "registry:5000/team/app",
        "1.2",
        "sha256:ab",
    )


_COREFILE_HOSTNAME = (
    ".:53 {\n    errors\n    forward . /etc/resolv.conf\n    loop\n}\n"
    "corp.internal:53 {\n    errors\n    forward . ns1.corp.internal 10.0.0.53:5353\n}\n"
)


@pytest.mark.parametrize(
    ("corefile", "log", "cause_id", "quoted", "fix"),
    [
        pytest.param(
            _COREFILE_HOSTNAME,
            'plugin/forward: not an IP address or file: "ns1.corp.internal"\n',
            "dns.corefile-invalid",
            "not an IP address or file",
            "in corp.internal:53: forward . <IP of ns1.corp.internal>",
            id="forward-to-a-hostname",
        ),
        pytest.param(
            ".:53 {\n    foward . 8.8.8.8\n}\n",
            ".:53\n/etc/coredns/Corefile:2 - Error during parsing: Unknown directive 'foward'\n",
            "dns.corefile-invalid",
            "Unknown directive 'foward'",
            "edit configmap coredns",
            id="unknown-directive",
        ),
        pytest.param(
            ".:53 {\n    forward . /etc/resolv.conf\n}\n",
            "[INFO] plugin/reload: Running configuration SHA512 = 1a2b\nlisten tcp :53: bind: address already in use\n",
            "dns.coredns-crashing",
            "address already in use",
            "logs deployment/coredns --previous",
            id="untagged-last-line-of-a-crashed-container",
        ),
    ],
)
def test_crashing_coredns_quotes_its_fatal_line(
    corefile: str, log: str, cause_id: str, quoted: str, fix: str
) -> None:
    config = {**_COREFILE, "data": {"Corefile": corefile}}
    view = view_of(
        [_coredns(ready=False, restarts=12), config],
        text=_TIMEOUT,
        logs={("kube-system", "coredns-5d78c9869d-abcde", "app", True): log},
    )
    finding = analyze(DNSFailureAnalyzer(), view)
    assert finding.root_cause_id == cause_id
    assert quoted in text_of(finding)
    assert any(fix in c for c in finding.fix_commands), finding.fix_commands


@pytest.mark.parametrize(
    ("corefile", "invalid"),
    [
        (".:53 {\n    forward . 8.8.8.8 1.1.1.1:53 tls://9.9.9.9 [2001:db8::1]:53\n}\n", []),
        (".:53 {\n    forward . /etc/resolv.conf {\n       max_concurrent 1000\n    }\n}\n", []),
        (_COREFILE_HOSTNAME, [("corp.internal:53", "ns1.corp.internal")]),
        (
            "example.org {\n    forward example.org dns.example.net # upstream\n}\n",
            [("example.org", "dns.example.net")],
        ),
    ],
)
def test_invalid_forward_targets(corefile: str, invalid: list[tuple[str, str]]) -> None:
    assert invalid_forward_targets(corefile) == invalid


def _dns01_chain(
    provider: dict[str, Any], reason: str, issuer_kind: str = "ClusterIssuer"
) -> list[K8sObject]:
    cert = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": _meta("app-tls"),
        "spec": {
            "secretName": "app-tls",
            "dnsNames": ["app.example.com"],
            "issuerRef": {"kind": issuer_kind, "name": "le-dns"},
        },
        "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "DoesNotExist"}]},
    }
    solver = {"dns01": provider}
    issuer = {
        "apiVersion": "cert-manager.io/v1",
        "kind": issuer_kind,
        "metadata": _meta("le-dns", NS if issuer_kind == "Issuer" else None),
        "spec": {"acme": {"solvers": [solver]}},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }
    challenge = {
        "apiVersion": "acme.cert-manager.io/v1",
        "kind": "Challenge",
        "metadata": _meta("app-tls-1-2-3"),
        "spec": {"dnsName": "app.example.com", "type": "DNS-01", "solver": solver},
        "status": {"state": "pending", "reason": reason},
    }
    return [cert, issuer, challenge]


_CERT_MANAGER = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": _meta("cert-manager", "security"),
    "spec": {
        "template": {
            "spec": {"containers": [{"name": "c", "args": ["--cluster-resource-namespace=tls-infra"]}]}
        }
    },
}


@pytest.mark.parametrize(
    ("provider", "reason", "issuer_kind", "extra", "fix"),
    [
        pytest.param(
            {"cloudflare": {"apiTokenSecretRef": {"name": "cf-token", "key": "api-token"}}},
            'while querying the Cloudflare API for GET "/zones"\n\t Error: 9109: Invalid access token',
            "ClusterIssuer",
            [],
            "kubectl -n cert-manager create secret generic cf-token --from-literal=api-token=<new api token> "
            "--dry-run=client -o yaml | kubectl apply -f -",
            id="cloudflare-token-rejected",
        ),
        pytest.param(
            {
                "route53": {
                    "region": "eu-west-1",
                    "accessKeyIDSecretRef": {"name": "r53-creds", "key": "access-key-id"},
                    "secretAccessKeySecretRef": {"name": "r53-creds", "key": "secret-access-key"},
                }
            },
            "api error InvalidClientTokenId: The security token included in the request is invalid.",
            "ClusterIssuer",
            [_CERT_MANAGER],
            "kubectl -n tls-infra create secret generic r53-creds --from-literal=access-key-id=<new access key id> "
            "--from-literal=secret-access-key=<new secret access key>",
            id="route53-keys-in-the-cluster-resource-namespace",
        ),
        pytest.param(
            {"digitalocean": {"tokenSecretRef": {"name": "do-token", "key": "access-token"}}},
            'error getting digitalocean token: secret "do-token" not found',
            "Issuer",
            [],
            "kubectl -n shop create secret generic do-token --from-literal=access-token=<new token>",
            id="issuer-secret-missing-in-its-namespace",
        ),
        pytest.param(
            {
                "azureDNS": {
                    "clientID": "abc",
                    "clientSecretSecretRef": {"name": "azuredns", "key": "client-secret"},
                }
            },
            "AADSTS7000215: Invalid client secret provided.",
            "ClusterIssuer",
            [],
            "kubectl -n cert-manager create secret generic azuredns --from-literal=client-secret=<new client secret>",
            id="azuredns-client-secret",
        ),
    ],
)
def test_dns01_credentials_name_the_solver_secret(
    provider: dict[str, Any], reason: str, issuer_kind: str, extra: list[K8sObject], fix: str
) -> None:
    secret = next(iter(dns01_secret_refs({"dns01": provider}))).secret
    view = view_of([*_dns01_chain(provider, reason, issuer_kind), *extra], text="certificate not ready")
    finding = analyze(CertificateErrorAnalyzer(), view)
    assert finding.root_cause_id == "certificate.dns01-credentials"
    assert secret in finding.root_cause
    assert any(c.startswith(fix) for c in finding.fix_commands), finding.fix_commands


def test_dns01_without_credential_secrets_or_auth_errors_keeps_the_generic_finding() -> None:
    irsa = {"route53": {"region": "eu-west-1"}}
    denied = "AccessDenied: User: arn:aws:sts::1:assumed-role/cm is not authorized to perform: route53:ChangeResourceRecordSets"
    finding = analyze(
        CertificateErrorAnalyzer(), view_of(_dns01_chain(irsa, denied), text="certificate not ready")
    )
    assert finding.root_cause_id == "certificate.dns01-failing"
    assert any("route53:ChangeResourceRecordSets" in c for c in finding.fix_commands)
    assert not any("create secret" in c for c in finding.fix_commands)


def test_dns01_challenge_needs_no_ingress_or_ingress_class_reads() -> None:
    chain = _dns01_chain(
        {"cloudflare": {"apiTokenSecretRef": {"name": "t", "key": "k"}}}, "9109: Invalid access token"
    )
    reads = {
        read("list", "Certificate", NS): "ok",
        read("list", "Challenge", NS): "ok",
        read("get", "ClusterIssuer", name="le-dns"): "ok",
    }
    text = "curl https://app.example.com: self-signed certificate"
    kinds = {s.kind for s in CertificateErrorAnalyzer().plan(view_of(chain, text=text, reads=reads))}
    assert not kinds & {"Ingress", "IngressClass", "Order", "CertificateRequest"}
    http01 = _cert_chain("nginx", "nginx-public")
    http_reads = {**reads, read("get", "ClusterIssuer", name="le-prod"): "ok"}
    kinds = {s.kind for s in CertificateErrorAnalyzer().plan(view_of(http01, text=text, reads=http_reads))}
    assert {"Ingress", "IngressClass"} <= kinds


# --- held-out follow-ups (sets 3 and 4): cluster-domain typos, search-path expansions, CI line prefixes,
# name mismatches, a browser's host in a guessed namespace, webhook-injected volumes ---


def _client(env: list[dict[str, Any]], env_from: list[dict[str, Any]] | None = None) -> K8sObject:
    client = pod("checkout-7d9f8c6b5-x2x9q", {"app": "checkout"}, owner="checkout-7d9f8c6b5")
    client["metadata"]["labels"]["pod-template-hash"] = "7d9f8c6b5"
    client["spec"]["containers"][0]["env"] = env
    if env_from:
        client["spec"]["containers"][0]["envFrom"] = env_from
    return client


_NXDOMAIN = "getaddrinfo ENOTFOUND orders-api.orders.svc.cluster.locl"


@pytest.mark.parametrize(
    ("env", "extra", "in_cause", "in_fix"),
    [
        (
            [
                {"name": "ORDERS_URL", "value": "http://orders-api.orders.svc.cluster.locl:8080"},
                {"name": "PAYMENTS_URL", "value": "http://payments.shop.svc.cluster.local"},
            ],
            [],
            "env ORDERS_URL",
            "kubectl set env deployment/checkout -n shop -c app "
            "ORDERS_URL=http://orders-api.orders.svc.cluster.local:8080",
        ),
        (
            [
                {
                    "name": "ORDERS_URL",
                    "valueFrom": {"configMapKeyRef": {"name": "checkout-env", "key": "orders"}},
                }
            ],
            [
                {
                    "kind": "ConfigMap",
                    "metadata": _meta("checkout-env"),
                    "data": {"orders": "http://orders-api.orders.svc.cluster.locl"},
                }
            ],
            "ConfigMap checkout-env key orders",
            "kubectl patch configmap checkout-env -n shop --type=merge -p "
            '\'{"data":{"orders":"http://orders-api.orders.svc.cluster.local"}}\'',
        ),
    ],
)
def test_a_service_name_with_a_mistyped_cluster_domain_names_the_env_carrying_it(
    env: list[dict[str, Any]], extra: list[K8sObject], in_cause: str, in_fix: str
) -> None:
    client = _client(env)
    orders = {
        "kind": "Service",
        "metadata": _meta("orders-api", "orders"),
        "spec": {"selector": {"app": "o"}},
    }
    view = view_of(
        [client, orders, *extra],
        logs={(NS, name_of(client), "app", False): _NXDOMAIN},
        focus=[client],
    )
    finding = analyze(DNSFailureAnalyzer(), view)
    assert finding.root_cause_id == "dns.wrong-cluster-domain"
    assert in_cause in finding.root_cause and "cluster.locl" in finding.root_cause
    assert in_fix in finding.fix_commands, finding.fix_commands
    # The domain explains the failure: no cluster-wide search for a Service of that name.
    assert not [s for s in DNSFailureAnalyzer().plan(view) if s.kind == "Service"]


def test_the_cluster_domain_comes_from_the_corefile_when_read() -> None:
    corefile = {
        "kind": "ConfigMap",
        "metadata": _meta("coredns", "kube-system"),
        "data": {"Corefile": ".:53 {\n    kubernetes corp.internal in-addr.arpa ip6.arpa\n}"},
    }
    client = _client([{"name": "ORDERS_URL", "value": "http://orders-api.orders.svc.cluster.local"}])
    view = view_of(
        [client, corefile],
        logs={
            (NS, name_of(client), "app", False): "getaddrinfo ENOTFOUND orders-api.orders.svc.cluster.local"
        },
        focus=[client],
    )
    finding = analyze(DNSFailureAnalyzer(), view)
    assert finding.root_cause_id == "dns.wrong-cluster-domain"
    assert "orders-api.orders.svc.corp.internal" in finding.root_cause


def test_objects_read_in_a_namespace_prove_it_exists() -> None:
    client = _client([{"name": "ORDERS_URL", "value": "http://orders-api.billing.svc.cluster.local"}])
    in_billing = {"kind": "Service", "metadata": _meta("ledger", "billing"), "spec": {}}
    elsewhere = {"kind": "Service", "metadata": _meta("orders-api", "orders"), "spec": {}}
    log = "dial tcp: lookup orders-api.billing.svc.cluster.local on 10.96.0.10:53: no such host"
    view = view_of(
        [client, in_billing, elsewhere],
        logs={(NS, name_of(client), "app", False): log},
        focus=[client],
        reads={read("get", "Namespace", name="billing"): "no_data"},
    )
    finding = analyze(DNSFailureAnalyzer(), view)
    assert "namespace billing does not exist" not in finding.root_cause
    assert "orders-api.orders.svc.cluster.local" in finding.root_cause


def test_upstream_timeouts_on_a_search_path_expansion_point_at_ndots() -> None:
    client = _client([])
    coredns = _coredns(True)
    lookup = (
        'Get "https://api.bank.example/v1": dial tcp: lookup api.bank.example on 10.96.0.10:53: '
        "read udp 10.0.0.5:3987->10.96.0.10:53: i/o timeout"
    )
    upstream = (
        "[ERROR] plugin/errors: 2 api.bank.example.eu-west-1.compute.internal. A: "
        "read udp 10.0.9.3:5883->10.0.0.2:53: i/o timeout"
    )
    corefile = {
        "kind": "ConfigMap",
        "metadata": _meta("coredns", "kube-system"),
        "data": {"Corefile": ".:53 {\n    forward . /etc/resolv.conf\n}"},
    }
    view = view_of(
        [client, coredns, corefile],
        logs={
            (NS, name_of(client), "app", False): lookup,
            ("kube-system", name_of(coredns), "coredns", False): upstream,
        },
        focus=[client],
    )
    finding = analyze(DNSFailureAnalyzer(), view)
    assert finding.root_cause_id == "dns.search-path-expansion"
    assert (
        "api.bank.example.eu-west-1.compute.internal" in finding.root_cause
        and "ndots:5" in finding.root_cause
    )
    assert '"dnsConfig":{"options":[{"name":"ndots","value":"2"}]}' in finding.fix_commands[0]
    # CoreDNS's log explains it: no egress NetworkPolicy read for the client.
    assert not [s for s in DNSFailureAnalyzer().plan(view) if s.kind == "NetworkPolicy"]


_GH_ACTIONS_LOCK = """2026-11-27T07:52:12.8810230Z Acquiring state lock. This may take a few moments...
2026-11-27T07:53:13.2210550Z ╷
2026-11-27T07:53:13.2211020Z │ Error: Error acquiring the state lock
2026-11-27T07:53:13.2212530Z │ ConditionalCheckFailedException: The conditional request failed
2026-11-27T07:53:13.2212800Z │ Lock Info:
2026-11-27T07:53:13.2213100Z │   ID:        7c0e5a4d-2b19-4f3e-9d61-0a8b3c5e7f12
2026-11-27T07:53:13.2213400Z │   Path:      tfstate-prod/eks/terraform.tfstate
2026-11-27T07:53:13.2213700Z │   Operation: OperationTypeApply
2026-11-27T07:53:13.2214000Z │   Who:       runner@fv-az1377-402
2026-11-27T07:53:13.2389100Z ##[error]Terraform exited with code 1."""


@pytest.mark.parametrize(
    "text",
    [
        _GH_ACTIONS_LOCK,
        _GH_ACTIONS_LOCK.replace("2026-11-27T07:53:13.2213100Z │ ", "##[error]│ "),
        # GitLab/Jenkins timestamper: "[07:53:13] " before each line, ANSI colours kept.
        "\n".join(
            f"[07:53:13] \x1b[31m{line.split('Z ', 1)[1]}" if "Z " in line else line
            for line in _GH_ACTIONS_LOCK.splitlines()
        ),
        # Google Cloud Build: 'Step #2 - "tf-apply": ' before each line.
        "\n".join(
            f'Step #2 - "tf-apply": {line.split("Z ", 1)[1]}' if "Z " in line else line
            for line in _GH_ACTIONS_LOCK.splitlines()
        ),
    ],
)
def test_lock_info_is_parsed_under_ci_line_prefixes(text: str) -> None:
    lock = parse_lock_info(text)
    assert lock is not None
    assert lock.lock_id == "7c0e5a4d-2b19-4f3e-9d61-0a8b3c5e7f12"
    assert lock.who == "runner@fv-az1377-402"
    assert lock.path == "tfstate-prod/eks/terraform.tfstate"
    finding = analyze(TerraformStateLockAnalyzer(), view_of([], text=text, ns=None))
    assert "7c0e5a4d-2b19-4f3e-9d61-0a8b3c5e7f12" in finding.root_cause


def _named_cert(dns_names: list[str], owner_ingress: str | None = None) -> K8sObject:
    meta = _meta("api-tls")
    if owner_ingress:
        meta["ownerReferences"] = [{"kind": "Ingress", "name": owner_ingress, "controller": True}]
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": meta,
        "spec": {
            "secretName": "api-tls",
            "dnsNames": dns_names,
            "issuerRef": {"kind": "ClusterIssuer", "name": "le"},
        },
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }


@pytest.mark.parametrize(
    ("owner", "in_fix"),
    [
        (None, '\'[{"op":"add","path":"/spec/dnsNames/-","value":"api.eu.example.com"}]\''),
        ("api", "kubectl edit ingress api -n shop  # add api.eu.example.com to spec.tls[].hosts"),
    ],
)
def test_a_name_the_certificate_does_not_cover_is_added_where_its_dns_names_come_from(
    owner: str | None, in_fix: str
) -> None:
    serving = ingress("api", "api.eu.example.com", "api", {"number": 80})
    serving["spec"]["tls"] = [{"hosts": ["api.example.com", "api.eu.example.com"], "secretName": "api-tls"}]
    text = "x509: certificate is valid for api.example.com, www.example.com, not api.eu.example.com"
    view = view_of(
        [serving, _named_cert(["api.example.com", "www.example.com"], owner)],
        text=text,
        reads={read("list", "Certificate", NS): "ok", read("list", "Ingress", NS): "ok"},
    )
    finding = analyze(CertificateErrorAnalyzer(), view)
    assert finding.root_cause_id == "certificate.name-mismatch"
    assert "api-tls" in finding.root_cause and "api.eu.example.com" in finding.root_cause
    assert any(in_fix in c for c in finding.fix_commands), finding.fix_commands


def test_a_name_mismatch_plans_the_namespace_ingresses() -> None:
    text = "x509: certificate is valid for api.example.com, not api.eu.example.com"
    view = view_of([], text=text, reads={read("list", "Certificate", NS): "ok"})
    assert read("list", "Ingress", NS) in {s.key() for s in CertificateErrorAnalyzer().plan(view)}


def test_a_guessed_namespace_gives_way_to_the_one_serving_the_browsers_host() -> None:
    text = "Your connection is not private\nNET::ERR_CERT_DATE_INVALID on status.example.com"
    guessed = {read("list", "Pod"): "ok", read("list", "Pod", "ingress-nginx"): "ok"}
    first = CertificateErrorAnalyzer().plan(view_of([], text=text, reads=guessed, ns="ingress-nginx"))
    # Where the host is served comes first: no reads of the guessed namespace yet.
    assert [(s.verb, s.kind, s.namespace) for s in first] == [("list", "Ingress", None)]
    serving = ingress("status", "status.example.com", "status", {"number": 80})
    serving["metadata"]["namespace"] = "status-page"
    second = CertificateErrorAnalyzer().plan(
        view_of([serving], text=text, reads={**guessed, read("list", "Ingress"): "ok"}, ns="ingress-nginx")
    )
    assert read("list", "Certificate", "status-page") in {s.key() for s in second}
    assert read("list", "Certificate", "ingress-nginx") not in {s.key() for s in second}


def test_a_pod_security_violation_by_an_injected_volume_names_the_mutating_webhook() -> None:
    template = {
        "metadata": {"labels": {"app": "api", "admission.example.com/enabled": "true"}},
        "spec": {"containers": [{"name": "api", "image": "api:2"}]},
    }
    rs = {
        "kind": "ReplicaSet",
        "metadata": _meta(
            "api-7d5f8b6c9", ownerReferences=[{"kind": "Deployment", "name": "api", "controller": True}]
        ),
        "spec": {"template": template},
    }
    deployment = {
        "kind": "Deployment",
        "metadata": _meta("api"),
        "spec": {"selector": {"matchLabels": {"app": "api"}}, "template": template},
    }
    webhook = {
        "kind": "MutatingWebhookConfiguration",
        "metadata": _meta("agent-webhook", None),
        "webhooks": [
            {
                "name": "agent.inject.example.com",
                "objectSelector": {"matchLabels": {"admission.example.com/enabled": "true"}},
                "rules": [{"operations": ["CREATE"], "resources": ["pods"]}],
            }
        ],
    }
    denied = {
        "kind": "Event",
        "metadata": _meta("api-7d5f8b6c9.1"),
        "involvedObject": {"kind": "ReplicaSet", "name": "api-7d5f8b6c9", "namespace": NS},
        "reason": "FailedCreate",
        "type": "Warning",
        "message": 'Error creating: pods "api-7d5f8b6c9-x" is forbidden: violates PodSecurity "baseline:latest": '
        'hostPath volumes (volume "agent-socket")',
    }
    namespace = {
        "kind": "Namespace",
        "metadata": _meta(NS, None, labels={"pod-security.kubernetes.io/enforce": "baseline"}),
    }
    objects = [rs, deployment, denied, namespace]
    plan = AdmissionDeniedAnalyzer().plan(view_of(objects))
    assert read("list", "MutatingWebhookConfiguration") in {s.key() for s in plan}
    finding = analyze(AdmissionDeniedAnalyzer(), view_of([*objects, webhook]))
    assert "agent.inject.example.com" in finding.root_cause and 'volume "agent-socket"' in finding.root_cause
    assert any(
        '"op":"remove","path":"/spec/template/metadata/labels/admission.example.com~1enabled"' in c
        for c in finding.fix_commands
    ), finding.fix_commands


_DASHBOARD_LOG = (
    'E refresher: payments: list deployments: deployments.apps is forbidden: User "system:serviceaccount:tools:'
    'dashboard" cannot list resource "deployments" in API group "apps" in the namespace "payments"\n'
    'E refresher: payments: list pods: pods is forbidden: User "system:serviceaccount:tools:dashboard" cannot '
    'list resource "pods" in API group "" in the namespace "payments"\n'
)


def test_a_denial_in_the_log_of_a_client_outside_the_namespace_is_found_but_weighed_lower() -> None:
    client = pod("dashboard-5c6d7e8f9-abcde", {"app": "dashboard"}, ns="tools", owner="dashboard-5c6d7e8f9")
    view = view_of(
        [client],
        logs={("tools", name_of(client), "app", False): _DASHBOARD_LOG},
        reads={read("list", "RoleBinding", "payments"): "ok", read("list", "ClusterRoleBinding"): "ok"},
        ns="payments",
    )
    finding = analyze(RBACForbiddenAnalyzer(), view)
    assert "tools/dashboard" in finding.root_cause and "pods" in finding.root_cause
    assert finding.score <= 0.6
    # One Role covers every resource the client is denied the same verb on.
    assert "--resource=deployments.apps,pods -n payments" in finding.fix_commands[0]
    assert finding.fix_commands[1].startswith("kubectl create rolebinding")
