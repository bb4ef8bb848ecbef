"""RolloutStuck: a rollout that does not converge because of the rollout itself.

Covers a paused Deployment (the new template is recorded but no ReplicaSet is created), a
Deployment past its progress deadline while its new pods show no pod-level failure, and a
StatefulSet whose pods stay on an old revision (OnDelete strategy, a partition, or a broken
pod of a reverted revision that the controller waits on forever). When the new pods fail for a
pod-level reason (image pull, crash, scheduling...), that category names the cause, so this
analyzer steps back.
"""

from __future__ import annotations

import json

from graph.analyzers.base import Analyzer, Fact, Finding, ns_flag, ref, src_obj
from graph.evidence import EvidenceView, K8sObject, name_of, namespace_of
from graph.k8s import container_states, is_terminating, pod_condition, pod_spec
from graph.schemas import ReadSpec

_BAD_WAITING = {
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "CreateContainerConfigError",
    "CreateContainerError",
    "InvalidImageName",
    "RunContainerError",
}


def _images(obj: K8sObject) -> list[str]:
    return [str(c.get("image")) for c in pod_spec(obj).get("containers") or []]


def _revision(obj: K8sObject) -> int:
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get("deployment.kubernetes.io/revision")
    return int(value) if value and str(value).isdigit() else 0


def pod_level_failure(pod: K8sObject) -> str | None:
    """Why a pod fails on its own (the reason another category names), or None."""
    status = pod.get("status") or {}
    if status.get("phase") == "Failed":
        return str(status.get("reason") or "Failed")
    sched = pod_condition(pod, "PodScheduled")
    if sched and sched.get("status") == "False":
        return "Unschedulable"
    for c in container_states(pod):
        if c.waiting_reason in _BAD_WAITING:
            return c.waiting_reason
        if c.last_reason == "OOMKilled" or (c.restarts > 0 and c.last_exit_code not in (None, 0)):
            return c.last_reason or "restarting"
        if c.init and c.terminated_reason not in (None, "Completed"):
            return "Init:" + str(c.terminated_reason)
    if status.get("phase") == "Pending":
        # Scheduled but never started at the deadline: a mount, sandbox or image problem.
        waiting = next((c.waiting_reason for c in container_states(pod) if c.waiting_reason), None)
        return waiting or "Pending"
    if status.get("phase") == "Running" and not is_terminating(pod):
        ready = pod_condition(pod, "Ready")
        if (
            ready
            and ready.get("status") == "False"
            and any(e for e in container_states(pod) if e.running and not e.ready)
        ):
            return "NotReady"
    return None


