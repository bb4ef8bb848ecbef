"""RBACForbidden: the API server refused a request because no role grants the verb.

The authorizer's message names everything: the user (a service account is
``system:serviceaccount:NS:NAME``), the verb, the resource (with subresource), the API group
and the namespace or cluster scope. The bindings naming that subject show which roles it does
have, so the diagnosis can say "bound to X, which allows get/list/watch but not patch" and
propose the narrowest Role that adds the missing verb, never cluster-admin.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from graph.analyzers.base import Analyzer, Fact, Finding, ref, src_log, src_obj
from graph.analyzers.common import candidate_pods
from graph.evidence import EvidenceView, K8sObject, name_of, namespace_of
from graph.schemas import ReadSpec

_FORBIDDEN = re.compile(
    r"User \\?\"(?P<user>[^\"\\]+)\\?\" cannot (?P<verb>[\w-]+) resource \\?\"(?P<resource>[^\"\\]+)\\?\""
    r"(?: in API group \\?\"(?P<group>[^\"\\]*)\\?\")?"
    r"(?: in the namespace \\?\"(?P<namespace>[^\"\\]+)\\?\"| at the cluster scope)?"
    r"(?:: (?P<reason>[^\n\"]+))?"
)
_NAMED = re.compile(r"(?P<plural>[\w.]+) \\?\"(?P<name>[^\"\\]+)\\?\" is forbidden: User")
_SA = re.compile(r"^system:serviceaccount:([a-z0-9-]+):([a-z0-9.-]+)$")


@dataclass(frozen=True)
class Denial:
    user: str
    verb: str
    resource: str
    group: str
    namespace: str | None
    """None for a cluster-scoped request."""
    object_name: str | None
    line: str

    @property
    def service_account(self) -> tuple[str, str] | None:
        match = _SA.match(self.user)
        return (match.group(1), match.group(2)) if match else None

    @property
    def resource_ref(self) -> str:
        """``deployments.apps`` as kubectl create role --resource spells it."""
        base, _, sub = self.resource.partition("/")
        qualified = f"{base}.{self.group}" if self.group else base
        return f"{qualified}/{sub}" if sub else qualified

    @property
    def scope(self) -> str:
        return f'in namespace "{self.namespace}"' if self.namespace else "at the cluster scope"


def parse_denials(text: str) -> list[Denial]:
    found = []
    for match in _FORBIDDEN.finditer(text):
        start = text.rfind("\n", 0, match.start()) + 1
        end = text.find("\n", match.end())
        line = text[start : end if end >= 0 else len(text)].strip()
        named = _NAMED.search(text, start, match.end())
        found.append(
            Denial(
                user=match.group("user"),
                verb=match.group("verb"),
                resource=match.group("resource"),
                group=match.group("group") or "",
                namespace=match.group("namespace"),
                object_name=named.group("name") if named else None,
                line=line[:400],
            )
        )
    return list(dict.fromkeys(found))


def _matches(values: list[str], wanted: str) -> bool:
    return "*" in values or wanted in values


def rule_allows(rule: dict[str, Any], denial: Denial) -> bool:
    groups = [str(g) for g in rule.get("apiGroups") or []]
    resources = [str(r) for r in rule.get("resources") or []]
    verbs = [str(v) for v in rule.get("verbs") or []]
    base = denial.resource.split("/", 1)[0]
    resource_ok = _matches(resources, denial.resource) or (
        "/" in denial.resource and f"{base}/*" in resources
    )
    names = rule.get("resourceNames") or []
    name_ok = not names or (denial.object_name is not None and denial.object_name in names)
    return _matches(groups, denial.group) and resource_ok and _matches(verbs, denial.verb) and name_ok


def rule_text(rule: dict[str, Any]) -> str:
    groups = ",".join(g or '""' for g in rule.get("apiGroups") or []) or '""'
    resources = ",".join(rule.get("resources") or [])
    verbs = ",".join(rule.get("verbs") or [])
    names = rule.get("resourceNames")
    return f"{verbs} on {resources} (groups {groups})" + (f" named {','.join(names)}" if names else "")


def _subject_matches(subject: dict[str, Any], denial: Denial, binding_ns: str | None) -> bool:
    kind, name = subject.get("kind"), str(subject.get("name", ""))
    sa = denial.service_account
    if kind == "ServiceAccount" and sa:
        return name == sa[1] and (subject.get("namespace") or binding_ns) == sa[0]
    if kind == "User":
        return name == denial.user
    if kind == "Group" and sa:
        return name in ("system:serviceaccounts", f"system:serviceaccounts:{sa[0]}")
    return False


def _denials(view: EvidenceView) -> list[tuple[Denial, str]]:
    """Denials in the paste first, then in the logs of the pods read (controllers log them)."""
    found = [(d, "pasted error") for d in parse_denials(view.error_message)]
    pods = candidate_pods(view)[:6]
    # Logs read from pods of other namespaces (a healthy client the paste names, when the namespace was
    # guessed): a denial there is the client's own failure.
    pods += [p for p in view.objs("Pod") if namespace_of(p) != view.namespace and view.pod_logs(p)][:3]
    for pod in pods:
        for key, text in view.pod_logs(pod).items():
            container, _, previous = key.partition("#")
            source = src_log(namespace_of(pod) or "", name_of(pod), container, bool(previous))
            # A controller repeats the same denial; keep one per namespace it is denied in.
            unique = {
                (d.user, d.verb, d.resource, d.group, d.namespace): d for d in reversed(parse_denials(text))
            }
            found += [(d, source) for d in list(unique.values())[::-1][:3]]
    return found


def _namespaces(found: list[tuple[Denial, str]], denial: Denial) -> list[str]:
    """Every namespace the same request (user, verb, resource) is denied in, first seen first."""
    same = [
        d.namespace
        for d, _ in found
        if (d.user, d.verb, d.resource, d.group) == (denial.user, denial.verb, denial.resource, denial.group)
        and d.namespace
    ]
    return list(dict.fromkeys(same))[:3]


def _role_name(denial: Denial) -> str:
    sa = denial.service_account
    who = sa[1] if sa else re.sub(r"[^a-z0-9-]+", "-", denial.user.lower()).strip("-")
    base = denial.resource.split(".")[0].replace("/", "-")
    return f"{who}-{base}-{denial.verb}"[:63].rstrip("-")


def _verbs_needed(denial: Denial) -> str:
    # Updating or patching an object goes through a get first in kubectl and in most controllers.
    companions = {
        "patch": ["get", "patch"],
        "update": ["get", "update"],
        "delete": ["get", "delete"],
        # Informers list then watch; a reader that may list may as well get.
        "list": ["get", "list", "watch"],
        "watch": ["get", "list", "watch"],
    }
    return ",".join(companions.get(denial.verb, [denial.verb]))


class RBACForbiddenAnalyzer(Analyzer):
    category = "RBACForbidden"

    def plan(self, view: EvidenceView) -> list[ReadSpec]:
        found = _denials(view)
        if not found:
            return []
        denial = found[0][0]
        namespaces = _namespaces(found, denial)
        specs: list[ReadSpec] = []
        why = f"bindings that name {denial.user}"
        for ns in namespaces:
            specs.append(ReadSpec(verb="list", kind="RoleBinding", namespace=ns, why=why))
        # A namespaced denial is explained by the namespace's RoleBindings; cluster-wide bindings only
        # matter when none of those names the subject (or the request is cluster-scoped).
        rb_read = all(
            view.was_read(ReadSpec(verb="list", kind="RoleBinding", namespace=ns).key()) for ns in namespaces
        )
        if not namespaces or (rb_read and not self._bindings(view, denial, namespaces)):
            specs.append(ReadSpec(verb="list", kind="ClusterRoleBinding", why=why))
        for binding in self._bindings(view, denial, namespaces):
            role = binding.get("roleRef") or {}
            kind, name = str(role.get("kind")), str(role.get("name"))
            role_ns = namespace_of(binding) if kind == "Role" else None
            specs.append(
                ReadSpec(verb="get", kind=kind, namespace=role_ns, name=name, why="the role a binding grants")
            )
        return [s for s in specs if not view.was_read(s.key())]

    @staticmethod
    def _bindings(view: EvidenceView, denial: Denial, namespaces: list[str]) -> list[K8sObject]:
        found = []
        candidates = [b for ns in namespaces for b in view.objs("RoleBinding", ns)] + view.objs(
            "ClusterRoleBinding"
        )
        for binding in candidates:
            if any(_subject_matches(s, denial, namespace_of(binding)) for s in binding.get("subjects") or []):
                found.append(binding)
        return found

    def analyze(self, view: EvidenceView) -> Finding | None:
        found = _denials(view)
        if not found:
            return None
        denial, source = found[0]
        namespaces = _namespaces(found, denial)
        sa = denial.service_account
        subject = f"service account {sa[0]}/{sa[1]}" if sa else f"user {denial.user}"
        facts = [Fact(denial.line, source)]
        facts += [
            Fact(d.line, src)
            for d, src in found[1:]
            if d.namespace in namespaces and d.namespace != denial.namespace
        ][: len(namespaces) - 1]
        bindings = self._bindings(view, denial, namespaces)
        bound: list[str] = []
        granted: list[str] = []
        for binding in bindings:
            role_ref = binding.get("roleRef") or {}
            kind, name = str(role_ref.get("kind")), str(role_ref.get("name"))
            role = view.obj(kind, name, namespace_of(binding) if kind == "Role" else None)
            bound.append(f"{kind} {name}")
            facts.append(
                Fact(
                    f"{binding.get('kind')} {name_of(binding)} binds {subject} to {kind} {name}",
                    src_obj(binding),
                )
            )
            if role is None:
                continue
            rules = role.get("rules") or []
            allows = [r for r in rules if rule_allows(r, denial)]
            granted += [rule_text(r) for r in allows]
            relevant = [
                r
                for r in rules
                if denial.resource.split("/", 1)[0] in (r.get("resources") or [])
                or "*" in (r.get("resources") or [])
            ] or rules[:2]
            facts.append(
                Fact(
                    f"{kind} {name} allows " + "; ".join(rule_text(r) for r in relevant)
                    if relevant
                    else f"{kind} {name} has no rules",
                    src_obj(role, "rules"),
                )
            )

        if len(namespaces) > 1:
            scope = "in namespaces " + ", ".join(f'"{n}"' for n in namespaces)
        else:
            scope = denial.scope
        what = f"{denial.verb} {denial.resource_ref} {scope}"
        crb_read = view.was_read(ReadSpec(verb="list", kind="ClusterRoleBinding").key())
        bindings_read = crb_read or bool(
            namespaces
            and all(
                view.was_read(ReadSpec(verb="list", kind="RoleBinding", namespace=n).key())
                for n in namespaces
            )
        )
        if bound:
            via = ", ".join(dict.fromkeys(bound))
            cause = (
                f"{subject.capitalize()} is forbidden to {what}: it is bound only to {via}, "
                f"{'which do' if len(set(bound)) > 1 else 'which does'} not grant the verb {denial.verb} "
                f"on {denial.resource_ref}"
            )
            if granted:
                cause = (
                    f"{subject.capitalize()} is forbidden to {what} although {via} appears to grant it "
                    f"({granted[0]}); the binding or role may have changed since, or an aggregated role is stale"
                )
        elif bindings_read:
            cause = (
                f"{subject.capitalize()} is forbidden to {what}: no RoleBinding"
                + (f" in {', '.join(namespaces)}" if namespaces else "")
                + (" or ClusterRoleBinding" if crb_read else "")
                + " names it, so it has no permissions there"
            )
        else:
            cause = f"{subject.capitalize()} is forbidden to {what}: no role bound to it grants {denial.verb}"
        if denial.object_name:
            cause += f" (request on {denial.resource} {denial.object_name})"
        cause += "."

        # The same client is usually denied the same verb on several resources: one Role covers them all.
        others = list(
            dict.fromkeys(
                d.resource_ref
                for d, _ in found
                if d.user == denial.user
                and d.verb == denial.verb
                and d.namespace == denial.namespace
                and d.resource_ref != denial.resource_ref
            )
        )
        if others:
            cause = cause[:-1] + f"; it is denied {denial.verb} on {', '.join(others)} there too."
            facts += [
                Fact(d.line, src)
                for d, src in found
                if d.resource_ref in others and d.user == denial.user and d.namespace == denial.namespace
            ][:2]
        resources = ",".join([denial.resource_ref, *others])
        new_role = _role_name(denial)
        verbs = _verbs_needed(denial)
        fixes: list[str] = []
        subject_flag = f"--serviceaccount={sa[0]}:{sa[1]}" if sa else f"--user={denial.user}"
        for ns in namespaces:
            fixes += [
                f"kubectl create role {new_role} --verb={verbs} --resource={resources} -n {ns}",
                f"kubectl create rolebinding {new_role} --role={new_role} {subject_flag} -n {ns}",
            ]
        if not namespaces:
            fixes += [
                f"kubectl create clusterrole {new_role} --verb={verbs} --resource={resources}",
                f"kubectl create clusterrolebinding {new_role} --clusterrole={new_role} {subject_flag}",
            ]
        as_user = f"system:serviceaccount:{sa[0]}:{sa[1]}" if sa else denial.user
        fixes.append(
            f"kubectl auth can-i {denial.verb} {denial.resource_ref}"
            + (f" -n {namespaces[0]}" if namespaces else "")
            + f" --as={as_user}"
        )
        missing = [] if bindings_read else ["the RoleBindings/ClusterRoleBindings of the subject"]
        affected = [ref(b) for b in bindings]
        score = 0.95 if bound or bindings_read else 0.85
        if source.startswith("log ") and not source.startswith(f"log {view.namespace}/"):
            # Seen in a pod outside the namespace under diagnosis: real, but weaker than a failure in it.
            score = min(score, 0.6)
        return Finding(
            category=self.category,
            score=score,
            root_cause_id="rbac.verb-not-granted" if bound else "rbac.no-binding",
            root_cause=cause,
            summary=f"{subject} cannot {what}"[:200],
            facts=facts,
            fix_commands=fixes,
            prevention=[
                "Keep each CI or controller identity's Role in the same repository as the manifests it applies, and "
                "test it with `kubectl auth can-i --as=...` in the pipeline.",
                "Grant the narrowest verbs and resources a namespace needs (a Role + RoleBinding), never cluster-admin.",
                "Alert on 403 responses from the API server per service account (apiserver audit logs).",
            ],
            affected=affected,
            missing=missing,
        )
