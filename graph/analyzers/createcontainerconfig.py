"""CreateContainerConfigError: the kubelet cannot build a container's configuration.

The waiting message names the cause: a Secret or ConfigMap the env refers to does not exist,
a key is missing from one (``couldn't find key K in Secret ns/name``), the image would run
as root under ``runAsNonRoot``, or a subPath cannot be prepared. Which keys do exist is read
from the object (ConfigMap data, Secret key names when the source gives them) and from the
references of pods that still run, since those keys demonstrably resolve.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from graph.analyzers.base import Analyzer, Fact, Finding, ns_flag, ref, src_event, src_obj
from graph.analyzers.common import (
    container_json_path,
    failing_containers,
    in_pod_template,
    pasted_line,
    similar_names,
    text_only_finding,
    workload_ref,
)
from graph.evidence import EvidenceView, K8sObject, name_of, namespace_of
from graph.k8s import ContainerState, container_spec, container_states, pod_spec
from graph.schemas import ReadSpec

_MISSING_KEY = re.compile(r"couldn't find key (\S+) in (Secret|ConfigMap) ([\w.-]+)/([\w.-]+)", re.I)
_MISSING_OBJ = re.compile(r"\b(secret|configmap)s? \"([\w.-]+)\" not found", re.I)
_NON_ROOT = re.compile(r"runAsNonRoot and image (will run as root|has non-numeric user[^,]*)", re.I)
_SUBPATH = re.compile(r"failed to (?:prepare|create) subPath[^\n]*", re.I)
_CACHE = re.compile(r"failed to sync (secret|configmap) cache", re.I)
_KIND = {"secret": "Secret", "configmap": "ConfigMap"}


@dataclass(frozen=True)
class EnvRef:
    """One reference from a container's env to a ConfigMap or Secret."""

    kind: str
    name: str
    key: str | None
    env: str | None
    path: str
    """JSON-patch path of the reference's ``name`` field, relative to the container."""


def env_refs(container: K8sObject) -> list[EnvRef]:
    refs: list[EnvRef] = []
    for index, env in enumerate(container.get("env") or []):
        source = env.get("valueFrom") or {}
        for field, kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
            item = source.get(field)
            if item and not item.get("optional"):
                refs.append(
                    EnvRef(
                        kind,
                        str(item.get("name")),
                        str(item.get("key")),
                        env.get("name"),
                        f"env/{index}/valueFrom/{field}",
                    )
                )
    for index, env_from in enumerate(container.get("envFrom") or []):
        for field, kind in (("secretRef", "Secret"), ("configMapRef", "ConfigMap")):
            item = env_from.get(field)
            if item and not item.get("optional"):
                refs.append(EnvRef(kind, str(item.get("name")), None, None, f"envFrom/{index}/{field}"))
    return refs


def _started(holder: K8sObject) -> bool:
    """A ReplicaSet with ready replicas, or a pod whose containers all run: its references resolved."""
    status = holder.get("status") or {}
    if holder.get("kind") == "ReplicaSet":
        return bool(status.get("readyReplicas"))
    states = container_states(holder)
    return bool(states) and all(c.running or c.init for c in states)


def _failing(c: ContainerState) -> bool:
    return c.waiting_reason == "CreateContainerConfigError"


