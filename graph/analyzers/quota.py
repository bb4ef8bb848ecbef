"""QuotaExceeded: a ResourceQuota or LimitRange rejects the pods a controller tries to create.

The rejection happens at admission, so no pod exists: the evidence is the controller's
FailedCreate event (or the Deployment's ReplicaFailure condition, or the pasted kubectl error)
with the API server's message — "exceeded quota: NAME, requested: ..., used: ..., limited: ...",
"failed quota: NAME: must specify limits.cpu for: app", or a LimitRange's "maximum memory usage
per Container is 1Gi, but limit is 2Gi" — checked against the ResourceQuota and LimitRange objects.
"""

from __future__ import annotations

import json
import re
from typing import Any

from graph.analyzers.base import Analyzer, Fact, Finding, ns_flag, ref, src_event, src_obj
from graph.analyzers.scheduling import controller_ref
from graph.evidence import EvidenceView, K8sObject, name_of, namespace_of
from graph.k8s import format_resource, parse_quantity, pod_spec
from graph.schemas import ReadSpec

_EXCEEDED = re.compile(
    r"exceeded quota: ([\w.-]+), requested: ([^\s,]+(?:,[^\s,]+)*), used: ([^\s,]+(?:,[^\s,]+)*), "
    r"limited: ([^\s,]+(?:,[^\s,]+)*)"
)
_MUST_SPECIFY = re.compile(r"failed quota: ([\w.-]+): must specify ([^\n\"]+)")
_LIMITRANGE = re.compile(
    r"(maximum|minimum) (cpu|memory|ephemeral-storage|storage) usage per (Container|Pod|PersistentVolumeClaim) is "
    r"([\w.]+)(?:, but (limit|request) is ([\w.]+))?"
    r"|(cpu|memory) max limit to request ratio per (Container|Pod) is ([\d.]+), but provided ratio is ([\d.]+)"
)
_FORBIDDEN_OBJECT = re.compile(r'(\w+) "([\w.-]+)" is forbidden')
_QUOTA_LIST = "list|ResourceQuota|{ns}|||||"


def _pairs(text: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in text.split(",") if "=" in item)


def rejection_messages(view: EvidenceView) -> list[tuple[str, str, K8sObject | None]]:
    """(message, source, object the controller failed to create pods for), newest first."""
    found: list[tuple[str, str, K8sObject | None]] = []
    ns = view.namespace
    for event in view.events(ns, reasons=("FailedCreate", "FailedScheduling", "ProvisioningFailed")):
        message = str(event.get("message") or "")
        if _is_quota(message):
            inv = event.get("involvedObject") or {}
            owner = view.obj(str(inv.get("kind")), str(inv.get("name")), inv.get("namespace") or ns)
            found.append((message, src_event(event), owner))
    for kind in ("Deployment", "StatefulSet", "ReplicaSet", "Job"):
        for obj in view.objs(kind, ns):
            for cond in (obj.get("status") or {}).get("conditions") or []:
                message = str(cond.get("message") or "")
                if cond.get("type") in ("ReplicaFailure", "Failed") and _is_quota(message):
                    found.append((message, src_obj(obj, f"status.conditions[{cond.get('type')}]"), obj))
    if _is_quota(view.error_message):
        found.append((view.error_message, "pasted error", None))
    return found


def _is_quota(message: str) -> bool:
    return bool(_EXCEEDED.search(message) or _MUST_SPECIFY.search(message) or _LIMITRANGE.search(message))


