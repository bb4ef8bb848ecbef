"""CrashLoopBackOff and OOMKilled analyzers, table-driven over seeded evidence."""

from __future__ import annotations

from typing import Any

import pytest

from graph.analysis import run_analyzers
from graph.analyzers.crashloop import CrashLoopBackOffAnalyzer
from graph.analyzers.credentials import rejected_credentials
from graph.analyzers.locks import held_lock
from graph.analyzers.oomkilled import OOMKilledAnalyzer
from graph.evidence import EvidenceView, K8sObject, empty_evidence, key_of, log_key
from graph.schemas import ReadSpec

NS = "acme"
POD = "worker-7c9d8f6b5-abcde"


def _pod(
    containers: list[K8sObject], last: dict[str, Any], *, volumes: list[K8sObject] | None = None
) -> K8sObject:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": POD,
            "namespace": NS,
            "uid": "uid-pod",
            "labels": {"app": "worker", "pod-template-hash": "7c9d8f6b5"},
            "ownerReferences": [{"kind": "ReplicaSet", "name": "worker-7c9d8f6b5", "controller": True}],
        },
        "spec": {"containers": containers, "volumes": volumes or [], "nodeName": "node-1"},
        "status": {
            "phase": "Running",
            "containerStatuses": [
                {
                    "name": containers[0]["name"],
                    "ready": False,
                    "restartCount": 6,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {"terminated": last},
                }
            ],
        },
    }


def _view(
    objects: list[K8sObject], previous_log: str | None = None, container: str = "worker"
) -> EvidenceView:
    evidence = empty_evidence(NS)
    for obj in objects:
        evidence["objects"][key_of(obj)] = obj
    evidence["focus"] = [key_of(objects[0])]
    if previous_log is not None:
        evidence["logs"][log_key(NS, POD, container, previous=True)] = previous_log
    return EvidenceView(evidence)


def _svc(name: str, ip: str, selector: dict[str, str]) -> K8sObject:
    return {
        "kind": "Service",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"clusterIP": ip, "selector": selector},
    }


def _endpoints(name: str, ready: int) -> K8sObject:
    addresses = [{"ip": f"10.0.0.{i}"} for i in range(ready)]
    return {
        "kind": "Endpoints",
        "metadata": {"name": name, "namespace": NS},
        "subsets": [{"addresses": addresses}] if ready else [],
    }


def _sts(name: str, replicas: int, labels: dict[str, str]) -> K8sObject:
    return {
        "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"replicas": replicas, "template": {"metadata": {"labels": labels}}},
    }


ERROR_EXIT = {"reason": "Error", "exitCode": 1}


