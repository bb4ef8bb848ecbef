"""Text patterns of the taxonomy: what each category looks like in a paste, an event or a log.

Patterns come from the messages Kubernetes components, container runtimes and Terraform
print (kubelet event reasons, scheduler messages, API server errors). They rank hypotheses
for the classifier and help analyzers read logs; they never decide a category on their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Pattern:
    category: str
    regex: re.Pattern[str]
    weight: float
    label: str


def _p(category: str, pattern: str, weight: float, label: str) -> Pattern:
    return Pattern(category, re.compile(pattern, re.IGNORECASE), weight, label)


PATTERNS: tuple[Pattern, ...] = (
    _p(
        "CrashLoopBackOff",
        r"crash\s*loop\s*back\s*off|back-off restarting failed container",
        0.6,
        "CrashLoopBackOff",
    ),
    _p(
        "CrashLoopBackOff",
        r"keep(s)? restarting|restart(ing|s)? (every|constantly|repeatedly)|\b\d+ restarts\b",
        0.3,
        "restarts",
    ),
    _p(
        "OOMKilled",
        r"oom\s*-?kill|out of memory|exit(ed)?( with)?( code)?:? 137\b|memory limit|java\.lang\.OutOfMemoryError|"
        r"\bheap\b",
        0.7,
        "out of memory",
    ),
    _p(
        "ImagePullBackOff",
        r"image\s*pull\s*back\s*off|errimagepull|failed to pull image|manifest unknown|"
        r"pull access denied|invalidimagename|toomanyrequests",
        0.9,
        "image pull",
    ),
    _p(
        "CreateContainerConfigError",
        r"createcontainerconfigerror|couldn't find key|configmap \"?[\w.-]+\"? not found|"
        r"secret \"?[\w.-]+\"? not found",
        0.8,
        "config reference",
    ),
    _p(
        "CreateContainerError",
        r"createcontainererror|executable file not found|exec format error|"
        r"no such file or directory|runcontainererror|starterror|oci runtime create failed|exit code:? 128",
        0.7,
        "runtime cannot start",
    ),
    _p(
        "FailedScheduling",
        r"failedscheduling|\d+/\d+ nodes are available|insufficient (cpu|memory|nvidia|pods)|"
        r"didn't match (pod's )?node (affinity|selector)|untolerated taint|unbound immediate persistentvolumeclaims|"
        r"volume node affinity conflict|\bpending\b",
        0.6,
        "scheduling",
    ),
    _p(
        "ProbeFailure",
        r"(liveness|readiness|startup) probe failed|probe failed|unhealthy|failed (liveness|readiness)",
        0.7,
        "probe",
    ),
    _p(
        "Evicted",
        r"\bevicted\b|eviction|low on resource|ephemeral[- ]storage|containerstatusunknown",
        0.7,
        "eviction",
    ),
    _p(
        "VolumeMountFailure",
        r"failedmount|failedattachvolume|mountvolume\.setup failed|multi-attach|"
        r"unable to attach or mount volumes|timed out waiting for the condition",
        0.8,
        "volume mount",
    ),
    _p(
        "InitContainerFailure", r"init:(error|crashloopbackoff|\d+/\d+)|init container", 0.8, "init container"
    ),
    _p(
        "NodeNotReady",
        r"node(s)? (is |are )?not ?ready|notready|kubelet stopped posting|nodestatusunknown|"
        r"(memory|disk|pid)pressure|stuck in terminating|\bterminating\b",
        0.6,
        "node",
    ),
    _p(
        "ServiceUnreachable",
        r"\b50[234]\b|no (ready )?endpoints|connection refused|service unavailable|"
        r"upstream connect error|no healthy upstream|bad gateway",
        0.5,
        "service",
    ),
    _p(
        "DNSFailure",
        r"no such host|lookup [\w.-]+ on [\d.:]+|name resolution|could not resolve|nxdomain|"
        r"temporary failure in name resolution|i/o timeout.*:53|coredns|servfail",
        0.6,
        "dns",
    ),
    _p(
        "QuotaExceeded",
        r"exceeded quota|forbidden: exceeded|resourcequota|limitrange|maximum (cpu|memory) usage|"
        r"must specify (limits|requests)|only \d+ pods",
        0.8,
        "quota",
    ),
    _p(
        "AdmissionDenied",
        r"admission webhook \"?[\w.-]+\"? denied|denied the request|gatekeeper|violates podsecurity|"
        r"pod security|kyverno|validating ?admission ?polic",
        0.8,
        "admission",
    ),
    _p(
        "RBACForbidden",
        r"is forbidden: user|cannot (get|list|watch|create|update|patch|delete) resource|"
        r"system:serviceaccount:|rbac",
        0.8,
        "rbac",
    ),
    _p(
        "RolloutStuck",
        r"progressdeadlineexceeded|exceeded its progress deadline|rollout status|rollout (hangs|stuck)|"
        r"waiting for deployment|paused",
        0.5,
        "rollout",
    ),
    _p(
        "JobFailed",
        r"backofflimitexceeded|backoff limit|deadlineexceeded|job has reached|\bjob\b|cronjob|nightly",
        0.5,
        "job",
    ),
    _p(
        "HPAFailure",
        r"\bhpa\b|horizontalpodautoscaler|<unknown>/\d+%|failedgetresourcemetric|"
        r"unable to get metrics|missing request for|failedcomputemetricsreplicas|not scal(e|ing)",
        0.7,
        "hpa",
    ),
    _p(
        "PodSandboxFailure",
        r"failedcreatepodsandbox|pod sandbox|failed to assign an ip|\bcni\b|"
        r"containercreating",
        0.6,
        "sandbox",
    ),
    _p(
        "FailedScheduling",
        r"topology spread constraints|node\(s\) were unschedulable|didn't find available persistent volumes|"
        r"persistentvolumeclaim \"?[\w.-]+\"? not found|too many pods",
        0.5,
        "scheduling detail",
    ),
    _p(
        "NodeNotReady",
        r"networkpluginnotready|kubelet (is )?(down|not running)|node(s)? (went|is|are) down|pid pressure",
        0.5,
        "node detail",
    ),
    _p(
        "PodSandboxFailure",
        r"failed to (set ?up|create) (network for|pod) sandbox|is the agent running\?",
        0.6,
        "sandbox detail",
    ),
    _p(
        "QuotaExceeded",
        r"failed quota|(maximum|minimum) (cpu|memory|ephemeral-storage|storage) usage per (container|pod)|"
        r"max limit to request ratio",
        0.6,
        "quota detail",
    ),
    _p(
        "HPAFailure",
        r"failedgetscale|scaletargetref|unable to fetch metrics|metrics\.k8s\.io|targets? +<unknown>",
        0.5,
        "hpa detail",
    ),
    _p(
        "JobFailed",
        r"activedeadlineseconds|active longer than specified deadline|hooks? failed: job",
        0.5,
        "job detail",
    ),
    _p(
        "RolloutStuck",
        r"rollout (status )?(never finishes|just waits|waits forever)|statefulset.{0,40}revert|ondelete",
        0.4,
        "rollout detail",
    ),
    _p(
        "ImagePullBackOff",
        r"errimageneverpull|no match(ing manifest)? for platform|no matching manifest|authentication required|"
        r"401 unauthorized|pull rate limit|imagepullsecrets?|back-off pulling image|failed to resolve reference",
        0.6,
        "image pull detail",
    ),
    _p(
        "CreateContainerConfigError",
        r"runasnonroot|non-numeric user|failed to sync (secret|configmap) cache|failed to prepare subpath",
        0.6,
        "config reference detail",
    ),
    _p(
        "CreateContainerError",
        r"unable to start container process|container create failed|exec: \"?[\w/.-]+\"?: (permission denied|stat)|"
        r"mount a directory onto a file",
        0.6,
        "runtime detail",
    ),
    _p(
        "InitContainerFailure",
        r"init:(error|crashloopbackoff|runcontainererror|oomkilled)|initcontainers?\b|init-container",
        0.5,
        "init container detail",
    ),
    _p(
        "ProbeFailure",
        r"never (becomes?|gets?|goes) ready|running but (not|never) ready|\b0/\d+ ready|"
        r"failed (liveness|startup) probe|will be restarted",
        0.5,
        "probe detail",
    ),
    _p(
        "VolumeMountFailure",
        r"mountvolume\.(mountdevice|waitforattach)|volume is already (used|exclusively attached)|"
        r"registered csi drivers|mount\.nfs|stuck in containercreating",
        0.6,
        "volume detail",
    ),
    _p(
        "Evicted",
        r"exceeds the total limit of containers|exceeded its local ephemeral storage limit|"
        r"usage of emptydir volume|the node had condition",
        0.6,
        "eviction detail",
    ),
    _p(
        "CertificateError",
        r"x509|certificate (has )?expired|err_cert|tls handshake|certificate signed by unknown|"
        r"cert-manager|certificate",
        0.7,
        "certificate",
    ),
    _p(
        "TerraformStateLock",
        r"error acquiring the state lock|state lock|conditionalcheckfailedexception|"
        r"terraform (force-)?unlock|lock info:",
        1.0,
        "terraform lock",
    ),
    # Backend-specific lock errors (GCS, azurerm, S3 lock file, HCP Terraform) that do not say "state lock".
    _p(
        "TerraformStateLock",
        r"state blob is already locked|\.tflock\b|error locking state|workspace (?:is )?already locked",
        0.8,
        "terraform backend lock",
    ),
    _p(
        "ServiceUnreachable",
        r"does not have any active endpoint|no healthy upstream|upstream request timeout|"
        r"endpoints? (?:for|of) (?:service )?\S+ not found",
        0.5,
        "no endpoints",
    ),
    _p(
        "DNSFailure",
        r"server misbehaving|getaddrinfo (?:enotfound|eai_again)|unknownhostexception|"
        r"could not translate host name|name or service not known|could not resolve host",
        0.6,
        "resolver error",
    ),
    _p(
        "AdmissionDenied",
        r"blocked due to the following policies|validatingadmissionpolicy|would violate podsecurity",
        0.6,
        "admission policy",
    ),
    _p(
        "RBACForbidden",
        r"cannot [a-z]+ resource \"[\w./-]+\" in api group",
        0.4,
        "rbac denial",
    ),
    _p(
        "CertificateError",
        r"failed to verify certificate|certificate signed by unknown authority|certificate has expired|"
        r"certificate is valid for|errgetkeypair|acme-challenge|challenge propagation",
        0.5,
        "tls verification",
    ),
)


def match_patterns(text: str) -> dict[str, tuple[float, list[str]]]:
    """Per category: the summed weight of matching patterns and their labels."""
    scores: dict[str, tuple[float, list[str]]] = {}
    for pattern in PATTERNS:
        if pattern.regex.search(text):
            weight, labels = scores.get(pattern.category, (0.0, []))
            scores[pattern.category] = (weight + pattern.weight, [*labels, pattern.label])
    return scores