class CreateContainerConfigErrorAnalyzer(Analyzer):
    category = "CreateContainerConfigError"

    def plan(self, view: EvidenceView) -> list[ReadSpec]:
        specs: list[ReadSpec] = []
        for pod, state in list(failing_containers(view, _failing))[:1]:
            ns = namespace_of(pod)
            message = self._message(view, pod, state)[0]
            targets: list[tuple[str, str]] = []
            if key_match := _MISSING_KEY.search(message):
                targets.append((key_match.group(2), key_match.group(4)))
            if obj_match := _MISSING_OBJ.search(message):
                targets.append((_KIND[obj_match.group(1).lower()], obj_match.group(2)))
            for kind, name in targets:
                got = ReadSpec(
                    verb="get", kind=kind, namespace=ns, name=name, why=f"the {kind} the container reads"
                )
                specs.append(got)
                if view.read_status(got.key()) == "no_data":
                    specs.append(
                        ReadSpec(
                            verb="list",
                            kind=kind,
                            namespace=ns,
                            why=f"{kind}s with a similar name (the reference may be misspelled)",
                        )
                    )
                    # One narrow list by name: the object may exist in another namespace, which a pod
                    # cannot reference (secretKeyRef/configMapKeyRef have no namespace field).
                    specs.append(
                        ReadSpec(
                            verb="list",
                            kind=kind,
                            field_selector=f"metadata.name={name}",
                            why=f"whether a {kind} of that name exists in another namespace",
                        )
                    )
        return [s for s in specs if not view.was_read(s.key())]

    @staticmethod
    def _message(view: EvidenceView, pod: K8sObject, state: ContainerState) -> tuple[str, K8sObject | None]:
        waiting = str(state.waiting_message or "")
        for event in view.events_for(pod):
            text = str(event.get("message") or "")
            if event.get("reason") == "Failed" and text.startswith("Error: ") and "ErrImagePull" not in text:
                field = str((event.get("involvedObject") or {}).get("fieldPath") or "")
                if not field or state.name in field or not waiting or text.removeprefix("Error: ") == waiting:
                    return text.removeprefix("Error: "), event
        return waiting, None

    def analyze(self, view: EvidenceView) -> Finding | None:
        hits = list(failing_containers(view, _failing))
        if not hits:
            return self._from_text(view)
        pod, state = hits[0]
        ns, pod_name = namespace_of(pod), name_of(pod)
        target = workload_ref(view, pod)
        container = container_spec(pod, state.name) or {}
        message, event = self._message(view, pod, state)
        field = "initContainerStatuses" if state.init else "containerStatuses"
        facts = [
            Fact(
                f"container {state.name} is waiting with reason CreateContainerConfigError: {message}",
                src_obj(pod, f"status.{field}[{state.name}].state.waiting"),
            )
        ]
        if event is not None:
            facts.append(Fact(f"Error: {message}", src_event(event)))
        where = f"container {state.name} of pod {pod_name} ({target})"
        prefix = container_json_path(view, pod, state.name)
        fixes: list[str]
        if key_match := _MISSING_KEY.search(message):
            key, kind, obj_ns, obj_name = key_match.groups()
            cause_id, cause, more, fixes = self._missing_key(
                view, pod, container, prefix, key, kind, obj_ns, obj_name
            )
            cause = f"{where} cannot start: {cause}"
        elif obj_match := _MISSING_OBJ.search(message):
            kind, obj_name = _KIND[obj_match.group(1).lower()], obj_match.group(2)
            cause_id, cause, more, fixes = self._missing_object(view, pod, container, prefix, kind, obj_name)
            cause = f"{where} cannot start: {cause}"
        elif _NON_ROOT.search(message):
            cause_id = "createconfig.run-as-non-root"
            cause = (
                f"{where} cannot start: securityContext.runAsNonRoot is true but the image {state.image} "
                f"{_NON_ROOT.search(message).group(1)}, so the kubelet refuses to run it."  # type: ignore[union-attr]
            )
            more = []
            kind, _, name = target.partition("/")
            fixes = [
                f"kubectl patch {kind} {name}{ns_flag(ns)} -p '"
                + in_pod_template(
                    kind,
                    f'{{"containers":[{{"name":"{state.name}","securityContext":{{"runAsUser":10001,"runAsGroup":10001}}}}]}}',
                )
                + "'"
            ]
        elif subpath := _SUBPATH.search(message):
            cause_id = "createconfig.subpath"
            cause = f"{where} cannot start: the kubelet {subpath.group(0)}."
            more, fixes = (
                [],
                [
                    f"kubectl get {target}{ns_flag(ns)} -o jsonpath='{{.spec.template.spec.containers[*].volumeMounts}}'"
                ],
            )
        elif cache := _CACHE.search(message):
            cause_id = "createconfig.cache-sync"
            cause = (
                f"{where} cannot start: the kubelet could not sync its {cache.group(1)} cache from the API server "
                "(a transient control-plane or node problem)."
            )
            more, fixes = (
                [],
                ["kubectl get --raw='/readyz?verbose'", f"kubectl delete pod {pod_name}{ns_flag(ns)}"],
            )
        else:
            cause_id = "createconfig.invalid-config"
            cause = (
                f"{where} cannot start: the kubelet rejects its configuration ({message or 'no message'})."
            )
            more, fixes = [], []
        facts += more
        fixes.append(f"kubectl describe pod {pod_name}{ns_flag(ns)}")
        return Finding(
            category=self.category,
            score=0.95,
            root_cause_id=cause_id,
            root_cause=cause,
            summary=f"{target}: {message}"[:200],
            facts=facts,
            fix_commands=fixes,
            prevention=[
                "Create Secrets and ConfigMaps (or their ExternalSecret keys) before the workload that reads them, "
                "in the same release.",
                "Check in CI that every secretKeyRef/configMapKeyRef in the manifests names a key that exists.",
                "Roll out with maxUnavailable: 0 so a pod that cannot start never replaces a serving one.",
            ],
            affected=[ref(pod)],
        )

    def _known_keys(
        self, view: EvidenceView, kind: str, ns: str | None, name: str, missing: str = ""
    ) -> tuple[list[str], dict[str, str], str]:
        """Keys known to exist, env-var -> key as serving pods map them, and where the keys came from."""
        obj = view.obj(kind, name, ns)
        keys: list[str] = []
        source = ""
        if obj is not None:
            if kind == "ConfigMap":
                keys = sorted({*(obj.get("data") or {}), *(obj.get("binaryData") or {})})
            else:
                keys = list(obj.get("keyNames") or [])
            source = src_obj(obj, "data" if kind == "ConfigMap" else "keyNames") if keys else ""
        mapping: dict[str, str] = {}
        # Keys that pods which started successfully read from this object do exist.
        for holder in [*view.objs("ReplicaSet", ns), *view.objs("Pod", ns)]:
            if not _started(holder):
                continue
            for container in pod_spec(holder).get("containers") or []:
                for item in env_refs(container):
                    if item.kind == kind and item.name == name and item.key and item.key != missing:
                        mapping.setdefault(item.env or item.key, item.key)
                        if item.key not in keys:
                            keys.append(item.key)
                            source = source or src_obj(holder, "env references of running pods")
        return keys, mapping, source

    def _missing_key(
        self,
        view: EvidenceView,
        pod: K8sObject,
        container: K8sObject,
        prefix: str,
        key: str,
        kind: str,
        obj_ns: str,
        obj_name: str,
    ) -> tuple[str, str, list[Fact], list[str]]:
        target = workload_ref(view, pod)
        ns = obj_ns or namespace_of(pod)
        refs = [r for r in env_refs(container) if r.kind == kind and r.name == obj_name and r.key == key]
        env_var = refs[0].env if refs else None
        keys, mapping, keys_source = self._known_keys(view, kind, ns, obj_name, key)
        facts: list[Fact] = []
        obj = view.obj(kind, obj_name, ns)
        if refs:
            facts.append(
                Fact(
                    f"env {env_var} reads key {key} from {kind} {obj_name}",
                    src_obj(pod, f"spec.containers[{container.get('name')}].env[{env_var}]"),
                )
            )
        if keys:
            facts.append(Fact(f"{kind} {obj_name} has keys {', '.join(keys)}", keys_source))
        elif obj is not None:
            facts.append(Fact(f"{kind} {obj_name} exists; its key names are not visible", src_obj(obj)))
        manager = self._manager(obj)
        replacement = mapping.get(env_var or "") if env_var else None
        if not replacement or replacement == key:
            replacement = self._similar_key(key, keys)
        cause = f"{kind} {obj_name} in namespace {ns} has no key {key}"
        cause += f" (it has {', '.join(keys)})" if keys else ""
        if replacement:
            cause += (
                f"; the running version reads {replacement} for {env_var}"
                if mapping.get(env_var or "") == replacement
                else f"; {replacement} looks like the intended key"
            )
        cause += "."
        if manager:
            cause += f" The {kind} is generated by {manager}: add the key there, or it will be overwritten."
            facts.append(Fact(f"{kind} {obj_name} is managed by {manager}", src_obj(obj or pod, "metadata")))
        fixes: list[str] = []
        kind_word, _, name = target.partition("/")
        if replacement and refs:
            ops = [(refs[0], replacement)]
            # The kubelet reports the first missing key only; when the keys are known, fix the others too.
            if obj is not None and keys and not manager:
                for other in env_refs(container):
                    if other.kind == kind and other.name == obj_name and other.key not in (None, key, *keys):
                        similar = self._similar_key(str(other.key), keys)
                        if similar:
                            ops.append((other, similar))
            if len(ops) > 1:
                cause += " " + ", ".join(f"{r.key} is missing too ({new} exists)" for r, new in ops[1:]) + "."
            body = ",".join(
                f'{{"op":"replace","path":"{prefix}/{r.path}/key","value":"{new}"}}' for r, new in ops
            )
            fixes.append(f"kubectl patch {kind_word} {name}{ns_flag(ns)} --type=json -p '[{body}]'")
        if kind == "Secret":
            fixes.append(
                f'kubectl patch secret {obj_name}{ns_flag(ns)} --type=merge -p \'{{"stringData":{{"{key}":"<value>"}}}}\''
            )
        else:
            fixes.append(
                f'kubectl patch configmap {obj_name}{ns_flag(ns)} --type=merge -p \'{{"data":{{"{key}":"<value>"}}}}\''
            )
        return "createconfig.missing-key", cause, facts, fixes

    @staticmethod
    def _manager(obj: K8sObject | None) -> str | None:
        if obj is None:
            return None
        meta = obj.get("metadata") or {}
        for owner in meta.get("ownerReferences") or []:
            if owner.get("kind") in (
                "ExternalSecret",
                "SealedSecret",
                "VaultStaticSecret",
                "SecretProviderClass",
            ):
                return f"{owner.get('kind')} {owner.get('name')}"
        labels = {**(meta.get("labels") or {}), **(meta.get("annotations") or {})}
        if any(k.startswith("reconcile.external-secrets.io") for k in labels):
            return f"ExternalSecret {name_of(obj)}"
        if any("sealedsecrets" in k for k in labels):
            return f"SealedSecret {name_of(obj)}"
        return None

    @staticmethod
    def _similar_key(key: str, keys: list[str]) -> str | None:
        if not keys:
            return None
        lowered = {k.lower().replace("-", "_").replace(".", "_"): k for k in keys}
        norm = key.lower().replace("-", "_").replace(".", "_")
        if norm in lowered:
            return lowered[norm]
        close = similar_names(norm, list(lowered), limit=1)
        if close:
            return lowered[close[0]]
        # SMTP_PASSWORD vs password: the key is one word of the variable's name.
        words = set(norm.split("_"))
        contained = [k for n, k in lowered.items() if n in words]
        return contained[0] if len(contained) == 1 else None

    def _missing_object(
        self, view: EvidenceView, pod: K8sObject, container: K8sObject, prefix: str, kind: str, obj_name: str
    ) -> tuple[str, str, list[Fact], list[str]]:
        ns = namespace_of(pod)
        target = workload_ref(view, pod)
        kind_word, _, name = target.partition("/")
        refs = [r for r in env_refs(container) if r.kind == kind and r.name == obj_name]
        existing = [name_of(o) for o in view.objs(kind, ns)]
        similar = similar_names(obj_name, existing, limit=1)
        facts = [Fact(f"{kind} {obj_name} does not exist in namespace {ns}", f"get {kind} -n {ns}")]
        if refs:
            facts.append(
                Fact(
                    "the container reads "
                    + ", ".join(f"key {r.key} (env {r.env})" if r.key else "all keys (envFrom)" for r in refs)
                    + f" from {kind} {obj_name}",
                    src_obj(pod, f"spec.containers[{container.get('name')}]"),
                )
            )
        cause = f"{kind} {obj_name}, which its env refers to, does not exist in namespace {ns}"
        fixes: list[str] = []
        if similar:
            cause += f"; an existing {kind} is named {similar[0]}"
            facts.append(Fact(f"{kind} {similar[0]} exists in namespace {ns}", f"list {kind} -n {ns}"))
            ops = ",".join(
                f'{{"op":"replace","path":"{prefix}/{item.path}/name","value":"{similar[0]}"}}'
                for item in refs
            )
            if ops:
                fixes.append(f"kubectl patch {kind_word} {name}{ns_flag(ns)} --type=json -p '[{ops}]'")
        elsewhere = sorted(
            {
                namespace_of(o) or ""
                for o in view.objs(kind)
                if name_of(o) == obj_name and namespace_of(o) != ns
            }
        )
        if elsewhere and not similar:
            other = elsewhere[0]
            cause += (
                f"; a {kind} of that name exists in namespace {other}, but a pod can only read {kind}s of its own "
                f"namespace ({'secretKeyRef' if kind == 'Secret' else 'configMapKeyRef'} has no namespace field)"
            )
            facts.append(
                Fact(
                    f"{kind} {obj_name} exists in namespace {', '.join(elsewhere)}",
                    f"list {kind} {obj_name} -A",
                )
            )
            resource = "secret" if kind == "Secret" else "configmap"
            fixes.append(
                f"kubectl get {resource} {obj_name} -n {other} -o json | jq 'del(.metadata.namespace,.metadata.uid,"
                ".metadata.resourceVersion,.metadata.creationTimestamp,.metadata.ownerReferences,.metadata.managedFields)'"
                f" | kubectl apply -n {ns} -f -  # a copy in {ns}; better: sync it (ExternalSecret, reflector) so rotations follow"
            )
        cause += "."
        keys = list(dict.fromkeys(r.key for r in refs if r.key))
        literals = " ".join(f"--from-literal={k}=<value>" for k in keys) or "--from-env-file=<file>"
        if kind == "Secret":
            fixes.append(f"kubectl create secret generic {obj_name}{ns_flag(ns)} {literals}")
        else:
            fixes.append(f"kubectl create configmap {obj_name}{ns_flag(ns)} {literals}")
        return f"createconfig.missing-{kind.lower()}", cause, facts, fixes

    def _from_text(self, view: EvidenceView) -> Finding | None:
        ns = view.namespace
        if re.search(r"MountVolume|FailedMount", view.error_message):
            return None  # a volume's missing object: VolumeMountFailure reads that paste
        if found := pasted_line(view, _MISSING_KEY):
            line, match = found
            key, kind, obj_ns, name = match.groups()
            verb = "secret" if kind == "Secret" else "configmap"
            field = "stringData" if kind == "Secret" else "data"
            fix = f'kubectl patch {verb} {name} -n {obj_ns} --type=merge -p \'{{"{field}":{{"{key}":"<value>"}}}}\''
            return text_only_finding(
                view,
                self.category,
                "createconfig.missing-key",
                f"{kind} {obj_ns}/{name} has no key {key}",
                line,
                [fix],
                ["Check in CI that every secretKeyRef/configMapKeyRef names a key that exists."],
            )
        if found := pasted_line(view, _MISSING_OBJ):
            line, match = found
            kind, name = _KIND[match.group(1).lower()], match.group(2)
            verb = "secret generic" if kind == "Secret" else "configmap"
            return text_only_finding(
                view,
                self.category,
                f"createconfig.missing-{kind.lower()}",
                f"{kind} {name}, which the container's env refers to, does not exist",
                line,
                [f"kubectl create {verb} {name}{ns_flag(ns)} --from-literal=<KEY>=<value>"],
                ["Create Secrets and ConfigMaps before the workload that reads them, in the same release."],
            )
        return None
