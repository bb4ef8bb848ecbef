"""ImagePullBackOff: the kubelet cannot pull a container's image (ErrImagePull, ImagePullBackOff).

The pull error the runtime reports (in the ``Failed`` event and the waiting message) names the
sub-cause: a tag or repository that does not exist, credentials the registry refuses, a registry
that cannot be reached, Docker Hub's rate limit, an image built for another CPU architecture, or
an image reference that does not parse.
"""

from __future__ import annotations

import difflib
import re

from graph.analyzers.base import Analyzer, Fact, Finding, ns_flag, ref, src_event, src_obj
from graph.analyzers.common import (
    clip,
    container_json_path,
    failing_containers,
    in_pod_template,
    node_arch,
    pasted_line,
    serving_replicaset,
    text_only_finding,
    workload_ref,
)
from graph.evidence import EvidenceView, K8sObject, name_of, namespace_of
from graph.k8s import ContainerState, container_spec, pod_spec
from graph.schemas import ReadSpec

PULL_REASONS = frozenset(
    {"ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull", "RegistryUnavailable"}
)
DOCKER_CONFIG_JSON = "kubernetes.io/dockerconfigjson"
_REGISTRY_SECRET_TYPES = frozenset({DOCKER_CONFIG_JSON, "kubernetes.io/dockercfg"})
_PULL_IMAGE = re.compile(r'(?:Failed to pull image|Back-off pulling image|pulling image) "([^"]+)"', re.I)

# Checked in order: the first that matches the runtime's error names the sub-cause.
_SUBCAUSES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "invalid-name",
        re.compile(
            r"InvalidImageName|invalid reference format|couldn't parse image|Failed to apply default", re.I
        ),
    ),
    ("never-pull", re.compile(r"ErrImageNeverPull|pull policy is Never|imagePullPolicy is Never", re.I)),
    ("disk-full", re.compile(r"no space left on device", re.I)),
    (
        "short-name",
        re.compile(r"short-name \"?[^\s\"]+\"? did not resolve|unqualified-search registries", re.I),
    ),
    ("rate-limit", re.compile(r"toomanyrequests|too many requests|pull rate limit|\b429\b", re.I)),
    (
        "architecture",
        re.compile(
            r"no matching manifest for|no match for platform|does not match the specified platform", re.I
        ),
    ),
    (
        "access-denied",
        re.compile(r"pull access denied|repository does not exist or may require|insufficient_scope", re.I),
    ),
    (
        "auth",
        re.compile(
            r"unauthorized|authentication required|no basic auth credentials|403 Forbidden|denied:|"
            r"requested access to the resource is denied|authorization failed|invalid username/password",
            re.I,
        ),
    ),
    ("not-found", re.compile(r"not found|manifest unknown|name unknown|\b404\b", re.I)),
    (
        "unreachable",
        re.compile(
            r"dial tcp|i/o timeout|no such host|connection refused|TLS handshake|context deadline exceeded|"
            r"x509|network is unreachable|request canceled|connection reset|server misbehaving|: EOF",
            re.I,
        ),
    ),
)