class RolloutStuckAnalyzer(Analyzer):
    category = "RolloutStuck"

    def plan(self, view: EvidenceView) -> list[ReadSpec]:
        ns = view.namespace
        if not ns or not view.suspects(self.category, 0.3):
            return []
        specs: list[ReadSpec] = []
        # Deployments are listed by default; the rollout state of StatefulSets and DaemonSets
        # (revisions, updated counts, update strategy) lives on the controller the pods name.
        for kind in ("StatefulSet", "DaemonSet"):
            listing = ReadSpec(verb="list", kind=kind, namespace=ns, why=f"{kind} rollout revisions")
            owned = any(
                ref_.get("kind") == kind for pod in view.objs("Pod", ns) for ref_ in view.owner_refs(pod)
            )
            if owned and not view.was_read(listing.key()) and not view.objs(kind, ns):
                specs.append(listing)
        return specs

    def analyze(self, view: EvidenceView) -> Finding | None:
        ns = view.namespace
        named = set(view.entities.get("names") or []) | {
            w.split("/", 1)[1] for w in view.entities.get("workloads") or [] if "/" in w
        }
        focus = {name_of(o) for o in view.focus_objects()}
        findings: list[Finding] = []
        for deployment in view.objs("Deployment", ns):
            found = self._deployment(view, deployment)
            if found:
                findings.append(found)
        for sts in view.objs("StatefulSet", ns):
            found = self._statefulset(view, sts)
            if found:
                findings.append(found)
        for ds in view.objs("DaemonSet", ns):
            found = self._daemonset(view, ds)
            if found:
                findings.append(found)
        if not findings:
            return None

        def rank(f: Finding) -> tuple[bool, bool, float]:
            name = str(f.affected[0].get("name")) if f.affected else ""
            return (name not in named, name not in focus, -f.score)

        return sorted(findings, key=rank)[0]

    # --- Deployments ---
    def _deployment(self, view: EvidenceView, deployment: K8sObject) -> Finding | None:
        ns, name = namespace_of(deployment), name_of(deployment)
        spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
        conditions = {c.get("type"): c for c in status.get("conditions") or []}
        progressing = conditions.get("Progressing") or {}
        owned = [rs for rs in view.objs("ReplicaSet", ns) if view.owner(rs) is deployment]
        owned.sort(key=_revision, reverse=True)
        wanted = _images(deployment)
        running_rs = [rs for rs in owned if ((rs.get("status") or {}).get("replicas") or 0) > 0]
        target = f"deployment/{name}"
        if spec.get("paused"):
            facts = [
                Fact(
                    f"Deployment {name} has spec.paused=true; Progressing={progressing.get('status')} "
                    f"reason {progressing.get('reason')}: {progressing.get('message')}",
                    src_obj(deployment, "spec.paused"),
                ),
                Fact(
                    f"the pod template asks for image(s) {', '.join(wanted)}",
                    src_obj(deployment, "spec.template"),
                ),
            ]
            change = ((deployment.get("metadata") or {}).get("annotations") or {}).get(
                "kubernetes.io/change-cause"
            )
            if change:
                facts.append(
                    Fact(f"last recorded change: {change}", src_obj(deployment, "metadata.annotations"))
                )
            serving = ""
            if running_rs:
                rs = running_rs[0]
                serving = ", ".join(_images(rs))
                facts.append(
                    Fact(
                        f"ReplicaSet {name_of(rs)} (revision {_revision(rs)}) still runs "
                        f"{(rs.get('status') or {}).get('replicas')} pod(s) with image(s) {serving}",
                        src_obj(rs, "spec.template"),
                    )
                )
            stale = bool(serving) and serving != ", ".join(wanted)
            root = (
                f"Deployment {name} is paused (spec.paused=true), so the deployment controller ignores template "
                "changes: "
                + (
                    f"the template now asks for {', '.join(wanted)} but every pod still runs {serving} and "
                    "no new ReplicaSet is created; `kubectl rollout status` waits forever."
                    if stale
                    else "no rollout happens until it is resumed."
                )
            )
            return Finding(
                category=self.category,
                score=0.93 if stale or status.get("updatedReplicas", 0) < spec.get("replicas", 1) else 0.8,
                root_cause_id="rollout.paused",
                root_cause=root,
                summary=f"{target} is paused",
                facts=facts,
                fix_commands=[
                    f"kubectl rollout resume {target}{ns_flag(ns)}",
                    f"kubectl rollout status {target}{ns_flag(ns)} --timeout=10m",
                    f"kubectl rollout history {target}{ns_flag(ns)}",
                ],
                prevention=_PREVENTION,
                affected=[ref(deployment)],
            )
        if progressing.get("reason") != "ProgressDeadlineExceeded":
            return None
        new_rs = owned[0] if owned else None
        new_pods = view.pods_of(new_rs) if new_rs else []
        failures = {name_of(p): why for p in new_pods if (why := pod_level_failure(p))}
        facts = [
            Fact(
                f"Progressing=False reason ProgressDeadlineExceeded: {progressing.get('message')}",
                src_obj(deployment, "status.conditions[Progressing]"),
            ),
            Fact(
                f"replicas {spec.get('replicas', 1)}, updated {status.get('updatedReplicas', 0)}, ready "
                f"{status.get('readyReplicas', 0)}, available {status.get('availableReplicas', 0)}; "
                f"progressDeadlineSeconds {spec.get('progressDeadlineSeconds', 600)}, minReadySeconds "
                f"{spec.get('minReadySeconds', 0)}",
                src_obj(deployment, "status"),
            ),
        ]
        replica_failure = conditions.get("ReplicaFailure") or {}
        if failures:
            # The new pods fail on their own: that category explains the stuck rollout.
            first = next(iter(failures.items()))
            facts.append(Fact(f"new pod {first[0]} fails: {first[1]}", "pods of the new ReplicaSet"))
            score, cause_id = 0.45, "rollout.new-pods-failing"
            root = (
                f"Deployment {name} exceeded its progress deadline because the new ReplicaSet's pods fail "
                f"({first[1]} on {first[0]})."
            )
        elif replica_failure.get("status") == "True":
            score, cause_id = 0.45, "rollout.replica-failure"
            root = f"Deployment {name} exceeded its progress deadline: {replica_failure.get('message')}."
        else:
            score, cause_id = 0.88, "rollout.progress-deadline"
            min_ready = int(spec.get("minReadySeconds") or 0)
            deadline = int(spec.get("progressDeadlineSeconds") or 600)
            detail = ""
            if new_rs is not None:
                facts.append(
                    Fact(
                        f"new ReplicaSet {name_of(new_rs)} (revision {_revision(new_rs)}, {', '.join(_images(new_rs))}): "
                        f"{(new_rs.get('status') or {}).get('readyReplicas', 0)} ready, "
                        f"{(new_rs.get('status') or {}).get('availableReplicas', 0)} available of "
                        f"{(new_rs.get('spec') or {}).get('replicas')}",
                        src_obj(new_rs, "status"),
                    )
                )
            if min_ready >= deadline:
                detail = (
                    f": minReadySeconds ({min_ready}s) is not shorter than progressDeadlineSeconds ({deadline}s), so "
                    "new pods cannot count as available before the deadline even though they are Running and Ready"
                )
            elif new_pods:
                detail = (
                    f": the new pods run without a pod-level failure, but the rollout did not make progress within "
                    f"{deadline}s"
                )
            root = f"Deployment {name} exceeded its progress deadline (ProgressDeadlineExceeded){detail}."
        fixes = [
            f"kubectl rollout status {target}{ns_flag(ns)}",
            f"kubectl rollout undo {target}{ns_flag(ns)}  # back to the last revision that progressed",
            f"kubectl describe rs {name_of(new_rs) if new_rs else ''}{ns_flag(ns)}".replace("rs -n", "rs -n"),
        ]
        if cause_id == "rollout.progress-deadline":
            min_ready = int(spec.get("minReadySeconds") or 0)
            patch = {"spec": {"progressDeadlineSeconds": max(min_ready * 2, 600)}}
            fixes.insert(1, f"kubectl patch {target}{ns_flag(ns)} -p '{json.dumps(patch)}'")
            deadline = int(spec.get("progressDeadlineSeconds") or 600)
            if min_ready >= deadline:
                # Or keep the deadline and make the soak fit inside it.
                shorter = {"spec": {"minReadySeconds": max(deadline // 2, 0)}}
                fixes.insert(2, f"kubectl patch {target}{ns_flag(ns)} -p '{json.dumps(shorter)}'")
        return Finding(
            category=self.category,
            score=score,
            root_cause_id=cause_id,
            root_cause=root,
            summary=f"{target} ProgressDeadlineExceeded",
            facts=facts,
            fix_commands=fixes,
            prevention=_PREVENTION,
            affected=[ref(deployment)],
        )

    # --- StatefulSets ---
    def _statefulset(self, view: EvidenceView, sts: K8sObject) -> Finding | None:
        ns, name = namespace_of(sts), name_of(sts)
        spec, status = sts.get("spec") or {}, sts.get("status") or {}
        current, update = status.get("currentRevision"), status.get("updateRevision")
        if not update:
            return None
        strategy = spec.get("updateStrategy") or {}
        pods = sorted(view.pods_of(sts), key=name_of)
        old = [
            p
            for p in pods
            if ((p.get("metadata") or {}).get("labels") or {}).get("controller-revision-hash") != update
        ]
        # After a revert, currentRevision and updateRevision agree again, yet a pod created from
        # the reverted revision can still be running: that pod is what keeps the rollout stuck.
        if current == update and not any(pod_level_failure(p) for p in old):
            return None
        target = f"statefulset/{name}"
        facts = [
            Fact(
                f"StatefulSet {name} currentRevision {current}, updateRevision {update}; "
                f"{status.get('updatedReplicas', 0)}/{spec.get('replicas', 1)} pods updated, "
                f"{status.get('readyReplicas', 0)} ready; updateStrategy {strategy.get('type', 'RollingUpdate')}",
                src_obj(sts, "status"),
            )
        ]
        if old:
            facts.append(
                Fact(
                    f"pods on an old revision: {', '.join(name_of(p) for p in old[:5])}",
                    "pods' controller-revision-hash labels",
                )
            )
        versions = _image_drift(old, sts)
        if versions:
            facts.append(Fact(versions, src_obj(old[0], "spec.containers")))
        failing_old = [(p, why) for p in old if (why := pod_level_failure(p))]
        partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
        fixes: list[str]
        if strategy.get("type") == "OnDelete":
            score, cause_id = 0.9, "rollout.statefulset-ondelete"
            root = (
                f"StatefulSet {name} uses updateStrategy OnDelete, so its pods are only replaced when deleted: "
                f"{len(old)} pod(s) still run the old revision {current} instead of {update}"
                + (f" ({versions})." if versions else ".")
            )
            fixes = [
                f"kubectl delete pod {name_of(p)}{ns_flag(ns)}  # recreated at revision {update}; wait for Ready before the next"
                for p in old[-1::-1][:3]
            ]
        elif failing_old:
            pod, why = failing_old[0]
            score, cause_id = 0.96, "rollout.statefulset-stuck-revision"
            root = (
                f"StatefulSet {name} is stuck: pod {name_of(pod)} still belongs to revision "
                f"{((pod.get('metadata') or {}).get('labels') or {}).get('controller-revision-hash')} and fails ({why}); "
                f"with podManagementPolicy {spec.get('podManagementPolicy', 'OrderedReady')} the controller waits for it "
                f"to become Ready before applying updateRevision {update}, so it never replaces it (a known StatefulSet "
                "behaviour after reverting a broken template)."
            )
            facts.append(
                Fact(
                    f"pod {name_of(pod)} runs {', '.join(_images(pod))} while the template asks for "
                    f"{', '.join(_images(sts))}; it fails: {why}",
                    src_obj(pod, "spec.containers"),
                )
            )
            fixes = [f"kubectl delete pod {name_of(pod)}{ns_flag(ns)}  # recreated from the current template"]
        elif partition > 0:
            score, cause_id = 0.85, "rollout.statefulset-partition"
            root = (
                f"StatefulSet {name} has rollingUpdate.partition={partition}: pods with an ordinal below {partition} "
                f"keep revision {current}, so the rollout to {update} never completes"
                + (f" ({versions})." if versions else ".")
            )
            patch = {"spec": {"updateStrategy": {"rollingUpdate": {"partition": 0}}}}
            fixes = [f"kubectl patch {target}{ns_flag(ns)} -p '{json.dumps(patch)}'"]
        else:
            return None
        fixes += [
            f"kubectl rollout status {target}{ns_flag(ns)}",
            f"kubectl rollout history {target}{ns_flag(ns)}",
        ]
        return Finding(
            category=self.category,
            score=score,
            root_cause_id=cause_id,
            root_cause=root,
            summary=f"{target} rollout stuck ({cause_id.split('.', 1)[1]})",
            facts=facts,
            fix_commands=fixes,
            prevention=_PREVENTION,
            affected=[ref(sts)],
        )

    # --- DaemonSets ---
    def _daemonset(self, view: EvidenceView, ds: K8sObject) -> Finding | None:
        ns, name = namespace_of(ds), name_of(ds)
        spec, status = ds.get("spec") or {}, ds.get("status") or {}
        desired = int(status.get("desiredNumberScheduled") or 0)
        updated = int(status.get("updatedNumberScheduled") or 0)
        generation = (ds.get("metadata") or {}).get("generation")
        observed = status.get("observedGeneration")
        if not desired or updated >= desired:
            return None
        if generation is not None and observed is not None and int(observed) < int(generation):
            return None  # the controller has not seen the new template yet: nothing to judge
        strategy = spec.get("updateStrategy") or {}
        strategy_type = strategy.get("type") or "RollingUpdate"
        wanted = set(_images(ds))
        pods = sorted(view.pods_of(ds), key=name_of)
        old = [p for p in pods if set(_images(p)) != wanted]
        target = f"daemonset/{name}"
        facts = [
            Fact(
                f"DaemonSet {name}: desiredNumberScheduled {desired}, updatedNumberScheduled {updated}, "
                f"numberReady {status.get('numberReady', 0)}, numberUnavailable {status.get('numberUnavailable', 0)}; "
                f"updateStrategy {strategy_type}",
                src_obj(ds, "status"),
            )
        ]
        versions = _image_drift(old, ds)
        if old:
            facts.append(
                Fact(
                    f"pods still on the old template: {', '.join(name_of(p) for p in old[:5])}"
                    + (f"; {versions}" if versions else ""),
                    src_obj(old[0], "spec.containers"),
                )
            )
        new_pods = [p for p in pods if p not in old]
        failing = [(p, why) for p in new_pods if (why := pod_level_failure(p))]
        fixes: list[str]
        if strategy_type == "OnDelete":
            score, cause_id = 0.9, "rollout.daemonset-ondelete"
            root = (
                f"DaemonSet {name} uses updateStrategy OnDelete, so the controller never replaces its pods on a "
                f"template change: {desired - updated} of {desired} pods still run the old template "
                f"(updatedNumberScheduled {updated}/{desired})"
                + (f"; {versions}" if versions else "")
                + ". `kubectl rollout status` does not track OnDelete DaemonSets."
            )
            patch = {
                "spec": {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}}
            }
            fixes = [
                f"kubectl patch {target}{ns_flag(ns)} -p '{json.dumps(patch)}'",
                f"kubectl rollout status {target}{ns_flag(ns)} --timeout=15m",
            ]
            fixes += [
                f"kubectl delete pod {name_of(p)}{ns_flag(ns)}  # or keep OnDelete: replace pods one node at a "
                "time; wait for the new pod to be Ready before the next"
                for p in old[:2]
            ]
        elif failing:
            # The new pods fail on their own: that category names the cause.
            pod, why = failing[0]
            score, cause_id = 0.45, "rollout.new-pods-failing"
            root = f"DaemonSet {name} does not finish its rolling update because new pod {name_of(pod)} fails ({why})."
            fixes = [
                f"kubectl describe pod {name_of(pod)}{ns_flag(ns)}",
                f"kubectl rollout undo {target}{ns_flag(ns)}",
            ]
        elif not old:
            return None  # nothing runs an old template: pods missing on some nodes are not a rollout
        else:
            rolling = strategy.get("rollingUpdate") or {}
            score, cause_id = 0.7, "rollout.daemonset-rolling"
            root = (
                f"DaemonSet {name} has updated only {updated} of {desired} pods (RollingUpdate, maxUnavailable "
                f"{rolling.get('maxUnavailable', 1)}, maxSurge {rolling.get('maxSurge', 0)})"
                + (f"; {versions}" if versions else "")
                + ": the controller replaces a pod only when the previous replacement is available."
            )
            fixes = [
                f"kubectl rollout status {target}{ns_flag(ns)} --timeout=15m",
                f"kubectl get pods{ns_flag(ns)} -o wide -l controller-revision-hash",
            ]
        fixes.append(f"kubectl rollout history {target}{ns_flag(ns)}")
        return Finding(
            category=self.category,
            score=score,
            root_cause_id=cause_id,
            root_cause=root,
            summary=f"{target} rollout stuck ({cause_id.split('.', 1)[1]})",
            facts=facts,
            fix_commands=fixes,
            prevention=_PREVENTION,
            affected=[ref(ds)],
        )


def _image_drift(old_pods: list[K8sObject], controller: K8sObject) -> str:
    """``pods run a:1 while the template asks for a:2`` when old pods run other images than the template."""
    wanted = _images(controller)
    running = list(dict.fromkeys(i for p in old_pods for i in _images(p) if i not in wanted))
    if not running:
        return ""
    return f"old pods run {', '.join(running)} while the template asks for {', '.join(wanted)}"


_PREVENTION = [
    "Gate deploys on `kubectl rollout status --timeout` in CI so a rollout that does not converge fails the pipeline.",
    "Never leave a Deployment paused after an incident: resume it in the same runbook step, and alert on "
    "spec.paused or ProgressDeadlineExceeded (kube_deployment_status_condition).",
    "Keep progressDeadlineSeconds well above minReadySeconds and the app's start time; for StatefulSets prefer "
    "RollingUpdate and delete pods stuck on a reverted revision.",
]
