"""AdmissionDenied: an admission controller rejected the object.

The denial text names the controller and the policy: a Gatekeeper constraint
(``[constraint] message``), a Kyverno policy and rule, a Pod Security level and the fields
that violate it, a ValidatingAdmissionPolicy and its binding, or any other webhook. It shows
up in the paste (kubectl apply) or, for pods a controller creates, in FailedCreate events of
the ReplicaSet/StatefulSet/Job. The fix changes the object to satisfy the policy; it never
removes the policy or its webhook. A webhook that cannot be called because its certificate
is not trusted is a CertificateError, not a denial.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from graph.analyzers.base import Analyzer, Fact, Finding, ref, src_event, src_obj
from graph.evidence import EvidenceView, K8sObject, name_of, namespace_of
from graph.schemas import ReadSpec

_WEBHOOK_DENIED = re.compile(
    r"admission webhook \\?\"(?P<webhook>[^\"\\]+)\\?\" denied the request:?\s*(?P<rest>.*)", re.S
)
# "[constraint] message", one per violation; a message may itself hold brackets ("allowed repos are [...]").
_GATEKEEPER_ITEM = re.compile(
    r"\[(?P<constraint>[a-z0-9][-a-z0-9.]*)\]\s*(?P<message>.+?)(?=\n|\s\[[a-z0-9][-a-z0-9.]*\]\s|$)"
)
_KYVERNO_POLICY = re.compile(r"^\s*(?P<policy>[a-z0-9][-a-z0-9.]*):\s*$", re.M)
_KYVERNO_RULE = re.compile(r"^\s+(?P<rule>[a-z0-9][-a-z0-9.]*):\s*'?(?P<message>.+?)'?\s*$", re.M)
_POD_SECURITY = re.compile(
    r"violates PodSecurity \\?\"(?P<level>[a-z]+):?(?P<version>[\w.]*)\\?\":\s*(?P<items>[^\n]+)"
)
_VAP = re.compile(
    r"ValidatingAdmissionPolicy '(?P<policy>[^']+)'(?: with binding '(?P<binding>[^']+)')? denied request:\s*"
    r"(?P<message>[^\n]+)"
)
_WEBHOOK_FAILED = re.compile(r"failed calling webhook \\?\"(?P<webhook>[^\"\\]+)\\?\":\s*(?P<message>[^\n]+)")
_OBJECT = re.compile(
    r"(?P<plural>[a-z]+)(?:\.(?P<group>[a-z0-9.]+))? \\?\"(?P<name>[a-z0-9][-a-z0-9.]*)\\?\" is (?:forbidden|invalid)"
)
_FILE = re.compile(r"error when (?:creating|applying|replacing|patching) \\?\"(?P<file>[^\"\\]+)\\?\"")
_APPLY_OBJECT = re.compile(r"Kind=(?P<kind>[A-Z]\w+)\\?\"?\s*Name: \\?\"(?P<name>[a-z0-9][-a-z0-9.]*)\\?\"")
_KYVERNO_RESOURCE = re.compile(
    r"(?:resource|policy) (?P<kind>[A-Z]\w+)/(?:(?P<ns>[a-z0-9-]+)/)?(?P<name>[a-z0-9][-a-z0-9.]*) "
    r"(?:was blocked|for resource violation)"
)
_ALLOWED_REPOS = re.compile(r"allowed (?:repos|registries|repositories)(?: are)?:?\s*\[([^\]]*)\]", re.I)
_IMAGE_RULE = re.compile(r"image tag|latest|/image/?\b|image registr|allowed repos|repositor", re.I)
_LABELS_SET = re.compile(r"labels?:?\s*\{(?P<labels>[^}]*)\}")
_LABEL_REQUIRED = re.compile(
    r"label[s]?\s+[`'\"]?(?P<label>[\w./-]+)[`'\"]?\s+(?:is\s+)?(?:required|must be (?:set|provided|present))",
    re.I,
)
# Image references as a manifest, a patch or a policy message carries them.
_IMAGE_FIELD = re.compile(
    r"\\?\"image\\?\"\s*:\s*\\?\"(?P<image>[^\"\\\s]+)\\?\"|^\s*-?\s*image:\s*['\"]?(?P<yaml>[^\s'\"]+)", re.M
)
_CONTAINER_ENTRY = re.compile(r"\{[^{}]*\\?\"image\\?\"[^{}]*\}")
_ENTRY_NAME = re.compile(r"\\?\"name\\?\"\s*:\s*\\?\"(?P<name>[^\"\\]+)\\?\"")
_IMAGE_IN_MESSAGE = re.compile(
    r"image(?: repo)? <(?P<image>[^>]+)>|image \\?[\"'](?P<quoted>[^\"'\\]+)\\?[\"']"
)
_CONTAINER_PATH = re.compile(r"/(?P<list>containers|initContainers|ephemeralContainers)/(?P<index>\d+)/image")
_MUTABLE_TAG_RULE = re.compile(r"latest|mutable|image tag|\btag\b|digest", re.I)
_PSS_ITEM = re.compile(r"(?P<check>[^,(]+?)\s*\((?P<detail>[^)]*)\)")
_TLS_FAILURE = re.compile(r"x509|certificate|tls:", re.I)

_PLURAL_KIND = {
    "deployments": "Deployment",
    "statefulsets": "StatefulSet",
    "daemonsets": "DaemonSet",
    "replicasets": "ReplicaSet",
    "jobs": "Job",
    "cronjobs": "CronJob",
    "pods": "Pod",
    "services": "Service",
    "ingresses": "Ingress",
    "configmaps": "ConfigMap",
    "namespaces": "Namespace",
}


@dataclass
class Denial:
    controller: str
    """gatekeeper | kyverno | pod-security | validating-admission-policy | webhook | webhook-unavailable"""
    policy: str
    message: str
    webhook: str = ""
    rule: str = ""
    level: str = ""
    items: list[str] = field(default_factory=list)
    object_kind: str | None = None
    object_name: str | None = None
    file: str | None = None


def _object_of(text: str) -> tuple[str | None, str | None, str | None]:
    match = _OBJECT.search(text)
    file_match = _FILE.search(text)
    file = file_match.group("file") if file_match else None
    if match:
        return _PLURAL_KIND.get(match.group("plural")), match.group("name"), file
    # kubectl apply on an existing object: 'GroupVersionKind: "apps/v1, Kind=Deployment"\nName: "x"'.
    applied = _APPLY_OBJECT.search(text)
    if applied:
        return applied.group("kind"), applied.group("name"), file
    # Kyverno names the resource as Kind/namespace/name.
    kyverno = _KYVERNO_RESOURCE.search(text)
    if kyverno:
        return kyverno.group("kind"), kyverno.group("name"), file
    return None, None, file


def parse_denials(text: str) -> list[Denial]:
    """Every admission denial in ``text`` (a kubectl error, an event message, a controller log)."""
    kind, name, file = _object_of(text)
    found: list[Denial] = []
    pss = _POD_SECURITY.search(text)
    if pss:
        items = [m.group(0).strip() for m in _PSS_ITEM.finditer(pss.group("items"))] or [
            pss.group("items").strip()
        ]
        found.append(
            Denial(
                "pod-security",
                f"{pss.group('level')}:{pss.group('version') or 'latest'}",
                pss.group("items").strip(),
                level=pss.group("level"),
                items=items,
            )
        )
    vap = _VAP.search(text)
    if vap:
        found.append(
            Denial(
                "validating-admission-policy",
                vap.group("policy"),
                vap.group("message").strip(),
                rule=vap.group("binding") or "",
            )
        )
    webhook = _WEBHOOK_DENIED.search(text)
    if webhook:
        hook, rest = webhook.group("webhook"), webhook.group("rest")
        if "gatekeeper" in hook:
            for item in _GATEKEEPER_ITEM.finditer(rest):
                found.append(
                    Denial(
                        "gatekeeper", item.group("constraint"), item.group("message").strip(), webhook=hook
                    )
                )
        elif "kyverno" in hook:
            policy = _KYVERNO_POLICY.search(rest)
            rule = _KYVERNO_RULE.search(rest, policy.end()) if policy else None
            message = rest.strip().splitlines()[0] if rest.strip() else ""
            if rule:
                # A long rule message may be wrapped onto indented continuation lines.
                tail = rest[rule.end() :].split("\n\n", 1)[0]
                more = [ln.strip() for ln in tail.splitlines() if ln.startswith("    ")]
                message = " ".join([rule.group("message"), *more]).strip().strip("'")
            found.append(
                Denial(
                    "kyverno",
                    policy.group("policy") if policy else hook,
                    message.replace("''", "'"),
                    webhook=hook,
                    rule=rule.group("rule") if rule else "",
                )
            )
        if not any(d.controller in ("gatekeeper", "kyverno") for d in found):
            first = rest.strip().splitlines()[0] if rest.strip() else ""
            found.append(Denial("webhook", hook, first[:300], webhook=hook))
    failed = _WEBHOOK_FAILED.search(text)
    if failed and not _TLS_FAILURE.search(failed.group("message")) and not found:
        found.append(
            Denial(
                "webhook-unavailable",
                failed.group("webhook"),
                failed.group("message").strip()[:300],
                webhook=failed.group("webhook"),
            )
        )
    for denial in found:
        denial.object_kind, denial.object_name, denial.file = kind, name, file
    return found


@dataclass(frozen=True)
class ImageRef:
    image: str
    container: str | None
    source: str


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """(repository, tag, digest) of an image reference; a tag after the last '/' only (a registry port is not one)."""
    ref, _, digest = image.partition("@")
    repo, tag = ref, None
    head, sep, last = ref.rpartition("/")
    if ":" in last:
        name, tag = last.split(":", 1)
        repo = f"{head}{sep}{name}"
    return repo, tag, digest or None


def _allowed_prefixes(message: str) -> list[str]:
    allowed = _ALLOWED_REPOS.search(message)
    return re.findall(r"[\"']([^\"']+)[\"']", allowed.group(1)) if allowed else []


def image_violates(image: str, message: str) -> bool | None:
    """Whether ``image`` breaks the image rule the denial message states; None when the rule is not about images
    in a way the reference alone can show."""
    allowed = _allowed_prefixes(message)
    if allowed:
        return not any(image.startswith(prefix) for prefix in allowed)
    _, tag, digest = split_image(image)
    if re.search(r"latest|mutable", message, re.I):
        return digest is None and tag in (None, "", "latest")
    if re.search(r"digest", message, re.I):
        return digest is None
    if _MUTABLE_TAG_RULE.search(message):
        return digest is None and tag in (None, "")
    return None


def images_in_text(text: str, source: str) -> list[ImageRef]:
    """Image references a paste carries: container entries of a JSON patch (with their names), YAML
    ``image:`` lines and images quoted in a policy message."""
    found: list[ImageRef] = []
    for entry in _CONTAINER_ENTRY.finditer(text):
        field_match = _IMAGE_FIELD.search(entry.group(0))
        name = _ENTRY_NAME.search(entry.group(0))
        if field_match and field_match.group("image"):
            found.append(ImageRef(field_match.group("image"), name.group("name") if name else None, source))
    for match in _IMAGE_FIELD.finditer(text):
        image = match.group("image") or match.group("yaml")
        if image and not any(r.image == image for r in found):
            found.append(ImageRef(image, None, source))
    for match in _IMAGE_IN_MESSAGE.finditer(text):
        image = match.group("image") or match.group("quoted")
        if image and not any(r.image == image for r in found):
            found.append(ImageRef(image, None, source))
    return found


def template_containers(obj: K8sObject) -> dict[str, list[dict[str, object]]]:
    """Container lists of a pod or of a workload's pod template."""
    spec = obj.get("spec") or {}
    if obj.get("kind") == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template", {}).get("spec") or {}
    elif obj.get("kind") != "Pod":
        spec = (spec.get("template") or {}).get("spec") or {}
    return {key: list(spec.get(key) or []) for key in ("containers", "initContainers", "ephemeralContainers")}


