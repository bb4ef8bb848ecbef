"""VolumeMountFailure: the kubelet cannot attach or mount a pod's volume, so it stays ContainerCreating.

The ``FailedMount`` / ``FailedAttachVolume`` events name the cause: a ConfigMap or Secret volume
whose object does not exist (often a misspelling of one that does), a ReadWriteOnce volume
still attached to another node (Multi-Attach), a disk in another zone than the node, an NFS
server that refuses or does not answer, a CSI driver not registered on the node, a hostPath of
the wrong type.
"""

from __future__ import annotations

import re

from graph.analyzers.base import Analyzer, Fact, Finding, ns_flag, ref, src_event, src_obj
from graph.analyzers.common import (
    candidate_pods,
    in_pod_template,
    pasted_line,
    similar_names,
    template_prefix,
    text_only_finding,
    workload_ref,
)
from graph.evidence import EvidenceView, K8sObject, name_of, namespace_of
from graph.k8s import container_states, pod_spec
from graph.schemas import ReadSpec

_REASONS = ("FailedMount", "FailedAttachVolume", "FailedMapVolume")
_GENERIC = re.compile(r"^Unable to (?:attach or )?mount volumes|timed out waiting for the condition$", re.I)
_MISSING = re.compile(r"(?:for volume \"([\w.-]+)\" : )?(configmap|secret)s? \"([\w.-]+)\" not found", re.I)
_MULTI = re.compile(r"Multi-Attach error for volume \"([\w.-]+)\"[^\n]*", re.I)
_USED_BY = re.compile(r"used by pod\(s\) ([\w.,\s-]+)")
_ZONE = re.compile(r"zone|ZoneMismatch|availability zone|node affinity", re.I)
_CSI_MISSING = re.compile(r"driver name ([\w.-]+) not found in the list of registered CSI drivers", re.I)
_NFS = re.compile(r"mount\.nfs|nfs|access denied by server|bad option;.*mount\.<type>", re.I)
_HOSTPATH = re.compile(r"hostPath type check failed: ([^\s]+) is not an? (\w+)", re.I)
_VOLUME = re.compile(r"for volume \"([\w.-]+)\"")


def _mount_events(view: EvidenceView, pod: K8sObject) -> list[K8sObject]:
    return [e for e in view.events_for(pod) if e.get("reason") in _REASONS]


def _stuck(pod: K8sObject) -> bool:
    """The pod is still waiting for its volumes (not running with an old, transient event)."""
    status = pod.get("status") or {}
    if status.get("phase") == "Pending":
        return True
    return any(c.waiting_reason in ("ContainerCreating", "PodInitializing") for c in container_states(pod))


_PASTED_MOUNT = re.compile(
    r"MountVolume\.\w+ failed|Multi-Attach error|AttachVolume\.Attach failed|Unable to attach or mount volumes"
)
PASTED = "x-pasted"
"""Marks an event rebuilt from the pasted text rather than read from the cluster."""
INFERRED = "x-inferred"
"""Marks an event rebuilt from the objects read (the real one expired or was not read)."""


def _waiting_to_create(pod: K8sObject) -> bool:
    """All app containers wait in ContainerCreating: the kubelet has not started any of them."""
    states = [c for c in container_states(pod) if not c.init]
    return bool(states) and all(c.waiting_reason == "ContainerCreating" for c in states)


def _sandbox_trouble(view: EvidenceView, pod: K8sObject) -> bool:
    return any(e.get("reason") == "FailedCreatePodSandBox" for e in view.events_for(pod))


def _decisive(events: list[K8sObject]) -> K8sObject:
    specific = [e for e in events if not _GENERIC.search(str(e.get("message") or ""))]
    return (specific or events)[0]


