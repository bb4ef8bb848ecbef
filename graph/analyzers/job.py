"""JobFailed: a Job reached its backoffLimit or activeDeadlineSeconds (or a pod failure policy).

The Job's Failed condition names which (BackoffLimitExceeded, DeadlineExceeded,
PodFailurePolicy); its pods' terminations and logs name why the attempts failed — for example
an AccessDenied on S3 PutObject for the pod's role. The job is found by name in the text, as
a failed Job in the namespace, or as the newest Job of a named CronJob.
"""

from __future__ import annotations

import json
import re
from datetime import datetime

from graph.analyzers.base import Analyzer, Fact, Finding, ns_flag, ref, src_event, src_log, src_obj
from graph.analyzers.common import error_lines, view_now
from graph.evidence import EvidenceView, K8sObject, name_of, namespace_of
from graph.k8s import container_states, is_stale, pod_spec
from graph.schemas import ReadSpec

_FAILED_REASONS = ("BackoffLimitExceeded", "DeadlineExceeded", "PodFailurePolicy", "MaxFailedIndexesExceeded")
_AWS_ERROR = re.compile(r"An error occurred \((\w+)\) when calling the (\w+) operation: ([^\n]+)")
_PERMISSION = re.compile(
    r"(AccessDenied|Forbidden|PermissionDenied|permission denied|not authorized to perform: ([\w:*]+)|"
    r"does not have ([\w.]+) access|403\b)",
    re.IGNORECASE,
)
_PASSWORD = re.compile(
    r"password authentication failed for user \"?[\w.-]+\"?|Access denied for user '[^']+'|"
    r"Login failed for user '[^']+'|authentication failed",
    re.IGNORECASE,
)
_JOB_NAME_LABELS = ("batch.kubernetes.io/job-name", "job-name")


def _secret_refs(pod: K8sObject) -> list[str]:
    """Secrets the pod's containers read credentials from (names only; Secret data is never read)."""
    names = []
    for container in pod_spec(pod).get("containers") or []:
        for env in container.get("env") or []:
            ref = ((env.get("valueFrom") or {}).get("secretKeyRef") or {}).get("name")
            if ref:
                names.append(str(ref))
        for source in container.get("envFrom") or []:
            ref = (source.get("secretRef") or {}).get("name")
            if ref:
                names.append(str(ref))
    return list(dict.fromkeys(names))


def _seconds(start: str, end: str) -> int | None:
    try:
        return int(
            (
                datetime.fromisoformat(end.replace("Z", "+00:00"))
                - datetime.fromisoformat(start.replace("Z", "+00:00"))
            ).total_seconds()
        )
    except ValueError:
        return None


def _history(view: EvidenceView, job: K8sObject, cron: str) -> list[Fact]:
    """How the CronJob's other runs went: failures in a row, and how long the last success took."""
    runs = sorted(
        (j for j in view.objs("Job", namespace_of(job)) if _cronjob_of(j) == cron),
        key=_creation,
        reverse=True,
    )
    if len(runs) < 2:
        return []
    failed = [name_of(j) for j in runs if _failed_condition(j)]
    text = f"{len(failed)} of the last {len(runs)} runs of CronJob {cron} failed"
    done = next((j for j in runs if (j.get("status") or {}).get("completionTime")), None)
    if done is not None:
        status = done.get("status") or {}
        took = _seconds(str(status.get("startTime")), str(status.get("completionTime")))
        if took is not None:
            text += f"; the last successful run {name_of(done)} took {took // 60}m{took % 60:02d}s"
    return [Fact(text, f"Jobs of CronJob {namespace_of(job)}/{cron}")]


def _failed_condition(job: K8sObject) -> K8sObject | None:
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Failed" and cond.get("status") == "True":
            return dict(cond)
    return None


def _creation(obj: K8sObject) -> str:
    return str((obj.get("metadata") or {}).get("creationTimestamp") or "")


def _cronjob_of(job: K8sObject) -> str | None:
    for owner in (job.get("metadata") or {}).get("ownerReferences") or []:
        if owner.get("kind") == "CronJob":
            return str(owner.get("name"))
    return None


def _named(view: EvidenceView) -> list[str]:
    names = [
        w.split("/", 1)[1] for w in view.entities.get("workloads") or [] if w.startswith(("job/", "cronjob/"))
    ]
    return names + list(view.entities.get("names") or [])


def job_pods(view: EvidenceView, job: K8sObject) -> list[K8sObject]:
    name = name_of(job)
    pods = [
        p
        for p in view.objs("Pod", namespace_of(job))
        if any(
            ((p.get("metadata") or {}).get("labels") or {}).get(label) == name for label in _JOB_NAME_LABELS
        )
        or any(r.get("kind") == "Job" and r.get("name") == name for r in view.owner_refs(p))
    ]
    return sorted(pods, key=_creation, reverse=True)