class QuotaExceededAnalyzer(Analyzer):
    category = "QuotaExceeded"

    def plan(self, view: EvidenceView) -> list[ReadSpec]:
        ns = view.namespace
        if not ns or not (rejection_messages(view) or view.suspects(self.category, 0.5)):
            return []
        specs = [
            ReadSpec(verb="list", kind=kind, namespace=ns, why="the quota and limits that reject the pods")
            for kind in ("ResourceQuota", "LimitRange")
        ]
        # The controller whose pods are rejected (a StatefulSet, DaemonSet or Job is not listed by
        # default): its template holds the container and the values to change.
        for event in view.events(ns, reasons=("FailedCreate",))[:3]:
            inv = event.get("involvedObject") or {}
            kind, name = str(inv.get("kind") or ""), str(inv.get("name") or "")
            if kind in _CONTROLLERS and name and _is_quota(str(event.get("message") or "")):
                if view.obj(kind, name, ns) is None:
                    specs.append(
                        ReadSpec(
                            verb="get", kind=kind, namespace=ns, name=name, why="the pod template rejected"
                        )
                    )
                break
        return [s for s in specs if not view.was_read(s.key())]

    def analyze(self, view: EvidenceView) -> Finding | None:
        found = rejection_messages(view)
        if not found:
            return None
        message, source, owner = found[0]
        ns = view.namespace or (namespace_of(owner) if owner else None)
        workload = _workload(view, owner, message)
        facts = [Fact(f"rejected: {message.strip()[:400]}", source)]
        attempts = sum(int(e.get("count") or 1) for e in view.events(ns, reasons=("FailedCreate",)))
        if attempts > 1:
            facts.append(
                Fact(f"{attempts} pod creations were rejected (FailedCreate events)", "events in namespace")
            )
        exceeded = _EXCEEDED.search(message)
        must = _MUST_SPECIFY.search(message)
        limit_range = _LIMITRANGE.search(message)
        template = _template(view, owner)
        if exceeded:
            return self._exceeded(view, exceeded, facts, ns, workload, template, owner)
        if must:
            quota_name, what = must.group(1), must.group(2).strip().rstrip(".")
            self._quota_facts(view, quota_name, ns, facts)
            containers = re.findall(r"for: ([\w,-]+)", what)
            resources = re.findall(r"((?:limits|requests)\.[\w-]+)", what)
            root = (
                f"ResourceQuota {quota_name} in namespace {ns} covers {', '.join(dict.fromkeys(resources))}, so every "
                f"pod must declare them, but {workload or 'the pod'} does not ({what}); the API server rejects its "
                "pods at creation."
            )
            fixes = []
            for container in dict.fromkeys(c for group in containers for c in group.split(",")) or [
                "<container>"
            ]:
                flags = _flags_for(resources, _container(template, container))
                if workload:
                    fixes.append(f"kubectl set resources {workload}{ns_flag(ns)} -c {container} {flags}")
            fixes.append(
                f"kubectl describe resourcequota {quota_name}{ns_flag(ns)}  # or add a LimitRange with default "
                "requests/limits for the namespace"
            )
            return self._finding("quota.must-specify", root, facts, fixes, owner, view, quota_name, ns)
        assert limit_range is not None
        return self._limit_range(view, limit_range, facts, ns, workload, template, owner)

    # --- ResourceQuota exhausted ---
    def _exceeded(
        self,
        view: EvidenceView,
        match: re.Match[str],
        facts: list[Fact],
        ns: str | None,
        workload: str | None,
        template: K8sObject | None,
        owner: K8sObject | None,
    ) -> Finding:
        quota_name = match.group(1)
        requested, used, limited = _pairs(match.group(2)), _pairs(match.group(3)), _pairs(match.group(4))
        quota = self._quota_facts(view, quota_name, ns, facts)
        parts = [
            f"{res}: requested {requested.get(res)}, used {used.get(res)}, limited {limited.get(res)}"
            for res in limited
        ]
        root = (
            f"ResourceQuota {quota_name} in namespace {ns} is exhausted ({'; '.join(parts)}), so the API server "
            f"rejects new pods of {workload or 'the workload'}: each would push usage past the hard limit."
        )
        fixes = [f"kubectl describe resourcequota {quota_name}{ns_flag(ns)}"]
        hard: dict[str, str] = {}
        for res, limit in limited.items():
            lim, use, req = (
                parse_quantity(limit),
                parse_quantity(used.get(res)),
                parse_quantity(requested.get(res)),
            )
            if lim is None or use is None or req is None:
                continue
            missing = _missing_replicas(owner)
            base = res.split(".", 1)[-1] if "." in res else res
            hard[res] = format_resource(base, use + req * max(missing, 1))
        if hard:
            fixes.append(
                f"kubectl patch resourcequota {quota_name}{ns_flag(ns)} --type=merge -p "
                f"'{json.dumps({'spec': {'hard': hard}})}'  # raise the limit (agree it with the namespace owner)"
            )
        for res in limited:
            if res.startswith(("limits.", "requests.")) and workload and template:
                kind, base = res.split(".", 1)
                first = _first_container(template)
                container = first.get("name")
                current = ((first.get("resources") or {}).get(kind) or {}).get(base)
                if container:
                    fixes.append(
                        f"kubectl set resources {workload}{ns_flag(ns)} -c {container} --{kind}={base}=<below {current}>  "
                        f"# or lower per-pod {base} {kind} so more replicas fit"
                    )
        if quota is not None:
            others = [
                f"{name_of(o)}"
                for o in view.objs("Pod", ns)
                if (o.get("status") or {}).get("phase") == "Running"
            ]
            if others:
                fixes.append(f"kubectl top pods{ns_flag(ns)}  # find over-sized pods holding the quota")
        return self._finding("quota.exceeded", root, facts, fixes, owner, view, quota_name, ns)

    def _quota_facts(
        self, view: EvidenceView, name: str, ns: str | None, facts: list[Fact]
    ) -> K8sObject | None:
        quota = view.obj("ResourceQuota", name, ns)
        if quota is None:
            return None
        status = quota.get("status") or {}
        hard, used = (
            status.get("hard") or (quota.get("spec") or {}).get("hard") or {},
            status.get("used") or {},
        )
        summary = ", ".join(f"{k} {used.get(k, '0')}/{v}" for k, v in hard.items())
        facts.append(Fact(f"ResourceQuota {name} used/hard: {summary}", src_obj(quota, "status")))
        return quota

    # --- LimitRange ---
    def _limit_range(
        self,
        view: EvidenceView,
        match: re.Match[str],
        facts: list[Fact],
        ns: str | None,
        workload: str | None,
        template: K8sObject | None,
        owner: K8sObject | None,
    ) -> Finding:
        ranges = view.objs("LimitRange", ns)
        range_name = name_of(ranges[0]) if ranges else None
        for lr in ranges:
            for item in (lr.get("spec") or {}).get("limits") or []:
                bounds = {
                    k: item.get(k)
                    for k in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio")
                    if item.get(k)
                }
                facts.append(
                    Fact(
                        f"LimitRange {name_of(lr)} {item.get('type')}: {json.dumps(bounds)}",
                        src_obj(lr, "spec.limits"),
                    )
                )
        container = _first_container(template).get("name") if template else None
        if match.group(1):
            bound, resource, scope, allowed, field, given = (match.group(i) for i in range(1, 7))
            kind = (
                "limits"
                if (field or ("limit" if bound == "maximum" else "request")) == "limit"
                else "requests"
            )
            root = (
                f"LimitRange {range_name or '(in namespace ' + str(ns) + ')'} rejects the pods of {workload or 'the workload'}: "
                f"{bound} {resource} usage per {scope} is {allowed}"
                + (f", but the {field} is {given}" if field else "")
                + "."
            )
            fixes = [f"kubectl describe limitrange{(' ' + range_name) if range_name else ''}{ns_flag(ns)}"]
            if workload and container:
                command = f"kubectl set resources {workload}{ns_flag(ns)} -c {container} --{kind}={resource}={allowed}"
                # A limit may not sit below the request: cap the request too when it is larger.
                request = (
                    (_container(template, container).get("resources") or {}).get("requests") or {}
                ).get(resource)
                if kind == "limits" and (parse_quantity(request) or 0) > (parse_quantity(allowed) or 0):
                    command += f" --requests={resource}={allowed}"
                fixes.append(command)
            index = _limit_index(ranges[0], scope, bound, resource) if ranges else None
            if index is not None and range_name:
                # The other way out: let the namespace allow what the workload asks for.
                key = "max" if bound == "maximum" else "min"
                fixes.append(
                    f"kubectl patch limitrange {range_name}{ns_flag(ns)} --type=json -p "
                    f'\'[{{"op":"replace","path":"/spec/limits/{index}/{key}/{resource}","value":"{given or "<value>"}"}}]\''
                    "  # or allow it: change the namespace's bound instead"
                )
            root_id = f"quota.limitrange-{bound[:3]}"
        else:
            resource, scope, ratio, given = match.group(7), match.group(8), match.group(9), match.group(10)
            root = (
                f"LimitRange {range_name or ''} rejects the pods of {workload or 'the workload'}: {resource} limit/request "
                f"ratio per {scope} may be at most {ratio}, the pod asks for {given}."
            )
            fixes = [f"kubectl describe limitrange{(' ' + range_name) if range_name else ''}{ns_flag(ns)}"]
            if workload and container:
                fixes.append(
                    f"kubectl set resources {workload}{ns_flag(ns)} -c {container} --requests={resource}=<limit / {ratio}>"
                )
            root_id = "quota.limitrange-ratio"
        finding = self._finding(root_id, root, facts, fixes, owner, view, None, ns)
        if ranges:
            finding.affected.append(ref(ranges[0]))
        return finding

    def _finding(
        self,
        root_id: str,
        root: str,
        facts: list[Fact],
        fixes: list[str],
        owner: K8sObject | None,
        view: EvidenceView,
        quota_name: str | None,
        ns: str | None,
    ) -> Finding:
        affected = [ref(owner)] if owner else []
        missing = []
        if quota_name:
            quota = view.obj("ResourceQuota", quota_name, ns)
            if quota is not None:
                affected.append(ref(quota))
            else:
                missing.append(f"ResourceQuota {quota_name} (its hard and used values)")
        return Finding(
            category=self.category,
            score=0.93,
            root_cause_id=root_id,
            root_cause=root,
            summary=root.split(": ")[0][:200],
            facts=facts,
            fix_commands=fixes,
            prevention=[
                "Alert when ResourceQuota usage passes 80% of hard (kube_resourcequota metrics) and review quotas "
                "with teams before scaling events.",
                "Give every namespace with a quota a LimitRange with default requests/limits, so pods without "
                "resources are not rejected.",
                "Size per-pod limits from observed usage so replicas fit the namespace budget.",
            ],
            affected=affected,
            missing=missing,
        )


