"""The API resources the cluster layer reads: kind -> group/version, plural, scope.

One table serves the snapshot source, the live source, the loopback API stand-in and the
RBAC role in gitops/ (a test derives the ClusterRole's rules from it).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KindInfo:
    kind: str
    group: str  # "" for the core group
    version: str
    plural: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def base_path(self) -> str:
        """REST prefix of the group/version: /api/v1 or /apis/<group>/<version>."""
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"


_TABLE: tuple[KindInfo, ...] = (
    KindInfo("Pod", "", "v1", "pods", True),
    KindInfo("Event", "", "v1", "events", True),
    KindInfo("Node", "", "v1", "nodes", False),
    KindInfo("Namespace", "", "v1", "namespaces", False),
    KindInfo("Service", "", "v1", "services", True),
    KindInfo("Endpoints", "", "v1", "endpoints", True),
    KindInfo("ConfigMap", "", "v1", "configmaps", True),
    KindInfo("Secret", "", "v1", "secrets", True),
    KindInfo("ServiceAccount", "", "v1", "serviceaccounts", True),
    KindInfo("PersistentVolumeClaim", "", "v1", "persistentvolumeclaims", True),
    KindInfo("PersistentVolume", "", "v1", "persistentvolumes", False),
    KindInfo("ResourceQuota", "", "v1", "resourcequotas", True),
    KindInfo("LimitRange", "", "v1", "limitranges", True),
    KindInfo("Deployment", "apps", "v1", "deployments", True),
    KindInfo("ReplicaSet", "apps", "v1", "replicasets", True),
    KindInfo("StatefulSet", "apps", "v1", "statefulsets", True),
    KindInfo("DaemonSet", "apps", "v1", "daemonsets", True),
    KindInfo("Job", "batch", "v1", "jobs", True),
    KindInfo("CronJob", "batch", "v1", "cronjobs", True),
    KindInfo("HorizontalPodAutoscaler", "autoscaling", "v2", "horizontalpodautoscalers", True),
    KindInfo("Ingress", "networking.k8s.io", "v1", "ingresses", True),
    KindInfo("IngressClass", "networking.k8s.io", "v1", "ingressclasses", False),
    KindInfo("NetworkPolicy", "networking.k8s.io", "v1", "networkpolicies", True),
    KindInfo("EndpointSlice", "discovery.k8s.io", "v1", "endpointslices", True),
    KindInfo("StorageClass", "storage.k8s.io", "v1", "storageclasses", False),
    KindInfo("Lease", "coordination.k8s.io", "v1", "leases", True),
    KindInfo(
        "ValidatingWebhookConfiguration",
        "admissionregistration.k8s.io",
        "v1",
        "validatingwebhookconfigurations",
        False,
    ),
    KindInfo(
        "MutatingWebhookConfiguration",
        "admissionregistration.k8s.io",
        "v1",
        "mutatingwebhookconfigurations",
        False,
    ),
    KindInfo("Role", "rbac.authorization.k8s.io", "v1", "roles", True),
    KindInfo("RoleBinding", "rbac.authorization.k8s.io", "v1", "rolebindings", True),
    KindInfo("ClusterRole", "rbac.authorization.k8s.io", "v1", "clusterroles", False),
    KindInfo("ClusterRoleBinding", "rbac.authorization.k8s.io", "v1", "clusterrolebindings", False),
    # Whether an aggregated metrics API (metrics-server, a custom-metrics adapter) is registered
    # and available: the HPA analyzer reads it when an autoscaler cannot get its metrics.
    KindInfo("APIService", "apiregistration.k8s.io", "v1", "apiservices", False),
    # cert-manager and Gatekeeper are CRDs, but common enough on platform clusters that the
    # certificate and admission analyzers read them when they are installed.
    KindInfo("Certificate", "cert-manager.io", "v1", "certificates", True),
    KindInfo("CertificateRequest", "cert-manager.io", "v1", "certificaterequests", True),
    KindInfo("Issuer", "cert-manager.io", "v1", "issuers", True),
    KindInfo("ClusterIssuer", "cert-manager.io", "v1", "clusterissuers", False),
    KindInfo("Order", "acme.cert-manager.io", "v1", "orders", True),
    KindInfo("Challenge", "acme.cert-manager.io", "v1", "challenges", True),
    KindInfo("ConstraintTemplate", "templates.gatekeeper.sh", "v1", "constrainttemplates", False),
)

KINDS: dict[str, KindInfo] = {k.kind: k for k in _TABLE}

# API groups whose kinds cannot be listed up front and are found through discovery: each
# Gatekeeper ConstraintTemplate defines its own constraint kind. The read-only ClusterRole
# grants get/list/watch on every resource of these groups.
DISCOVERED_GROUPS: tuple[str, ...] = ("constraints.gatekeeper.sh",)


def kind_info(kind: str) -> KindInfo:
    """The table row for ``kind``; KeyError names the kind when it is not one we read."""
    try:
        return KINDS[kind]
    except KeyError:
        raise KeyError(f"unsupported kind {kind!r}") from None


def infer_kind_info(api_version: str, kind: str) -> KindInfo:
    """The row for a known kind, or a best guess for a CRD object seen in a snapshot.

    Gatekeeper constraints (``constraints.gatekeeper.sh``) are one kind per template, so
    they cannot all be listed up front; they are cluster-scoped and pluralised in lower case.
    """
    if kind in KINDS:
        return KINDS[kind]
    group, _, version = api_version.rpartition("/")
    return KindInfo(kind, group, version, kind.lower() + "s", group != "constraints.gatekeeper.sh")