def find_job(view: EvidenceView) -> K8sObject | None:
    """The Job the diagnosis is about: named, else owning a focus pod, else the newest failed one."""
    ns = view.namespace
    jobs = view.objs("Job", ns)
    names = _named(view)
    for name in names:
        for job in jobs:
            if name_of(job) == name:
                return job
    for name in names:
        of_cron = sorted((j for j in jobs if _cronjob_of(j) == name), key=_creation, reverse=True)
        if of_cron:
            # The run that failed is the one asked about, even when a newer one is under way.
            failed = [j for j in of_cron if _failed_condition(j)]
            return (failed or of_cron)[0]
    for pod in view.focus_pods():
        for owner in view.owner_chain(pod):
            if owner.get("kind") == "Job":
                return owner
    # A Job that failed long before the rest of the activity is a leftover unless it is named.
    now = view_now(view)
    failed = sorted(
        (j for j in jobs if _failed_condition(j) and not is_stale(j, now)), key=_creation, reverse=True
    )
    return failed[0] if failed else None


class JobFailedAnalyzer(Analyzer):
    category = "JobFailed"

    def plan(self, view: EvidenceView) -> list[ReadSpec]:
        ns = view.namespace
        if not ns:
            return []
        job_events = view.events(ns, reasons=_FAILED_REASONS)
        specs: list[ReadSpec] = []
        listing = ReadSpec(verb="list", kind="Job", namespace=ns, why="the Jobs and their failure conditions")
        known = find_job(view)
        named_cron = any(name_of(c) in _named(view) for c in view.objs("CronJob", ns))
        wanted = job_events or view.suspects(self.category, 0.4)
        if (
            wanted
            and (known is None or (named_cron and name_of(known) not in _named(view)))
            and not view.was_read(listing.key())
        ):
            specs.append(listing)
        job = find_job(view)
        if job is None:
            return specs
        cron = _cronjob_of(job)
        if cron and view.obj("CronJob", cron, ns) is None:
            specs.append(
                ReadSpec(verb="get", kind="CronJob", namespace=ns, name=cron, why="the job's CronJob")
            )
        pods = job_pods(view, job)
        if not pods and not view.was_read(ReadSpec(verb="list", kind="Pod", namespace=ns).key()):
            specs.append(
                ReadSpec(
                    verb="list",
                    kind="Pod",
                    namespace=ns,
                    label_selector=f"batch.kubernetes.io/job-name={name_of(job)}",
                    why="the job's pods",
                )
            )
        failed = [
            p
            for p in pods
            if any(
                s.terminated_reason not in (None, "Completed") or s.last_reason for s in container_states(p)
            )
        ]
        if failed and not any(view.pod_logs(p) for p in failed):
            pod = failed[0]
            for state in container_states(pod):
                if state.terminated_reason in (None, "Completed") and not state.last_reason:
                    continue
                specs.append(
                    ReadSpec(
                        verb="logs",
                        kind="Pod",
                        namespace=ns,
                        name=name_of(pod),
                        container=state.name,
                        previous=state.terminated_reason is None,
                        why="the failed attempt's log",
                    )
                )
                break
        if pods and self._permission_text(view, pods):
            sa = (pods[0].get("spec") or {}).get("serviceAccountName")
            if sa and view.obj("ServiceAccount", str(sa), ns) is None:
                specs.append(
                    ReadSpec(
                        verb="get",
                        kind="ServiceAccount",
                        namespace=ns,
                        name=str(sa),
                        why="the job's cloud identity",
                    )
                )
        return specs

    @staticmethod
    def _permission_text(view: EvidenceView, pods: list[K8sObject]) -> bool:
        for pod in pods[:2]:
            for text in view.pod_logs(pod).values():
                if _PERMISSION.search(text):
                    return True
            for state in container_states(pod):
                if _PERMISSION.search(str(state.terminated_message or state.last_message or "")):
                    return True
        return False

    def analyze(self, view: EvidenceView) -> Finding | None:
        job = find_job(view)
        if job is None:
            return None
        cond = _failed_condition(job)
        job_name = name_of(job)
        spec, status = job.get("spec") or {}, job.get("status") or {}
        pods = job_pods(view, job)
        failed_pods = [
            p
            for p in pods
            if any(
                s.terminated_reason not in (None, "Completed") or s.last_reason for s in container_states(p)
            )
        ]
        if cond is None and ((status.get("failed") or 0) == 0 or not failed_pods):
            return None
        cron = _cronjob_of(job)
        reason = str((cond or {}).get("reason") or "failing")
        facts = []
        if cond:
            facts.append(
                Fact(
                    f"Job {job_name} condition Failed reason {reason}: {cond.get('message')}",
                    src_obj(job, "status.conditions[Failed]"),
                )
            )
        for event in view.events_for(job):
            if event.get("reason") in _FAILED_REASONS:
                facts.append(Fact(f"{event.get('reason')}: {event.get('message')}", src_event(event)))
                break
        facts.append(
            Fact(
                f"backoffLimit {spec.get('backoffLimit', 6)}, activeDeadlineSeconds "
                f"{spec.get('activeDeadlineSeconds', 'unset')}; status failed={status.get('failed', 0)} "
                f"succeeded={status.get('succeeded', 0)} startTime={status.get('startTime')}",
                src_obj(job, "spec"),
            )
        )
        why, log_facts, detail = self._attempts(view, failed_pods)
        facts += log_facts
        if cron:
            facts += _history(view, job, cron)
        if reason == "DeadlineExceeded":
            limit = f"its activeDeadlineSeconds ({spec.get('activeDeadlineSeconds')}s)"
            root = f"Job {job_name} failed with DeadlineExceeded: it ran longer than {limit}, so the job controller killed its pods"
            root += f"; the last attempt {why}." if why else "."
        elif reason == "BackoffLimitExceeded":
            root = (
                f"Job {job_name} failed with BackoffLimitExceeded after {status.get('failed', 0)} failed attempt(s) "
                f"(backoffLimit {spec.get('backoffLimit', 6)})"
            )
            root += f": every attempt {why}." if why else "."
        else:
            root = f"Job {job_name} failed ({reason}: {(cond or {}).get('message', '')})"
            root += f"; its pods {why}." if why else "."
        if cron:
            root += f" It was created by CronJob {cron}."
        fixes = self._fixes(view, job, cron, reason, detail, failed_pods)
        return Finding(
            category=self.category,
            score=0.92 if cond else 0.6,
            root_cause_id=f"job.{reason.lower()}" + (f".{detail['kind']}" if detail.get("kind") else ""),
            root_cause=root,
            summary=f"job/{job_name} {reason}",
            facts=facts,
            fix_commands=fixes,
            prevention=[
                "Alert on failed Jobs (kube_job_status_failed / KubeJobFailed) so a missed run is noticed the same night.",
                "Test the job's cloud permissions (IAM policy simulation) and configuration in CI, with the same role it "
                "uses in the cluster.",
                "Set activeDeadlineSeconds from measured run times with headroom, and make jobs idempotent so a retry is "
                "safe.",
            ],
            affected=[ref(job), *[ref(p) for p in failed_pods[:2]]],
            missing=[] if log_facts or not failed_pods else ["the log of a failed attempt"],
        )

    def _attempts(self, view: EvidenceView, pods: list[K8sObject]) -> tuple[str, list[Fact], dict[str, str]]:
        """What the failed attempts say: a short reason, the facts quoting it, and parsed details."""
        facts: list[Fact] = []
        detail: dict[str, str] = {}
        why = ""
        # Attempts whose log was read say the most; among them the newest first.
        ordered = sorted(pods, key=lambda p: not view.pod_logs(p))
        for pod in ordered[:3]:
            ns, pod_name = namespace_of(pod) or "", name_of(pod)
            for state in container_states(pod):
                reason = state.terminated_reason or state.last_reason
                code = state.terminated_exit_code if state.terminated_reason else state.last_exit_code
                if reason in (None, "Completed"):
                    continue
                if not facts:
                    facts.append(
                        Fact(
                            f"{len(pods)} pod(s) failed; container {state.name} of {pod_name} terminated {reason} "
                            f"exit code {code}",
                            src_obj(pod, f"status.containerStatuses[{state.name}]"),
                        )
                    )
                    why = f"exits with code {code} ({reason})"
                for key, text in view.pod_logs(pod).items():
                    container, _, previous = key.partition("#")
                    if container != state.name:
                        continue
                    found = self._explain_log(text, detail)
                    for line in found:
                        facts.append(Fact(f"log: {line}", src_log(ns, pod_name, container, bool(previous))))
                    if detail.get("text"):
                        why = f"fails with {detail['text']}"
                    if found:
                        return why, facts, detail
                message = state.terminated_message or state.last_message
                if message and not detail:
                    lines = error_lines(message, limit=1)
                    self._explain_log(message, detail)
                    facts.append(
                        Fact(f"termination message: {lines[0]}", src_obj(pod, "status.containerStatuses"))
                    )
                    if detail.get("text"):
                        why = f"fails with {detail['text']}"
                break
        return why, facts, detail

    @staticmethod
    def _explain_log(text: str, detail: dict[str, str]) -> list[str]:
        aws = next(reversed(list(_AWS_ERROR.finditer(text))), None)
        if aws:
            detail.update(kind=aws.group(1).lower(), code=aws.group(1), operation=aws.group(2))
            detail["text"] = f"{aws.group(1)} when calling {aws.group(2)} ({aws.group(3).strip()[:120]})"
            dest = re.search(r"s3://([\w.-]+)/?([\w./-]*)", text)
            if dest:
                detail.update(bucket=dest.group(1), prefix=dest.group(2))
            return [aws.group(0).strip()[:300]]
        lines = error_lines(text)
        permission = _PERMISSION.search(text)
        password = _PASSWORD.search(text)
        if password:
            detail.update(kind="password", text=f"an authentication error ({password.group(0)})")
        elif permission:
            detail.update(kind="permission-denied", text=f"a permission error ({permission.group(0)})")
        elif lines:
            last = lines[-1]
            detail.setdefault("text", f'"{last if len(last) <= 160 else "..." + last[-157:]}"')
        return lines

    @staticmethod
    def _fixes(
        view: EvidenceView,
        job: K8sObject,
        cron: str | None,
        reason: str,
        detail: dict[str, str],
        pods: list[K8sObject],
    ) -> list[str]:
        ns, job_name = namespace_of(job), name_of(job)
        fixes = [f"kubectl logs job/{job_name}{ns_flag(ns)}"]
        if pods:
            fixes[0] = f"kubectl logs {name_of(pods[0])}{ns_flag(ns)}"
        operation = detail.get("operation")
        if operation and not detail.get("bucket") and pods:
            spec_text = json.dumps(pod_spec(pods[0]).get("containers") or [])
            dest = re.search(r"s3://([\w.-]+)/?([\w./-]*)", spec_text)
            if dest:
                detail.update(bucket=dest.group(1), prefix=dest.group(2))
        if detail.get("kind") == "password" and pods:
            for secret in _secret_refs(pods[0]):
                fixes.append(
                    f"kubectl describe secret {secret}{ns_flag(ns)}  # compare with the password the database "
                    "currently expects (rotated?) and update the secret"
                )
        release = ((job.get("metadata") or {}).get("labels") or {}).get("app.kubernetes.io/instance")
        if ((job.get("metadata") or {}).get("annotations") or {}).get("helm.sh/hook") and release:
            fixes.append(f"helm upgrade {release} <chart>{ns_flag(ns)}  # re-runs the hook job after the fix")
        if operation:
            sa_name = (pods[0].get("spec") or {}).get("serviceAccountName") if pods else None
            sa = view.obj("ServiceAccount", str(sa_name), ns) if sa_name else None
            role = ((sa or {}).get("metadata") or {}).get("annotations", {}).get("eks.amazonaws.com/role-arn")
            service = (
                "s3"
                if detail.get("bucket") or "Object" in operation or "Bucket" in operation
                else "<service>"
            )
            resource = (
                f"arn:aws:s3:::{detail['bucket']}/{detail.get('prefix', '')}*"
                if detail.get("bucket")
                else "<resource-arn>"
            )
            fixes.append(
                f"aws iam simulate-principal-policy --policy-source-arn {role or '<role-arn>'} "
                f"--action-names {service}:{operation} --resource-arns {resource}"
            )
            fixes.append(
                f"# grant {service}:{operation} on {resource} to {role or 'the role of service account ' + str(sa_name)}"
                + (f" (or fix the bucket policy of {detail['bucket']})" if detail.get("bucket") else "")
            )
        if reason == "DeadlineExceeded":
            deadline = int((job.get("spec") or {}).get("activeDeadlineSeconds") or 3600)
            if cron:
                fixes.append(
                    f"kubectl patch cronjob/{cron}{ns_flag(ns)} --type=merge -p "
                    f'\'{{"spec":{{"jobTemplate":{{"spec":{{"activeDeadlineSeconds":{deadline * 2}}}}}}}}}\''
                    "  # only if the job is slow, not stuck"
                )
        if cron:
            fixes.append(
                f"kubectl create job {cron}-retry-$(date +%s) --from=cronjob/{cron}{ns_flag(ns)}  # after the fix"
            )
        else:
            fixes.append(
                f"kubectl get job {job_name}{ns_flag(ns)} -o yaml > {job_name}.yaml  # fix, then recreate the job under a new name"
            )
        fixes.append(f"kubectl describe job {job_name}{ns_flag(ns)}")
        return fixes