class VolumeMountFailureAnalyzer(Analyzer):
    category = "VolumeMountFailure"

    def _failing(self, view: EvidenceView) -> list[tuple[K8sObject, list[K8sObject]]]:
        found = [(p, evs) for p in candidate_pods(view) if (evs := _mount_events(view, p))]
        if found:
            return sorted(found, key=lambda item: not _stuck(item[0]))
        # Events expire after an hour; a pasted `kubectl describe` line still says why the pod is stuck.
        pasted = pasted_line(view, _PASTED_MOUNT)
        stuck = [p for p in view.focus_pods() if _stuck(p) and not _sandbox_trouble(view, p)]
        if not stuck:
            return []
        if pasted is None:
            inferred = self._inferred(view, stuck[0]) if _waiting_to_create(stuck[0]) else None
            return [(stuck[0], [inferred])] if inferred is not None else []
        line, match = pasted
        quoted: K8sObject = {
            "kind": "Event",
            "reason": "FailedAttachVolume" if "Attach" in match.group(0) else "FailedMount",
            "message": line[match.start() :],
            "involvedObject": {"kind": "Pod", "name": name_of(stuck[0]), "namespace": namespace_of(stuck[0])},
            PASTED: True,
        }
        return [(stuck[0], [quoted])]

    def plan(self, view: EvidenceView) -> list[ReadSpec]:
        specs: list[ReadSpec] = []
        failing = self._failing(view)
        if not failing:
            # A pod stuck in ContainerCreating with no event that says why: read what its volumes need.
            for pod in [p for p in view.focus_pods() if _stuck(p) and not _mount_events(view, p)][:1]:
                if _sandbox_trouble(view, pod) or not _waiting_to_create(pod):
                    continue
                ns = namespace_of(pod)
                for volume in (pod_spec(pod).get("volumes") or [])[:6]:
                    for field, kind, key in (
                        ("configMap", "ConfigMap", "name"),
                        ("secret", "Secret", "secretName"),
                    ):
                        name = (volume.get(field) or {}).get(key)
                        if name:
                            specs.append(
                                ReadSpec(
                                    verb="get",
                                    kind=kind,
                                    namespace=ns,
                                    name=str(name),
                                    why="does the volume's object exist",
                                )
                            )
                for claim in self._claims(pod)[:2]:
                    specs.append(
                        ReadSpec(
                            verb="get",
                            kind="PersistentVolumeClaim",
                            namespace=ns,
                            name=claim,
                            why="access mode of the claim",
                        )
                    )
            return [s for s in specs if not view.was_read(s.key())][:5]
        for pod, events in failing[:1]:
            ns = namespace_of(pod)
            message = str(_decisive(events).get("message") or "")
            if missing := _MISSING.search(message):
                kind = "ConfigMap" if missing.group(2).lower() == "configmap" else "Secret"
                specs.append(
                    ReadSpec(
                        verb="list",
                        kind=kind,
                        namespace=ns,
                        why=f"{kind}s with a similar name (the volume may name it wrongly)",
                    )
                )
            elif _MULTI.search(message) or _ZONE.search(message) or "AttachVolume" in message:
                for claim in self._claims(pod)[:2]:
                    got = ReadSpec(
                        verb="get",
                        kind="PersistentVolumeClaim",
                        namespace=ns,
                        name=claim,
                        why="access mode and volume of the claim",
                    )
                    specs.append(got)
                    pvc = view.obj("PersistentVolumeClaim", claim, ns)
                    volume = ((pvc or {}).get("spec") or {}).get("volumeName")
                    if volume and _ZONE.search(message):
                        specs.append(
                            ReadSpec(
                                verb="get",
                                kind="PersistentVolume",
                                name=str(volume),
                                why="the zone the disk lives in",
                            )
                        )
            node = (pod.get("spec") or {}).get("nodeName")
            if node and (_ZONE.search(message) or _CSI_MISSING.search(message)):
                specs.append(
                    ReadSpec(verb="get", kind="Node", name=str(node), why="the node's zone and drivers")
                )
        return [s for s in specs if not view.was_read(s.key())]

    @staticmethod
    def _inferred(view: EvidenceView, pod: K8sObject) -> K8sObject | None:
        """What the kubelet would report, rebuilt from objects read: a volume's missing ConfigMap or
        Secret, or a ReadWriteOnce claim held by a running pod on another node."""
        ns, node = namespace_of(pod), (pod.get("spec") or {}).get("nodeName")
        message = None
        for volume in pod_spec(pod).get("volumes") or []:
            for field, kind, key in (("configMap", "ConfigMap", "name"), ("secret", "Secret", "secretName")):
                source = volume.get(field) or {}
                name = source.get(key)
                got = ReadSpec(verb="get", kind=kind, namespace=ns, name=str(name)).key()
                if name and not source.get("optional") and view.read_status(got) == "no_data":
                    message = f'MountVolume.SetUp failed for volume "{volume.get("name")}" : {kind.lower()} "{name}" not found'
            claim_name = (volume.get("persistentVolumeClaim") or {}).get("claimName")
            claim = view.obj("PersistentVolumeClaim", str(claim_name), ns) if claim_name else None
            if claim is not None and "ReadWriteOnce" in ((claim.get("spec") or {}).get("accessModes") or []):
                holders = [
                    other
                    for other in view.objs("Pod", ns)
                    if other is not pod
                    and (other.get("status") or {}).get("phase") == "Running"
                    and (other.get("spec") or {}).get("nodeName") not in (None, node)
                    and any(
                        (v.get("persistentVolumeClaim") or {}).get("claimName") == claim_name
                        for v in pod_spec(other).get("volumes") or []
                    )
                ]
                if holders:
                    volume_name = (claim.get("spec") or {}).get("volumeName") or claim_name
                    message = (
                        f'Multi-Attach error for volume "{volume_name}" Volume is already used by pod(s) '
                        + ", ".join(name_of(h) for h in holders)
                    )
            if message:
                return {
                    "kind": "Event",
                    "reason": "FailedMount",
                    "message": message,
                    "involvedObject": {"kind": "Pod", "name": name_of(pod), "namespace": ns},
                    INFERRED: True,
                }
        return None

    @staticmethod
    def _claims(pod: K8sObject) -> list[str]:
        return [
            str(v["persistentVolumeClaim"].get("claimName"))
            for v in pod_spec(pod).get("volumes") or []
            if v.get("persistentVolumeClaim")
        ]

    def analyze(self, view: EvidenceView) -> Finding | None:
        failing = self._failing(view)
        if not failing:
            return self._from_text(view)
        pod, events = failing[0]
        ns, pod_name = namespace_of(pod), name_of(pod)
        target = workload_ref(view, pod)
        event = _decisive(events)
        message = str(event.get("message") or "")
        if event.get(INFERRED):
            source = "inferred from the pod's volumes and the objects read (no mount event was read)"
        else:
            source = "pasted text" if event.get(PASTED) else src_event(event)
        facts = [Fact(message[:500], source)]
        generic = next(
            (e for e in events if e is not event and _GENERIC.search(str(e.get("message") or ""))), None
        )
        if generic is not None:
            facts.append(Fact(str(generic.get("message"))[:300], src_event(generic)))
        phase = (pod.get("status") or {}).get("phase")
        facts.append(
            Fact(
                f"pod {pod_name} is {phase}; its containers wait in ContainerCreating", src_obj(pod, "status")
            )
        )
        score = (0.8 if event.get(INFERRED) else 0.93) if _stuck(pod) else 0.35
        kind_word, _, workload = target.partition("/")
        fixes: list[str] = []
        volume_match = _VOLUME.search(message)
        volume = volume_match.group(1) if volume_match else None
        where = f"pod {pod_name} ({target})"
        if missing := _MISSING.search(message):
            kind = "ConfigMap" if missing.group(2).lower() == "configmap" else "Secret"
            obj_name, volume = missing.group(3), missing.group(1) or volume
            cause_id = f"volume.missing-{kind.lower()}"
            existing = [name_of(o) for o in view.objs(kind, ns)]
            similar = similar_names(obj_name, existing, limit=1)
            cause = (
                f"Volume {volume} of {where} mounts {kind} {obj_name}, which does not exist in namespace {ns}"
            )
            if similar:
                cause += f"; the existing {kind} {similar[0]} looks like the intended one"
                facts.append(Fact(f"{kind} {similar[0]} exists in namespace {ns}", f"list {kind} -n {ns}"))
                index, field_path = self._volume_index(pod, volume, kind)
                if index is not None:
                    fixes.append(
                        f"kubectl patch {kind_word} {workload}{ns_flag(ns)} --type=json -p "
                        f'\'[{{"op":"replace","path":"{template_prefix(kind_word)}/volumes/{index}/{field_path}",'
                        f'"value":"{similar[0]}"}}]\''
                    )
            elif view.was_read(ReadSpec(verb="list", kind=kind, namespace=ns).key()):
                facts.append(Fact(f"no {kind} with a similar name in namespace {ns}", f"list {kind} -n {ns}"))
            cause += "; the kubelet cannot set the volume up, so the containers never start."
            if kind == "ConfigMap":
                fixes.append(f"kubectl create configmap {obj_name}{ns_flag(ns)} --from-file=<file>")
            else:
                fixes.append(f"kubectl create secret generic {obj_name}{ns_flag(ns)} --from-file=<file>")
        elif multi := _MULTI.search(message):
            cause_id = "volume.multi-attach"
            pv = multi.group(1)
            users = _USED_BY.search(message)
            claim = self._claim_of(view, pod, pv)
            modes = ((claim or {}).get("spec") or {}).get("accessModes") or []
            cause = (
                f"Volume {pv}{f' (PVC {name_of(claim)}, {modes[0]})' if claim and modes else ''} of {where} cannot be "
                "attached to its node because it is still attached to another node"
                + (f" for pod(s) {users.group(1).strip()}" if users else "")
                + ": a ReadWriteOnce volume can be attached to one node at a time."
            )
            if claim is not None:
                facts.append(
                    Fact(
                        f"PVC {name_of(claim)} access modes {', '.join(modes) or 'unknown'}",
                        src_obj(claim, "spec.accessModes"),
                    )
                )
            if kind_word == "deployment":
                cause = (
                    cause[:-1]
                    + "; the Deployment's RollingUpdate starts the new pod before the old one releases it."
                )
                fixes.append(
                    f"kubectl patch deployment {workload}{ns_flag(ns)} -p "
                    '\'{"spec":{"strategy":{"type":"Recreate","rollingUpdate":null}}}\''
                )
            fixes.append(f"kubectl get volumeattachments -o wide | grep {pv}")
        elif csi := _CSI_MISSING.search(message):
            cause_id = "volume.csi-driver-missing"
            node = str((pod.get("spec") or {}).get("nodeName") or "")
            cause = (
                f"The volume of {where} cannot be mounted: CSI driver {csi.group(1)} is not registered on node {node} "
                "(its node plugin is not running there)"
            )
            node_obj = view.obj("Node", node)
            taints = [
                f"{t.get('key')}={t.get('value', '')}:{t.get('effect')}"
                for t in ((node_obj or {}).get("spec") or {}).get("taints") or []
            ]
            if node_obj is not None and taints:
                facts.append(
                    Fact(f"node {node} has taints {', '.join(taints)}", src_obj(node_obj, "spec.taints"))
                )
                cause += (
                    f"; the node is tainted {', '.join(taints)}, which the CSI node DaemonSet must tolerate"
                )
            cause += "."
            fixes.append(f"kubectl get csidrivers {csi.group(1)}")
            fixes.append(f"kubectl get pods -n kube-system -o wide --field-selector spec.nodeName={node}")
            fixes.append(
                "kubectl get daemonsets -n kube-system "
                "-o custom-columns=NAME:.metadata.name,TOLERATIONS:.spec.template.spec.tolerations | grep -i csi"
            )
        elif _ZONE.search(message):
            cause_id = "volume.zone-mismatch"
            node_zone = self._node_zone(view, pod)
            disk_zone = self._volume_zone(view, pod)
            cause = (
                f"The volume{f' {volume}' if volume else ''} of {where} cannot be attached: the disk is in another "
                f"zone{f' ({disk_zone})' if disk_zone else ''} than node {(pod.get('spec') or {}).get('nodeName')}"
                f"{f' ({node_zone})' if node_zone else ''}."
            )
            if node_zone:
                facts.append(Fact(f"node zone {node_zone}", "Node labels topology.kubernetes.io/zone"))
            if disk_zone and kind_word != "pod":
                body = in_pod_template(
                    kind_word, f'{{"nodeSelector":{{"topology.kubernetes.io/zone":"{disk_zone}"}}}}'
                )
                fixes.append(f"kubectl patch {kind_word} {workload}{ns_flag(ns)} -p '{body}'")
            fixes.append("kubectl get pv -o custom-columns=NAME:.metadata.name,ZONE:.spec.nodeAffinity")
            # volumeBindingMode is immutable: a StorageClass that binds in the pod's zone is a new one.
            fixes.append(
                "kubectl get storageclass -o custom-columns=NAME:.metadata.name,BINDING:.volumeBindingMode"
            )
        elif _NFS.search(message):
            cause_id = "volume.nfs"
            node = str((pod.get("spec") or {}).get("nodeName") or "<node>")
            server, export = self._nfs_target(pod, volume, message)
            if re.search(r"bad option|helper program", message):
                detail = "the node has no NFS client (mount.nfs is missing): install nfs-common / nfs-utils on the node image"
            elif re.search(r"access denied", message, re.I):
                detail = f"the NFS server {server} refuses the mount (access denied by server): the export does not allow this node"
            elif re.search(r"No such file or directory", message):
                detail = f"the export path {export} does not exist on NFS server {server}"
            else:
                output = re.search(r"mount\.nfs: ([^\n]+)", message)
                detail = f"the NFS server {server} does not answer ({output.group(0) if output else 'mount timed out'})"
            cause = f"The NFS volume{f' {volume}' if volume else ''} of {where} ({server}:{export}) cannot be mounted: {detail}."
            fixes.append(
                f"kubectl debug node/{node} -it --image=nicolaka/netshoot -- nc -zv -w 3 {server} 2049"
            )
            fixes.append(f"kubectl debug node/{node} -it --image=nicolaka/netshoot -- rpcinfo -p {server}")
            fixes.append(
                f"kubectl debug node/{node} -it --image=busybox:1.36 -- chroot /host showmount -e {server}  "
                f"# is {export} exported to this node's address?"
            )
            inline = any(item.get("name") == volume for item in pod_spec(pod).get("volumes") or [])
            if volume and not inline:
                # The kubelet names a claim's volume by its PersistentVolume: the server and options live there.
                fixes.append(
                    f"kubectl get pv {volume} -o jsonpath='{{.spec.nfs}}{{\"\\n\"}}{{.spec.mountOptions}}'"
                )
        elif hostpath := _HOSTPATH.search(message):
            cause_id = "volume.hostpath-type"
            cause = (
                f"The hostPath volume{f' {volume}' if volume else ''} of {where} cannot be mounted: {hostpath.group(1)} "
                f"on the node is not a {hostpath.group(2)}."
            )
            fixes.append(f"kubectl get {target}{ns_flag(ns)} -o jsonpath='{{.spec.template.spec.volumes}}'")
        else:
            cause_id = "volume.mount-failed"
            cause = f"The kubelet cannot mount the volumes of {where}: {message[:300]}."
            score = min(score, 0.85)
        fixes.append(f"kubectl describe pod {pod_name}{ns_flag(ns)}")
        return Finding(
            category=self.category,
            score=score,
            root_cause_id=cause_id,
            root_cause=cause,
            summary=f"{target}: volume cannot be mounted ({cause_id.split('.', 1)[1]})",
            facts=facts,
            fix_commands=fixes,
            prevention=[
                "Ship ConfigMaps and Secrets in the same release as the workload that mounts them (and validate the "
                "names in CI).",
                "Use the Recreate strategy or a StatefulSet for workloads with ReadWriteOnce volumes.",
                "Use StorageClasses with volumeBindingMode: WaitForFirstConsumer so disks are created in the pod's zone.",
            ],
            affected=[ref(pod)],
        )

    @staticmethod
    def _volume_index(pod: K8sObject, volume: str | None, kind: str) -> tuple[int | None, str]:
        field_path = "configMap/name" if kind == "ConfigMap" else "secret/secretName"
        for index, item in enumerate(pod_spec(pod).get("volumes") or []):
            if item.get("name") == volume:
                return index, field_path
        return None, field_path

    @staticmethod
    def _claim_of(view: EvidenceView, pod: K8sObject, pv: str) -> K8sObject | None:
        ns = namespace_of(pod)
        for volume in pod_spec(pod).get("volumes") or []:
            claim_name = (volume.get("persistentVolumeClaim") or {}).get("claimName")
            claim = view.obj("PersistentVolumeClaim", str(claim_name), ns) if claim_name else None
            if claim is not None and (
                (claim.get("spec") or {}).get("volumeName") in (pv, None) or pv == claim_name
            ):
                return claim
        return None

    @staticmethod
    def _nfs_target(pod: K8sObject, volume: str | None, message: str) -> tuple[str, str]:
        """(server, export path) from the pod's nfs volume, else from the mount arguments."""
        for item in pod_spec(pod).get("volumes") or []:
            nfs = item.get("nfs")
            if nfs and (volume is None or item.get("name") == volume):
                return str(nfs.get("server")), str(nfs.get("path"))
        found = re.search(r"-t nfs\S* (?:-o \S+ )?([\w.-]+):(/\S*)", message)
        return (found.group(1), found.group(2)) if found else ("<nfs-server>", "<export>")

    @staticmethod
    def _volume_zone(view: EvidenceView, pod: K8sObject) -> str | None:
        """The zone a claimed PersistentVolume is pinned to by its node affinity, when read."""
        ns = namespace_of(pod)
        for item in pod_spec(pod).get("volumes") or []:
            claim_name = (item.get("persistentVolumeClaim") or {}).get("claimName")
            claim = view.obj("PersistentVolumeClaim", str(claim_name), ns) if claim_name else None
            volume_name = ((claim or {}).get("spec") or {}).get("volumeName")
            pv = view.obj("PersistentVolume", str(volume_name)) if volume_name else None
            required = (((pv or {}).get("spec") or {}).get("nodeAffinity") or {}).get("required") or {}
            for term in required.get("nodeSelectorTerms") or []:
                for expr in term.get("matchExpressions") or []:
                    if "zone" in str(expr.get("key")) and expr.get("values"):
                        return str(expr["values"][0])
        return None

    @staticmethod
    def _node_zone(view: EvidenceView, pod: K8sObject) -> str | None:
        node = view.obj("Node", str((pod.get("spec") or {}).get("nodeName") or ""))
        labels = ((node or {}).get("metadata") or {}).get("labels") or {}
        zone = labels.get("topology.kubernetes.io/zone") or labels.get(
            "failure-domain.beta.kubernetes.io/zone"
        )
        return str(zone) if zone else None

    def _from_text(self, view: EvidenceView) -> Finding | None:
        mount = re.compile(
            r"MountVolume\.|Multi-Attach error|AttachVolume\.Attach failed|FailedMount|FailedAttachVolume"
        )
        found = pasted_line(view, mount)
        if found is None:
            return None
        line = found[0]
        ns = view.namespace
        fixes: list[str] = []
        if missing := _MISSING.search(view.error_message):
            kind = "configmap" if missing.group(2).lower() == "configmap" else "secret generic"
            cause_id = f"volume.missing-{missing.group(2).lower()}"
            cause = f"The volume's {missing.group(2)} {missing.group(3)} does not exist"
            fixes.append(f"kubectl get {missing.group(2).lower()}s{ns_flag(ns)}")
            fixes.append(f"kubectl create {kind} {missing.group(3)}{ns_flag(ns)} --from-file=<file>")
        elif _MULTI.search(view.error_message):
            cause_id, cause = (
                "volume.multi-attach",
                "A ReadWriteOnce volume is still attached to another node (Multi-Attach)",
            )
        elif csi := _CSI_MISSING.search(view.error_message):
            cause_id, cause = (
                "volume.csi-driver-missing",
                f"CSI driver {csi.group(1)} is not registered on the node",
            )
        elif _NFS.search(view.error_message):
            cause_id, cause = "volume.nfs", "The NFS volume cannot be mounted"
        else:
            cause_id, cause = "volume.mount-failed", "The kubelet cannot mount the pod's volumes"
        return text_only_finding(
            view,
            self.category,
            cause_id,
            cause,
            line,
            fixes,
            ["Ship ConfigMaps and Secrets in the same release as the workload that mounts them."],
        )
