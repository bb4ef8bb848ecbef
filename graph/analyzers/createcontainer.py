"""CreateContainerError: the runtime cannot create or start a container's process.

Shows as CreateContainerError or RunContainerError while waiting, or as a StartError /
ContainerCannotRun termination with exit code 128 (the pod then reads CrashLoopBackOff). The
runtime's message names the cause: the command is not in the image (executable file not found,
no such file or directory), the binary is for another CPU architecture (exec format error),
it is not executable, the working directory is missing, or a volume is mounted onto a path
of the wrong type (a directory onto a file).
"""

from __future__ import annotations

import re

from graph.analyzers.base import Analyzer, Fact, Finding, ns_flag, ref, src_event, src_log, src_obj
from graph.analyzers.common import (
    container_json_path,
    failing_containers,
    in_pod_template,
    latest_log,
    node_arch,
    pasted_line,
    serving_replicaset,
    text_only_finding,
    workload_ref,
)
from graph.evidence import EvidenceView, K8sObject, name_of, namespace_of
from graph.k8s import ContainerState, container_spec

_RUNTIME_REASONS = {"CreateContainerError", "RunContainerError", "ContainerCannotRun", "StartError"}
_EXEC_FORMAT = re.compile(r"exec format error", re.I)
_RUNTIME_LOG = re.compile(
    r"exec format error|exec user process caused|exec (/\S+): no such file or directory|"
    r"OCI runtime (?:create|exec) failed",
    re.I,
)
_NOT_FOUND = re.compile(
    r"executable file not found in \$PATH|exec: \\?\"([^\"\\]+)\\?\": stat [^:]+: no such file or directory|"
    r"exec (/[^\s:]+): no such file or directory|no such file or directory",
    re.I,
)
_EXEC_TARGET = re.compile(r"exec(?::)? \\?\"([^\"\\]+)\\?\"|exec (/[^\s:]+):|stat ([^\s:]+): no such file")
_PERMISSION = re.compile(r"exec[^\n]*permission denied", re.I)
_MOUNT = re.compile(
    r"not a directory|Are you trying to mount a directory onto a file|error mounting|mount(?:ing)? [^\n]*"
    r"(?:read-only file system|is a directory)",
    re.I,
)
_CWD = re.compile(r"chdir to cwd \(\\?\"([^\"\\]+)\\?\"\)[^\n]*|cwd[^\n]*no such file", re.I)


def _runtime_failure(c: ContainerState) -> bool:
    if c.init:
        return False  # an init container that cannot start is an InitContainerFailure
    return (
        c.waiting_reason in _RUNTIME_REASONS
        or c.terminated_reason in ("StartError", "ContainerCannotRun")
        or c.last_reason in ("StartError", "ContainerCannotRun")
        or (c.last_exit_code == 128 and bool(c.last_message))
    )