@pytest.mark.parametrize(
    ("name", "objects", "log", "cause_id", "in_cause", "in_fix"),
    [
        (
            "missing env var names the variable",
            [_pod([{"name": "worker", "image": "r/worker:2"}], ERROR_EXIT)],
            "Error: Missing required environment variable QUEUE_URL\n    at requireEnv (/app/config.js:4:11)",
            "crashloop.missing-env",
            "QUEUE_URL",
            "QUEUE_URL",
        ),
        (
            "unknown flag suggests the renamed one with the container's JSON path",
            [
                _pod(
                    [{"name": "worker", "image": "r/worker:2", "args": ["--threads=8"]}],
                    {"reason": "Error", "exitCode": 2},
                )
            ],
            "flag provided but not defined: -threads\nUsage of worker:\n  -parallelism int\n    \tnumber of threads (default 4)\n",
            "crashloop.unknown-flag",
            "--threads=8",
            "/spec/template/spec/containers/0/args/0",
        ),
        (
            "config file parse error traced to its ConfigMap",
            [
                _pod(
                    [
                        {
                            "name": "worker",
                            "image": "r/worker:2",
                            "volumeMounts": [{"name": "cfg", "mountPath": "/etc/worker"}],
                        }
                    ],
                    ERROR_EXIT,
                    volumes=[{"name": "cfg", "configMap": {"name": "worker-settings"}}],
                )
            ],
            'Traceback:\n  File "/app/main.py", line 8, in <module>\n'
            "toml.decoder.TomlDecodeError: Unbalanced quotes (line 12 column 9 char 301)\n"
            "failed to load config /etc/worker/settings.toml",
            "crashloop.config-file-invalid",
            "worker-settings",
            "worker-settings",
        ),
        (
            "refused dependency traced to a StatefulSet scaled to zero",
            [
                _pod([{"name": "worker", "image": "r/worker:2"}], ERROR_EXIT),
                _svc("orders-db", "172.20.0.9", {"app": "orders-db"}),
                _endpoints("orders-db", 0),
                _sts("orders-db", 0, {"app": "orders-db"}),
            ],
            "fatal: dial tcp 172.20.0.9:5432: connect: connection refused",
            "crashloop.dependency-unreachable",
            "scaled to 0",
            "statefulset/orders-db",
        ),
        (
            "refused dependency by DNS name with ready endpoints stays generic about the backend",
            [
                _pod([{"name": "worker", "image": "r/worker:2"}], ERROR_EXIT),
                _svc("cache", "172.20.0.7", {"app": "cache"}),
                _endpoints("cache", 2),
            ],
            "could not connect: dial tcp: lookup ok; connect to cache.acme.svc.cluster.local:6379: connection refused",
            "crashloop.dependency-unreachable",
            "Service cache",
            "endpoints cache",
        ),
    ],
)
def test_crashloop_sub_causes(
    name: str, objects: list[K8sObject], log: str, cause_id: str, in_cause: str, in_fix: str
) -> None:
    finding = CrashLoopBackOffAnalyzer().analyze(_view(objects, log))
    assert finding is not None, name
    assert finding.root_cause_id == cause_id
    assert in_cause in finding.root_cause
    assert any(in_fix in command for command in finding.fix_commands), finding.fix_commands


def test_dependency_reads_are_planned_only_when_the_log_shows_refused_connections() -> None:
    pod = _pod([{"name": "worker", "image": "r/worker:2"}], ERROR_EXIT)
    planned = CrashLoopBackOffAnalyzer().plan(
        _view([pod], "dial tcp 10.0.0.1:80: connect: connection refused")
    )
    assert {spec.kind for spec in planned} == {"Service", "Endpoints", "StatefulSet"}
    assert all(spec.namespace == NS for spec in planned)
    assert CrashLoopBackOffAnalyzer().plan(_view([pod], "panic: nil map")) == []


def test_oomkilled_outranks_crashloop_on_the_same_pod() -> None:
    pod = _pod(
        [{"name": "worker", "image": "r/worker:2", "resources": {"limits": {"memory": "256Mi"}}}],
        {"reason": "OOMKilled", "exitCode": 137},
    )
    findings = run_analyzers(_view([pod]))
    assert findings[0].category == "OOMKilled"
    assert "256Mi" in findings[0].root_cause


def test_oomkilled_heap_above_limit_is_named() -> None:
    env = [{"name": "JAVA_OPTS", "value": "-Xms128m -Xmx1g"}]
    pod = _pod(
        [{"name": "worker", "image": "r/worker:2", "env": env, "resources": {"limits": {"memory": "512Mi"}}}],
        {"reason": "OOMKilled", "exitCode": 137},
    )
    finding = OOMKilledAnalyzer().analyze(_view([pod]))
    assert finding is not None
    assert finding.root_cause_id == "oomkilled.heap-above-limit"
    assert "-Xmx1g" in finding.root_cause
    assert any("JAVA_OPTS=" in fix and "MaxRAMPercentage" in fix for fix in finding.fix_commands)


def test_crash_without_logs_says_so() -> None:
    pod = _pod([{"name": "worker", "image": "r/worker:2"}], {"reason": "Error", "exitCode": 139})
    finding = CrashLoopBackOffAnalyzer().analyze(_view([pod]))
    assert finding is not None
    assert "segmentation fault" in finding.root_cause and "no log" in finding.root_cause


# --- locks held by an instance that is gone, and credentials a server rejects ---


