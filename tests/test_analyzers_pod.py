"""Pod-level analyzers: ImagePullBackOff, CreateContainerConfigError, CreateContainerError,
InitContainerFailure, ProbeFailure, VolumeMountFailure, Evicted.

Table-driven over seeded evidence (the objects an inspection would have read), k8sgpt-style,
plus graph runs through the real SnapshotReader over the eval cases of these categories.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evals.cases import load_case
from evals.scoring import score
from graph.analysis import run_analyzers
from graph.analyzers.base import Analyzer, Fact, Finding
from graph.analyzers.common import clip, error_lines, similar_names
from graph.analyzers.createcontainer import CreateContainerErrorAnalyzer
from graph.analyzers.createcontainerconfig import CreateContainerConfigErrorAnalyzer
from graph.analyzers.evicted import EvictedAnalyzer
from graph.analyzers.imagepull import ImagePullBackOffAnalyzer, node_identity, split_image
from graph.analyzers.initcontainer import InitContainerFailureAnalyzer
from graph.analyzers.probe import ProbeFailureAnalyzer, listening_ports
from graph.analyzers.volumemount import VolumeMountFailureAnalyzer
from graph.builder import graph
from graph.context import Context, Deps
from graph.evidence import EvidenceView, K8sObject, empty_evidence, key_of, log_key
from graph.k8s import evidence_now, is_stale, unhealthy_score
from graph.safety import unsafe_reason
from graph.schemas import ReadSpec
from tools.snapshot import SnapshotReader

NS = "shop"
CASES = Path(__file__).resolve().parents[1] / "evals" / "cases"
POD = "api-6d4f9c7b8-x2x9q"


# --- builders: the smallest objects that still look like what the API returns ---


def _meta(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": NS, "uid": f"uid-{name}", **extra}


def _owner(kind: str, name: str) -> list[dict[str, Any]]:
    return [{"kind": kind, "name": name, "controller": True, "uid": f"uid-{name}"}]


def container(name: str = "api", **extra: Any) -> K8sObject:
    return {"name": name, "image": f"registry.example.com/team/{name}:2.0.0", **extra}


def pod(
    name: str = POD,
    containers: list[K8sObject] | None = None,
    statuses: list[K8sObject] | None = None,
    *,
    init: list[K8sObject] | None = None,
    init_statuses: list[K8sObject] | None = None,
    phase: str = "Running",
    spec: dict[str, Any] | None = None,
    status: dict[str, Any] | None = None,
    labels: dict[str, str] | None = None,
) -> K8sObject:
    rs = name.rsplit("-", 1)[0]
    body: dict[str, Any] = {"containers": containers or [container()], "nodeName": "node-1", **(spec or {})}
    if init:
        body["initContainers"] = init
    pod_status: dict[str, Any] = {"phase": phase, "containerStatuses": statuses or [], **(status or {})}
    if init_statuses:
        pod_status["initContainerStatuses"] = init_statuses
    return {
        "kind": "Pod",
        "metadata": _meta(
            name,
            ownerReferences=_owner("ReplicaSet", rs),
            labels={"app": "api", "pod-template-hash": rs.rsplit("-", 1)[1], **(labels or {})},
        ),
        "spec": body,
        "status": pod_status,
    }


def replicaset(name: str, containers: list[K8sObject], ready: int = 0) -> K8sObject:
    status: dict[str, Any] = {"replicas": 2}
    if ready:
        status["readyReplicas"] = ready
    return {
        "kind": "ReplicaSet",
        "metadata": _meta(name, ownerReferences=_owner("Deployment", "api")),
        "spec": {"template": {"spec": {"containers": containers}}},
        "status": status,
    }


DEPLOYMENT: K8sObject = {"kind": "Deployment", "metadata": _meta("api"), "spec": {}, "status": {}}


def waiting(reason: str, message: str | None = None, name: str = "api", **extra: Any) -> K8sObject:
    state: dict[str, Any] = {"reason": reason}
    if message is not None:
        state["message"] = message
    return {"name": name, "ready": False, "restartCount": 0, "state": {"waiting": state}, **extra}


def crashed(name: str, reason: str, code: int, message: str | None = None, restarts: int = 5) -> K8sObject:
    last: dict[str, Any] = {"reason": reason, "exitCode": code}
    if message:
        last["message"] = message
    return waiting(
        "CrashLoopBackOff", "back-off 5m0s", name=name, restartCount=restarts, lastState={"terminated": last}
    )


def running(
    name: str = "api", ready: bool = True, restarts: int = 0, last: dict[str, Any] | None = None
) -> K8sObject:
    return {
        "name": name,
        "ready": ready,
        "restartCount": restarts,
        "state": {"running": {"startedAt": "2024-05-01T09:00:00Z"}},
        "lastState": {"terminated": last} if last else {},
    }


def event(
    reason: str, message: str, *, target: str = POD, kind: str = "Pod", field: str | None = None
) -> K8sObject:
    involved: dict[str, Any] = {"kind": kind, "name": target, "namespace": NS}
    if field:
        involved["fieldPath"] = field
    return {
        "kind": "Event",
        "metadata": _meta(f"{target}.{abs(hash(reason + message)) % 10**8:08x}"),
        "involvedObject": involved,
        "reason": reason,
        "message": message,
        "count": 3,
        "lastTimestamp": "2024-05-01T10:00:00Z",
    }


def view_of(
    objects: list[K8sObject],
    *,
    logs: dict[tuple[str, str, bool], str] | None = None,
    reads: dict[str, str] | None = None,
) -> EvidenceView:
    evidence = empty_evidence(NS)
    for obj in objects:
        evidence["objects"][key_of(obj)] = obj
    for (pod_name, container_name, previous), text in (logs or {}).items():
        evidence["logs"][log_key(NS, pod_name, container_name, previous)] = text
    evidence["focus"] = [key_of(o) for o in objects if o.get("kind") == "Pod"][:1]
    evidence["reads"].update(reads or {})
    return EvidenceView(evidence, "", {}, [])


def analyze(analyzer: Analyzer, view: EvidenceView) -> Finding:
    finding = analyzer.analyze(view)
    assert finding is not None, f"{analyzer.category} found nothing"
    for command in finding.fix_commands:
        assert unsafe_reason(command) is None, command
    return finding


def text_of(finding: Finding) -> str:
    return " ".join([finding.root_cause, *(f.text for f in finding.facts)])


def fixes_of(finding: Finding) -> str:
    return "\n".join(finding.fix_commands)


def absent(kind: str, name: str) -> dict[str, str]:
    return {ReadSpec(verb="get", kind=kind, namespace=NS, name=name).key(): "no_data"}


# --- shared helpers ---


@pytest.mark.parametrize(
    ("name", "candidates", "expected"),
    [
        ("gateway-nginx-conf", ["gateway-nginx-config", "kube-root-ca.crt"], ["gateway-nginx-config"]),
        ("audit-db-credentials", ["audit-api-db-credentials", "audit-api-tls"], ["audit-api-db-credentials"]),
        ("redis-mastr", ["redis-master", "redis-replicas"], ["redis-master"]),
        # A different word is another object, not a rename, however many letters match.
        ("billing-worker-env", ["billing-worker-cron", "billing-api-config"], []),
        ("payments-db", ["payments-api"], []),
    ],
)
def test_similar_names_compares_word_by_word(name: str, candidates: list[str], expected: list[str]) -> None:
    assert similar_names(name, candidates) == expected


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("nginx", ("docker.io", "library/nginx", "latest")),
        ("fluent/fluent-bit:3.1.4", ("docker.io", "fluent/fluent-bit", "3.1.4")),
        ("ghcr.io/acme/web:v2", ("ghcr.io", "acme/web", "v2")),
        ("registry.local:5000/team/app@sha256:abc", ("registry.local:5000", "team/app", "sha256:abc")),
    ],
)
def test_split_image(image: str, expected: tuple[str, str, str]) -> None:
    assert split_image(image) == expected


# --- ImagePullBackOff ---

_IMG = "registry.example.com/team/api:2.0.0"


@pytest.mark.parametrize(
    ("message", "root_id", "in_fix"),
    [
        (
            f'Failed to pull image "{_IMG}": rpc error: code = NotFound desc = failed to resolve reference '
            f'"{_IMG}": registry.example.com/team/api:2.0.0: not found',
            "imagepull.not-found",
            "crane ls registry.example.com/team/api",
        ),
        (
            f'Failed to pull image "{_IMG}": failed to authorize: failed to fetch anonymous token: 401 Unauthorized',
            "imagepull.auth",
            "kubectl create secret docker-registry",
        ),
        (
            f'Failed to pull image "{_IMG}": 429 Too Many Requests - Server message: toomanyrequests: You have '
            "reached your pull rate limit.",
            "imagepull.rate-limit",
            "docker-registry",
        ),
        (
            f'Failed to pull image "{_IMG}": no matching manifest for linux/arm64/v8 in the manifest list entries',
            "imagepull.architecture",
            "--platform linux/amd64,linux/arm64",
        ),
        (
            f'Failed to pull image "{_IMG}": failed to extract layer sha256:1: write /var/lib/containerd/x: no space '
            "left on device: unknown",
            "imagepull.disk-full",
            "df -h",
        ),
        (
            f'Failed to pull image "{_IMG}": dial tcp: lookup registry.example.com on 10.0.0.2:53: no such host',
            "imagepull.unreachable",
            "nslookup registry.example.com",
        ),
    ],
)
def test_image_pull_sub_causes(message: str, root_id: str, in_fix: str) -> None:
    view = view_of(
        [
            pod(statuses=[waiting("ImagePullBackOff", f'Back-off pulling image "{_IMG}"', image=_IMG)]),
            event("Failed", message, field="spec.containers{api}"),
            event("Failed", "Error: ErrImagePull", field="spec.containers{api}"),
        ],
        reads=absent("ServiceAccount", "default"),
    )
    finding = analyze(ImagePullBackOffAnalyzer(), view)
    assert finding.root_cause_id == root_id
    assert in_fix in fixes_of(finding)
    assert finding.score >= 0.9


def test_short_names_on_cri_o_get_the_fully_qualified_image() -> None:
    message = (
        'Failed to pull image "nginx:1.27": short-name "nginx:1.27" did not resolve to an alias and no '
        'unqualified-search registries are defined in "/etc/containers/registries.conf"'
    )
    view = view_of(
        [
            pod(
                containers=[container(image="nginx:1.27")],
                statuses=[waiting("ErrImagePull", message, image="nginx:1.27")],
            )
        ]
    )
    finding = analyze(ImagePullBackOffAnalyzer(), view)
    assert finding.root_cause_id == "imagepull.short-name"
    assert "api=docker.io/library/nginx:1.27" in fixes_of(finding)


def test_not_found_rolls_back_to_the_image_the_previous_replicaset_serves() -> None:
    old = replicaset("api-5f8b6d7c4", [container(image="registry.example.com/team/api:1.9.3")], ready=2)
    view = view_of(
        [
            pod(statuses=[waiting("ErrImagePull", "manifest unknown", image=_IMG)]),
            old,
            replicaset("api-6d4f9c7b8", [container()]),
            DEPLOYMENT,
        ]
    )
    finding = analyze(ImagePullBackOffAnalyzer(), view)
    assert (
        "kubectl set image deployment/api -n shop api=registry.example.com/team/api:1.9.3"
        in finding.fix_commands
    )


def test_auth_failure_names_the_missing_pull_secret_and_creates_it() -> None:
    view = view_of(
        [
            pod(
                statuses=[waiting("ImagePullBackOff", image=_IMG)],
                spec={"imagePullSecrets": [{"name": "team-registry"}]},
            ),
            event("Failed", f'Failed to pull image "{_IMG}": unexpected status: 401 Unauthorized'),
        ],
        reads=absent("Secret", "team-registry"),
    )
    finding = analyze(ImagePullBackOffAnalyzer(), view)
    assert "team-registry" in finding.root_cause and "does not exist" in finding.root_cause
    assert fixes_of(finding).startswith("kubectl create secret docker-registry team-registry -n shop")


def test_image_pull_plan_reads_credentials_only_for_auth_errors() -> None:
    base = pod(
        statuses=[waiting("ErrImagePull", image=_IMG)], spec={"imagePullSecrets": [{"name": "regcred"}]}
    )
    denied = view_of([base, event("Failed", f'Failed to pull image "{_IMG}": pull access denied')])
    assert {(s.kind, s.name) for s in ImagePullBackOffAnalyzer().plan(denied)} == {
        ("Secret", "regcred"),
        ("ServiceAccount", "default"),
    }
    missing_tag = view_of([base, event("Failed", f'Failed to pull image "{_IMG}": not found')])
    assert ImagePullBackOffAnalyzer().plan(missing_tag) == []


def test_an_empty_tag_keeps_a_placeholder_instead_of_latest() -> None:
    bad = "registry.example.com/team/api:"
    message = f'Failed to apply default image tag "{bad}": couldn\'t parse image reference "{bad}": invalid reference format'
    view = view_of([pod(containers=[container(image=bad)], statuses=[waiting("InvalidImageName", message)])])
    finding = analyze(ImagePullBackOffAnalyzer(), view)
    assert "The tag is empty" in finding.root_cause
    assert "api=registry.example.com/team/api:<tag>" in fixes_of(finding)


def test_invalid_image_name_proposes_a_parseable_reference() -> None:
    bad = "Registry.Example.com/Team/API:2.0.0"
    view = view_of(
        [
            pod(
                containers=[container(image=bad)],
                statuses=[
                    waiting(
                        "InvalidImageName",
                        f'Failed to apply default image tag "{bad}": invalid reference format',
                    )
                ],
            )
        ]
    )
    finding = analyze(ImagePullBackOffAnalyzer(), view)
    assert finding.root_cause_id == "imagepull.invalid-name"
    assert "api=registry.example.com/team/api:2.0.0" in fixes_of(finding)


# --- CreateContainerConfigError ---


def test_missing_key_points_back_at_the_key_the_serving_version_reads() -> None:
    env_new = [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "DB_PASSWORD"}}}]
    env_old = [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}]
    message = "couldn't find key DB_PASSWORD in Secret shop/db"
    view = view_of(
        [
            pod(
                containers=[container(env=env_new)], statuses=[waiting("CreateContainerConfigError", message)]
            ),
            replicaset("api-5f8b6d7c4", [container(env=env_old)], ready=2),
            replicaset("api-6d4f9c7b8", [container(env=env_new)]),
            DEPLOYMENT,
            {"kind": "Secret", "metadata": _meta("db"), "type": "Opaque"},
        ]
    )
    finding = analyze(CreateContainerConfigErrorAnalyzer(), view)
    assert finding.root_cause_id == "createconfig.missing-key"
    assert "no key DB_PASSWORD" in finding.root_cause and "password" in finding.root_cause
    assert (
        '"path":"/spec/template/spec/containers/0/env/0/valueFrom/secretKeyRef/key","value":"password"'
        in (fixes_of(finding))
    )
    assert "kubectl patch secret db -n shop --type=merge" in fixes_of(finding)


@pytest.mark.parametrize(
    ("message", "existing", "root_id", "in_fix"),
    [
        (
            'configmap "api-env" not found',
            [],
            "createconfig.missing-configmap",
            "kubectl create configmap api-env -n shop --from-env-file=<file>",
        ),
        (
            'secret "db-credentials" not found',
            ["api-db-credentials"],
            "createconfig.missing-secret",
            '"value":"api-db-credentials"',
        ),
    ],
)
def test_missing_object(message: str, existing: list[str], root_id: str, in_fix: str) -> None:
    kind = "ConfigMap" if message.startswith("configmap") else "Secret"
    ref_field = {"configMapRef": {"name": "api-env"}} if kind == "ConfigMap" else None
    spec = (
        container(envFrom=[ref_field])
        if ref_field
        else container(
            env=[
                {"name": "DB_USER", "valueFrom": {"secretKeyRef": {"name": "db-credentials", "key": "user"}}}
            ]
        )
    )
    objects = [pod(containers=[spec], statuses=[waiting("CreateContainerConfigError", message)]), DEPLOYMENT]
    objects += [{"kind": kind, "metadata": _meta(name)} for name in existing]
    finding = analyze(CreateContainerConfigErrorAnalyzer(), view_of(objects))
    assert finding.root_cause_id == root_id
    assert in_fix in fixes_of(finding)


def test_run_as_non_root_sets_a_user_on_the_named_container() -> None:
    message = 'container has runAsNonRoot and image will run as root (pod: "x", container: api)'
    finding = analyze(
        CreateContainerConfigErrorAnalyzer(),
        view_of([pod(statuses=[waiting("CreateContainerConfigError", message)]), DEPLOYMENT]),
    )
    assert finding.root_cause_id == "createconfig.run-as-non-root"
    assert '"name":"api","securityContext":{"runAsUser":10001' in fixes_of(finding)


def test_config_plan_gets_the_object_then_lists_similar_names_once_it_is_absent() -> None:
    objects = [pod(statuses=[waiting("CreateContainerConfigError", 'secret "db" not found')])]
    first = CreateContainerConfigErrorAnalyzer().plan(view_of(objects))
    assert [(s.verb, s.kind, s.name) for s in first] == [("get", "Secret", "db")]
    second = CreateContainerConfigErrorAnalyzer().plan(view_of(objects, reads=absent("Secret", "db")))
    # The namespace's Secrets (a misspelled reference), and one narrow cluster-wide list by name (the Secret
    # may live in another namespace, which a pod cannot reference).
    assert [(s.verb, s.kind, s.namespace, s.field_selector) for s in second] == [
        ("list", "Secret", second[0].namespace, None),
        ("list", "Secret", None, "metadata.name=db"),
    ]
    assert second[0].namespace


# --- CreateContainerError ---


def test_start_error_under_crashloop_is_a_create_container_error() -> None:
    message = (
        "failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create "
        'failed: unable to start container process: exec: "gunicorn": executable file not found in $PATH: unknown'
    )
    view = view_of(
        [
            pod(
                containers=[container(command=["gunicorn"], args=["app:wsgi"])],
                statuses=[crashed("api", "StartError", 128, message)],
            ),
            DEPLOYMENT,
        ]
    )
    findings = run_analyzers(view)
    assert findings[0].category == "CreateContainerError"
    top = findings[0]
    assert top.root_cause_id == "createcontainer.executable-not-found"
    assert 'exec: "gunicorn": executable file not found in $PATH' in top.root_cause
    assert '"path":"/spec/template/spec/containers/0/command"' in fixes_of(top)


def test_exec_format_error_in_the_log_names_the_node_architecture() -> None:
    node = {"kind": "Node", "metadata": {"name": "node-1", "labels": {"kubernetes.io/arch": "amd64"}}}
    view = view_of(
        [pod(statuses=[crashed("api", "Error", 1)]), node, DEPLOYMENT],
        logs={(POD, "api", True): "exec /usr/local/bin/api: exec format error"},
    )
    findings = run_analyzers(view)
    assert findings[0].category == "CreateContainerError"
    assert findings[0].root_cause_id == "createcontainer.exec-format"
    assert "amd64" in findings[0].root_cause
    assert "--platform linux/amd64" in fixes_of(findings[0])


def test_directory_mounted_onto_a_file_adds_a_sub_path() -> None:
    message = (
        'error mounting "/var/lib/kubelet/pods/u/volumes/kubernetes.io~configmap/conf" to rootfs at '
        '"/etc/nginx/nginx.conf": mount src:dst (via /proc/self/fd/6), flags: 0x5001: not a directory: unknown'
    )
    mounts = [{"name": "conf", "mountPath": "/etc/nginx/nginx.conf"}]
    view = view_of(
        [
            pod(
                containers=[container(volumeMounts=mounts)],
                statuses=[crashed("api", "StartError", 128, message)],
            )
        ]
    )
    finding = analyze(CreateContainerErrorAnalyzer(), view)
    assert finding.root_cause_id == "createcontainer.bad-mount-path"
    assert "/etc/nginx/nginx.conf" in finding.root_cause and "not a directory" in finding.root_cause
    assert (
        '"op":"add","path":"/spec/template/spec/containers/0/volumeMounts/0/subPath","value":"nginx.conf"'
        in (fixes_of(finding))
    )


def test_init_container_start_errors_belong_to_the_init_label() -> None:
    view = view_of(
        [
            pod(
                init=[container("setup")],
                init_statuses=[
                    crashed("setup", "StartError", 128, 'exec: "setup.sh": executable file not found')
                ],
                statuses=[waiting("PodInitializing")],
                phase="Pending",
            )
        ]
    )
    assert CreateContainerErrorAnalyzer().analyze(view) is None
    assert run_analyzers(view)[0].category == "InitContainerFailure"


# --- InitContainerFailure ---


def _init_pod(log_name: str = "migrate", image_pull: bool = False) -> K8sObject:
    state = (
        waiting("ImagePullBackOff", name=log_name)
        if image_pull
        else crashed(log_name, "Error", 1, restarts=8)
    )
    return pod(
        init=[container(log_name, envFrom=[{"configMapRef": {"name": "api-config"}}])],
        init_statuses=[state],
        statuses=[waiting("PodInitializing")],
        phase="Pending",
    )


def _service(name: str, port: int, selector: dict[str, str]) -> K8sObject:
    return {
        "kind": "Service",
        "metadata": _meta(name),
        "spec": {"selector": selector, "ports": [{"port": port}]},
    }


def test_unknown_host_proposes_the_service_on_the_same_port_and_patches_its_source() -> None:
    log = "Caused by: java.net.UnknownHostException: api-db.shop.svc.cluster.local\njdbc:postgresql://api-db.shop.svc.cluster.local:5432/app"
    objects = [
        _init_pod(),
        DEPLOYMENT,
        _service("api", 5432, {"app": "api"}),  # the pod's own Service, even on a matching port, is not it
        _service("api-web", 80, {"app": "web"}),
        _service("shop-postgres", 5432, {"app": "postgres"}),
        {
            "kind": "ConfigMap",
            "metadata": _meta("api-config"),
            "data": {"DB_HOST": "api-db.shop.svc.cluster.local"},
        },
    ]
    reads = {ReadSpec(verb="list", kind="Service", namespace=NS).key(): "ok"}
    finding = analyze(
        InitContainerFailureAnalyzer(), view_of(objects, logs={(POD, "migrate", True): log}, reads=reads)
    )
    assert finding.root_cause_id == "init.unknown-host"
    assert "shop-postgres" in finding.root_cause
    assert '"DB_HOST":"shop-postgres.shop.svc.cluster.local"' in fixes_of(finding)
    assert "kubectl rollout restart deployment/api -n shop" in finding.fix_commands


def test_init_plan_reads_the_log_then_the_services_the_log_points_at() -> None:
    objects = [_init_pod()]
    plan = InitContainerFailureAnalyzer().plan(view_of(objects))
    assert [(s.verb, s.container, s.previous) for s in plan] == [("logs", "migrate", True)]
    log = {(POD, "migrate", True): "dial tcp: lookup api-db on 10.96.0.10:53: no such host"}
    kinds = {(s.verb, s.kind) for s in InitContainerFailureAnalyzer().plan(view_of(objects, logs=log))}
    assert ("list", "Service") in kinds and ("get", "ConfigMap") in kinds


@pytest.mark.parametrize(
    ("log", "root_id", "quoted"),
    [
        (
            'ERROR: Migration V7__orders.sql failed\nMessage    : ERROR: relation "orders" already exists',
            "init.migration-failed",
            'relation "orders" already exists',
        ),
        (
            "Could not connect to Redis at redis.shop.svc.cluster.local:6379: Connection refused",
            "init.dependency-unreachable",
            "redis.shop.svc.cluster.local:6379",
        ),
        ("chown: /data/db: Operation not permitted", "init.permission-denied", "Operation not permitted"),
    ],
)
def test_init_failure_reasons(log: str, root_id: str, quoted: str) -> None:
    finding = analyze(
        InitContainerFailureAnalyzer(), view_of([_init_pod()], logs={(POD, "migrate", True): log})
    )
    assert finding.root_cause_id == root_id
    assert quoted in text_of(finding)
    assert "kubectl logs api-6d4f9c7b8-x2x9q -n shop -c migrate --previous" in finding.fix_commands


def test_dependency_without_ready_endpoints_is_named() -> None:
    endpoints = {"kind": "Endpoints", "metadata": _meta("redis")}
    log = {
        (
            POD,
            "migrate",
            True,
        ): "Could not connect to Redis at redis.shop.svc.cluster.local:6379: Connection refused"
    }
    objects = [_init_pod(), _service("redis", 6379, {"app": "redis"}), endpoints]
    finding = analyze(InitContainerFailureAnalyzer(), view_of(objects, logs=log))
    assert "Service redis has no ready endpoints" in finding.root_cause
    assert "kubectl get pods -n shop -l app=redis -o wide" in finding.fix_commands


def test_init_container_looping_forever_on_a_missing_service() -> None:
    script = "until nslookup search.shop.svc.cluster.local; do echo waiting for search; sleep 2; done"
    stuck = pod(
        init=[container("wait-for-search", command=["sh", "-c", script])],
        init_statuses=[running("wait-for-search", ready=False)],
        statuses=[waiting("PodInitializing")],
        phase="Pending",
    )
    log = "** server can't find search.shop.svc.cluster.local: NXDOMAIN\nwaiting for search\n" * 5
    objects = [
        stuck,
        DEPLOYMENT,
        _service("search-master", 9200, {"app": "search"}),
        _service("api", 80, {"app": "api"}),
    ]
    plan = InitContainerFailureAnalyzer().plan(view_of(objects[:1]))
    assert [(s.verb, s.container, s.previous) for s in plan] == [("logs", "wait-for-search", False)]
    finding = analyze(
        InitContainerFailureAnalyzer(), view_of(objects, logs={(POD, "wait-for-search", False): log})
    )
    assert finding.root_cause_id == "init.unknown-host"
    assert "never completes" in finding.root_cause and "search-master" in finding.root_cause
    assert (
        "until nslookup search-master.shop.svc.cluster.local; do echo waiting for search-master"
        in fixes_of(finding)
    )


def test_a_running_init_container_without_a_telling_log_is_only_a_weak_finding() -> None:
    stuck = pod(
        init=[container("warm-cache")],
        init_statuses=[running("warm-cache", ready=False)],
        statuses=[waiting("PodInitializing")],
        phase="Pending",
    )
    finding = analyze(
        InitContainerFailureAnalyzer(), view_of([stuck], logs={(POD, "warm-cache", False): "loaded 10 keys"})
    )
    assert finding.score <= 0.5


def test_init_image_pull_is_left_to_the_image_pull_label() -> None:
    view = view_of([_init_pod(image_pull=True)])
    assert InitContainerFailureAnalyzer().analyze(view) is None
    assert run_analyzers(view)[0].category == "ImagePullBackOff"


# --- ProbeFailure ---


def _probe_pod(
    probe_field: str, probe: dict[str, Any], status: K8sObject, ports: list[int] | None = None
) -> K8sObject:
    return pod(
        containers=[container(ports=[{"containerPort": p} for p in ports or [8080]], **{probe_field: probe})],
        statuses=[status],
    )


def test_liveness_on_the_wrong_port_uses_the_port_the_app_listens_on() -> None:
    probe = {"httpGet": {"path": "/healthz", "port": 8081}, "initialDelaySeconds": 10}
    objects = [
        _probe_pod(
            "livenessProbe",
            probe,
            running(restarts=12, last={"reason": "Completed", "exitCode": 0}),
            [8080, 9090],
        ),
        DEPLOYMENT,
        event(
            "Unhealthy",
            'Liveness probe failed: Get "http://10.0.0.5:8081/healthz": dial tcp 10.0.0.5:8081: connect: connection refused',
            field="spec.containers{api}",
        ),
        event(
            "Killing", "Container api failed liveness probe, will be restarted", field="spec.containers{api}"
        ),
    ]
    log = '{"msg":"metrics listening","addr":":9090"}\n{"time":"12:00:01","msg":"http server listening","addr":":8080"}'
    findings = run_analyzers(view_of(objects, logs={(POD, "api", False): log}))
    top = findings[0]
    assert (top.category, top.root_cause_id) == ("ProbeFailure", "probe.wrong-port")
    assert "8081" in top.root_cause and "8080" in top.root_cause
    assert '"name":"api","livenessProbe":{"httpGet":{"port":8080}}' in fixes_of(top)


@pytest.mark.parametrize(
    ("failure", "probe", "log", "root_id", "in_fix"),
    [
        (
            "Readiness probe failed: HTTP probe failed with statuscode: 404",
            {"httpGet": {"path": "/health", "port": 8080}},
            '{"msg":"routes","routes":["/v1/items","/healthz"]}',
            "probe.wrong-path",
            '"readinessProbe":{"httpGet":{"path":"/healthz"}}',
        ),
        (
            'Readiness probe failed: Get "http://10.0.0.5:8080/ready": context deadline exceeded (Client.Timeout '
            "exceeded while awaiting headers)",
            {"httpGet": {"path": "/ready", "port": 8080}, "timeoutSeconds": 1},
            "",
            "probe.timeout",
            '"readinessProbe":{"timeoutSeconds":5}',
        ),
        (
            'Readiness probe failed: Get "http://10.0.0.5:8080/ready": dial tcp 10.0.0.5:8080: connect: connection refused',
            {"httpGet": {"path": "/ready", "port": 8080}, "initialDelaySeconds": 5},
            "Loading model 3/9 shards",
            "probe.slow-start",
            '"startupProbe":{"httpGet":{"path":"/ready","port":8080}',
        ),
    ],
)
def test_readiness_failures(failure: str, probe: dict[str, Any], log: str, root_id: str, in_fix: str) -> None:
    objects = [
        _probe_pod("readinessProbe", probe, running(ready=False)),
        DEPLOYMENT,
        event("Unhealthy", failure, field="spec.containers{api}"),
    ]
    finding = analyze(
        ProbeFailureAnalyzer(), view_of(objects, logs={(POD, "api", False): log} if log else None)
    )
    assert finding.root_cause_id == root_id
    assert in_fix in fixes_of(finding)
    assert finding.score >= 0.85


def test_unhealthy_answer_names_the_dependency_service_from_the_log() -> None:
    objects = [
        _probe_pod("readinessProbe", {"httpGet": {"path": "/ready", "port": 8080}}, running(ready=False)),
        DEPLOYMENT,
        event(
            "Unhealthy",
            "Readiness probe failed: HTTP probe failed with statuscode: 503",
            field="spec.containers{api}",
        ),
        _service("api", 80, {"app": "api"}),
        _service("session-redis", 6379, {"app": "session-redis"}),
    ]
    objects[-1]["spec"]["clusterIP"] = "10.52.7.19"
    log = '{"msg":"readiness check failed","error":"dial tcp 10.52.7.19:6379: connect: connection refused"}'
    view = view_of(objects[:3], logs={(POD, "api", False): log})
    assert ("list", "Service") in [(s.verb, s.kind) for s in ProbeFailureAnalyzer().plan(view)]
    finding = analyze(ProbeFailureAnalyzer(), view_of(objects, logs={(POD, "api", False): log}))
    assert finding.root_cause_id == "probe.dependency-down"
    assert "Service session-redis" in finding.root_cause
    assert "kubectl get pods -n shop -l app=session-redis -o wide" in finding.fix_commands


def test_failing_startup_probe_gets_more_time_not_a_second_startup_probe() -> None:
    startup = {"httpGet": {"path": "/started", "port": 8080}, "periodSeconds": 10, "failureThreshold": 6}
    objects = [
        _probe_pod(
            "startupProbe",
            startup,
            running(ready=False, restarts=4, last={"reason": "Error", "exitCode": 137}),
        ),
        DEPLOYMENT,
        event(
            "Unhealthy",
            'Startup probe failed: Get "http://10.0.0.5:8080/started": dial tcp 10.0.0.5:8080: connect: connection refused',
            field="spec.containers{api}",
        ),
        event(
            "Killing", "Container api failed startup probe, will be restarted", field="spec.containers{api}"
        ),
    ]
    finding = analyze(ProbeFailureAnalyzer(), view_of(objects))
    assert finding.root_cause_id == "probe.slow-start"
    assert '"startupProbe":{"failureThreshold":30,"periodSeconds":10}' in fixes_of(finding)


def test_expired_events_still_show_a_liveness_probe_on_an_undeclared_port() -> None:
    probe = {"httpGet": {"path": "/healthz", "port": 8081}}
    objects = [
        _probe_pod(
            "livenessProbe", probe, running(restarts=30, last={"reason": "Completed", "exitCode": 0}), [8080]
        ),
        DEPLOYMENT,
    ]
    finding = analyze(ProbeFailureAnalyzer(), view_of(objects))
    assert finding.root_cause_id == "probe.wrong-port"
    assert '"livenessProbe":{"httpGet":{"port":8080}}' in fixes_of(finding)
    assert finding.missing


def test_sigterm_exits_with_a_quiet_log_point_at_liveness_even_without_events() -> None:
    probe = {"httpGet": {"path": "/healthz", "port": 8080}}
    objects = [_probe_pod("livenessProbe", probe, crashed("api", "Error", 143)), DEPLOYMENT]
    log = {(POD, "api", True): "starting\nloading catalog 40%\nloading catalog 80%"}
    findings = run_analyzers(view_of(objects, logs=log))
    assert (findings[0].category, findings[0].root_cause_id) == ("ProbeFailure", "probe.liveness-failing")


def test_readiness_noise_of_a_crashing_app_is_left_to_crashloop() -> None:
    objects = [
        _probe_pod(
            "readinessProbe", {"httpGet": {"path": "/ready", "port": 8080}}, crashed("api", "Error", 1)
        ),
        DEPLOYMENT,
        event(
            "Unhealthy",
            'Readiness probe failed: Get "http://10.0.0.5:8080/ready": dial tcp 10.0.0.5:8080: connect: connection refused',
            field="spec.containers{api}",
        ),
    ]
    view = view_of(objects, logs={(POD, "api", True): "panic: missing DATABASE_URL"})
    probe = ProbeFailureAnalyzer().analyze(view)
    assert probe is not None and probe.score <= 0.5
    assert run_analyzers(view)[0].category == "CrashLoopBackOff"


@pytest.mark.parametrize(
    ("log", "ports"),
    [
        ('{"time":"2024-02-06T15:32:10.930Z","msg":"http server listening","addr":":8080"}', [(8080, False)]),
        ("2024-01-01 10:00:00,123 INFO Listening on 0.0.0.0:3000", [(3000, False)]),
        (
            "Started ServerConnector@1{HTTP/1.1}{0.0.0.0:8080}; metrics server listening on port 9090",
            [(8080, True), (9090, True)],
        ),
        ("12:00:01 ready", []),
    ],
)
def test_listening_ports_ignore_clock_times(log: str, ports: list[tuple[int, bool]]) -> None:
    assert listening_ports(log) == ports


# --- VolumeMountFailure ---


def _mounting_pod(volumes: list[dict[str, Any]]) -> K8sObject:
    return pod(statuses=[waiting("ContainerCreating")], phase="Pending", spec={"volumes": volumes})


@pytest.mark.parametrize(
    ("message", "volumes", "extra", "root_id", "in_fix"),
    [
        (
            'MountVolume.SetUp failed for volume "conf" : configmap "api-conf" not found',
            [{"name": "conf", "configMap": {"name": "api-conf"}}],
            [{"kind": "ConfigMap", "metadata": _meta("api-config")}],
            "volume.missing-configmap",
            '"path":"/spec/template/spec/volumes/0/configMap/name","value":"api-config"',
        ),
        (
            'MountVolume.SetUp failed for volume "tls" : secret "api-tls" not found',
            [{"name": "tls", "secret": {"secretName": "api-tls"}}],
            [],
            "volume.missing-secret",
            "kubectl create secret generic api-tls -n shop",
        ),
        (
            'Multi-Attach error for volume "pvc-123" Volume is already used by pod(s) api-5f8b6d7c4-abcde',
            [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}],
            [
                {
                    "kind": "PersistentVolumeClaim",
                    "metadata": _meta("data"),
                    "spec": {"accessModes": ["ReadWriteOnce"], "volumeName": "pvc-123"},
                }
            ],
            "volume.multi-attach",
            '"strategy":{"type":"Recreate"',
        ),
        (
            'MountVolume.SetUp failed for volume "media" : mount failed: exit status 32\nMounting arguments: -t nfs '
            "10.1.2.3:/exports/media /var/lib/kubelet/x\nOutput: mount.nfs: Connection timed out",
            [{"name": "media", "nfs": {"server": "10.1.2.3", "path": "/exports/media"}}],
            [],
            "volume.nfs",
            "nc -zv -w 3 10.1.2.3 2049",
        ),
        (
            'MountVolume.MountDevice failed for volume "pvc-9" : kubernetes.io/csi: attacher.MountDevice failed to create '
            "newCsiDriverClient: driver name ebs.csi.aws.com not found in the list of registered CSI drivers",
            [],
            [],
            "volume.csi-driver-missing",
            "spec.nodeName=node-1",
        ),
    ],
)
def test_volume_sub_causes(
    message: str, volumes: list[dict[str, Any]], extra: list[K8sObject], root_id: str, in_fix: str
) -> None:
    reason = "FailedAttachVolume" if message.startswith("Multi-Attach") else "FailedMount"
    objects = [_mounting_pod(volumes), DEPLOYMENT, event(reason, message), *extra]
    objects.append(
        event(
            "FailedMount",
            "Unable to attach or mount volumes: unmounted volumes=[x], unattached volumes=[], failed to process "
            "volumes=[]: timed out waiting for the condition",
        )
    )
    finding = analyze(VolumeMountFailureAnalyzer(), view_of(objects))
    assert finding.root_cause_id == root_id
    assert in_fix in fixes_of(finding)
    assert finding.score >= 0.9


def test_zone_mismatch_pins_the_workload_to_the_disk_zone() -> None:
    claim = {
        "kind": "PersistentVolumeClaim",
        "metadata": _meta("data"),
        "spec": {"accessModes": ["ReadWriteOnce"], "volumeName": "pvc-77"},
    }
    volume = {
        "kind": "PersistentVolume",
        "metadata": {"name": "pvc-77"},
        "spec": {
            "nodeAffinity": {
                "required": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {
                                    "key": "topology.kubernetes.io/zone",
                                    "operator": "In",
                                    "values": ["eu-west-1a"],
                                }
                            ]
                        }
                    ]
                }
            }
        },
    }
    message = (
        'AttachVolume.Attach failed for volume "pvc-77" : rpc error: code = Internal desc = could not attach volume '
        '"vol-0abc" to node "i-0def": InvalidVolume.ZoneMismatch: The volume \'vol-0abc\' is not in the same '
        "availability zone as instance 'i-0def'"
    )
    mounting = _mounting_pod([{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}])
    first = VolumeMountFailureAnalyzer().plan(view_of([mounting, event("FailedAttachVolume", message)]))
    assert ("get", "PersistentVolumeClaim", "data") in [(s.verb, s.kind, s.name) for s in first]
    objects = [mounting, DEPLOYMENT, claim, volume, event("FailedAttachVolume", message)]
    finding = analyze(VolumeMountFailureAnalyzer(), view_of(objects))
    assert finding.root_cause_id == "volume.zone-mismatch"
    assert "eu-west-1a" in finding.root_cause
    assert '"nodeSelector":{"topology.kubernetes.io/zone":"eu-west-1a"}' in fixes_of(finding)


def test_without_mount_events_a_missing_configmap_volume_is_inferred_from_the_reads() -> None:
    stuck = _mounting_pod([{"name": "conf", "configMap": {"name": "api-conf"}}])
    view = view_of([stuck, DEPLOYMENT])
    assert [(s.verb, s.kind, s.name) for s in VolumeMountFailureAnalyzer().plan(view)] == [
        ("get", "ConfigMap", "api-conf")
    ]
    finding = analyze(
        VolumeMountFailureAnalyzer(), view_of([stuck, DEPLOYMENT], reads=absent("ConfigMap", "api-conf"))
    )
    assert finding.root_cause_id == "volume.missing-configmap"
    assert finding.facts[0].source.startswith("inferred")
    assert 0.7 <= finding.score < 0.93


def test_without_mount_events_a_claim_held_on_another_node_is_a_multi_attach() -> None:
    volumes = [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]
    holder = pod("api-5f8b6d7c4-old01", statuses=[running()], spec={"volumes": volumes, "nodeName": "node-2"})
    claim = {
        "kind": "PersistentVolumeClaim",
        "metadata": _meta("data"),
        "spec": {"accessModes": ["ReadWriteOnce"]},
    }
    finding = analyze(
        VolumeMountFailureAnalyzer(), view_of([_mounting_pod(volumes), holder, claim, DEPLOYMENT])
    )
    assert finding.root_cause_id == "volume.multi-attach"
    assert "api-5f8b6d7c4-old01" in finding.root_cause


def test_a_pasted_describe_line_explains_a_stuck_pod_whose_events_expired() -> None:
    paste = 'Warning  FailedMount  2m (x40 over 80m)  kubelet  MountVolume.SetUp failed for volume "tls" : secret "api-tls" not found'
    evidence = empty_evidence(NS)
    stuck = _mounting_pod([{"name": "tls", "secret": {"secretName": "api-tls"}}])
    evidence["objects"][key_of(stuck)] = stuck
    evidence["focus"] = [key_of(stuck)]
    finding = analyze(VolumeMountFailureAnalyzer(), EvidenceView(evidence, paste, {}, []))
    assert finding.root_cause_id == "volume.missing-secret"
    assert finding.facts[0] == Fact(
        'MountVolume.SetUp failed for volume "tls" : secret "api-tls" not found', "pasted text"
    )


def test_an_old_mount_event_on_a_running_pod_is_weak() -> None:
    objects = [
        pod(statuses=[running()]),
        event("FailedMount", 'MountVolume.SetUp failed for volume "conf" : configmap "x" not found'),
    ]
    finding = analyze(VolumeMountFailureAnalyzer(), view_of(objects))
    assert finding.score < 0.5


def test_volume_plan_lists_configmaps_only_for_a_missing_configmap() -> None:
    missing = view_of(
        [
            _mounting_pod([]),
            event("FailedMount", 'MountVolume.SetUp failed for volume "c" : configmap "x" not found'),
        ]
    )
    assert [(s.verb, s.kind) for s in VolumeMountFailureAnalyzer().plan(missing)] == [("list", "ConfigMap")]
    multi = view_of(
        [
            _mounting_pod([{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]),
            event(
                "FailedAttachVolume",
                'Multi-Attach error for volume "pvc-1" Volume is already exclusively attached',
            ),
        ]
    )
    assert [(s.verb, s.kind, s.name) for s in VolumeMountFailureAnalyzer().plan(multi)] == [
        ("get", "PersistentVolumeClaim", "data")
    ]


# --- Evicted ---


@pytest.mark.parametrize(
    ("message", "root_id", "in_fix", "quoted"),
    [
        (
            "Pod ephemeral local storage usage exceeds the total limit of containers 2Gi. ",
            "evicted.ephemeral-storage-limit",
            "--limits=ephemeral-storage=4Gi --requests=ephemeral-storage=2Gi",
            "2Gi",
        ),
        (
            'Container api exceeded its local ephemeral storage limit "500Mi". ',
            "evicted.container-ephemeral-limit",
            "-c api --limits=ephemeral-storage=1000Mi",
            "500Mi",
        ),
        (
            'Usage of EmptyDir volume "scratch" exceeds the limit "1Gi". ',
            "evicted.emptydir-size-limit",
            '"path":"/spec/template/spec/volumes/0/emptyDir/sizeLimit","value":"2Gi"',
            "scratch",
        ),
        (
            "The node was low on resource: memory. Threshold quantity: 100Mi, available: 71124Ki. Container api was "
            "using 3621508Ki, request is 512Mi, has larger consumption of memory. ",
            "evicted.node-memory-pressure",
            "-c api --requests=memory=",
            "512Mi",
        ),
        (
            "The node was low on resource: ephemeral-storage. Threshold quantity: 10Gi, available: 9Gi. Container api "
            "was using 38Gi, request is 0, has larger consumption of ephemeral-storage. ",
            "evicted.node-disk-pressure",
            "--requests=ephemeral-storage=",
            "DiskPressure=True",
        ),
    ],
)
def test_eviction_messages(message: str, root_id: str, in_fix: str, quoted: str) -> None:
    node = {
        "kind": "Node",
        "metadata": {"name": "node-1"},
        "status": {
            "conditions": [{"type": "DiskPressure", "status": "True", "reason": "KubeletHasDiskPressure"}]
        },
    }
    evicted = pod(
        containers=[container(resources={"limits": {"ephemeral-storage": "2Gi"}})],
        statuses=[
            {
                "name": "api",
                "ready": False,
                "restartCount": 0,
                "state": {"terminated": {"reason": "Error", "exitCode": 137}},
            }
        ],
        phase="Failed",
        status={"reason": "Evicted", "message": message},
        spec={"volumes": [{"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}}]},
    )
    finding = analyze(EvictedAnalyzer(), view_of([evicted, DEPLOYMENT, node]))
    assert finding.root_cause_id == root_id
    assert in_fix in fixes_of(finding)
    assert quoted in text_of(finding)
    assert "kubectl delete pods -n shop --field-selector=status.phase=Failed" in finding.fix_commands


def test_evicted_wins_over_the_node_pressure_that_caused_it() -> None:
    node = {
        "kind": "Node",
        "metadata": {"name": "node-1"},
        "status": {
            "conditions": [
                {"type": "MemoryPressure", "status": "True", "reason": "KubeletHasInsufficientMemory"}
            ]
        },
    }
    evicted = pod(
        phase="Failed",
        status={"reason": "Evicted", "message": "The node was low on resource: memory. "},
    )
    assert run_analyzers(view_of([evicted, node]))[0].category == "Evicted"


def test_no_eviction_no_finding() -> None:
    assert EvictedAnalyzer().analyze(view_of([pod(statuses=[running()])])) is None


# --- sparse objects: what a partial read or an old API server may return ---

_POD_ANALYZERS: tuple[Analyzer, ...] = (
    ImagePullBackOffAnalyzer(),
    CreateContainerConfigErrorAnalyzer(),
    CreateContainerErrorAnalyzer(),
    InitContainerFailureAnalyzer(),
    ProbeFailureAnalyzer(),
    VolumeMountFailureAnalyzer(),
    EvictedAnalyzer(),
)


@pytest.mark.parametrize("analyzer", _POD_ANALYZERS, ids=lambda a: a.category)
def test_sparse_objects_do_not_break_an_analyzer(analyzer: Analyzer) -> None:
    sparse: list[K8sObject] = [
        {"kind": "Pod", "metadata": {"name": "bare", "namespace": NS}},
        {
            "kind": "Pod",
            "metadata": {"name": "half", "namespace": NS},
            "status": {"phase": "Failed", "reason": "Evicted"},
        },
        {
            "kind": "Pod",
            "metadata": {"name": "waiting", "namespace": NS},
            "status": {
                "containerStatuses": [
                    {"name": "c", "state": {"waiting": {"reason": "CreateContainerConfigError"}}}
                ],
                "initContainerStatuses": [
                    {"name": "i", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}
                ],
            },
        },
        {"kind": "Event", "metadata": {"name": "e1", "namespace": NS}, "reason": "Unhealthy"},
        {
            "kind": "Event",
            "metadata": {"name": "e2", "namespace": NS},
            "involvedObject": {"kind": "Pod", "name": "bare"},
            "reason": "FailedMount",
        },
        {"kind": "Node", "metadata": {"name": "n"}},
    ]
    view = view_of(sparse)
    analyzer.plan(view)
    finding = analyzer.analyze(view)
    if finding is not None:
        assert finding.category == analyzer.category and finding.root_cause


# --- the paste alone, when no pod in the cluster shows the condition ---


@pytest.mark.parametrize(
    ("paste", "category", "root_id"),
    [
        (
            f'Failed to pull image "{_IMG}": failed to resolve reference "{_IMG}": {_IMG}: not found',
            "ImagePullBackOff",
            "imagepull.not-found",
        ),
        (
            "Error: couldn't find key API_KEY in Secret shop/api",
            "CreateContainerConfigError",
            "createconfig.missing-key",
        ),
        (
            'Error: exec: "gunicorn": executable file not found in $PATH: unknown',
            "CreateContainerError",
            "createcontainer.executable-not-found",
        ),
        (
            'MountVolume.SetUp failed for volume "tls" : secret "api-tls" not found',
            "VolumeMountFailure",
            "volume.missing-secret",
        ),
        ("The node was low on resource: memory. ", "Evicted", "evicted.node-pressure"),
        (
            "Liveness probe failed: HTTP probe failed with statuscode: 500",
            "ProbeFailure",
            "probe.liveness-failing",
        ),
    ],
)
def test_paste_alone_gives_a_weak_finding_that_says_what_is_missing(
    paste: str, category: str, root_id: str
) -> None:
    evidence = empty_evidence(NS)
    findings = run_analyzers(EvidenceView(evidence, paste, {}, []))
    top = findings[0]
    assert (top.category, top.root_cause_id) == (category, root_id)
    assert top.score < 0.5 and top.missing
    assert top.facts[0].source == "pasted text"


# --- graph runs over the eval cases of these categories (real SnapshotReader) ---

_MINE = ("imagepull-", "createconfig-", "createcontainer-", "init-", "probe-", "volume-", "evicted-")
CASE_IDS = sorted(p.name for p in CASES.iterdir() if p.name.startswith(_MINE) and (p / "case.yaml").exists())


def test_every_category_has_several_cases() -> None:
    for prefix in _MINE:
        assert sum(c.startswith(prefix) for c in CASE_IDS) >= 3, prefix


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_case_diagnosis(case_id: str) -> None:
    case = load_case(CASES / case_id)
    out = graph.invoke(
        case.input, context=Context(deps=Deps(reader=SnapshotReader(case.path), runbooks=None))
    )
    diagnosis = out["diagnosis"]
    checks = {k: v for k, v in score(case.expect, diagnosis).items() if k != "runbook"}
    assert all(checks.values()), (checks, json.dumps(diagnosis, indent=1)[:3000])
    # The budget holds when the namespace is given; without one, finding it costs a cluster-wide pod
    # list and the reads of the namespace guessed first.
    assert diagnosis["api_requests"] <= (10 if case.input.get("namespace") else 12)


# --- ImagePullBackOff: an existing registry Secret the pod does not reference ---

_HARBOR_IMG = "harbor.acme.io/team/api:2.0.0"
_HARBOR_401 = (
    f'Failed to pull image "{_HARBOR_IMG}": failed to resolve reference "{_HARBOR_IMG}": failed to authorize: '
    "failed to fetch anonymous token: unexpected status from GET request to https://harbor.acme.io/service/token: "
    "401 Unauthorized"
)


def _registry_secret(name: str, type_: str = "kubernetes.io/dockerconfigjson", **meta: Any) -> K8sObject:
    return {
        "kind": "Secret",
        "metadata": _meta(name, **meta),
        "type": type_,
        "keyNames": [".dockerconfigjson"],
    }


def _old_rs_using(secret: str, image: str) -> K8sObject:
    rs = replicaset("api-5c8d7f9b6", [container(image=image)], ready=2)
    rs["spec"]["template"]["spec"]["imagePullSecrets"] = [{"name": secret}]
    return rs


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        # The previous revision pulled from the same registry with it: the strongest sign.
        (
            [
                _registry_secret("ci-bot"),
                _registry_secret("team-pull"),
                _old_rs_using("team-pull", "harbor.acme.io/team/api:1.9.0"),
            ],
            "team-pull",
        ),
        # Named for the registry host, among others.
        ([_registry_secret("ghcr-bot"), _registry_secret("harbor-robot-team")], "harbor-robot-team"),
        # Annotated with the registry host.
        (
            [
                _registry_secret("ghcr-bot"),
                _registry_secret("robot-creds", annotations={"registry": "harbor.acme.io"}),
            ],
            "robot-creds",
        ),
        # The only registry Secret of the namespace.
        ([_registry_secret("pull-creds"), _registry_secret("db", type_="Opaque")], "pull-creds"),
    ],
)
def test_auth_failure_names_the_unreferenced_registry_secret(extra: list[K8sObject], expected: str) -> None:
    failing = pod(
        containers=[container(image=_HARBOR_IMG)],
        statuses=[waiting("ImagePullBackOff", image=_HARBOR_IMG)],
    )
    view = view_of([failing, DEPLOYMENT, event("Failed", _HARBOR_401, field="spec.containers{api}"), *extra])
    finding = analyze(ImagePullBackOffAnalyzer(), view)
    assert finding.root_cause_id == "imagepull.auth"
    assert f"registry Secret {expected} exists in namespace shop" in finding.root_cause
    assert (
        f'kubectl patch deployment api -n shop -p \'{{"spec":{{"template":{{"spec":{{"imagePullSecrets":'
        f'[{{"name":"{expected}"}}]}}}}}}}}\''
    ) in finding.fix_commands
    assert (
        f'kubectl patch serviceaccount default -n shop -p \'{{"imagePullSecrets":[{{"name":"{expected}"}}]}}\''
        in (finding.fix_commands)
    )
    # It exists: no command re-creates it with placeholder credentials.
    assert not any("create secret" in f for f in finding.fix_commands)


@pytest.mark.parametrize(
    "extra",
    [
        [],
        [_registry_secret("db", type_="Opaque")],
        # Two registry Secrets, neither named for this registry nor used with it: no guess.
        [_registry_secret("ghcr-bot"), _registry_secret("quay-bot")],
    ],
)
def test_auth_failure_without_a_candidate_secret_creates_one(extra: list[K8sObject]) -> None:
    failing = pod(
        containers=[container(image=_HARBOR_IMG)],
        statuses=[waiting("ImagePullBackOff", image=_HARBOR_IMG)],
    )
    view = view_of([failing, DEPLOYMENT, event("Failed", _HARBOR_401, field="spec.containers{api}"), *extra])
    finding = analyze(ImagePullBackOffAnalyzer(), view)
    assert "exists in namespace" not in finding.root_cause
    assert fixes_of(finding).startswith("kubectl create secret docker-registry harbor-pull -n shop")


def test_image_pull_plan_lists_registry_secrets_when_the_pod_sends_none() -> None:
    failing = pod(statuses=[waiting("ErrImagePull", image=_HARBOR_IMG)])
    plan = ImagePullBackOffAnalyzer().plan(view_of([failing, event("Failed", _HARBOR_401)]))
    assert [(s.verb, s.kind, s.field_selector) for s in plan] == [
        ("list", "Secret", "type=kubernetes.io/dockerconfigjson"),
        ("get", "ServiceAccount", None),
    ]


# --- VolumeMountFailure: NFS checks name the export and the PersistentVolume ---


@pytest.mark.parametrize(
    ("volumes", "pv_check"),
    [
        # A claim's volume: the kubelet names it by its PersistentVolume, which holds the nfs source.
        ([{"name": "media", "persistentVolumeClaim": {"claimName": "media"}}], True),
        # An inline nfs volume: there is no PersistentVolume to look at.
        ([{"name": "uploads-nfs", "nfs": {"server": "10.1.2.3", "path": "/exports/media"}}], False),
    ],
)
def test_nfs_timeout_checks_the_export_and_the_volume_source(
    volumes: list[dict[str, Any]], pv_check: bool
) -> None:
    volume = "uploads-nfs"
    message = (
        f'MountVolume.SetUp failed for volume "{volume}" : mount failed: exit status 32\nMounting arguments: -t nfs '
        "-o hard,nfsvers=4.1 10.1.2.3:/exports/media /var/lib/kubelet/x\nOutput: mount.nfs: Connection timed out"
    )
    finding = analyze(
        VolumeMountFailureAnalyzer(),
        view_of([_mounting_pod(volumes), DEPLOYMENT, event("FailedMount", message)]),
    )
    assert finding.root_cause_id == "volume.nfs"
    assert "10.1.2.3" in finding.root_cause and "Connection timed out" in finding.root_cause
    assert "chroot /host showmount -e 10.1.2.3" in fixes_of(finding)
    assert ("kubectl get pv uploads-nfs -o jsonpath='{.spec.nfs}" in fixes_of(finding)) is pv_check


# --- held-out follow-ups (sets 3 and 4): subPath files, registry typos, rejected credentials, init OOM,
# exec probes missing from the image, objects living in another namespace ---


@pytest.mark.parametrize(
    ("mount", "volume", "in_fix"),
    [
        (
            {"name": "conf", "mountPath": "/etc/nginx/conf.d", "subPath": "default.conf"},
            {"name": "conf", "configMap": {"name": "proxy-conf"}},
            '"op":"replace","path":"/spec/template/spec/containers/0/volumeMounts/0/mountPath",'
            '"value":"/etc/nginx/conf.d/default.conf"',
        ),
        (
            {"name": "conf", "mountPath": "/etc/app", "subPath": "app.yaml"},
            {"name": "conf", "secret": {"secretName": "app", "items": [{"key": "k", "path": "app.yaml"}]}},
            '"value":"/etc/app/app.yaml"',
        ),
        (
            # A subPath naming a directory of an emptyDir is not a single file: keep the subPath fix.
            {"name": "data", "mountPath": "/var/lib/app", "subPath": "state"},
            {"name": "data", "emptyDir": {}},
            '"op":"replace","path":"/spec/template/spec/containers/0/volumeMounts/0/subPath","value":"app"',
        ),
    ],
)
def test_a_sub_path_file_mounted_onto_a_directory_is_moved_to_a_file_path(
    mount: dict[str, str], volume: K8sObject, in_fix: str
) -> None:
    message = (
        f'error mounting "/var/lib/kubelet/pods/u/volume-subpaths/{mount["name"]}/api/0" to rootfs at '
        f'"{mount["mountPath"]}": not a directory: unknown'
    )
    view = view_of(
        [
            pod(
                containers=[container(volumeMounts=[mount])],
                statuses=[crashed("api", "StartError", 128, message)],
                spec={"volumes": [volume]},
            )
        ]
    )
    finding = analyze(CreateContainerErrorAnalyzer(), view)
    assert finding.root_cause_id == "createcontainer.bad-mount-path"
    assert in_fix in fixes_of(finding), fixes_of(finding)


@pytest.mark.parametrize(
    ("image", "others", "expected"),
    [
        ("ghcr.oi/acme/api:2.0", [], "ghcr.io/acme/api:2.0"),
        ("quay.ioo/team/api:1", [], "quay.io/team/api:1"),
        (
            "harbor.acme-intrenal.net/team/api:3",
            ["harbor.acme-internal.net/team/web:1"],
            "harbor.acme-internal.net/team/api:3",
        ),
        (
            "123456789012.dkr.ecr.eu-west-1.amazonaws.con/api:4",
            [],
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/api:4",
        ),
    ],
)
def test_a_registry_host_that_does_not_resolve_is_matched_to_the_one_it_misspells(
    image: str, others: list[str], expected: str
) -> None:
    host = image.split("/", 1)[0]
    message = f'Failed to pull image "{image}": dial tcp: lookup {host} on 10.0.0.2:53: no such host'
    other_pods = [
        pod(f"web-5f6d7c8b9-{i:05d}", containers=[container("web", image=o)], statuses=[running("web")])
        for i, o in enumerate(others)
    ]
    view = view_of(
        [
            pod(
                containers=[container(image=image)],
                statuses=[waiting("ImagePullBackOff", f'Back-off pulling image "{image}"', image=image)],
            ),
            *other_pods,
            event("Failed", message, field="spec.containers{api}"),
        ],
        reads=absent("ServiceAccount", "default"),
    )
    finding = analyze(ImagePullBackOffAnalyzer(), view)
    assert finding.root_cause_id == "imagepull.registry-host-typo"
    assert "no such host" in finding.root_cause
    assert f"api={expected}" in fixes_of(finding), fixes_of(finding)


def test_an_unresolvable_registry_like_no_known_one_stays_unreachable() -> None:
    image = "registry.corp-internal.example/team/api:1"
    message = f'Failed to pull image "{image}": dial tcp: lookup registry.corp-internal.example: no such host'
    view = view_of(
        [
            pod(
                statuses=[waiting("ImagePullBackOff", "Back-off", image=image)],
                containers=[container(image=image)],
            ),
            event("Failed", message, field="spec.containers{api}"),
        ],
        reads=absent("ServiceAccount", "default"),
    )
    assert analyze(ImagePullBackOffAnalyzer(), view).root_cause_id == "imagepull.unreachable"


@pytest.mark.parametrize(
    ("log", "env", "secret", "in_fix"),
    [
        (
            'psycopg2.OperationalError: connection to server at "db" (10.0.0.9), port 5432 failed: FATAL:  '
            'password authentication failed for user "app"',
            [{"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "app-db", "key": "url"}}}],
            "app-db",
            '"stringData":{"url":',
        ),
        (
            "ERROR 1045 (28000): Access denied for user 'app'@'10.0.0.7' (using password: YES)",
            [
                {
                    "name": "DB_USER",
                    "valueFrom": {"secretKeyRef": {"name": "mysql-creds", "key": "username"}},
                },
                {
                    "name": "DB_PASSWORD",
                    "valueFrom": {"secretKeyRef": {"name": "mysql-creds", "key": "password"}},
                },
            ],
            "mysql-creds",
            "kubectl patch secret mysql-creds",
        ),
    ],
)
def test_rejected_credentials_in_an_init_container_name_the_secret_they_come_from(
    log: str, env: list[K8sObject], secret: str, in_fix: str
) -> None:
    failing = pod(
        init=[container("migrate", env=env)],
        init_statuses=[crashed("migrate", "Error", 1, restarts=4)],
        statuses=[waiting("PodInitializing")],
        phase="Pending",
    )
    view = view_of([failing, DEPLOYMENT], logs={(POD, "migrate", True): log})
    finding = analyze(InitContainerFailureAnalyzer(), view)
    assert finding.root_cause_id == "init.credentials-rejected"
    assert secret in finding.root_cause
    assert in_fix in fixes_of(finding)
    assert "rollout restart deployment/api" in fixes_of(finding)


def test_an_oomkilled_init_container_names_its_limit_and_a_heap_above_it() -> None:
    init = container(
        "flyway",
        env=[{"name": "JAVA_OPTS", "value": "-Xms256m -Xmx512m"}],
        resources={"limits": {"memory": "256Mi"}},
    )
    failing = pod(
        init=[init],
        init_statuses=[crashed("flyway", "OOMKilled", 137, restarts=3)],
        statuses=[waiting("PodInitializing")],
        phase="Pending",
    )
    view = view_of(
        [failing, DEPLOYMENT], logs={(POD, "flyway", True): 'Migrating schema "public" to version "7"'}
    )
    finding = analyze(InitContainerFailureAnalyzer(), view)
    assert finding.root_cause_id == "init.oomkilled"
    assert "256Mi" in finding.root_cause and "-Xmx512m" in finding.root_cause
    assert "-c flyway --limits=memory=768Mi" in fixes_of(finding)


@pytest.mark.parametrize(
    ("command", "ports", "replacement"),
    [
        (["/bin/grpc_health_probe", "-addr=:50051"], [50051], '"grpc":{"port":50051}'),
        (["/usr/local/bin/healthcheck"], [8080], '"tcpSocket":{"port":8080}'),
    ],
)
def test_an_exec_probe_whose_command_is_not_in_the_image_gets_a_kubelet_native_probe(
    command: list[str], ports: list[int], replacement: str
) -> None:
    probe = {"exec": {"command": command}, "periodSeconds": 10, "timeoutSeconds": 1}
    message = (
        "Readiness probe errored: rpc error: code = Unknown desc = failed to exec in container: OCI runtime exec "
        f'failed: exec failed: unable to start container process: exec: "{command[0]}": stat {command[0]}: '
        "no such file or directory: unknown"
    )
    objects = [
        _probe_pod("readinessProbe", probe, running(ready=False), ports),
        DEPLOYMENT,
        event("Unhealthy", message, field="spec.containers{api}"),
    ]
    finding = analyze(ProbeFailureAnalyzer(), view_of(objects))
    assert finding.root_cause_id == "probe.exec-command-missing"
    assert "no such file or directory" in text_of(finding)
    assert '"path":"/spec/template/spec/containers/0/readinessProbe"' in fixes_of(finding)
    assert replacement in fixes_of(finding) and '"periodSeconds":10' in fixes_of(finding)


def test_a_secret_that_exists_only_in_another_namespace_is_named_and_copied() -> None:
    env = [{"name": "STRIPE_KEY", "valueFrom": {"secretKeyRef": {"name": "stripe", "key": "api-key"}}}]
    elsewhere = {"kind": "Secret", "metadata": {"name": "stripe", "namespace": "payments-shared"}}
    view = view_of(
        [
            pod(
                containers=[container(env=env)],
                statuses=[waiting("CreateContainerConfigError", 'secret "stripe" not found')],
            ),
            elsewhere,
        ],
        reads=absent("Secret", "stripe"),
    )
    finding = analyze(CreateContainerConfigErrorAnalyzer(), view)
    assert (
        "payments-shared" in finding.root_cause
        and "secretKeyRef has no namespace field" in finding.root_cause
    )
    assert "kubectl get secret stripe -n payments-shared -o json" in fixes_of(finding)
    assert f"kubectl apply -n {NS} -f -" in fixes_of(finding)


# --- leftovers: what ended long before the rest of the activity is not the current problem ---

_NOW = "2026-11-27T08:00:00Z"


def _evicted_at(name: str, when: str) -> K8sObject:
    return pod(
        name,
        statuses=[
            {
                "name": "api",
                "ready": False,
                "restartCount": 0,
                "state": {"terminated": {"reason": "Error", "exitCode": 137, "finishedAt": when}},
            }
        ],
        phase="Failed",
        status={
            "reason": "Evicted",
            "message": "The node was low on resource: memory. Threshold quantity: 100Mi, available: 71124Ki. ",
            "conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": when}],
        },
    )


def _active_pod(name: str = "web-5c7d8b9f6-abcde") -> K8sObject:
    started = {"name": "api", "ready": True, "restartCount": 0, "state": {"running": {"startedAt": _NOW}}}
    return pod(name, statuses=[started], status={"startTime": _NOW})


@pytest.mark.parametrize(
    ("obj", "stale"),
    [
        (_evicted_at("api-6d4f9c7b8-old01", "2026-11-20T04:39:00Z"), True),
        (_evicted_at("api-6d4f9c7b8-new01", "2026-11-27T07:40:00Z"), False),
        # Still going on, however old: a pod Pending since last week is the current problem.
        (
            pod(
                "api-6d4f9c7b8-pend1",
                phase="Pending",
                status={
                    "conditions": [
                        {
                            "type": "PodScheduled",
                            "status": "False",
                            "lastTransitionTime": "2026-11-20T00:00:00Z",
                        }
                    ]
                },
            ),
            False,
        ),
        ({**event("Unhealthy", "Readiness probe failed"), "lastTimestamp": "2026-11-25T10:01:00Z"}, True),
        ({**event("Unhealthy", "Readiness probe failed"), "lastTimestamp": "2026-11-27T07:59:00Z"}, False),
        (
            {
                "kind": "Job",
                "metadata": _meta("report-1"),
                "status": {
                    "conditions": [
                        {"type": "Failed", "status": "True", "lastTransitionTime": "2026-11-19T02:00:00Z"}
                    ]
                },
            },
            True,
        ),
    ],
)
def test_staleness_of_finished_pods_jobs_and_events(obj: K8sObject, stale: bool) -> None:
    now = evidence_now([_active_pod()])
    assert is_stale(obj, now) is stale
    if obj.get("kind") == "Pod":
        assert (unhealthy_score(obj, now) < unhealthy_score(obj)) is stale


def test_evidence_now_uses_an_events_own_time_not_its_object_creation() -> None:
    old = {
        **event("Unhealthy", "Readiness probe failed"),
        "lastTimestamp": "2026-11-25T10:01:00Z",
        "metadata": {**_meta("x.1"), "creationTimestamp": "2026-11-27T07:15:00Z"},
    }
    assert str(evidence_now([old])) == "2026-11-25 10:01:00+00:00"


@pytest.mark.parametrize(
    ("paste", "category", "max_score"),
    [
        # Not asked about evictions: an old one must not beat "nothing found".
        ("checkout is sometimes slow since yesterday", "Unknown", 0.05),
        # Asked about them: the old eviction is still the (weak) answer, and says it is old.
        ("why was api evicted?", "Evicted", 0.3),
    ],
)
def test_an_old_eviction_is_a_leftover_not_the_current_problem(
    paste: str, category: str, max_score: float
) -> None:
    evidence = empty_evidence(NS)
    for obj in (_evicted_at(POD, "2026-11-19T10:00:00Z"), _active_pod(), DEPLOYMENT):
        evidence["objects"][key_of(obj)] = obj
    hypotheses = [{"category": "Evicted", "score": 0.8}] if "evicted" in paste else []
    view = EvidenceView(evidence, paste, {}, hypotheses)
    findings = run_analyzers(view)
    assert findings[0].category == category
    evicted = next(f for f in findings if f.category == "Evicted")
    assert evicted.score <= max_score
    assert "not the current problem" in text_of(evicted)
    assert EvictedAnalyzer().plan(view) == [], "no node read for an old eviction"


def test_a_current_eviction_leads_over_an_old_one() -> None:
    old = _evicted_at("api-6d4f9c7b8-old01", "2026-11-19T10:00:00Z")
    new = _evicted_at("api-6d4f9c7b8-new01", "2026-11-27T07:50:00Z")
    finding = analyze(EvictedAnalyzer(), view_of([old, new, DEPLOYMENT]))
    assert "api-6d4f9c7b8-new01" in finding.root_cause
    assert finding.score >= 0.9
    assert "not the current problem" not in finding.root_cause


def test_an_old_warning_event_is_not_evidence() -> None:
    probe_failed = {
        **event(
            "Unhealthy", "Readiness probe failed: connect: connection refused", field="spec.containers{api}"
        ),
        "lastTimestamp": "2026-11-25T10:01:00Z",
        "count": 1,
    }
    healthy = pod(statuses=[running()], status={"startTime": "2026-11-25T10:00:00Z"})
    view = view_of([healthy, probe_failed, _active_pod()])
    assert view.events_for(healthy) == []
    assert ProbeFailureAnalyzer().analyze(view) is None


@pytest.mark.parametrize(
    ("image", "grant"),
    [
        (
            "europe-west3-docker.pkg.dev/shared-artifacts/catalog/sync:1.9.0",
            "gcloud artifacts repositories add-iam-policy-binding catalog --project=shared-artifacts "
            "--location=europe-west3",
        ),
        ("eu.gcr.io/legacy-project/api:2", "gcloud projects add-iam-policy-binding legacy-project"),
        ("123456789012.dkr.ecr.eu-central-1.amazonaws.com/team/api:2", "AmazonEC2ContainerRegistryReadOnly"),
        ("acmeprod.azurecr.io/api:2", "--attach-acr acmeprod"),
        ("ghcr.io/acme/api:2", None),
    ],
)
def test_cloud_registries_are_granted_to_the_node_identity(image: str, grant: str | None) -> None:
    identity = node_identity(*split_image(image)[:2])
    assert (identity is None) is (grant is None)
    if identity is not None and grant is not None:
        assert grant in identity[1]
        assert unsafe_reason(identity[1]) is None


def test_a_403_from_a_cloud_registry_without_pull_secret_grants_the_node_identity() -> None:
    image = "europe-west3-docker.pkg.dev/shared-artifacts/catalog/sync:1.9.0"
    message = (
        f'Failed to pull image "{image}": failed to pull and unpack image "{image}": failed to resolve reference '
        f'"{image}": failed to authorize: failed to fetch oauth token: unexpected status from GET request to '
        "https://europe-west3-docker.pkg.dev/v2/token?scope=repository%3Ashared-artifacts%2Fcatalog%2Fsync%3Apull"
        "&service=europe-west3-docker.pkg.dev: 403 Forbidden"
    )
    stuck = pod(
        containers=[container(image=image)],
        statuses=[waiting("ImagePullBackOff", f"Back-off pulling {image}")],
    )
    finding = analyze(
        ImagePullBackOffAnalyzer(),
        view_of([stuck, DEPLOYMENT, event("Failed", message, field="spec.containers{api}")]),
    )
    assert "403 Forbidden" in text_of(finding), "the decisive status at the end of a long message is kept"
    assert "roles/artifactregistry.reader" in finding.fix_commands[0]
    assert "shared-artifacts" in finding.root_cause


@pytest.mark.parametrize(
    ("text", "limit", "kept"),
    [("short", 300, ["short"]), ("a" * 400 + " 403 Forbidden", 300, ["aaa", "403 Forbidden", " … "])],
)
def test_clip_keeps_both_ends(text: str, limit: int, kept: list[str]) -> None:
    clipped = clip(text, limit)
    assert len(clipped) <= limit
    assert all(k in clipped for k in kept)


@pytest.mark.parametrize(
    ("log", "quoted"),
    [
        (
            "Unexpected error running Liquibase: Validation Failed:\n     1 changesets check sum\n"
            "          db/changes/0042.yaml::0042-2::dev was: 9:6a1f but is now: 9:d41c\n\nFor more information",
            "Validation Failed: 1 changesets check sum db/changes/0042.yaml::0042-2::dev was: 9:6a1f but is now: 9:d41c",
        ),
        ("error: connection refused\nnext: line", "error: connection refused"),
    ],
)
def test_error_lines_join_the_details_an_error_announces(log: str, quoted: str) -> None:
    assert any(quoted in line for line in error_lines(log))


@pytest.mark.parametrize(("last", "kept"), [("2026-11-19T02:00:00Z", False), ("2026-11-27T07:30:00Z", True)])
def test_namespace_events_leave_out_old_ones(last: str, kept: bool) -> None:
    scheduling = {**event("FailedScheduling", "0/3 nodes are available"), "lastTimestamp": last}
    view = view_of([_active_pod(), scheduling])
    assert bool(view.events(NS, ["FailedScheduling"])) is kept