class CreateContainerErrorAnalyzer(Analyzer):
    category = "CreateContainerError"

    def analyze(self, view: EvidenceView) -> Finding | None:
        hits = list(failing_containers(view, _runtime_failure))
        from_log = False
        if not hits:
            # exec format error and a missing interpreter surface only in the crashed instance's log.
            hits = [
                (pod, state)
                for pod, state in failing_containers(
                    view, lambda c: not c.init and (c.restarts > 0 or c.terminated_reason is not None)
                )
                if (logged := latest_log(view, pod, state.name)) and _RUNTIME_LOG.search(logged[0])
            ]
            from_log = True
        if not hits:
            return self._from_text(view)
        pod, state = hits[0]
        ns, pod_name = namespace_of(pod), name_of(pod)
        target = workload_ref(view, pod)
        spec = container_spec(pod, state.name) or {}
        message, facts = self._evidence(view, pod, state, from_log)
        image = str(spec.get("image") or state.image or "")
        command = [str(c) for c in spec.get("command") or []]
        args = [str(a) for a in spec.get("args") or []]
        if command or args:
            facts.append(
                Fact(
                    f"container {state.name} runs command {command or '(image entrypoint)'} args {args or '[]'} "
                    f"from image {image}",
                    src_obj(pod, f"spec.containers[{state.name}]"),
                )
            )
        path = container_json_path(view, pod, state.name)
        kind_word, _, workload = target.partition("/")
        patch = f"kubectl patch {kind_word} {workload}{ns_flag(ns)} --type=json -p "
        where = f"Container {state.name} of pod {pod_name} ({target})"
        previous = serving_replicaset(view, pod, state.name, image)
        if previous:
            facts.append(
                Fact(
                    f"the previous ReplicaSet {name_of(previous[0])} runs {previous[1]} with ready pods",
                    src_obj(previous[0], "spec.template"),
                )
            )
        fixes: list[str] = []
        score = 0.9 if from_log else 0.95
        if _EXEC_FORMAT.search(message):
            arch = node_arch(view, pod)
            cause_id = "createcontainer.exec-format"
            cause = (
                f"{where} cannot start: exec format error — the binary in image {image} is built for another CPU "
                f"architecture than node {(pod.get('spec') or {}).get('nodeName')}"
                + (f" ({arch})" if arch else "")
                + "."
            )
            if arch:
                facts.append(
                    Fact(
                        f"node {(pod.get('spec') or {}).get('nodeName')} is {arch}",
                        "Node status.nodeInfo.architecture",
                    )
                )
            fixes.append(f"docker buildx imagetools inspect {image}")
            fixes.append(f"docker buildx build --platform linux/{arch or 'amd64'} -t {image} --push .")
            other = "amd64" if arch == "arm64" else "arm64"
            # Pinning to the image's architecture only helps when such nodes exist.
            if arch and any(
                ((n.get("metadata") or {}).get("labels") or {}).get("kubernetes.io/arch") == other
                for n in view.objs("Node")
            ):
                fixes.append(
                    f"kubectl patch {kind_word} {workload}{ns_flag(ns)} -p "
                    + "'"
                    + in_pod_template(kind_word, f'{{"nodeSelector":{{"kubernetes.io/arch":"{other}"}}}}')
                    + "'"
                )
        elif _MOUNT.search(message):
            cause_id = "createcontainer.bad-mount-path"
            mount, index = self._mount_in(message, spec)
            cause = f"{where} cannot start: the runtime fails to mount a volume"
            if mount:
                cause += f" at {mount.get('mountPath')} (volume {mount.get('name')})"
                facts.append(
                    Fact(
                        f"volumeMount {mount.get('name')} -> {mount.get('mountPath')}"
                        + (f" subPath {mount.get('subPath')}" if mount.get("subPath") else ""),
                        src_obj(pod, f"spec.containers[{state.name}].volumeMounts"),
                    )
                )
            cause += f": {self._short(message)} (a directory mounted onto a file, or the reverse)."
            if mount:
                mount_path = str(mount.get("mountPath", "")).rstrip("/")
                base = mount_path.rsplit("/", 1)[-1]
                sub_path = str(mount.get("subPath") or "").rstrip("/")
                file_name = sub_path.rsplit("/", 1)[-1]
                if (
                    sub_path
                    and _is_file_of_volume(_volumes_by_name(pod), str(mount.get("name")), sub_path)
                    and (file_name != base)
                ):
                    # A single file (a ConfigMap/Secret key picked by subPath) cannot be mounted onto a
                    # directory of the image: mount it at a file path inside that directory instead.
                    target = f"{mount_path}/{file_name}"
                    cause = cause.removesuffix(" (a directory mounted onto a file, or the reverse).") + (
                        f": subPath {sub_path} is a single file, but mountPath {mount_path} is a directory in "
                        f"the image, so the file must be mounted at {target}."
                    )
                    fixes.append(
                        patch
                        + f'\'[{{"op":"replace","path":"{path}/volumeMounts/{index}/mountPath","value":"{target}"}}]\''
                    )
                else:
                    op = "replace" if mount.get("subPath") else "add"
                    fixes.append(
                        patch
                        + f'\'[{{"op":"{op}","path":"{path}/volumeMounts/{index}/subPath","value":"{base}"}}]\''
                    )
        elif _PERMISSION.search(message):
            cause_id = "createcontainer.not-executable"
            exe = self._exec_target(message) or (command[:1] or ["the entrypoint"])[0]
            cause = f"{where} cannot start: {exe} in image {image} is not executable (permission denied)."
            fixes.append(f"crane export {image} - | tar -tvf - | grep '{exe.lstrip('/')}'")
            fixes.append(
                patch + f'\'[{{"op":"replace","path":"{path}/command","value":["/bin/sh","{exe}"]}}]\''
            )
        elif cwd := _CWD.search(message):
            cause_id = "createcontainer.missing-workdir"
            cause = f"{where} cannot start: its working directory does not exist in image {image} ({cwd.group(0)[:200]})."
            fixes.append(patch + f'\'[{{"op":"remove","path":"{path}/workingDir"}}]\'')
        elif _NOT_FOUND.search(message):
            exe = self._exec_target(message) or (command[:1] or ["the entrypoint"])[0]
            cause_id = "createcontainer.executable-not-found"
            field = "command" if exe in command or not args or exe not in args else "args"
            cause = (
                f"{where} cannot start: the executable {exe} does not exist in image {image} "
                f"({self._short(message)})"
            )
            if previous:
                cause += f"; the previous image {previous[1]} had it"
            cause += f". Its {field} points at a path the image does not contain."
            fixes.append(f"crane export {image} - | tar -tf - | grep '{exe.rsplit('/', 1)[-1]}'")
            fixes.append(
                patch
                + f'\'[{{"op":"replace","path":"{path}/{field}","value":["<path of {exe.rsplit("/", 1)[-1]} in {image}>"]}}]\''
            )
        else:
            cause_id = "createcontainer.runtime-error"
            cause = (
                f"{where} cannot start: the runtime reports {self._short(message) or state.waiting_reason}."
            )
            score = 0.85
        if previous:
            fixes.append(f"kubectl rollout undo {target}{ns_flag(ns)}")
        fixes.append(f"kubectl describe pod {pod_name}{ns_flag(ns)}")
        return Finding(
            category=self.category,
            score=score,
            root_cause_id=cause_id,
            root_cause=cause,
            summary=f"{target}: runtime cannot start {state.name}: {self._short(message)}"[:200],
            facts=facts,
            fix_commands=fixes,
            prevention=[
                "Smoke-test the built image with its real command (docker run <image> --version) in CI, on every "
                "target architecture.",
                "Build multi-arch images (docker buildx --platform linux/amd64,linux/arm64) when node pools mix "
                "architectures.",
                "Mount single files with subPath and keep command paths in the image's own ENTRYPOINT where possible.",
            ],
            affected=[ref(pod)],
        )

    @staticmethod
    def _short(message: str) -> str:
        """The runtime's own words, without the wrapping every layer adds (containerd, shim, runc)."""
        inner = re.search(r'msg="((?:[^"\\]|\\.)*)"', message)
        text = inner.group(1).replace('\\"', '"') if inner else message
        text = re.sub(r"^.*?unable to start container process: (?:error during container init: )?", "", text)
        text = re.sub(r"mount \S+ \(via [^)]+\), flags: 0x[0-9a-f]+: ", "", text)
        return text.strip()[:400]

    @staticmethod
    def _exec_target(message: str) -> str | None:
        found = _EXEC_TARGET.search(message)
        if not found:
            return None
        return next(g for g in found.groups() if g)

    def _evidence(
        self, view: EvidenceView, pod: K8sObject, state: ContainerState, from_log: bool
    ) -> tuple[str, list[Fact]]:
        ns, pod_name = namespace_of(pod) or "", name_of(pod)
        status = f"status.containerStatuses[{state.name}]"
        facts: list[Fact] = []
        message = ""
        if state.waiting_reason in _RUNTIME_REASONS and state.waiting_message:
            message = state.waiting_message
            facts.append(
                Fact(
                    f"{state.waiting_reason}: {self._short(message)}", src_obj(pod, f"{status}.state.waiting")
                )
            )
        for reason, code, text, where in (
            (
                state.terminated_reason,
                state.terminated_exit_code,
                state.terminated_message,
                "state.terminated",
            ),
            (state.last_reason, state.last_exit_code, state.last_message, "lastState.terminated"),
        ):
            if reason in ("StartError", "ContainerCannotRun") or (code == 128 and text):
                message = message or str(text or "")
                facts.append(
                    Fact(
                        f"container {state.name} terminated with reason {reason}, exit code {code}: {self._short(str(text or ''))}",
                        src_obj(pod, f"{status}.{where}"),
                    )
                )
                if state.waiting_reason == "CrashLoopBackOff":
                    facts.append(
                        Fact(
                            f"the pod shows CrashLoopBackOff after {state.restarts} restart(s), but the process never started",
                            src_obj(pod, f"{status}.state.waiting"),
                        )
                    )
                break
        for event in view.events_for(pod):
            text = str(event.get("message") or "")
            if event.get("reason") == "Failed" and re.search(
                r"exec|mount|runtime|cwd|not found|format", text, re.I
            ):
                facts.append(Fact(self._short(text), src_event(event)))
                message = message or text
                break
        if from_log or not message:
            logged = latest_log(view, pod, state.name)
            if logged:
                lines = [line for line in logged[0].splitlines() if _RUNTIME_LOG.search(line)]
                if lines:
                    facts.append(
                        Fact(f"log: {lines[-1].strip()[:300]}", src_log(ns, pod_name, state.name, logged[1]))
                    )
                    message = message or lines[-1]
                    if state.waiting_reason == "CrashLoopBackOff":
                        facts.append(
                            Fact(
                                f"the pod shows CrashLoopBackOff after {state.restarts} restart(s): the process cannot be executed",
                                src_obj(pod, f"{status}.state.waiting"),
                            )
                        )
        return message, facts

    @staticmethod
    def _mount_in(message: str, spec: K8sObject) -> tuple[K8sObject | None, int]:
        mounts = list(spec.get("volumeMounts") or [])
        best: tuple[int, K8sObject | None, int] = (0, None, 0)
        for index, mount in enumerate(mounts):
            path = str(mount.get("mountPath") or "")
            if path and path in message and len(path) > best[0]:
                best = (len(path), mount, index)
        return best[1], best[2]

    def _from_text(self, view: EvidenceView) -> Finding | None:
        runtime = re.compile(
            r"executable file not found|exec format error|OCI runtime|StartError|CreateContainerError|"
            r"RunContainerError|unable to start container process"
        )
        found = pasted_line(view, runtime)
        if found is None or re.search(r"sandbox", view.error_message, re.I):
            return None
        line = found[0]
        text = view.error_message
        if _EXEC_FORMAT.search(text):
            cause_id, cause = (
                "createcontainer.exec-format",
                "The binary is built for another CPU architecture (exec format error)",
            )
        elif _MOUNT.search(text):
            cause_id, cause = (
                "createcontainer.bad-mount-path",
                "A volume is mounted onto a path of the wrong type",
            )
        elif _PERMISSION.search(text):
            cause_id, cause = (
                "createcontainer.not-executable",
                "The container's command is not executable (permission denied)",
            )
        elif _NOT_FOUND.search(text):
            exe = self._exec_target(text) or "the command"
            cause_id, cause = (
                "createcontainer.executable-not-found",
                f"The executable {exe} does not exist in the image",
            )
        else:
            cause_id, cause = (
                "createcontainer.runtime-error",
                "The container runtime cannot start the container",
            )
        return text_only_finding(
            view,
            self.category,
            cause_id,
            cause,
            line,
            [],
            ["Smoke-test the built image with its real command in CI, on every target architecture."],
        )


def _volumes_by_name(pod: K8sObject) -> dict[str, K8sObject]:
    return {str(v.get("name")): v for v in (pod.get("spec") or {}).get("volumes") or []}


def _is_file_of_volume(volumes: dict[str, K8sObject], volume: str, sub_path: str) -> bool:
    """Whether ``sub_path`` names a single file of the volume.

    In a ConfigMap or Secret volume every key (or ``items[].path``) is a file; elsewhere a name
    with an extension (``default.conf``) is taken for a file.
    """
    source = volumes.get(volume) or {}
    for kind in ("configMap", "secret"):
        if kind in source:
            items = source[kind].get("items") or []
            if items:
                return sub_path in {str(i.get("path")) for i in items}
            return "/" not in sub_path
    return bool(re.search(r"\.[A-Za-z0-9]{1,8}$", sub_path))
