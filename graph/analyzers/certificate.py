"""CertificateError: a TLS certificate is expired, untrusted or not issued.

Two families. cert-manager not issuing: the Certificate is not Ready and the chain it
creates (CertificateRequest -> Order -> Challenge) says where issuance stops — an ACME
HTTP-01 challenge that never validates because the solver Ingress uses a class no controller
serves for that host, a DNS-01 provider error, an Issuer that is not ready, an ACME rate
limit. And x509 errors printed by clients: ``certificate signed by unknown authority``
(a private CA the client does not trust — for admission webhooks, a caBundle that does not
match the serving certificate), ``certificate has expired or is not yet valid`` and
``certificate is valid for X, not Y`` (a name the certificate does not cover).
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from typing import Any

from graph.analyzers.base import Analyzer, Fact, Finding, ref, src_event, src_log, src_obj
from graph.analyzers.common import candidate_pods, namespace_guessed, workload_ref
from graph.evidence import EvidenceView, K8sObject, name_of, namespace_of
from graph.schemas import ReadSpec

_X509 = re.compile(
    r"x509: (?P<what>certificate signed by unknown authority|certificate has expired or is not yet valid[^\n\"]*|"
    r"certificate is valid for [^\n\"]+|certificate is not valid for any names[^\n\"]*|[^\n\"]{5,120})"
)
_HOST = re.compile(r"\b((?:[a-z0-9](?:[-a-z0-9]*[a-z0-9])?\.)+[a-z]{2,})\b", re.IGNORECASE)
_URL_HOST = re.compile(r"https://([\w.-]+)")
_WEBHOOK = re.compile(r"failed calling webhook \\?\"(?P<webhook>[^\"\\]+)\\?\"")
# Text that says a browser or client reached a host over HTTPS: the Ingress serving it matters.
_BROWSER = re.compile(r"https://|err_cert|net::|\bbrowser|\bhost\b|ingress", re.IGNORECASE)
_PULL = re.compile(r"pull|manifest|registry|v2/", re.IGNORECASE)
_SECRET_NOT_FOUND = re.compile(r"secrets? \\?\"(?P<name>[a-z0-9][-a-z0-9.]*)\\?\" not found")
_NAME_MISMATCH = re.compile(
    r"certificate is valid for (?P<valid>[^\n\"]+?), not (?P<want>[\w*.-]+[\w])"
    r"|certificate is not valid for any names, but wanted to match (?P<want2>[\w*.-]+[\w])"
)
_INGRESS_CLASS_ANNOTATION = "kubernetes.io/ingress.class"


@dataclass
class Result:
    score: float
    cause_id: str
    cause: str
    facts: list[Fact] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)
    affected: list[K8sObject] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def _conditions(obj: K8sObject) -> dict[str, dict[str, Any]]:
    return {str(c.get("type")): dict(c) for c in (obj.get("status") or {}).get("conditions") or []}


def _failing(cert: K8sObject) -> bool:
    """Not Ready, or stuck issuing: a renewal that has not completed keeps Issuing=True while the old
    certificate is still valid (Ready=True) until it expires."""
    issuing = _conditions(cert).get("Issuing") or {}
    return _not_ready(cert) or issuing.get("status") == "True"


def _not_ready(obj: K8sObject) -> bool:
    return (_conditions(obj).get("Ready") or {}).get("status") != "True"


def _ingress_class(ingress: K8sObject) -> str | None:
    spec = ingress.get("spec") or {}
    annotations = (ingress.get("metadata") or {}).get("annotations") or {}
    value = spec.get("ingressClassName") or annotations.get(_INGRESS_CLASS_ANNOTATION)
    return str(value) if value else None


def _solver_class(solver: dict[str, Any]) -> str | None:
    ingress = ((solver.get("http01") or {}).get("ingress")) or {}
    value = ingress.get("ingressClassName") or ingress.get("class")
    return str(value) if value else None


@dataclass(frozen=True)
class SecretRef:
    provider: str
    field: str
    """the solver field naming the Secret, e.g. apiTokenSecretRef"""
    secret: str
    key: str | None


def dns01_secret_refs(solver: dict[str, Any]) -> list[SecretRef]:
    """The Secrets a DNS-01 solver reads its provider credentials from: every ``*SecretRef`` of the
    configured provider (cloudflare apiTokenSecretRef/apiKeySecretRef, route53 accessKeyIDSecretRef/
    secretAccessKeySecretRef, cloudDNS serviceAccountSecretRef, azureDNS clientSecretSecretRef,
    digitalocean tokenSecretRef, rfc2136 tsigSecretSecretRef, acmeDNS accountSecretRef, akamai ...)."""
    found: list[SecretRef] = []

    def walk(provider: str, node: Any) -> None:
        if not isinstance(node, dict):
            return
        for key, value in node.items():
            if key.endswith("SecretRef") and isinstance(value, dict) and value.get("name"):
                found.append(SecretRef(provider, key, str(value["name"]), value.get("key")))
            elif isinstance(value, dict):
                walk(provider, value)

    for provider, config in (solver.get("dns01") or {}).items():
        if provider != "cnameStrategy":
            walk(provider, config)
    return found


# Provider answers that mean the credentials themselves are wrong (vs. valid but not allowed).
_AUTH_FAILED = re.compile(
    r"invalid (?:access |api )?token|authentication error|invalid credentials|InvalidClientTokenId|"
    r"SignatureDoesNotMatch|UnrecognizedClientException|ExpiredToken|invalid_client|invalid_grant|AADSTS\d+|"
    r"\b401\b|unauthori[sz]ed|unauthenticated|token (?:is )?(?:expired|revoked)|invalid request headers",
    re.I,
)
_PERMISSION = re.compile(r"AccessDenied|not authorized|\b403\b|forbidden|permission", re.I)
_SECRET_MISSING = re.compile(r"secrets? \\?\"[^\"\\]+\\?\" not found|error getting .*secret", re.I)


def _credential_problem(reason: str) -> str | None:
    if _SECRET_MISSING.search(reason):
        return "missing"
    if _AUTH_FAILED.search(reason):
        return "rejected"
    if _PERMISSION.search(reason):
        return "permission"
    return None


def _cluster_resource_namespace(view: EvidenceView) -> str:
    """Where a ClusterIssuer's Secrets live: cert-manager's --cluster-resource-namespace, by default the
    namespace cert-manager runs in."""
    for deployment in view.objs("Deployment"):
        if name_of(deployment) != "cert-manager":
            continue
        for container in ((deployment.get("spec") or {}).get("template") or {}).get("spec", {}).get(
            "containers"
        ) or []:
            for arg in container.get("args") or []:
                if str(arg).startswith("--cluster-resource-namespace=") and "$(" not in str(arg):
                    return str(arg).split("=", 1)[1]
        return namespace_of(deployment) or "cert-manager"
    return "cert-manager"


def _rotate_secret_fixes(refs: list[SecretRef], namespace: str) -> list[str]:
    """Recreate each credential Secret in place (one command per Secret, every key the solver reads)."""
    by_secret: dict[str, list[SecretRef]] = {}
    for item in refs:
        by_secret.setdefault(item.secret, []).append(item)
    fixes = []
    for secret, items in by_secret.items():
        literals = " ".join(
            f"--from-literal={r.key or '<key>'}=<new {_words(r.field.removesuffix('SecretRef'))}>"
            for r in items
        )
        fixes.append(
            f"kubectl -n {namespace} create secret generic {secret} {literals} --dry-run=client -o yaml "
            "| kubectl apply -f -  # a valid credential with DNS edit rights on the zone"
        )
    return fixes


def _words(camel: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", camel).lower()


def _is_http01(challenge: K8sObject) -> bool:
    spec = challenge.get("spec") or {}
    return "http01" in (spec.get("solver") or {}) or str(spec.get("type", "")).upper() == "HTTP-01"


def _is_solver(ingress: K8sObject) -> bool:
    return "acme.cert-manager.io/http01-solver" in ((ingress.get("metadata") or {}).get("labels") or {})


def _hosts(ingress: K8sObject) -> set[str]:
    spec = ingress.get("spec") or {}
    hosts = {str(r.get("host")) for r in spec.get("rules") or [] if r.get("host")}
    for tls in spec.get("tls") or []:
        hosts |= {str(h) for h in tls.get("hosts") or []}
    return hosts


class CertificateErrorAnalyzer(Analyzer):
    category = "CertificateError"

    def _interested(self, view: EvidenceView) -> bool:
        return view.suspects(self.category) or bool(self._x509_lines(view))

    def plan(self, view: EvidenceView) -> list[ReadSpec]:
        ns = view.namespace
        if not self._interested(view):
            return []
        if any(_WEBHOOK.search(line) for line, _ in self._x509_lines(view)):
            # The API server calling a webhook: its configuration holds the CA bundle, nothing else matters.
            why = "the webhook whose certificate fails"
            specs = [
                ReadSpec(verb="list", kind="ValidatingWebhookConfiguration", why=why),
                ReadSpec(verb="list", kind="MutatingWebhookConfiguration", why=why),
            ]
            return [s for s in specs if not view.was_read(s.key())]
        specs = []
        if namespace_guessed(view):
            # No namespace given: the Ingress serving the host in the text says where to look (the
            # namespace of the worst pods need not be the one serving that host).
            by_host = self._namespace_by_host(view)
            if by_host and not view.was_read(by_host[0].key()):
                return by_host[:1]  # where to look first; the namespace's reads follow once it is known
            specs += by_host
        ns = _target_namespace(view)
        if ns:
            specs.append(
                ReadSpec(
                    verb="list",
                    kind="Certificate",
                    namespace=ns,
                    why="cert-manager Certificates and their state",
                )
            )
            http01 = any(_is_http01(c) for c in view.objs("Challenge", ns))
            all_ingresses = view.was_read(ReadSpec(verb="list", kind="Ingress").key())
            # A name the certificate does not cover: the Ingress serving that name says which Secret is served.
            mismatch = any(_NAME_MISMATCH.search(line) for line, _ in self._x509_lines(view))
            if (self._ingress_matters(view, ns) or http01 or mismatch) and not all_ingresses:
                specs.append(
                    ReadSpec(
                        verb="list",
                        kind="Ingress",
                        namespace=ns,
                        why="hosts, TLS secrets and ingress classes",
                    )
                )
        for cert in self._certificates(view)[:1]:
            if not _failing(cert):
                continue
            issuer_ref = (cert.get("spec") or {}).get("issuerRef") or {}
            kind = "ClusterIssuer" if issuer_ref.get("kind") == "ClusterIssuer" else "Issuer"
            issuer_ns = None if kind == "ClusterIssuer" else ns
            specs.append(
                ReadSpec(
                    verb="get",
                    kind=kind,
                    namespace=issuer_ns,
                    name=str(issuer_ref.get("name")),
                    why="the issuer of the failing Certificate",
                )
            )
            issuer = view.obj(kind, str(issuer_ref.get("name")), issuer_ns)
            acme = issuer is None or "acme" in (issuer.get("spec") or {})
            if acme and ns:
                specs.append(
                    ReadSpec(
                        verb="list",
                        kind="Challenge",
                        namespace=ns,
                        why="ACME challenges that do not validate",
                    )
                )
            challenges = self._challenges(view, cert)
            if any(_is_http01(c) for c in challenges):
                specs.append(ReadSpec(verb="list", kind="IngressClass", why="which ingress classes exist"))
            elif not challenges and issuer is not None and not _not_ready(issuer) and ns:
                # The issuer is fine and no challenge explains it: the request or order does.
                specs.append(
                    ReadSpec(verb="list", kind="CertificateRequest", namespace=ns, why="where issuance stops")
                )
                if acme:
                    specs.append(
                        ReadSpec(verb="list", kind="Order", namespace=ns, why="the ACME order state")
                    )
        return [s for s in {s.key(): s for s in specs}.values() if not view.was_read(s.key())]

    def _ingress_matters(self, view: EvidenceView, ns: str) -> bool:
        """The Ingress serving a host explains an HTTP-01 challenge or a TLS Secret no Certificate manages;
        a failing Certificate whose challenges are DNS-01 (or not ACME) needs no Ingress."""
        if not _BROWSER.search(view.error_message):
            return False
        if not view.was_read(ReadSpec(verb="list", kind="Certificate", namespace=ns).key()):
            return False  # decided once the Certificates are known
        failing = [c for c in self._certificates(view) if _failing(c)]
        if not failing:
            return True
        challenges_read = view.was_read(ReadSpec(verb="list", kind="Challenge", namespace=ns).key())
        if not challenges_read:
            return False
        challenges = self._challenges(view, failing[0])
        return not challenges or any(_is_http01(c) for c in challenges)

    @staticmethod
    def _namespace_by_host(view: EvidenceView) -> list[ReadSpec]:
        hosts = {h.lower() for h in _HOST.findall(view.error_message)}
        if not hosts:
            return []
        specs = [ReadSpec(verb="list", kind="Ingress", why="which Ingress serves the host in the text")]
        for ing in view.objs("Ingress"):
            if _hosts(ing) & hosts and not _is_solver(ing):
                specs.append(
                    ReadSpec(
                        verb="list",
                        kind="Certificate",
                        namespace=namespace_of(ing),
                        why="the Certificates of the namespace serving the host",
                    )
                )
        return specs

    # --- evidence queries ---

    def _x509_lines(self, view: EvidenceView) -> list[tuple[str, str]]:
        """(line, source) of x509 errors: the paste, events of the namespace, logs of the pods read."""
        found = [(line, "pasted error") for line in _lines_with_x509(view.error_message)]
        for event in view.events(view.namespace):
            found += [(line, src_event(event)) for line in _lines_with_x509(str(event.get("message", "")))]
        for pod in candidate_pods(view)[:6]:
            for key, text in view.pod_logs(pod).items():
                container, _, previous = key.partition("#")
                source = src_log(namespace_of(pod) or "", name_of(pod), container, bool(previous))
                found += [(line, source) for line in _lines_with_x509(text)[-1:]]
        return found

    def _certificates(self, view: EvidenceView) -> list[K8sObject]:
        """Certificates, the ones for hosts the text names first, then those not Ready."""
        certs = view.objs("Certificate", _target_namespace(view))
        hosts = {h.lower() for h in _HOST.findall(view.error_message)}
        return sorted(
            certs,
            key=lambda c: (
                not ({str(n).lower() for n in (c.get("spec") or {}).get("dnsNames") or []} & hosts),
                not _failing(c),
            ),
        )

    @staticmethod
    def _challenges(view: EvidenceView, cert: K8sObject) -> list[K8sObject]:
        names = set((cert.get("spec") or {}).get("dnsNames") or [])
        prefix = name_of(cert) + "-"
        return [
            ch
            for ch in view.objs("Challenge", namespace_of(cert))
            if (ch.get("spec") or {}).get("dnsName") in names or name_of(ch).startswith(prefix)
        ]

    def analyze(self, view: EvidenceView) -> Finding | None:
        if not self._interested(view):
            return None
        result = None
        for cert in self._certificates(view):
            if _failing(cert):
                result = self._cert_manager(view, cert)
                break
        if result is None:
            result = self._x509(view)
        if result is None:
            result = self._unmanaged_secret(view)
        if result is None:
            if not view.suspects(self.category, 0.5):
                return None
            result = Result(
                0.4,
                "certificate.unknown",
                "The text points at a TLS certificate problem, but no failing Certificate or x509 error was found "
                "in the namespace.",
                [Fact(view.error_message.strip().splitlines()[0][:200], "pasted error")]
                if view.error_message.strip()
                else [],
                [
                    f"kubectl get certificates,certificaterequests,orders,challenges -n {_target_namespace(view) or '<ns>'}"
                ],
                missing=["a cert-manager Certificate or the exact x509 error"],
            )
        return Finding(
            category=self.category,
            score=result.score,
            root_cause_id=result.cause_id,
            root_cause=result.cause,
            summary=result.cause.split(": ")[0][:200],
            facts=result.facts,
            fix_commands=result.fixes,
            prevention=[
                "Alert on certmanager_certificate_expiration_timestamp_seconds (less than 14 days left) and on "
                "Certificates whose Ready condition is False.",
                "When ingress classes or controllers change, update the issuers' HTTP-01 solver class in the same change.",
                "Distribute private CAs to clients with a managed bundle (trust-manager) instead of per-image copies.",
            ],
            affected=[ref(o) for o in result.affected],
            missing=result.missing,
        )

    # --- cert-manager ---

    def _cert_manager(self, view: EvidenceView, cert: K8sObject) -> Result:
        ns, name = namespace_of(cert), name_of(cert)
        spec, status = cert.get("spec") or {}, cert.get("status") or {}
        ready = _conditions(cert).get("Ready") or {}
        secret = spec.get("secretName", name)
        dns_names = ", ".join(spec.get("dnsNames") or [])
        facts = [
            Fact(
                f"Certificate {name} (secret {secret}, {dns_names}) Ready={ready.get('status', 'Unknown')} "
                f"{ready.get('reason', '')}: {ready.get('message', '')}".strip(),
                src_obj(cert, "status.conditions[Ready]"),
            )
        ]
        if status.get("notAfter"):
            facts.append(
                Fact(f"current certificate notAfter {status['notAfter']}", src_obj(cert, "status.notAfter"))
            )
        expired = ready.get("reason") == "Expired" or bool(
            re.search(r"certificate (?:has )?expired", str(ready.get("message", "")), re.I)
        )
        if expired:
            state = f"expired ({status['notAfter']})" if status.get("notAfter") else "expired"
        elif ready.get("status") == "True":
            state = (
                f"not renewed: renewal was due {status.get('renewalTime', '?')} and the current certificate "
                f"expires {status.get('notAfter', '?')}"
            )
        else:
            state = "not issued"
        issuer_ref = spec.get("issuerRef") or {}
        issuer_kind = "ClusterIssuer" if issuer_ref.get("kind") == "ClusterIssuer" else "Issuer"
        issuer_name = str(issuer_ref.get("name", ""))
        issuer = view.obj(issuer_kind, issuer_name, None if issuer_kind == "ClusterIssuer" else ns)
        renew = f"cmctl renew {name} -n {ns}  # trigger a new issuance once the cause is fixed"
        head = f"Certificate {name} in {ns} (Secret {secret}, for {dns_names}) is {state}"

        issuer_read = ReadSpec(
            verb="get",
            kind=issuer_kind,
            namespace=None if issuer_kind == "ClusterIssuer" else ns,
            name=issuer_name,
        ).key()
        if issuer is None and view.read_status(issuer_read) == "no_data":
            facts.append(
                Fact(f"{issuer_kind} {issuer_name} does not exist", f"get {issuer_kind} {issuer_name}")
            )
            other = "issuer" if issuer_kind == "ClusterIssuer" else "clusterissuer"
            return Result(
                0.9,
                "certificate.issuer-missing",
                f"{head}: it references {issuer_kind} {issuer_name}, which does not exist, so cert-manager never "
                "signs a request for it.",
                facts,
                [
                    f"kubectl get clusterissuers,issuers -A  # the issuers that exist (an {other} of that name?)",
                    f"kubectl patch certificate {name} -n {ns} --type=merge -p "
                    f'\'{{"spec":{{"issuerRef":{{"kind":"{issuer_kind}","name":"<existing issuer>"}}}}}}\'',
                    renew,
                ],
                [cert],
            )
        if issuer is not None and _not_ready(issuer):
            cond = _conditions(issuer).get("Ready") or {}
            facts.append(
                Fact(
                    f"{issuer_kind} {issuer_name} not Ready: {cond.get('message', '')}",
                    src_obj(issuer, "status.conditions"),
                )
            )
            return Result(
                0.9,
                "certificate.issuer-not-ready",
                f"{head}: its {issuer_kind} {issuer_name} is not ready ({cond.get('reason', '')}: "
                f"{cond.get('message', '')}), so no CertificateRequest can be signed.",
                facts,
                [
                    *self._issuer_secret_fix(issuer, issuer_kind, ns, str(cond.get("message", ""))),
                    f"kubectl describe {issuer_kind.lower()} {issuer_name}"
                    + (f" -n {ns}" if issuer_kind == "Issuer" else ""),
                    renew,
                ],
                [cert, issuer],
            )

        for challenge in self._challenges(view, cert):
            result = self._challenge(
                view, cert, challenge, issuer, issuer_kind, issuer_name, head, facts, renew
            )
            if result is not None:
                return result

        for kind in ("Order", "CertificateRequest"):
            for obj in view.objs(kind, ns):
                if not name_of(obj).startswith(name):
                    continue
                obj_status = obj.get("status") or {}
                reason = obj_status.get("reason") or (_conditions(obj).get("Ready") or {}).get("message")
                failed = obj_status.get("state") in ("errored", "invalid") or (
                    _conditions(obj).get("Ready") or {}
                ).get("reason") in ("Failed", "Denied")
                if failed and reason:
                    facts.append(Fact(f"{kind} {name_of(obj)}: {reason}", src_obj(obj, "status")))
                    return Result(
                        0.9,
                        f"certificate.{kind.lower()}-failed",
                        f"{head}: {kind} {name_of(obj)} failed: {reason}.",
                        facts,
                        [f"kubectl describe {kind.lower()} {name_of(obj)} -n {ns}", renew],
                        [cert, obj],
                    )
        return Result(
            0.75,
            "certificate.not-ready",
            f"{head}: cert-manager has not issued a new certificate ({ready.get('reason', '')}: {ready.get('message', '')}).",
            facts,
            [
                f"kubectl describe certificate {name} -n {ns}",
                f"kubectl get certificaterequests,orders,challenges -n {ns}",
                renew,
            ],
            [cert],
            ["the CertificateRequest/Order/Challenge that stops issuance"],
        )

    def _challenge(
        self,
        view: EvidenceView,
        cert: K8sObject,
        challenge: K8sObject,
        issuer: K8sObject | None,
        issuer_kind: str,
        issuer_name: str,
        head: str,
        facts: list[Fact],
        renew: str,
    ) -> Result | None:
        ns = namespace_of(cert)
        ch_spec, ch_status = challenge.get("spec") or {}, challenge.get("status") or {}
        if ch_status.get("state") == "valid":
            return None
        reason = str(ch_status.get("reason") or "")
        if not reason:
            # The status may be reset between attempts; the controller's last event keeps the error.
            errors = [
                e
                for e in view.events_for(challenge)
                if e.get("type") == "Warning" or "Error" in str(e.get("reason"))
            ]
            reason = str(errors[-1].get("message", "")) if errors else ""
        host = str(ch_spec.get("dnsName", ""))
        facts.append(
            Fact(
                f"Challenge {name_of(challenge)} ({ch_spec.get('type')}, {host}) state {ch_status.get('state')}: {reason}",
                src_obj(challenge, "status.reason"),
            )
        )
        solver = ch_spec.get("solver") or {}
        if "dns01" in solver or str(ch_spec.get("type", "")).upper() == "DNS-01":
            if "dns01" not in solver:
                solver = next(
                    (
                        s
                        for s in ((issuer or {}).get("spec") or {}).get("acme", {}).get("solvers") or []
                        if "dns01" in s
                    ),
                    solver,
                )
            cause = f"{head}: the ACME DNS-01 challenge for {host} does not complete: {reason}."
            fixes = self._dns01_fixes(solver, reason, issuer_kind, issuer_name)
            credentials = dns01_secret_refs(solver)
            problem = _credential_problem(reason)
            if credentials and problem:
                secret_ns = (
                    (ns or "<namespace>") if issuer_kind == "Issuer" else _cluster_resource_namespace(view)
                )
                provider = credentials[0].provider
                secrets = ", ".join(
                    f"Secret {secret_ns}/{r.secret} (key {r.key or '?'}, {r.field})" for r in credentials
                )
                facts.append(
                    Fact(
                        f"{issuer_kind} {issuer_name} DNS-01 solver {provider} authenticates with {secrets}",
                        src_obj(challenge, f"spec.solver.dns01.{provider}"),
                    )
                )
                what = {
                    "missing": "does not exist",
                    "rejected": f"holds credentials {provider} rejects",
                    "permission": f"holds an identity {provider} does not allow to change the zone's records",
                }[problem]
                cause = (
                    f"{head}: the ACME DNS-01 challenge for {host} cannot be presented because the {provider} "
                    f"solver of {issuer_kind} {issuer_name} authenticates with {secrets}, which {what}: {reason}."
                )
                rotate = _rotate_secret_fixes(credentials, secret_ns)
                fixes = (rotate + fixes) if problem != "permission" else (fixes + rotate)
            return Result(
                0.9 if credentials and problem else 0.88,
                "certificate.dns01-credentials" if credentials and problem else "certificate.dns01-failing",
                cause,
                facts,
                [*fixes, f"kubectl describe challenge {name_of(challenge)} -n {ns}", renew],
                [cert, challenge, *([issuer] if issuer is not None else [])],
            )
        solver_class = _solver_class(solver)
        serving = [
            i
            for i in view.objs("Ingress", ns)
            if not _is_solver(i) and host in _hosts(i) and _ingress_class(i)
        ]
        serving_class = _ingress_class(serving[0]) if serving else None
        classes = {name_of(c) for c in view.objs("IngressClass")}
        class_listed = view.was_read(ReadSpec(verb="list", kind="IngressClass").key())
        if solver_class and serving_class and solver_class != serving_class:
            facts.append(
                Fact(
                    f"ACME solver ingress class {solver_class}",
                    src_obj(challenge, "spec.solver.http01.ingress"),
                )
            )
            facts.append(
                Fact(
                    f"Ingress {name_of(serving[0])} serves {host} with class {serving_class}",
                    src_obj(serving[0], "spec.ingressClassName"),
                )
            )
            if class_listed and solver_class not in classes:
                facts.append(
                    Fact(
                        f"no IngressClass named {solver_class} exists (classes: {', '.join(sorted(classes)) or 'none'})",
                        "list IngressClass",
                    )
                )
            fixes = self._solver_fixes(issuer, issuer_kind, issuer_name, ns, solver_class, serving_class)
            fixes.append(renew)
            return Result(
                0.94,
                "certificate.http01-wrong-ingress-class",
                f"{head}: the ACME HTTP-01 challenge for {host} never validates ({reason}) because the "
                f"{issuer_kind} {issuer_name} solver creates its challenge Ingress with class {solver_class}, while "
                f"{host} is served by the {serving_class} controller (Ingress {name_of(serving[0])}); "
                f"{'no controller serves class ' + solver_class if class_listed and solver_class not in classes else 'the serving controller never sees the challenge path'}.",
                facts,
                fixes,
                [cert, challenge, *([issuer] if issuer is not None else []), serving[0]],
            )
        return Result(
            0.85,
            "certificate.http01-failing",
            f"{head}: the ACME HTTP-01 challenge for {host} does not validate: {reason}.",
            facts,
            [
                f"kubectl describe challenge {name_of(challenge)} -n {ns}",
                f"curl -sv http://{host}/.well-known/acme-challenge/{ch_spec.get('token', '<token>')}",
                renew,
            ],
            [cert, challenge],
        )

    @staticmethod
    def _issuer_secret_fix(issuer: K8sObject, kind: str, ns: str | None, message: str) -> list[str]:
        """A CA issuer whose key pair Secret is gone: recreate it from the CA (never read it here)."""
        missing = _SECRET_NOT_FOUND.search(message)
        if not missing:
            return []
        # A ClusterIssuer reads its Secret from cert-manager's cluster resource namespace.
        where = ns if kind == "Issuer" else "cert-manager"
        return [
            f"kubectl create secret tls {missing.group('name')} -n {where} --cert=<ca.crt> --key=<ca.key>"
            "  # restore the CA key pair from its backup / vault"
        ]

    @staticmethod
    def _dns01_fixes(solver: dict[str, Any], reason: str, issuer_kind: str, issuer_name: str) -> list[str]:
        """When the DNS provider refuses the solver's credentials, the fix is on the provider side."""
        if not re.search(
            r"AccessDenied|not authorized|403|forbidden|unauthori[sz]ed|invalid credentials", reason, re.I
        ):
            return []
        provider = next(iter((solver.get("dns01") or {}).keys()), "the DNS provider")
        action = re.search(r"perform: ([\w:]+)", reason)
        what = action.group(1) if action else "the record-change permission"
        return [
            f"# grant the identity used by {issuer_kind} {issuer_name}'s {provider} solver {what} on the zone "
            "(IAM policy / service-account credentials), then retry the challenge"
        ]

    @staticmethod
    def _solver_fixes(
        issuer: K8sObject | None, kind: str, name: str, ns: str | None, wrong: str, right: str
    ) -> list[str]:
        scope = f" -n {ns}" if kind == "Issuer" else ""
        solvers = copy.deepcopy(((issuer or {}).get("spec") or {}).get("acme", {}).get("solvers") or [])
        changed = False
        for solver in solvers:
            ingress = (solver.get("http01") or {}).get("ingress")
            if isinstance(ingress, dict) and wrong in (ingress.get("ingressClassName"), ingress.get("class")):
                ingress.pop("class", None)
                ingress["ingressClassName"] = right
                changed = True
        if not changed:
            solvers = [{"http01": {"ingress": {"ingressClassName": right}}}]
        patch = json.dumps({"spec": {"acme": {"solvers": solvers}}}, separators=(",", ":"))
        return [f"kubectl patch {kind.lower()} {name}{scope} --type=merge -p '{patch}'"]

    def _unmanaged_secret(self, view: EvidenceView) -> Result | None:
        """The Ingress serving the host names a TLS Secret no Certificate renews."""
        ns = _target_namespace(view)
        if not ns or view.read_status(ReadSpec(verb="list", kind="Certificate", namespace=ns).key()) not in (
            "ok",
            "no_data",
        ):
            return None
        hosts = {h.lower() for h in _HOST.findall(view.error_message)}
        managed = {str((c.get("spec") or {}).get("secretName")) for c in view.objs("Certificate", ns)}
        for ing in view.objs("Ingress", ns):
            if _is_solver(ing):
                continue
            for tls in (ing.get("spec") or {}).get("tls") or []:
                covered = {str(h).lower() for h in tls.get("hosts") or []}
                secret = tls.get("secretName")
                if not secret or not covered & hosts or secret in managed:
                    continue
                host = sorted(covered & hosts)[0]
                annotations = (ing.get("metadata") or {}).get("annotations") or {}
                issuer = annotations.get("cert-manager.io/cluster-issuer") or annotations.get(
                    "cert-manager.io/issuer"
                )
                facts = [
                    Fact(
                        f"Ingress {name_of(ing)} serves {host} with TLS Secret {secret}",
                        src_obj(ing, "spec.tls"),
                    ),
                    Fact(
                        f"no Certificate in {ns} writes Secret {secret}"
                        + (f" (Certificates write: {', '.join(sorted(managed))})" if managed else ""),
                        f"list Certificate -n {ns}",
                    ),
                ]
                if issuer:
                    cause = (
                        f"Ingress {name_of(ing)} in {ns} serves {host} with TLS Secret {secret}, but no Certificate "
                        f"writes that Secret although the Ingress asks cert-manager for one ({issuer}): cert-manager's "
                        "ingress-shim did not create it, so the certificate in the Secret is never renewed."
                    )
                    fixes = [
                        f"kubectl describe ingress {name_of(ing)} -n {ns}  # cert-manager events about the shim",
                        "kubectl -n cert-manager logs deployment/cert-manager --tail=100 | grep -i "
                        + name_of(ing),
                    ]
                else:
                    cause = (
                        f"Ingress {name_of(ing)} in {ns} serves {host} with TLS Secret {secret}, which no "
                        "cert-manager Certificate manages: the certificate in it was put there by hand and nobody "
                        "renews it."
                    )
                    fixes = [
                        f"kubectl annotate ingress {name_of(ing)} -n {ns} cert-manager.io/cluster-issuer=<issuer>"
                        "  # let cert-manager issue and renew the Secret",
                    ]
                return Result(0.7, "certificate.secret-unmanaged", cause, facts, fixes, [ing])
        return None

    # --- x509 errors ---

    def _x509(self, view: EvidenceView) -> Result | None:
        lines = self._x509_lines(view)
        if not lines:
            return None
        line, source = lines[0]
        match = _X509.search(line)
        what = match.group("what") if match else line
        facts = [Fact(line[:300], source)]
        ns = view.namespace
        webhook = _WEBHOOK.search(line)
        if webhook:
            return self._webhook(view, webhook.group("webhook"), what, facts)
        hosts = _URL_HOST.findall(line) or [
            h for h in _HOST.findall(line) if "." in h and not h.endswith(".go")
        ]
        host = hosts[0] if hosts else None
        pod = next((p for p in candidate_pods(view) if source.startswith(f"log {ns}/{name_of(p)}/")), None)
        target = workload_ref(view, pod) if pod is not None else None
        if _PULL.search(line) and ("unknown authority" in what):
            registry = host or "<registry>"
            return Result(
                0.88,
                "certificate.registry-untrusted",
                f"The node's container runtime does not trust the TLS certificate of registry {registry} "
                f"(x509: {what}), so images cannot be pulled from it.",
                facts,
                [
                    f"# on each node: put the registry CA in /etc/containerd/certs.d/{registry}/ca.crt and reference it "
                    "from hosts.toml, then restart containerd",
                ],
            )
        subject = f"{target} ({name_of(pod or {})})" if target else "the client"
        via = f" calling {host}" if host else ""
        if "unknown authority" in what:
            fixes = []
            if target:
                fixes += [
                    f"kubectl create configmap internal-ca -n {ns} --from-file=ca.crt=<path to the issuing CA>",
                    f"kubectl set volume {target} -n {ns} --add --name=internal-ca --type=configmap "
                    "--configmap-name=internal-ca --mount-path=/etc/ssl/internal",
                    f"kubectl set env {target} -n {ns} SSL_CERT_FILE=/etc/ssl/internal/ca.crt",
                ]
            else:
                fixes.append(
                    f"openssl s_client -connect {host or '<host>'}:443 -showcerts </dev/null  # which CA signed it"
                )
            return Result(
                0.85,
                "certificate.unknown-authority",
                f"TLS verification fails for {subject}{via}: x509: certificate signed by unknown authority — the "
                "server's certificate is issued by a CA the client does not trust (a private or new CA that is not "
                "in its trust bundle).",
                facts,
                fixes,
                [pod] if pod is not None else [],
            )
        if "expired" in what:
            cert = self._cert_for(view, host)
            fixes = [
                f"openssl s_client -connect {host or '<host>'}:443 </dev/null | openssl x509 -noout -dates"
            ]
            if cert is not None:
                fixes.insert(0, f"cmctl renew {name_of(cert)} -n {namespace_of(cert)}")
            return Result(
                0.85,
                "certificate.expired",
                f"TLS verification fails for {subject}{via}: the server's certificate has expired (x509: {what}).",
                facts,
                fixes,
                [o for o in (pod, cert) if o is not None],
            )
        mismatch = _NAME_MISMATCH.search(line)
        if mismatch:
            found = self._name_mismatch(view, mismatch, facts)
            if found is not None:
                return found
        if "valid for" in what:
            return Result(
                0.85,
                "certificate.name-mismatch",
                f"TLS verification fails for {subject}{via}: the certificate does not cover that name (x509: {what}).",
                facts,
                [
                    f"openssl s_client -connect {host or '<host>'}:443 </dev/null | openssl x509 -noout -ext subjectAltName",
                    "# add the name to the certificate's dnsNames (or call the server by a name it covers)",
                ],
                [pod] if pod is not None else [],
            )
        return Result(
            0.7, "certificate.x509", f"TLS verification fails for {subject}{via}: x509: {what}.", facts, []
        )

    def _name_mismatch(self, view: EvidenceView, mismatch: re.Match[str], facts: list[Fact]) -> Result | None:
        """The certificate served does not cover the name asked for: find the Certificate behind it."""
        wanted = str(mismatch.group("want") or mismatch.group("want2")).rstrip(".").lower()
        valid = {v.strip().lower() for v in re.split(r",\s*", mismatch.group("valid") or "") if v.strip()}
        ns = _target_namespace(view)
        serving = [
            i
            for i in view.objs("Ingress", ns)
            if not _is_solver(i) and wanted in {h.lower() for h in _hosts(i)}
        ]
        secrets = {
            str(tls.get("secretName"))
            for ing in serving
            for tls in (ing.get("spec") or {}).get("tls") or []
            if tls.get("secretName") and (wanted in tls.get("hosts", []) or not tls.get("hosts"))
        }
        certs = [
            c
            for c in view.objs("Certificate", ns)
            if str((c.get("spec") or {}).get("secretName")) in secrets
            or (valid and valid <= {str(n).lower() for n in (c.get("spec") or {}).get("dnsNames") or []})
        ]
        if not certs:
            return None
        cert = certs[0]
        cert_ns, name = namespace_of(cert), name_of(cert)
        spec = cert.get("spec") or {}
        dns_names = [str(n) for n in spec.get("dnsNames") or []]
        secret = str(spec.get("secretName", name))
        for ing in serving[:1]:
            facts.append(
                Fact(
                    f"Ingress {name_of(ing)} serves {wanted} with TLS Secret {secret if secret in secrets else ', '.join(sorted(secrets))}",
                    src_obj(ing, "spec.tls"),
                )
            )
        facts.append(
            Fact(
                f"Certificate {name} (Secret {secret}) dnsNames {', '.join(dns_names)}: {wanted} is not among them",
                src_obj(cert, "spec.dnsNames"),
            )
        )
        owner = next(
            (
                r
                for r in (cert.get("metadata") or {}).get("ownerReferences") or []
                if r.get("kind") == "Ingress"
            ),
            None,
        )
        renew = f"cmctl renew {name} -n {cert_ns}  # issue a certificate with the new name now"
        if owner is not None:
            # cert-manager's ingress-shim derives dnsNames from the Ingress's tls hosts.
            fixes = [
                f"kubectl edit ingress {owner.get('name')} -n {cert_ns}  # add {wanted} to spec.tls[].hosts of "
                f"Secret {secret}; cert-manager then adds it to the Certificate's dnsNames",
                renew,
            ]
        else:
            patch = json.dumps(
                [{"op": "add", "path": "/spec/dnsNames/-", "value": wanted}], separators=(",", ":")
            )
            fixes = [f"kubectl patch certificate {name} -n {cert_ns} --type=json -p '{patch}'", renew]
        where = f" (served by Ingress {name_of(serving[0])})" if serving else ""
        return Result(
            0.9,
            "certificate.name-mismatch",
            f"The certificate in Secret {secret}{where} does not cover {wanted}: Certificate {name} in {cert_ns} "
            f"lists dnsNames {', '.join(dns_names)}, so clients calling {wanted} fail TLS verification "
            f"(x509: {mismatch.group(0)}).",
            facts,
            fixes,
            [cert, *serving[:1]],
        )

    def _webhook(self, view: EvidenceView, webhook: str, what: str, facts: list[Fact]) -> Result:
        config = None
        hook: dict[str, Any] = {}
        for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
            for obj in view.objs(kind):
                for item in obj.get("webhooks") or []:
                    if item.get("name") == webhook:
                        config, hook = obj, item
        fixes = []
        affected = []
        detail = ""
        if config is not None:
            client = hook.get("clientConfig") or {}
            service = client.get("service") or {}
            annotations = (config.get("metadata") or {}).get("annotations") or {}
            inject = annotations.get("cert-manager.io/inject-ca-from")
            has_bundle = bool(client.get("caBundle"))
            facts.append(
                Fact(
                    f"{config.get('kind')} {name_of(config)} webhook {webhook} calls service "
                    f"{service.get('namespace')}/{service.get('name')}; caBundle {'set' if has_bundle else 'empty'}"
                    + (f"; CA injected from Certificate {inject}" if inject else ""),
                    src_obj(config, "webhooks[].clientConfig"),
                )
            )
            affected.append(config)
            detail = f" ({config.get('kind')} {name_of(config)}, service {service.get('namespace')}/{service.get('name')})"
            if inject:
                cert_ns, _, cert_name = str(inject).partition("/")
                fixes += [
                    f"cmctl renew {cert_name} -n {cert_ns}",
                    "kubectl -n cert-manager rollout restart deployment/cert-manager-cainjector  # re-inject the caBundle",
                ]
            fixes.append(
                f"kubectl get {str(config.get('kind')).lower()} {name_of(config)} -o jsonpath='{{.webhooks[*].clientConfig.caBundle}}' "
                "| base64 -d | openssl x509 -noout -subject -enddate"
            )
            if service.get("name"):
                fixes.append(
                    f"kubectl -n {service.get('namespace')} get endpoints {service.get('name')}"
                    "  # the pods serving the webhook: restart their workload once the CA and certificate match"
                )
        cause = (
            f"The API server cannot call admission webhook {webhook}{detail}: TLS verification of the webhook's "
            f"serving certificate fails (x509: {what}), so requests the webhook intercepts are rejected."
        )
        if "unknown authority" in what:
            cause += " The caBundle in the webhook configuration does not match the CA that signed the serving certificate."
        return Result(
            0.92 if config is not None else 0.85, "certificate.webhook-tls", cause, facts, fixes, affected
        )

    @staticmethod
    def _cert_for(view: EvidenceView, host: str | None) -> K8sObject | None:
        if not host:
            return None
        for cert in view.objs("Certificate"):
            if host in ((cert.get("spec") or {}).get("dnsNames") or []):
                return cert
        return None


def _target_namespace(view: EvidenceView) -> str | None:
    """The namespace whose certificates matter.

    When the namespace was inferred (none given), the namespace of the Ingress or Certificate serving
    a host the text names beats the namespace of the worst pods: a browser's certificate error is
    about the host it visited.
    """
    if namespace_guessed(view):
        hosts = {h.lower() for h in _HOST.findall(view.error_message)}
        for ing in view.objs("Ingress"):
            if not _is_solver(ing) and {h.lower() for h in _hosts(ing)} & hosts:
                return namespace_of(ing)
        for cert in view.objs("Certificate"):
            if {str(n).lower() for n in (cert.get("spec") or {}).get("dnsNames") or []} & hosts:
                return namespace_of(cert)
    if view.namespace:
        return view.namespace
    return next((namespace_of(c) for c in view.objs("Certificate")), None)


def _lines_with_x509(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if "x509:" in line]