def required_labels(message: str) -> list[str]:
    """Label keys a policy message says are missing (Gatekeeper's ``{"a", "b"}``, Kyverno's prose)."""
    match = _LABELS_SET.search(message)
    if match:
        return [
            label.strip().strip("\"'")
            for label in match.group("labels").split(",")
            if label.strip().strip("\"'")
        ]
    return [m.group("label") for m in _LABEL_REQUIRED.finditer(message)]


# Pod Security restricted/baseline checks the fix can set; the others need a design change.
_PSS_FIXES: dict[str, tuple[str, dict[str, object]]] = {
    "allowPrivilegeEscalation": ("container", {"allowPrivilegeEscalation": False}),
    "unrestricted capabilities": ("container", {"capabilities": {"drop": ["ALL"]}}),
    "runAsNonRoot": ("pod", {"runAsNonRoot": True}),
    "seccompProfile": ("pod", {"seccompProfile": {"type": "RuntimeDefault"}}),
}
_CONTAINER_NAMES = re.compile(r"containers? ((?:\"[^\"]+\"(?:, | and )?)+)")


def _pss_patch(items: list[str]) -> dict[str, object] | None:
    pod: dict[str, object] = {}
    containers: dict[str, dict[str, object]] = {}
    for item in items:
        for check, (level, values) in _PSS_FIXES.items():
            if not item.startswith(check):
                continue
            if level == "pod":
                pod.update(values)
            else:
                names_match = _CONTAINER_NAMES.search(item)
                names = re.findall(r"\"([^\"]+)\"", names_match.group(1)) if names_match else []
                for container in names:
                    containers.setdefault(container, {}).update(values)
    if not pod and not containers:
        return None
    spec: dict[str, object] = {}
    if pod:
        spec["securityContext"] = pod
    if containers:
        spec["containers"] = [{"name": n, "securityContext": sc} for n, sc in containers.items()]
    return {"spec": {"template": {"spec": spec}}}