_LIQUIBASE = (
    "INFO liquibase.lockservice : Waiting for changelog lock....\n"
    "Caused by: liquibase.exception.LockException: Could not acquire change log lock.  Currently locked by "
    "worker-5b6c7d8e9f-old01 (10.0.3.4) since 11/27/26, 7:12 AM\n"
)


@pytest.mark.parametrize(
    ("log", "tool", "lock_words", "holder"),
    [
        (_LIQUIBASE, "Liquibase", "DATABASECHANGELOGLOCK", "worker-5b6c7d8e9f-old01"),
        (
            "org.flywaydb.core.api.FlywayException: Number of retries exceeded while attempting to acquire "
            "PostgreSQL advisory lock. Configure the number of retries with the 'lockRetryCount' option",
            "Flyway",
            "advisory",
            None,
        ),
        (
            "Error: Timed out trying to acquire a postgres advisory lock (SELECT pg_advisory_lock(72707369)).",
            "Prisma",
            "advisory",
            None,
        ),
        ("MigrationLocked: Migration table is already locked", "knex", "knex_migrations_lock", None),
        (
            "ActiveRecord::ConcurrentMigrationError: Cannot run migrations because another migration process "
            "is currently running.",
            "Rails",
            "advisory",
            None,
        ),
        (
            "E1127 leaderelection.go:332] error retrieving resource lock ops/worker-leader\n"
            "failed to acquire lease ops/worker-leader: lock is held by worker-1 and has not yet expired\n"
            "F1127 main.go:90] leaderelection lost",
            "leader election",
            "Lease ops/worker-leader",
            "worker-1",
        ),
    ],
)
def test_held_locks_are_named_with_their_holder(
    log: str, tool: str, lock_words: str, holder: str | None
) -> None:
    lock = held_lock(log)
    assert lock is not None
    assert lock.tool == tool
    assert lock_words in lock.lock
    assert lock.holder == holder


def test_no_lock_in_an_ordinary_crash() -> None:
    assert held_lock("panic: runtime error: invalid memory address or nil pointer dereference") is None


def _lock_view(holder_exists: bool) -> EvidenceView:
    spec = {
        "name": "worker",
        "image": "r/worker:2",
        "env": [
            {"name": "SPRING_DATASOURCE_URL", "value": "jdbc:postgresql://orders-db.acme.svc:5432/orders"}
        ],
    }
    objects = [_pod([spec], ERROR_EXIT)]
    if holder_exists:
        holder = _pod([spec], ERROR_EXIT)
        holder["metadata"] = {**holder["metadata"], "name": "worker-5b6c7d8e9f-old01"}
        objects.append(holder)
    view = _view(objects, _LIQUIBASE)
    view.evidence["reads"][ReadSpec(verb="list", kind="Pod", namespace=NS).key()] = "ok"
    return view


def test_a_crash_on_a_stale_liquibase_lock_gives_the_guarded_release() -> None:
    finding = CrashLoopBackOffAnalyzer().analyze(_lock_view(holder_exists=False))
    assert finding is not None
    assert finding.root_cause_id == "crashloop.lock-held"
    assert "worker-5b6c7d8e9f-old01" in finding.root_cause and "stale" in finding.root_cause
    release = [c for c in finding.fix_commands if "DATABASECHANGELOGLOCK" in c]
    assert release and all("⚠" in c for c in release)
    assert "psql -h orders-db.acme.svc" in release[0] and "-d orders" in release[0]
    # Rolling back would not help: the old version waits for the same lock.
    assert not any("rollout undo" in c for c in finding.fix_commands)


def test_a_lock_whose_holder_still_runs_is_not_called_stale() -> None:
    finding = CrashLoopBackOffAnalyzer().analyze(_lock_view(holder_exists=True))
    assert finding is not None
    assert "stale" not in finding.root_cause and "still exists" in finding.root_cause
    assert any(c.startswith("kubectl logs worker-5b6c7d8e9f-old01") for c in finding.fix_commands)


