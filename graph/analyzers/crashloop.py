"""CrashLoopBackOff: the container starts and exits repeatedly.

The log of the crashed instance usually names the cause: a missing environment variable, an
unknown flag, a dependency that refuses connections, a bad config file. When the failing pods
come from a new ReplicaSet while the previous one still serves, the rollout introduced it.
"""

from __future__ import annotations

import difflib
import re

from graph.analyzers.base import Analyzer, Fact, Finding, ns_flag, ref, src_log, src_obj
from graph.analyzers.common import (
    backing_workload,
    container_json_path,
    error_lines,
    failing_containers,
    find_service,
    latest_log,
    mounted_from,
    ready_addresses,
    workload_ref,
)
from graph.analyzers.credentials import credential_fixes, credential_sources, rejected_credentials
from graph.analyzers.locks import held_lock, lock_explanation
from graph.evidence import EvidenceView, K8sObject, name_of, namespace_of
from graph.k8s import ContainerState, container_spec
from graph.schemas import ReadSpec

_MISSING_ENV = re.compile(
    r"(?:missing|required|undefined|not set|unset|no value for)[^\n]{0,40}?(?:environment variable|env(?: var)?|variable)"
    r"[\s:'\"`]+([A-Z][A-Z0-9_]{2,})"
    r"|(?:environment variable|env var)[\s'\"`]+([A-Z][A-Z0-9_]{2,})['\"`]?\s+(?:is )?(?:missing|required|not set|unset|must be set)"
    r"|\b([A-Z][A-Z0-9_]{2,})\b (?:is )?(?:required|not set|must be set|is missing)"
    r"|KeyError: '([A-Z][A-Z0-9_]{2,})'",
)
_UNKNOWN_FLAG = re.compile(
    r"flag provided but not defined: -{1,2}([\w-]+)|unknown (?:flag|option|shorthand flag):? '?-{1,2}([\w-]+)"
    r"|unrecognized arguments?: -{1,2}([\w-]+)|no such option: -{1,2}([\w-]+)"
)
_USAGE_FLAG = re.compile(r"^\s+-{1,2}([\w-]+)(?:[ =]\w+)?\s*\n?\s*(.*)$", re.MULTILINE)
_CONNECT = re.compile(
    r"(connection refused|ECONNREFUSED|could not connect|no route to host|connect: connection timed out|"
    r"dial tcp [^\s]+: (?:i/o timeout|connect: [\w ]+))",
    re.IGNORECASE,
)
_PARSE_ERROR = re.compile(
    r"ScannerError[^\n]*|ParserError[^\n]*|YAMLException[^\n]*|yaml: line \d+[^\n]*|json: cannot unmarshal[^\n]*|"
    r"JSONDecodeError[^\n]*|TomlDecodeError[^\n]*|toml: [^\n]*|(?:failed to|could not|cannot|unable to) "
    r"(?:parse|load|decode|read) (?:config|configuration|settings)[^\n]*",
    re.IGNORECASE,
)
_CONFIG_PATH = re.compile(
    r"[\"'`]?(/[\w.@-]+(?:/[\w.@-]+)*\.(?:ya?ml|json|toml|conf|cfg|ini|properties|xml|hcl))\b"
)
_LINE = re.compile(r"line (\d+)(?:,? column (\d+))?", re.IGNORECASE)
_EXIT_MEANING = {
    1: "a general application error",
    2: "a usage error (bad command-line arguments)",
    126: "the command is not executable",
    127: "the command was not found in the image",
    134: "an abort (SIGABRT)",
    137: "a SIGKILL",
    139: "a segmentation fault (SIGSEGV)",
    143: "a SIGTERM",
}


def _crashing(c: ContainerState) -> bool:
    if c.init:
        return False
    if c.waiting_reason == "CrashLoopBackOff":
        return True
    return (
        c.restarts > 0
        and c.last_reason in ("Error", "Completed", "Unknown")
        and c.last_exit_code not in (None, 0, 128)
    )