_ARTIFACT_REGISTRY = re.compile(r"^([a-z0-9-]+)-docker\.pkg\.dev$")
_GCR = re.compile(r"^(?:[a-z]+\.)?gcr\.io$")
_ECR = re.compile(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$")
_ACR = re.compile(r"^([a-z0-9]+)\.azurecr\.io$")


def node_identity(registry: str, repo: str) -> tuple[str, str] | None:
    """For a cloud registry that authenticates the node itself (no pull secret needed): who pulls,
    and the read-only grant that lets it, naming the registry's own project/account/name."""
    parts = repo.split("/")
    if found := _ARTIFACT_REGISTRY.match(registry):
        project, repository = parts[0], parts[1] if len(parts) > 2 else "<repository>"
        return (
            f"the node pool's service account (Artifact Registry project {project})",
            f"gcloud artifacts repositories add-iam-policy-binding {repository} --project={project} "
            f"--location={found.group(1)} --member=serviceAccount:<node-service-account> "
            "--role=roles/artifactregistry.reader",
        )
    if _GCR.match(registry):
        return (
            f"the node pool's service account (project {parts[0]})",
            f"gcloud projects add-iam-policy-binding {parts[0]} --member=serviceAccount:<node-service-account> "
            "--role=roles/artifactregistry.reader",
        )
    if found := _ECR.match(registry):
        return (
            f"the node instance role (ECR account {found.group(1)}, region {found.group(2)})",
            "aws iam attach-role-policy --role-name <node-instance-role> "
            "--policy-arn arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"
            f"  # cross-account: also allow the role in the repository policy of {parts[0]} in {found.group(1)}",
        )
    if found := _ACR.match(registry):
        return (
            f"the cluster's kubelet identity (registry {found.group(1)})",
            f"az aks update --name <cluster> --resource-group <resource-group> --attach-acr {found.group(1)}",
        )
    return None


def _pulling(c: ContainerState) -> bool:
    return c.waiting_reason in PULL_REASONS


def split_image(image: str) -> tuple[str, str, str]:
    """(registry, repository, tag-or-digest) of an image reference, Docker Hub defaults applied."""
    name, digest = (image.split("@", 1) + [""])[:2]
    tag = ""
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = name.rsplit(":", 1)
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, repo = first, rest
    else:
        registry, repo = "docker.io", name if "/" in name else f"library/{name}"
    return registry, repo, digest or tag or "latest"


def _sub_cause(message: str) -> str:
    for name, pattern in _SUBCAUSES:
        if pattern.search(message):
            return name
    return "failed"


def _valid_image(image: str) -> str | None:
    """A parseable spelling of a malformed reference, when the mistake is mechanical.

    An empty tag (``repo:`` from an unset CI variable) keeps a ``<tag>`` placeholder rather than
    silently becoming ``latest``.
    """
    fixed = re.sub(r"^\w+://", "", image.strip()).replace(" ", "")
    name, sep, tag = fixed.rpartition(":") if ":" in fixed.rsplit("/", 1)[-1] else (fixed, "", "")
    name = re.sub(r"/{2,}", "/", name.lower()).strip("/")
    if sep and not tag:
        tag = "<tag>"
    fixed = name + sep + tag
    if fixed == image or not re.match(r"^[a-z0-9][\w.\-/]*[\w]$", name):
        return None
    return fixed


class ImagePullBackOffAnalyzer(Analyzer):
    category = "ImagePullBackOff"

    def plan(self, view: EvidenceView) -> list[ReadSpec]:
        specs: list[ReadSpec] = []
        for pod, state in list(failing_containers(view, _pulling))[:1]:
            ns = namespace_of(pod)
            message = self._message(view, pod, state)[0]
            if _sub_cause(message) not in ("auth", "access-denied", "rate-limit", "failed"):
                continue
            spec = pod_spec(pod)
            if not spec.get("imagePullSecrets"):
                # A pod sending no credentials is often one template edit away from a registry Secret
                # that already exists in the namespace; list those (metadata only) to name it.
                specs.append(
                    ReadSpec(
                        verb="list",
                        kind="Secret",
                        namespace=ns,
                        field_selector=f"type={DOCKER_CONFIG_JSON}",
                        why="registry credentials in the namespace the pod could reference (metadata only)",
                    )
                )
            # Which credentials the pod would use: its own pull secrets and its service account's.
            for item in spec.get("imagePullSecrets") or []:
                specs.append(
                    ReadSpec(
                        verb="get",
                        kind="Secret",
                        namespace=ns,
                        name=str(item.get("name")),
                        why="the image pull secret the pod references (metadata only)",
                    )
                )
            specs.append(
                ReadSpec(
                    verb="get",
                    kind="ServiceAccount",
                    namespace=ns,
                    name=str(spec.get("serviceAccountName") or "default"),
                    why="image pull secrets attached to the pod's service account",
                )
            )
        return [s for s in specs if not view.was_read(s.key())]

    @staticmethod
    def _message(view: EvidenceView, pod: K8sObject, state: ContainerState) -> tuple[str, K8sObject | None]:
        """The most specific pull error: the runtime's ``Failed to pull image`` event, else the waiting message."""
        image = state.image or ""
        for event in view.events_for(pod):
            text = str(event.get("message") or "")
            if event.get("reason") in ("Failed", "InspectFailed", "ErrImageNeverPull") and (
                not image
                or image in text
                or state.name in str((event.get("involvedObject") or {}).get("fieldPath"))
            ):
                if text.startswith("Error: ") and len(text) < 40:
                    continue  # "Error: ErrImagePull" says nothing the waiting reason does not
                return text, event
        return str(state.waiting_message or state.waiting_reason or ""), None

    def analyze(self, view: EvidenceView) -> Finding | None:
        hits = list(failing_containers(view, _pulling))
        if not hits:
            return self._from_text(view)
        pod, state = hits[0]
        ns, pod_name = namespace_of(pod), name_of(pod)
        target = workload_ref(view, pod)
        spec = container_spec(pod, state.name) or {}
        image = str(spec.get("image") or state.image or "")
        message, event = self._message(view, pod, state)
        if not image:
            found = _PULL_IMAGE.search(message)
            image = found.group(1) if found else "?"
        sub = _sub_cause(f"{state.waiting_reason} {message}")
        registry, repo, tag = split_image(image)
        kind_word = "init container" if state.init else "container"
        status_field = "initContainerStatuses" if state.init else "containerStatuses"
        facts = [
            Fact(
                f"{kind_word} {state.name} is waiting with reason {state.waiting_reason} for image {image}",
                src_obj(pod, f"status.{status_field}[{state.name}].state.waiting"),
            )
        ]
        if event is not None:
            facts.append(Fact(clip(message, 500), src_event(event)))
        elif message and message != state.waiting_reason:
            facts.append(
                Fact(
                    clip(message, 500),
                    src_obj(pod, f"status.{status_field}[{state.name}].state.waiting.message"),
                )
            )
        same = [p for p, s in hits if s.name == state.name and workload_ref(view, p) == target]
        if len(same) > 1:
            facts.append(
                Fact(f"{len(same)} pods of {target} fail to pull the same image", "pods in namespace")
            )
        previous = serving_replicaset(view, pod, state.name, image)
        if previous:
            facts.append(
                Fact(
                    f"the previous ReplicaSet {name_of(previous[0])} still runs {previous[1]} with ready pods",
                    src_obj(previous[0], "spec.template"),
                )
            )
        secrets, secret_facts, secrets_note = self._pull_secrets(view, pod, registry)
        if sub in ("auth", "access-denied", "rate-limit"):
            facts += secret_facts

        container_flag = f"{state.name}="
        set_image = f"kubectl set image {target}{ns_flag(ns)} {container_flag}"
        where = f"{kind_word} {state.name} of pod {pod_name} ({target})"
        fixes: list[str] = []
        cause_id = f"imagepull.{sub}"
        score = 0.95
        if sub == "not-found":
            cause = (
                f"The image {image} cannot be pulled for {where}: the registry {registry} answers not found for "
                f"{repo}:{tag} — the tag (or repository) was never pushed or was deleted."
            )
            if previous:
                fixes.append(f"{set_image}{previous[1]}")
            fixes.append(f"crane ls {registry}/{repo}")
            fixes.append(f"{set_image}{registry}/{repo}:<existing-tag>")
        elif sub in ("auth", "access-denied"):
            denied = "refuses the credentials" if sub == "auth" else "denies access (pull access denied)"
            cause = f"The image {image} cannot be pulled for {where}: registry {registry} {denied} — {secrets_note}."
            if sub == "access-denied":
                cause = cause[:-1] + f"; or the repository {repo} does not exist under that name."
            identity = node_identity(registry, repo) if not secrets else None
            if identity is not None:
                # No pull secret: the kubelet pulls with the node's cloud identity, and that is what lacks access.
                who, grant = identity
                cause = cause[:-1] + f"; so the kubelet pulls with {who}, which lacks read access to it."
                fixes.append(grant)
            fixes += self._auth_fixes(view, pod, registry, secrets, ns)
        elif sub == "rate-limit":
            cause = (
                f"The image {image} cannot be pulled for {where}: {registry} rejects the pull with toomanyrequests "
                f"(pull rate limit reached for {'anonymous pulls' if not secrets else 'these credentials'})."
            )
            fixes += self._auth_fixes(view, pod, registry, secrets, ns)
            fixes.append(f"crane copy {image} <your-registry>/{repo}:{tag}")
            fixes.append(f"{set_image}<your-registry>/{repo}:{tag}")
        elif sub == "architecture":
            arch = node_arch(view, pod)
            cause = (
                f"The image {image} cannot be pulled for {where}: it has no manifest for the node's platform"
                f"{f' (linux/{arch})' if arch else ''} — it was built for another CPU architecture."
            )
            fixes.append(f"docker buildx imagetools inspect {image}")
            fixes.append(f"docker buildx build --platform linux/amd64,linux/arm64 -t {image} --push .")
            if serving_replicaset(view, pod, state.name):
                # The previous ReplicaSet still runs on nodes of the image's architecture.
                fixes.append(f"kubectl rollout undo {target}{ns_flag(ns)}")
            elif arch:
                other = "amd64" if arch == "arm64" else "arm64"
                kind_word, _, workload = target.partition("/")
                selector = in_pod_template(
                    kind_word, f'{{"nodeSelector":{{"kubernetes.io/arch":"{other}"}}}}'
                )
                fixes.append(f"kubectl patch {kind_word} {workload}{ns_flag(ns)} -p '{selector}'")
        elif sub == "invalid-name":
            cause = (
                f"The image reference {image!r} of {where} is not a valid image name (InvalidImageName): "
                f"{self._quote(message)}."
            )
            if image.endswith(":"):
                cause += " The tag is empty — the variable that should fill it was not set when the manifest was rendered."
            fixes.append(f"{set_image}{_valid_image(image) or '<registry>/<repository>:<tag>'}")
        elif sub == "never-pull":
            cause = (
                f"The image {image} of {where} is not present on the node and imagePullPolicy is Never, so the "
                "kubelet will not pull it."
            )
            path = container_json_path(view, pod, state.name)
            fixes.append(
                f"kubectl patch {target}{ns_flag(ns)} --type=json -p "
                f'\'[{{"op":"replace","path":"{path}/imagePullPolicy","value":"IfNotPresent"}}]\''
            )
        elif sub == "disk-full":
            node = str((pod.get("spec") or {}).get("nodeName") or "<node>")
            cause = (
                f"The image {image} cannot be pulled for {where}: node {node} has no space left on device to unpack it "
                "(its image filesystem is full)."
            )
            fixes.append(f"kubectl describe node {node}")
            fixes.append(
                f"kubectl debug node/{node} -it --image=busybox:1.36 -- df -h /host/var/lib/containerd"
            )
        elif sub == "short-name":
            qualified = f"{registry}/{repo}:{tag}"
            cause = (
                f"The image {image} of {where} is a short name, and the node's runtime (CRI-O with short-name "
                f"mode enforcing) will not guess its registry; use the fully qualified {qualified}."
            )
            fixes.append(f"{set_image}{qualified}")
        elif sub == "unreachable" and (typo := _registry_typo(view, registry, message)) is not None:
            right, why = typo
            cause_id = "imagepull.registry-host-typo"
            lookup = _NO_SUCH_HOST.search(message)
            cause = (
                f"The image {image} cannot be pulled for {where}: the registry host {registry} does not resolve "
                f"({lookup.group(0) if lookup else 'no such host'}); it is a misspelling of {right} ({why})."
            )
            facts.append(Fact(f"registry {right} is {why}", "images of the pods and ReplicaSets read"))
            fixes.append(f"{set_image}{right}/{repo}{'@' if tag.startswith('sha256:') else ':'}{tag}")
        elif sub == "unreachable":
            node = str((pod.get("spec") or {}).get("nodeName") or "<node>")
            cause = (
                f"The image {image} cannot be pulled for {where}: the node cannot reach registry {registry} "
                f"({self._quote(message)})."
            )
            fixes.append(f"kubectl debug node/{node} -it --image=busybox:1.36 -- nslookup {registry}")
            fixes.append(
                f"kubectl debug node/{node} -it --image=curlimages/curl:8.8.0 -- curl -sv https://{registry}/v2/"
            )
        else:
            score = 0.85
            cause = f"The image {image} cannot be pulled for {where}: {self._quote(message) or state.waiting_reason}."
            fixes.append(f"crane manifest {image}")
        if previous and sub != "not-found":
            fixes.append(f"kubectl rollout undo {target}{ns_flag(ns)}")
        fixes.append(f"kubectl describe pod {pod_name}{ns_flag(ns)}")
        return Finding(
            category=self.category,
            score=score,
            root_cause_id=cause_id,
            root_cause=cause,
            summary=f"{target} cannot pull {image} ({sub.replace('-', ' ')})",
            facts=facts,
            fix_commands=fixes,
            prevention=[
                "Deploy images by a tag or digest that CI has pushed and verified (crane manifest) before the "
                "manifest change merges.",
                "Keep pull credentials on the namespace's service account and rotate them before they expire.",
                "Mirror public base images into your own registry to avoid rate limits and outages.",
            ],
            affected=[ref(pod)],
        )

    @staticmethod
    def _quote(message: str) -> str:
        return clip(message, 300)

    @staticmethod
    def _pull_secrets(view: EvidenceView, pod: K8sObject, registry: str) -> tuple[list[str], list[Fact], str]:
        """Pull secrets the pod would use, facts about them, and a phrase for the root cause."""
        ns = namespace_of(pod)
        spec = pod_spec(pod)
        names = [str(s.get("name")) for s in spec.get("imagePullSecrets") or [] if s.get("name")]
        facts: list[Fact] = []
        sa_name = str(spec.get("serviceAccountName") or "default")
        sa = view.obj("ServiceAccount", sa_name, ns)
        if sa is not None:
            sa_secrets = [str(s.get("name")) for s in sa.get("imagePullSecrets") or [] if s.get("name")]
            if sa_secrets:
                facts.append(
                    Fact(
                        f"service account {sa_name} adds imagePullSecrets {', '.join(sa_secrets)}",
                        src_obj(sa, "imagePullSecrets"),
                    )
                )
            names += [n for n in sa_secrets if n not in names]
        if not names:
            facts.append(Fact("the pod has no imagePullSecrets", src_obj(pod, "spec.imagePullSecrets")))
            note = "the pod sends no credentials: it has no imagePullSecrets"
            found = unreferenced_pull_secret(view, pod, registry)
            if found is not None:
                candidate, why, source = found
                facts.append(Fact(f"Secret {name_of(candidate)} ({candidate.get('type')}) {why}", source))
                note += (
                    f", although the registry Secret {name_of(candidate)} exists in namespace {ns} "
                    "and is not referenced by the pod or its service account"
                )
            return [], facts, note
        missing = [
            n
            for n in names
            if view.read_status(ReadSpec(verb="get", kind="Secret", namespace=ns, name=n).key()) == "no_data"
            or any(
                n in str(e.get("message"))
                for e in view.events_for(pod)
                if e.get("reason") == "FailedToRetrieveImagePullSecret"
            )
        ]
        facts.append(Fact(f"imagePullSecrets: {', '.join(names)}", src_obj(pod, "spec.imagePullSecrets")))
        if missing:
            facts.append(
                Fact(f"Secret {', '.join(missing)} does not exist in namespace {ns}", f"get Secret -n {ns}")
            )
            return (
                names,
                facts,
                f"the pull secret {', '.join(missing)} it references does not exist in namespace {ns}",
            )
        for n in names:
            secret = view.obj("Secret", n, ns)
            if secret is not None and secret.get("type") not in (
                None,
                "kubernetes.io/dockerconfigjson",
                "kubernetes.io/dockercfg",
            ):
                facts.append(
                    Fact(
                        f"Secret {n} has type {secret.get('type')}, not kubernetes.io/dockerconfigjson",
                        src_obj(secret, "type"),
                    )
                )
                return (
                    names,
                    facts,
                    f"the pull secret {n} is of type {secret.get('type')}, which the kubelet ignores",
                )
        return names, facts, f"the credentials in {', '.join(names)} are wrong, expired or lack pull access"

    def _auth_fixes(
        self, view: EvidenceView, pod: K8sObject, registry: str, secrets: list[str], ns: str | None
    ) -> list[str]:
        target = workload_ref(view, pod)
        kind, _, workload = target.partition("/")
        if not secrets:
            found = unreferenced_pull_secret(view, pod, registry)
            if found is not None:
                return self._reference_fixes(pod, name_of(found[0]), kind, workload, ns)
        name = secrets[0] if secrets else f"{registry.split('.')[0].split(':')[0]}-pull"
        # Docker Hub credentials are keyed by its legacy index URL, not by docker.io.
        server = "https://index.docker.io/v1/" if registry == "docker.io" else registry
        create = (
            f"kubectl create secret docker-registry {name}{ns_flag(ns)} --docker-server={server} "
            f"--docker-username=<user> --docker-password=<token>"
        )
        exists = view.obj("Secret", name, ns) is not None
        fixes = [create + (" --dry-run=client -o yaml | kubectl apply -f -" if exists else "")]
        if not secrets:
            if kind == "pod":
                fixes.append(
                    f"kubectl patch serviceaccount {pod_spec(pod).get('serviceAccountName') or 'default'}{ns_flag(ns)} "
                    f'-p \'{{"imagePullSecrets":[{{"name":"{name}"}}]}}\''
                )
            else:
                body = in_pod_template(kind, f'{{"imagePullSecrets":[{{"name":"{name}"}}]}}')
                fixes.append(f"kubectl patch {kind} {workload}{ns_flag(ns)} -p '{body}'")
        return fixes

    @staticmethod
    def _reference_fixes(pod: K8sObject, secret: str, kind: str, workload: str, ns: str | None) -> list[str]:
        """Reference an existing registry Secret: in the pod template, or on the service account."""
        pull = f'{{"imagePullSecrets":[{{"name":"{secret}"}}]}}'
        account = pod_spec(pod).get("serviceAccountName") or "default"
        fixes = [f"kubectl get secret {secret}{ns_flag(ns)} -o jsonpath='{{.type}}'"]
        if kind != "pod":
            fixes.append(f"kubectl patch {kind} {workload}{ns_flag(ns)} -p '{in_pod_template(kind, pull)}'")
        fixes.append(f"kubectl patch serviceaccount {account}{ns_flag(ns)} -p '{pull}'")
        return fixes

    def _from_text(self, view: EvidenceView) -> Finding | None:
        found = pasted_line(view, _PULL_IMAGE) or pasted_line(
            view, re.compile(r"InvalidImageName|ErrImageNeverPull")
        )
        if found is None:
            return None
        line, match = found
        image = match.group(1) if match.groups() else ""
        sub = _sub_cause(view.error_message)
        registry, repo, tag = split_image(image) if image else ("<registry>", "<repository>", "<tag>")
        fixes = {
            "not-found": [f"crane ls {registry}/{repo}"],
            "auth": [
                f"kubectl create secret docker-registry {registry.split('.')[0]}-pull{ns_flag(view.namespace)} "
                f"--docker-server={registry} --docker-username=<user> --docker-password=<token>"
            ],
            "architecture": [f"docker buildx imagetools inspect {image}"],
        }.get(sub, [f"crane manifest {image}"] if image else [])
        return text_only_finding(
            view,
            self.category,
            f"imagepull.{sub}",
            f"The image {image or '(unnamed)'} cannot be pulled ({sub.replace('-', ' ')})",
            line,
            fixes,
            [
                "Deploy images by a tag or digest that CI has pushed and verified before the manifest change merges."
            ],
        )


def _images_of(obj: K8sObject) -> list[str]:
    spec = pod_spec(obj)
    return [
        str(c.get("image") or "") for c in (spec.get("containers") or []) + (spec.get("initContainers") or [])
    ]


_NO_SUCH_HOST = re.compile(r"lookup [\w.-]+(?: on [\w.:\[\]]+)?: no such host")
_KNOWN_REGISTRIES = (
    "docker.io",
    "registry-1.docker.io",
    "ghcr.io",
    "quay.io",
    "gcr.io",
    "registry.k8s.io",
    "public.ecr.aws",
    "mcr.microsoft.com",
    "registry.gitlab.com",
    "nvcr.io",
    "docker.elastic.co",
)
# Hosts of cloud registries whose first labels vary (account, region, registry name).
_KNOWN_SUFFIXES = ("amazonaws.com", "azurecr.io", "pkg.dev", "gcr.io")


def _registry_typo(view: EvidenceView, registry: str, message: str) -> tuple[str, str] | None:
    """(registry host, why) that ``registry`` is a misspelling of, when the host does not resolve.

    Candidates are the registries other images in the cluster pull from (the previous ReplicaSet
    of the same Deployment among them) and well-known public registries; for cloud registries
    (``<account>.dkr.ecr.<region>.amazonaws.com``, ``<name>.azurecr.io``) the mistyped suffix is
    corrected in place.
    """
    if not _NO_SUCH_HOST.search(message) or registry in _KNOWN_REGISTRIES:
        return None
    host = registry.split(":")[0].lower()
    candidates: dict[str, str] = {}
    for kind in ("Pod", "ReplicaSet", "Deployment", "StatefulSet", "DaemonSet"):
        for obj in view.objs(kind):
            for image in _images_of(obj):
                other = split_image(image)[0]
                if other != registry:
                    candidates.setdefault(other, f"the registry {kind} {name_of(obj)} pulls {image} from")
    for known in _KNOWN_REGISTRIES:
        candidates.setdefault(known, "a well-known registry")
    labels = host.split(".")
    for suffix in _KNOWN_SUFFIXES:
        width = suffix.count(".") + 1
        if len(labels) > width and ".".join(labels[-width:]) != suffix:
            candidates.setdefault(".".join([*labels[:-width], suffix]), f"the {suffix} registry domain")
    best: tuple[float, str, str] | None = None
    for candidate, why in candidates.items():
        ratio = difflib.SequenceMatcher(None, host, candidate.split(":")[0]).ratio()
        if ratio >= 0.8 and (best is None or ratio > best[0]):
            best = (ratio, candidate, why)
    return (best[1], best[2]) if best else None


def _registry_words(registry: str) -> set[str]:
    """Distinctive words of a registry host (``harbor.acme.io`` -> harbor, acme, harbor.acme.io)."""
    host = registry.split(":")[0].lower()
    generic = {"io", "com", "net", "org", "dev", "cloud", "registry", "docker", "www", "azurecr", "amazonaws"}
    words = {w for w in re.split(r"[.\-]", host) if len(w) > 2 and w not in generic}
    return words | {host}


def unreferenced_pull_secret(
    view: EvidenceView, pod: K8sObject, registry: str
) -> tuple[K8sObject, str, str] | None:
    """A registry Secret of the pod's namespace that the pod could reference: (secret, why, source).

    The strongest sign is another pod or ReplicaSet of the namespace pulling from the same registry
    with that Secret (often the previous revision of the same workload); next, the registry host
    in the Secret's name or annotations; last, the only registry Secret of the namespace.
    """
    ns = namespace_of(pod)
    secrets = {name_of(s): s for s in view.objs("Secret", ns) if str(s.get("type")) in _REGISTRY_SECRET_TYPES}
    if not secrets:
        return None
    for kind in ("ReplicaSet", "Pod", "Deployment", "StatefulSet", "DaemonSet"):
        for other in view.objs(kind, ns):
            if other is pod or not any(split_image(i)[0] == registry for i in _images_of(other) if i):
                continue
            for item in pod_spec(other).get("imagePullSecrets") or []:
                name = str(item.get("name"))
                if name in secrets:
                    return (
                        secrets[name],
                        f"is used by {kind} {name_of(other)} to pull from {registry}",
                        src_obj(
                            other,
                            "spec.imagePullSecrets"
                            if kind == "Pod"
                            else "spec.template.spec.imagePullSecrets",
                        ),
                    )
    words = _registry_words(registry)
    for secret in secrets.values():
        meta = secret.get("metadata") or {}
        labels = " ".join(
            f"{k}={v}" for k, v in {**(meta.get("labels") or {}), **(meta.get("annotations") or {})}.items()
        )
        haystack = f"{name_of(secret)} {labels}".lower()
        if any(w in haystack for w in words):
            return secret, f"is named for registry {registry}", src_obj(secret, "metadata")
    if len(secrets) == 1:
        only = next(iter(secrets.values()))
        return only, "is the only registry Secret in the namespace", src_obj(only, "type")
    return None