_CONTROLLERS = ("ReplicaSet", "StatefulSet", "DaemonSet", "Job", "Deployment", "ReplicationController")


def _limit_index(limit_range: K8sObject, scope: str, bound: str, resource: str) -> int | None:
    """Index in ``spec.limits`` of the item that sets ``bound`` (maximum/minimum) of ``resource`` for ``scope``."""
    key = "max" if bound == "maximum" else "min"
    for index, item in enumerate((limit_range.get("spec") or {}).get("limits") or []):
        if str(item.get("type")).lower() == scope.lower() and resource in (item.get(key) or {}):
            return index
    return None


def _template(view: EvidenceView, owner: K8sObject | None) -> K8sObject | None:
    if owner is None:
        return None
    if (owner.get("spec") or {}).get("template") or (owner.get("spec") or {}).get("jobTemplate"):
        return owner
    return None


def _first_container(template: K8sObject) -> dict[str, Any]:
    containers = pod_spec(template).get("containers") or []
    return dict(containers[0]) if containers else {}


def _workload(view: EvidenceView, owner: K8sObject | None, message: str) -> str | None:
    if owner is None:
        names = view.entities.get("workloads") or []
        return str(names[0]) if names else None
    return controller_ref(view, owner)


def _missing_replicas(owner: K8sObject | None) -> int:
    if owner is None:
        return 1
    spec, status = owner.get("spec") or {}, owner.get("status") or {}
    desired = spec.get("replicas")
    if desired is None:
        return 1
    return max(int(desired) - int(status.get("replicas") or 0), 1)


def _container(template: K8sObject | None, name: str) -> dict[str, Any]:
    for c in (pod_spec(template).get("containers") or []) if template else []:
        if c.get("name") == name:
            return dict(c)
    return {}


def _flags_for(resources: list[str], container: dict[str, Any]) -> str:
    """kubectl flags that add the missing resources: limits no lower than the container's requests."""
    defaults = {"cpu": "500m", "memory": "512Mi", "ephemeral-storage": "1Gi"}
    requests = (container.get("resources") or {}).get("requests") or {}
    grouped: dict[str, list[str]] = {}
    for res in dict.fromkeys(resources):
        kind, base = res.split(".", 1)
        value = requests.get(base) or defaults.get(base, "<value>")
        grouped.setdefault(kind, []).append(f"{base}={value}")
    return " ".join(f"--{kind}={','.join(values)}" for kind, values in grouped.items())