_NAMED = re.compile(r"\b(volumes?|containers?) ((?:\\?\"[^\"\\]+\\?\"(?:, | and )?)+)")


def _pod_template(view: EvidenceView, target: K8sObject | None) -> K8sObject | None:
    """The pod template of the controller that tried to create the denied pod."""
    if target is None:
        return None
    template = (target.get("spec") or {}).get("template")
    if target.get("kind") == "CronJob":
        template = ((target.get("spec") or {}).get("jobTemplate") or {}).get("spec", {}).get("template")
    return template if isinstance(template, dict) else None


def _template_labels(template: K8sObject | None) -> dict[str, str]:
    return dict(((template or {}).get("metadata") or {}).get("labels") or {})


def _not_in_template(items: list[str], template: K8sObject) -> list[tuple[str, str]]:
    """Volumes and containers a Pod Security violation names that the pod template does not have."""
    spec = template.get("spec") or {}
    volumes = {str(v.get("name")) for v in spec.get("volumes") or []}
    containers = {
        str(c.get("name"))
        for field in ("containers", "initContainers", "ephemeralContainers")
        for c in spec.get(field) or []
    }
    missing: list[tuple[str, str]] = []
    for item in items:
        for match in _NAMED.finditer(item):
            kind = "volume" if match.group(1).startswith("volume") else "container"
            known = volumes if kind == "volume" else containers
            for name in re.findall(r"\"([^\"\\]+)\\?\"", match.group(2)):
                if name not in known and (kind, name) not in missing:
                    missing.append((kind, name))
    return missing