# Encrypted configuration that the given key cannot open (Rails credentials, Fernet, OpenSSL, AES-GCM).
_DECRYPT_ERROR = re.compile(
    r"MessageEncryptor::InvalidMessage|EncryptedFile::MissingKeyError|fernet\.InvalidToken|"
    r"bad decrypt|decryption failed|cipher: message authentication failed|MAC check failed|"
    r"Tag mismatch|could not decrypt[^\n]{0,80}",
    re.IGNORECASE,
)
_KEY_VAR = re.compile(r"MASTER_KEY|ENCRYPTION_KEY|SECRET_KEY|CIPHER|CRYPT|PASSPHRASE", re.IGNORECASE)


class CrashLoopBackOffAnalyzer(Analyzer):
    category = "CrashLoopBackOff"

    def plan(self, view: EvidenceView) -> list[ReadSpec]:
        """When a crashed instance logged refused connections: the Services, endpoints and StatefulSets."""
        for pod, state in failing_containers(view, _crashing):
            logged = latest_log(view, pod, state.name)
            if logged and _CONNECT.search(logged[0]):
                ns = namespace_of(pod)
                why = "which dependency refuses connections"
                return [
                    ReadSpec(verb="list", kind=kind, namespace=ns, why=why)
                    for kind in ("Service", "Endpoints", "StatefulSet")
                ]
            break
        return []

    def analyze(self, view: EvidenceView) -> Finding | None:
        hits = list(failing_containers(view, _crashing))
        if not hits:
            return None
        pod, state = hits[0]
        ns, pod_name = namespace_of(pod), name_of(pod)
        target = workload_ref(view, pod)
        exit_code = state.last_exit_code if state.last_exit_code is not None else state.terminated_exit_code
        meaning = _EXIT_MEANING.get(exit_code or -1, "an error")
        facts = [
            Fact(
                f"container {state.name} is {state.waiting_reason or 'restarting'} after {state.restarts} restart(s); "
                f"last exit code {exit_code} ({meaning})",
                src_obj(pod, f"status.containerStatuses[{state.name}]"),
            )
        ]
        same = [p for p, s in hits if s.name == state.name and workload_ref(view, p) == target]
        if len(same) > 1:
            facts.append(Fact(f"{len(same)} pods of {target} crash the same way", "pods in namespace"))
        rollout_note, rollout_fact = self._rollout(view, pod)
        if rollout_fact:
            facts.append(rollout_fact)

        spec = container_spec(pod, state.name) or {}
        logged = latest_log(view, pod, state.name)
        fixes: list[str] = []
        score, cause_id, cause = 0.65, "crashloop.app-error", ""
        if logged:
            text, previous = logged
            log_src = src_log(ns or "", pod_name, state.name, previous)
            lines = error_lines(text)
            for line in lines:
                facts.append(Fact(f"log: {line}", log_src))
            score, cause_id, cause, fixes, extra = self._explain(
                view, pod, text, spec, target, ns, state, lines
            )
            facts.extend(extra)
        else:
            cause = f"exits with code {exit_code} ({meaning}); no log of the crashed instance could be read"
        if cause_id in ("crashloop.config-file-invalid", "crashloop.lock-held"):
            # Rolling back the Deployment would not help: the old pods mount the same file, or wait
            # for the same lock.
            rollout_note = ""

        root = f"Container {state.name} of pod {pod_name} ({target}) is in CrashLoopBackOff: {cause}."
        if rollout_note:
            root += " " + rollout_note
        fixes.append(f"kubectl logs {pod_name}{ns_flag(ns)} -c {state.name} --previous")
        if rollout_note:
            fixes.append(f"kubectl rollout undo {target}{ns_flag(ns)}")
        return Finding(
            category=self.category,
            score=score,
            root_cause_id=cause_id,
            root_cause=root,
            summary=f"{target} crash-looping: {cause}"[:200],
            facts=facts,
            fix_commands=fixes,
            prevention=[
                "Validate required configuration at deploy time (a CI check or a startup probe with a clear message), "
                "not at first crash.",
                "Use a progressive rollout (maxUnavailable: 0, readiness gates) so a crashing version never replaces "
                "serving pods.",
                "Keep configuration schema and manifests in the same change as the code that reads them.",
            ],
            affected=[ref(pod)],
        )

    def _explain(
        self,
        view: EvidenceView,
        pod: K8sObject,
        text: str,
        spec: dict[str, object],
        target: str,
        ns: str | None,
        state: ContainerState,
        lines: list[str],
    ) -> tuple[float, str, str, list[str], list[Fact]]:
        lock = held_lock(text)
        if lock is not None:
            return lock_explanation(view, pod, text, spec, target, ns, state.name, lock)
        rejected = rejected_credentials(text)
        if rejected is not None:
            sources = credential_sources(pod, state.name)
            cause = f"the application exits because the server rejects its credentials ({rejected.quote})"
            facts = []
            if sources:
                names = "; ".join(f"Secret {s.secret} via {s.how}" for s in sources[:2])
                cause += f"; it takes them from {names}"
                facts.append(
                    Fact(
                        f"container {state.name} reads credentials from {names}",
                        src_obj(pod, f"spec.containers[{state.name}]"),
                    )
                )
            return (
                0.85,
                "crashloop.credentials-rejected",
                cause,
                credential_fixes(sources, ns, target, rejected.user),
                facts,
            )
        undecryptable = _DECRYPT_ERROR.search(text)
        if undecryptable:
            return self._decryption_key(pod, state, undecryptable.group(0), target, ns)
        env_match = _MISSING_ENV.search(text)
        if env_match:
            var = next(g for g in env_match.groups() if g)
            secret = f"{target.split('/', 1)[1]}-{var.lower().replace('_', '-')}"
            return (
                0.85,
                "crashloop.missing-env",
                f"the application exits at startup because environment variable {var} is not set in the pod spec",
                [
                    f"kubectl create secret generic {secret}{ns_flag(ns)} --from-literal={var}=<value>",
                    f"kubectl set env {target}{ns_flag(ns)} -c {state.name} --from=secret/{secret} --keys={var}",
                ],
                [],
            )
        flag_match = _UNKNOWN_FLAG.search(text)
        if flag_match:
            flag = next(g for g in flag_match.groups() if g)
            defined = {m.group(1): m.group(2).strip() for m in _USAGE_FLAG.finditer(text)}
            replacement = self._similar_flag(flag, defined)
            cause = f"the binary rejects the argument -{flag} (flag provided but not defined)"
            fixes: list[str] = []
            for field in ("args", "command"):
                values: list[str] = [str(a) for a in spec.get(field) or []]  # type: ignore[attr-defined]
                for index, arg in enumerate(values):
                    if re.match(rf"^-{{1,2}}{re.escape(flag)}(=|$)", str(arg)):
                        value = str(arg).split("=", 1)[1] if "=" in str(arg) else ""
                        new = (
                            f"--{replacement}={value}"
                            if replacement and value
                            else f"--{replacement or flag}"
                        )
                        path = f"{container_json_path(view, pod, state.name)}/{field}/{index}"
                        patch = f'[{{"op":"replace","path":"{path}","value":"{new}"}}]'
                        fixes.append(f"kubectl patch {target}{ns_flag(ns)} --type=json -p '{patch}'")
                        cause = f"the binary rejects the argument {arg} in the container's {field} (flag provided but not defined)"
            if replacement:
                cause += f"; this version defines -{replacement} ({defined[replacement]}) instead"
            return 0.85, "crashloop.unknown-flag", cause, fixes, []
        # The last matches: a traceback names the file and raises the error more than once.
        parse = next(reversed(list(_PARSE_ERROR.finditer(text))), None)
        config_file = next(reversed(list(_CONFIG_PATH.finditer(text))), None) if parse else None
        if parse and config_file:
            return self._config_file(pod, state, config_file.group(1), text, parse.group(0), target, ns)
        connect = _CONNECT.search(text)
        if connect:
            return self._dependency(view, text, connect.group(1), ns)
        detail = lines[-1] if lines else "the log shows no error line"
        return 0.7, "crashloop.app-error", f"the application exits with an error: {detail}", [], []

    @staticmethod
    def _decryption_key(
        pod: K8sObject, state: ContainerState, quote: str, target: str, ns: str | None
    ) -> tuple[float, str, str, list[str], list[Fact]]:
        """Encrypted config that cannot be decrypted: the key the container is given (an env var
        named like a key) does not match what the data was encrypted with."""
        spec = container_spec(pod, state.name) or {}
        env = list(spec.get("env") or [])
        # A variable named for decryption first; any other *_KEY only when none is.
        keys = [e for e in env if _KEY_VAR.search(str(e.get("name", "")))] or [
            e for e in env if str(e.get("name", "")).upper().endswith("_KEY")
        ]
        cause = f"the application cannot decrypt its encrypted configuration ({quote})"
        facts: list[Fact] = []
        fixes: list[str] = []
        if keys:
            var = keys[0]
            name = str(var.get("name"))
            ref = (var.get("valueFrom") or {}).get("secretKeyRef") or {}
            origin = f"Secret {ref.get('name')} key {ref.get('key')}" if ref.get("name") else "the pod spec"
            cause += (
                f": the key it is given, env {name} from {origin}, does not match the one the data was "
                "encrypted with (the image's encrypted file changed, or the Secret holds an old key)"
            )
            facts.append(
                Fact(
                    f"container {state.name} gets {name} from {origin}",
                    src_obj(pod, f"spec.containers[{state.name}].env"),
                )
            )
            if ref.get("name"):
                fixes.append(
                    f"kubectl create secret generic {ref.get('name')}{ns_flag(ns)} "
                    f"--from-literal={ref.get('key')}=<key-matching-the-image> --dry-run=client -o yaml | kubectl apply -f -"
                )
            else:
                fixes.append(
                    f"kubectl set env {target}{ns_flag(ns)} -c {state.name} {name}=<key-matching-the-image>"
                )
            fixes.append(f"kubectl rollout restart {target}{ns_flag(ns)}")
        return 0.85, "crashloop.decryption-key-mismatch", cause, fixes, facts

    @staticmethod
    def _config_file(
        pod: K8sObject, state: ContainerState, path: str, text: str, error: str, target: str, ns: str | None
    ) -> tuple[float, str, str, list[str], list[Fact]]:
        """A config file the process cannot parse, traced to the ConfigMap or Secret it is mounted from."""
        line = _LINE.search(text[text.rfind(path) :] if path in text else text)
        where = (
            f" at line {line.group(1)}" + (f", column {line.group(2)}" if line.group(2) else "")
            if line
            else ""
        )
        source = mounted_from(pod, state.name, path)
        cause = f"the application cannot parse its configuration file {path}{where} ({error.strip()})"
        fixes: list[str] = []
        facts: list[Fact] = []
        if source is not None:
            kind, name, mount = source
            cause += f"; the file comes from {kind} {name}, mounted at {mount}, which was changed"
            facts.append(
                Fact(
                    f"{path} is mounted from {kind} {name} (volume at {mount})", src_obj(pod, "spec.volumes")
                )
            )
            resource = "configmap" if kind == "ConfigMap" else "secret"
            fixes += [
                f"kubectl get {resource} {name}{ns_flag(ns)} -o yaml  # check{where or ' the file'}",
                f"kubectl edit {resource} {name}{ns_flag(ns)}",
                f"kubectl rollout restart {target}{ns_flag(ns)}",
            ]
        return 0.85, "crashloop.config-file-invalid", cause, fixes, facts

    @staticmethod
    def _dependency(
        view: EvidenceView, text: str, error: str, ns: str | None
    ) -> tuple[float, str, str, list[str], list[Fact]]:
        """A dependency refusing connections, traced to its Service, endpoints and workload when read."""
        cause = f"the application exits because a dependency is unreachable ({error})"
        fixes: list[str] = []
        facts: list[Fact] = []
        service = find_service(view, text, ns)
        if service is None:
            return (
                0.75,
                "crashloop.dependency-unreachable",
                cause,
                [f"kubectl get svc,endpoints{ns_flag(ns)}"],
                [],
            )
        svc_ns, svc = namespace_of(service), name_of(service)
        ready = ready_addresses(view.obj("Endpoints", svc, svc_ns))
        cause = f"the application exits because Service {svc} refuses connections ({error})"
        facts.append(
            Fact(
                f"Service {svc} has {ready} ready endpoint address(es)", src_obj(service, "Endpoints subsets")
            )
        )
        fixes.append(f"kubectl get endpoints {svc}{ns_flag(svc_ns)}")
        backend = backing_workload(view, service)
        if backend is not None:
            kind, replicas = str(backend.get("kind")), (backend.get("spec") or {}).get("replicas")
            ref_ = f"{kind.lower()}/{name_of(backend)}"
            facts.append(
                Fact(
                    f"{kind} {name_of(backend)} behind Service {svc} has spec.replicas={replicas}",
                    src_obj(backend, "spec.replicas"),
                )
            )
            if replicas == 0:
                cause += f": {kind} {name_of(backend)} behind it is scaled to 0 replicas"
                fixes.insert(
                    0, f"kubectl scale {ref_}{ns_flag(svc_ns)} --replicas=1  # or the count it ran with"
                )
            elif ready == 0:
                cause += f": none of the pods of {kind} {name_of(backend)} is ready"
                fixes.insert(0, f"kubectl describe {ref_}{ns_flag(svc_ns)}")
        elif ready == 0:
            cause += ": it has no ready endpoints (its selector matches no ready pod)"
        return 0.85 if ready == 0 else 0.75, "crashloop.dependency-unreachable", cause, fixes, facts

    @staticmethod
    def _similar_flag(flag: str, defined: dict[str, str]) -> str | None:
        if not defined:
            return None
        close = difflib.get_close_matches(flag, list(defined), n=1, cutoff=0.6)
        if close:
            return close[0]
        # "-concurrency" renamed "-workers": match on the flag's meaning in the usage text.
        stem = flag[:6].lower()
        for name, help_text in defined.items():
            if stem and stem in help_text.lower():
                return name
        return None

    @staticmethod
    def _rollout(view: EvidenceView, pod: K8sObject) -> tuple[str, Fact | None]:
        """When a new ReplicaSet crashes while an older one of the same Deployment serves."""
        chain = view.owner_chain(pod)
        if len(chain) < 2 or chain[0].get("kind") != "ReplicaSet" or chain[1].get("kind") != "Deployment":
            return "", None
        rs, deployment = chain[0], chain[1]
        older = [
            other
            for other in view.objs("ReplicaSet", namespace_of(rs))
            if other is not rs
            and view.owner(other) is deployment
            and ((other.get("status") or {}).get("readyReplicas") or 0) > 0
        ]
        if not older:
            return "", None
        old = older[0]
        new_image = _image(rs)
        old_image = _image(old)
        if new_image != old_image:
            note = (
                f"The new ReplicaSet {name_of(rs)} ({new_image}) crashes while the previous ReplicaSet {name_of(old)} "
                f"({old_image}) still serves: the rollout introduced the failure."
            )
        else:
            note = (
                f"The previous ReplicaSet {name_of(old)} runs the same image and still serves: what changed is the "
                f"pod template or configuration read at startup, which pods started before the change do not see."
            )
        fact = Fact(
            f"ReplicaSet {name_of(rs)} runs {new_image}; ReplicaSet {name_of(old)} runs {old_image} with "
            f"{(old.get('status') or {}).get('readyReplicas')} ready replica(s)",
            src_obj(deployment, "owned ReplicaSets"),
        )
        return note, fact


def _image(workload: K8sObject) -> str:
    spec = ((workload.get("spec") or {}).get("template") or {}).get("spec") or {}
    containers = spec.get("containers") or []
    return str(containers[0].get("image")) if containers else "?"