@pytest.mark.parametrize(
    ("log", "user"),
    [
        ('FATAL:  password authentication failed for user "orders"', "orders"),
        ("java.sql.SQLException: Access denied for user 'orders'@'10.1.2.3' (using password: YES)", "orders"),
        ("Login failed for user 'orders'.", "orders"),
        ("ReplyError: WRONGPASS invalid username-password pair or user is disabled.", None),
        ("NOAUTH Authentication required.", None),
    ],
)
def test_rejected_credentials_are_recognised(log: str, user: str | None) -> None:
    found = rejected_credentials(log)
    assert found is not None
    assert found.user == user


def test_a_crash_on_rejected_credentials_names_the_secret_not_a_missing_env_var() -> None:
    spec = {
        "name": "worker",
        "image": "r/worker:2",
        "envFrom": [{"secretRef": {"name": "worker-redis"}}],
    }
    finding = CrashLoopBackOffAnalyzer().analyze(
        _view([_pod([spec], ERROR_EXIT)], "NOAUTH Authentication required.")
    )
    assert finding is not None
    assert finding.root_cause_id == "crashloop.credentials-rejected"
    assert "Secret worker-redis via envFrom" in finding.root_cause
    assert any("kubectl patch secret worker-redis -n acme" in c for c in finding.fix_commands)


@pytest.mark.parametrize(("in_focus", "capped"), [(True, False), (False, True)])
def test_a_crashloop_outside_the_focus_is_capped(in_focus: bool, capped: bool) -> None:
    crashing = _pod([{"name": "worker", "image": "acme/worker:1"}], {"reason": "Error", "exitCode": 1})
    pending: K8sObject = {
        "kind": "Pod",
        "metadata": {
            "name": "ledger-6c8d9f7b5a-w2j9s",
            "namespace": NS,
            "ownerReferences": [{"kind": "ReplicaSet", "name": "ledger-6c8d9f7b5a", "controller": True}],
        },
        "spec": {"containers": [{"name": "ledger"}]},
        "status": {"phase": "Pending"},
    }
    view = _view([crashing, pending] if in_focus else [pending, crashing], "panic: boom")
    # The cap is applied where findings are ranked, for every analyzer alike.
    finding = next((f for f in run_analyzers(view) if f.category == "CrashLoopBackOff"), None)
    assert finding is not None
    assert (finding.score <= 0.6) is capped


_SECRET_KEY_ENV = {"valueFrom": {"secretKeyRef": {"name": "worker-keys", "key": "master"}}}


@pytest.mark.parametrize(
    ("log", "env", "named", "in_fix"),
    [
        (
            "message_encryptor.rb:238:in `_decrypt': ActiveSupport::MessageEncryptor::InvalidMessage",
            [{"name": "API_KEY", "value": "x"}, {"name": "RAILS_MASTER_KEY", **_SECRET_KEY_ENV}],
            "RAILS_MASTER_KEY",
            "kubectl create secret generic worker-keys -n acme --from-literal=master=",
        ),
        (
            "cryptography.fernet.InvalidToken",
            [{"name": "FERNET_ENCRYPTION_KEY", "value": "abc"}],
            "FERNET_ENCRYPTION_KEY",
            "kubectl set env deployment/worker -n acme -c worker FERNET_ENCRYPTION_KEY=",
        ),
        ("error:06065064:digital envelope routines:EVP_DecryptFinal_ex:bad decrypt", [], None, None),
    ],
)
def test_undecryptable_config_names_the_key_variable(
    log: str, env: list[dict[str, Any]], named: str | None, in_fix: str | None
) -> None:
    objects = [
        _pod([{"name": "worker", "image": "r/worker:2", "env": env}], ERROR_EXIT),
        {
            "kind": "ReplicaSet",
            "metadata": {
                "name": "worker-7c9d8f6b5",
                "namespace": NS,
                "ownerReferences": [{"kind": "Deployment", "name": "worker", "controller": True}],
            },
        },
        {"kind": "Deployment", "metadata": {"name": "worker", "namespace": NS}},
    ]
    finding = CrashLoopBackOffAnalyzer().analyze(_view(objects, log))
    assert finding is not None
    assert finding.root_cause_id == "crashloop.decryption-key-mismatch"
    if named:
        assert f"env {named}" in finding.root_cause
    if in_fix:
        assert any(in_fix in command for command in finding.fix_commands), finding.fix_commands