def _mutating_hooks_selecting(
    view: EvidenceView, template: K8sObject
) -> list[tuple[K8sObject, dict[str, object], str]]:
    """(configuration, webhook, label) of mutating webhooks on pod CREATE whose objectSelector picks the
    template by one of its labels (the label the pods opt in with)."""
    labels = _template_labels(template)
    found = []
    for config in view.objs("MutatingWebhookConfiguration"):
        for hook in config.get("webhooks") or []:
            rules = hook.get("rules") or []
            on_pods = any(
                "pods" in (r.get("resources") or []) or "*" in (r.get("resources") or []) for r in rules
            )
            selector = (hook.get("objectSelector") or {}).get("matchLabels") or {}
            chosen = [k for k, v in selector.items() if labels.get(k) == v]
            if on_pods and chosen and len(chosen) == len(selector):
                found.append((config, hook, chosen[0]))
    return found


class AdmissionDeniedAnalyzer(Analyzer):
    category = "AdmissionDenied"

    def _found(self, view: EvidenceView) -> list[tuple[Denial, str, K8sObject | None]]:
        """(denial, source, event-or-object it came from), the paste first."""
        found: list[tuple[Denial, str, K8sObject | None]] = [
            (d, "pasted error", None) for d in parse_denials(view.error_message)
        ]
        for event in view.events(view.namespace, reasons=("FailedCreate", "FailedCreatePod")):
            for denial in parse_denials(str(event.get("message", ""))):
                found.append((denial, src_event(event), event))
        for kind in ("ReplicaSet", "StatefulSet", "DaemonSet", "Job"):
            for obj in view.objs(kind, view.namespace):
                for cond in (obj.get("status") or {}).get("conditions") or []:
                    if (
                        cond.get("type") in ("ReplicaFailure", "FailureTarget")
                        or cond.get("reason") == "FailedCreate"
                    ):
                        for denial in parse_denials(str(cond.get("message", ""))):
                            found.append((denial, src_obj(obj, "status.conditions"), obj))
        return found

    def plan(self, view: EvidenceView) -> list[ReadSpec]:
        specs: list[ReadSpec] = []
        for denial, _, origin in self._found(view)[:3]:
            if denial.controller == "gatekeeper":
                template = self._template_for(view, denial)
                if template is None:
                    specs.append(
                        ReadSpec(
                            verb="list",
                            kind="ConstraintTemplate",
                            why="which Gatekeeper template the constraint uses",
                        )
                    )
                else:
                    kind = str(
                        ((template.get("spec") or {}).get("crd") or {})
                        .get("spec", {})
                        .get("names", {})
                        .get("kind", "")
                    )
                    if kind:
                        specs.append(
                            ReadSpec(
                                verb="get", kind=kind, name=denial.policy, why="the Gatekeeper constraint"
                            )
                        )
            elif denial.controller == "pod-security" and view.namespace:
                specs.append(
                    ReadSpec(
                        verb="get",
                        kind="Namespace",
                        name=view.namespace,
                        why="the namespace's Pod Security labels",
                    )
                )
                template = _pod_template(view, self._target(view, denial, origin))
                if template is not None and _not_in_template(denial.items, template):
                    # The denied spec has a volume or container the template lacks: a mutating webhook added it.
                    specs.append(
                        ReadSpec(
                            verb="list",
                            kind="MutatingWebhookConfiguration",
                            why="the mutating webhook that injects what Pod Security denies",
                        )
                    )
        return [s for s in {s.key(): s for s in specs}.values() if not view.was_read(s.key())]

    @staticmethod
    def _template_for(view: EvidenceView, denial: Denial) -> K8sObject | None:
        """The ConstraintTemplate whose Rego prints the denial's message (its literal prefix)."""
        prefix = re.split(r"[:{\[\"%]", denial.message, maxsplit=1)[0].strip()
        for template in view.objs("ConstraintTemplate"):
            rego = " ".join(str(t.get("rego", "")) for t in (template.get("spec") or {}).get("targets") or [])
            if prefix and prefix in rego:
                return template
        return None

    @staticmethod
    def _constraint(view: EvidenceView, denial: Denial, template: K8sObject | None) -> K8sObject | None:
        if template is None:
            return None
        kind = str(
            ((template.get("spec") or {}).get("crd") or {}).get("spec", {}).get("names", {}).get("kind", "")
        )
        return view.obj(kind, denial.policy) if kind else None

    def analyze(self, view: EvidenceView) -> Finding | None:
        found = self._found(view)
        if not found:
            return None
        denial, source, origin = found[0]
        ns = view.namespace
        facts = [Fact(self._quote(denial), source)]
        affected: list[dict[str, object]] = []
        target = self._target(view, denial, origin)
        if target is not None:
            affected.append(ref(target))
        fixes: list[str] = []
        score = 0.95
        cause_id = f"admission.{denial.controller}"
        subject = self._subject(denial, target, view)

        if denial.controller == "gatekeeper":
            template = self._template_for(view, denial)
            constraint = self._constraint(view, denial, template)
            what = f"Gatekeeper constraint {denial.policy}"
            if constraint is not None:
                spec = constraint.get("spec") or {}
                params = spec.get("parameters") or {}
                facts.append(
                    Fact(
                        f"{constraint.get('kind')} {denial.policy}: enforcementAction "
                        f"{spec.get('enforcementAction', 'deny')}, parameters {json.dumps(params, sort_keys=True)}",
                        src_obj(constraint, "spec"),
                    )
                )
                what = f"Gatekeeper constraint {denial.policy} ({constraint.get('kind')})"
                affected.append(ref(constraint))
            cause = f"{subject} is rejected by {what} through webhook {denial.webhook}: {denial.message}"
            # Gatekeeper lists every violated constraint; each needs its own fix.
            others = [d for d, src, _ in found[1:] if src == source and d.controller == "gatekeeper"]
            for other in others:
                facts.append(Fact(self._quote(other), source))
            if others:
                cause += "; it also violates " + "; ".join(f"[{o.policy}] {o.message}" for o in others)
            fixes += self._label_fixes(denial, target, ns)
            for other in others:
                fixes += self._label_fixes(other, target, ns)
            fixes.append(
                f"kubectl get {str(constraint.get('kind')).lower() if constraint else 'constraints'} {denial.policy} -o yaml"
                "  # the exact requirement"
            )
        elif denial.controller == "kyverno":
            cause = (
                f"{subject} is blocked by Kyverno policy {denial.policy}"
                + (f" (rule {denial.rule})" if denial.rule else "")
                + f": {denial.message}"
            )
            fixes += self._label_fixes(denial, target, ns) + self._image_fixes(denial, target, ns)
            fixes.append(
                f"kubectl get clusterpolicy {denial.policy} -o yaml  # or: kubectl get policy {denial.policy} -n {ns}"
            )
        elif denial.controller == "pod-security":
            namespace = view.obj("Namespace", ns) if ns else None
            labels = ((namespace or {}).get("metadata") or {}).get("labels") or {}
            enforce = {k: v for k, v in labels.items() if k.startswith("pod-security.kubernetes.io/")}
            if namespace is not None and enforce:
                facts.append(
                    Fact(
                        "namespace labels " + ", ".join(f"{k}={v}" for k, v in sorted(enforce.items())),
                        src_obj(namespace, "metadata.labels"),
                    )
                )
            cause = (
                f"{subject} is rejected by Pod Security admission: the pod spec violates the "
                f'"{denial.policy}" standard enforced on namespace {ns}: ' + "; ".join(denial.items)
            )
            patch = _pss_patch(denial.items)
            workload = self._workload_ref(view, target, origin)
            template = _pod_template(view, target)
            injected = _not_in_template(denial.items, template) if template is not None else []
            hooks = _mutating_hooks_selecting(view, template) if injected and template is not None else []
            if injected:
                added = ", ".join(f'{kind} "{name}"' for kind, name in injected)
                facts.append(
                    Fact(
                        f"the pod template of {workload or 'the workload'} has no {added}: it was added at admission",
                        src_obj(target, "spec.template") if target is not None else "pod template",
                    )
                )
                cause += f". The pod template has no {added}: it is injected at admission"
                if hooks:
                    config, hook, label = hooks[0]
                    facts.append(
                        Fact(
                            f"MutatingWebhookConfiguration {name_of(config)} webhook {hook.get('name')} selects pods "
                            f"labelled {label}={(_template_labels(template) or {}).get(label)}",
                            src_obj(config, "webhooks[].objectSelector"),
                        )
                    )
                    cause += (
                        f" by mutating webhook {hook.get('name')} (MutatingWebhookConfiguration {name_of(config)}), "
                        f"which the pods opt into with label {label}"
                    )
                    kind_word, _, workload_name = (workload or "").partition("/")
                    owner = next(
                        (o for o in view.objs(kind_word.capitalize(), ns) if name_of(o) == workload_name),
                        None,
                    ) or next((o for o in view.objs("Deployment", ns) if name_of(o) == workload_name), None)
                    selector = (((owner or {}).get("spec") or {}).get("selector") or {}).get(
                        "matchLabels"
                    ) or {}
                    if workload and label in selector:
                        # The label also selects the pods: it cannot be dropped from the template alone.
                        fixes.append(
                            f"# configure webhook {hook.get('name')} not to inject {added} into {workload} "
                            f"(its pods carry the selector label {label})"
                        )
                    elif workload:
                        pointer = label.replace("~", "~0").replace("/", "~1")
                        fixes.append(
                            f"kubectl patch {workload} -n {ns} --type=json -p "
                            f'\'[{{"op":"remove","path":"/spec/template/metadata/labels/{pointer}"}}]\''
                            f"  # stop opting the pods into webhook {hook.get('name')}; or configure it not to inject {added}"
                        )
                    patch = None  # the template itself is compliant: the webhook's addition is what fails
            if patch and workload:
                fixes.append(f"kubectl patch {workload} -n {ns} --type=strategic -p '{json.dumps(patch)}'")
            elif patch:
                fixes.append(f"# set in the pod template: {json.dumps(patch['spec'])}")
            fixes.append(
                f"kubectl label --dry-run=server --overwrite ns {ns} pod-security.kubernetes.io/enforce={denial.level}"
                "  # lists every existing pod that violates the level"
            )
        elif denial.controller == "validating-admission-policy":
            cause = (
                f"{subject} is denied by ValidatingAdmissionPolicy {denial.policy}"
                + (f" (binding {denial.rule})" if denial.rule else "")
                + f": {denial.message}"
            )
            fixes.append(
                f"kubectl get validatingadmissionpolicy {denial.policy} -o yaml  # the CEL expression that failed"
            )
            if denial.rule:
                fixes.append(f"kubectl get validatingadmissionpolicybinding {denial.rule} -o yaml")
            fixes += self._label_fixes(denial, target, ns)
        elif denial.controller == "webhook-unavailable":
            score = 0.75
            cause = (
                f"{subject} is rejected because admission webhook {denial.webhook} cannot be called "
                f"({denial.message}); with failurePolicy Fail every matching request is denied"
            )
            fixes.append(
                "kubectl get validatingwebhookconfigurations,mutatingwebhookconfigurations -o wide"
                "  # find the configuration and service of the webhook"
            )
        else:
            cause = f"{subject} is denied by admission webhook {denial.webhook}: {denial.message}"
            fixes += self._label_fixes(denial, target, ns)
            fixes.append(
                "kubectl get validatingwebhookconfigurations -o wide  # the webhook's owner and its rules"
            )
        if denial.controller in ("gatekeeper", "validating-admission-policy", "webhook"):
            fixes[:0] = self._image_fixes(denial, target, ns)
        images = self._offending_images(view, denial, origin, target, source)
        if images:
            for image in images[:3]:
                facts.append(
                    Fact(
                        f"image {image.image}"
                        + (f" (container {image.container})" if image.container else ""),
                        image.source,
                    )
                )
            listed = ", ".join(
                image.image + (f" (container {image.container})" if image.container else "")
                for image in images[:3]
            )
            cause = cause.rstrip(".") + f"; the offending image is {listed}"
            fixes = self._pin_images(fixes, images, denial, target, ns, view)
        if denial.file:
            fixes.append(f"kubectl apply --dry-run=server -f {denial.file}  # re-check the fixed manifest")
        return Finding(
            category=self.category,
            score=score,
            root_cause_id=cause_id,
            root_cause=cause.rstrip(".") + ".",
            summary=f"{subject} denied by {denial.policy}"[:200],
            facts=facts,
            fix_commands=fixes,
            prevention=[
                "Run the same policies in CI (gator verify, kyverno apply, kubectl apply --dry-run=server) so a "
                "manifest is rejected before it reaches the cluster.",
                "Ship required labels and securityContext defaults in the shared Helm chart/Kustomize base.",
                "Roll new policies out with enforcementAction dryrun/warn first and fix the audit violations.",
            ],
            affected=affected,
        )

    @staticmethod
    def _quote(denial: Denial) -> str:
        if denial.controller == "gatekeeper":
            return (
                f'admission webhook "{denial.webhook}" denied the request: [{denial.policy}] {denial.message}'
            )
        if denial.controller == "pod-security":
            return f'violates PodSecurity "{denial.policy}": {denial.message}'
        if denial.controller == "validating-admission-policy":
            return f"ValidatingAdmissionPolicy '{denial.policy}' denied request: {denial.message}"
        if denial.controller == "kyverno":
            return f"Kyverno policy {denial.policy} rule {denial.rule}: {denial.message}"
        return f'admission webhook "{denial.webhook}": {denial.message}'

    @staticmethod
    def _target(view: EvidenceView, denial: Denial, origin: K8sObject | None) -> K8sObject | None:
        """The object that was denied, or the controller that tried to create it."""
        if origin is not None and origin.get("kind") == "Event":
            inv = origin.get("involvedObject") or {}
            return view.obj(str(inv.get("kind")), str(inv.get("name")), namespace_of(origin))
        if origin is not None:
            return origin
        if denial.object_kind and denial.object_name:
            return view.obj(denial.object_kind, denial.object_name, view.namespace)
        return None

    @staticmethod
    def _workload_ref(view: EvidenceView, target: K8sObject | None, origin: K8sObject | None) -> str | None:
        if target is None:
            return None
        chain = view.owner_chain(target)
        top = chain[-1] if chain else target
        if top.get("kind") == "ReplicaSet":
            found = view.workload_of(target)
            if found:
                return f"{found[0].lower()}/{found[1]}"
        return f"{str(top.get('kind')).lower()}/{name_of(top)}"

    @staticmethod
    def _subject(denial: Denial, target: K8sObject | None, view: EvidenceView | None = None) -> str:
        if target is not None:
            if target.get("kind") in ("ReplicaSet", "StatefulSet", "DaemonSet", "Job"):
                workload = view.workload_of(target) if view is not None else None
                if workload and workload[0] != target.get("kind"):
                    return f"The pods of {workload[0]} {workload[1]} (created by {target.get('kind')} {name_of(target)})"
                return f"The pods of {target.get('kind')} {name_of(target)}"
            return f"{target.get('kind')} {name_of(target)}"
        if denial.object_kind and denial.object_name:
            return f"{denial.object_kind} {denial.object_name}"
        if denial.file:
            return f"The object in {denial.file}"
        return "The object"

    @staticmethod
    def _image_fixes(denial: Denial, target: K8sObject | None, ns: str | None) -> list[str]:
        """A policy on image tags or registries is met by pinning an allowed, immutable image."""
        if not _IMAGE_RULE.search(denial.message):
            return []
        allowed = _ALLOWED_REPOS.search(denial.message)
        first = re.findall(r"[\"']([^\"']+)[\"']", allowed.group(1)) if allowed else []
        prefix = first[0].rstrip("/") if first else "<allowed-registry>"
        image = f"{prefix}/<image>:<immutable tag or @sha256 digest>"
        if denial.file:
            return [
                f"kubectl set image --local -f {denial.file} '*={image}' -o yaml  # then commit the pinned image"
            ]
        if target is not None:
            flag = f" -n {ns}" if ns else ""
            return [
                f"kubectl set image {str(target.get('kind')).lower()}/{name_of(target)} '*={image}'{flag}"
            ]
        return []

    @staticmethod
    def _offending_images(
        view: EvidenceView, denial: Denial, origin: K8sObject | None, target: K8sObject | None, source: str
    ) -> list[ImageRef]:
        """The image references the policy rejects: from the denied text itself (a kubectl patch or
        manifest), else from the pod template a controller tried to create pods from."""
        if not _IMAGE_RULE.search(denial.message):
            return []
        text = view.error_message if source == "pasted error" else ""
        if origin is not None and origin.get("kind") == "Event":
            text = str(origin.get("message", ""))
        candidates = images_in_text(text, source) if text else []
        violating = [c for c in candidates if image_violates(c.image, denial.message)]
        if violating:
            return violating
        # A controller's template is what it submits; an object named by kubectl apply was not changed,
        # so its stored spec counts only when it breaks the rule itself.
        template_owner = target if origin is not None else None
        for obj in (template_owner, target if origin is None else None):
            if obj is None:
                continue
            lists = template_containers(obj)
            refs = [
                ImageRef(str(c.get("image")), str(c.get("name")), src_obj(obj, f"{key} image"))
                for key, containers in lists.items()
                for c in containers
                if c.get("image")
            ]
            bad = [r for r in refs if image_violates(r.image, denial.message)]
            if bad:
                return bad
            path = _CONTAINER_PATH.search(denial.message)
            if obj is template_owner and path and image_violates("", denial.message) is None:
                containers = lists.get(path.group("list")) or []
                index = int(path.group("index"))
                if index < len(containers) and containers[index].get("image"):
                    c = containers[index]
                    return [
                        ImageRef(
                            str(c.get("image")),
                            str(c.get("name")),
                            src_obj(obj, f"{path.group('list')}[{index}].image"),
                        )
                    ]
        return [c for c in candidates if image_violates(c.image, denial.message) is None][:1]

    @staticmethod
    def _pin_images(
        fixes: list[str],
        images: list[ImageRef],
        denial: Denial,
        target: K8sObject | None,
        ns: str | None,
        view: EvidenceView,
    ) -> list[str]:
        """Replace the generic set-image fix by one per offending container, keeping its repository when the
        rule is about the tag (an allowed-registry rule keeps the registry placeholder)."""
        if _allowed_prefixes(denial.message) or not any(i.container for i in images):
            return fixes
        running: dict[str, str] = {}
        if target is not None:
            # The top workload's template is what runs now (a new ReplicaSet carries the rejected one).
            chain = view.owner_chain(target)
            workload = chain[-1] if chain else target
            for containers in template_containers(workload).values():
                for c in containers:
                    running[str(c.get("name"))] = str(c.get("image", ""))
        assignments = []
        for image in images:
            repo, _, _ = split_image(image.image)
            assignments.append(f"{image.container or '*'}={repo}:<immutable tag or @sha256 digest>")
            now = running.get(str(image.container), "")
            current_repo, current_tag, current_digest = split_image(now)
            if (
                current_repo == repo
                and not image_violates(now, denial.message)
                and (current_tag or current_digest)
            ):
                assignments[-1] += f"  # e.g. the running {current_tag or current_digest}"
        pinned = []
        for assignment in assignments:
            value, _, comment = assignment.partition("  # ")
            note = f"  # {comment}" if comment else ""
            if denial.file:
                pinned.append(
                    f"kubectl set image --local -f {denial.file} '{value}' -o yaml  # then commit the pinned image"
                    + (f"; {comment}" if comment else "")
                )
            elif target is not None:
                flag = f" -n {ns}" if ns else ""
                owner_ref = AdmissionDeniedAnalyzer._workload_ref(view, target, None) or (
                    f"{str(target.get('kind')).lower()}/{name_of(target)}"
                )
                pinned.append(f"kubectl set image {owner_ref} '{value}'{flag}{note}")
        if not pinned:
            return fixes
        generic = [f for f in fixes if f.startswith("kubectl set image")]
        return pinned + [f for f in fixes if f not in generic]

    def _label_fixes(self, denial: Denial, target: K8sObject | None, ns: str | None) -> list[str]:
        labels = required_labels(denial.message)
        if not labels:
            return []
        assignments = " ".join(f"{label}=<value>" for label in labels)
        fixes = []
        flag = f" -n {ns}" if ns else ""
        if target is not None and target.get("kind") != "ReplicaSet":
            fixes.append(
                f"kubectl label {str(target.get('kind')).lower()}/{name_of(target)} {assignments}{flag}"
            )
        elif denial.object_kind and denial.object_name:
            fixes.append(
                f"kubectl label {denial.object_kind.lower()}/{denial.object_name} {assignments}{flag}"
            )
        if denial.file:
            fixes.append(
                f"kubectl label --local -f {denial.file} {assignments} -o yaml > {denial.file}.new"
                f"  # then keep the labels in {denial.file} (metadata.labels)"
            )
        else:
            fixes.append(
                f"# add metadata.labels {', '.join(labels)} to the manifest (and the chart/base it comes from)"
            )
        return fixes
