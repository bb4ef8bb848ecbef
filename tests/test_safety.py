"""Fix-command safety: what a diagnosis may never suggest, and look-alikes that stay allowed."""

from __future__ import annotations

import pytest

from graph.safety import unsafe_reason


@pytest.mark.parametrize(
    "command",
    [
        "kubectl delete namespace prod",
        "kubectl delete ns payments",
        "kubectl -n db delete pvc data-postgres-0",
        "kubectl delete pv pvc-5e5859a0",
        "kubectl delete persistentvolumeclaim data",
        "kubectl delete node ip-10-0-1-2.ec2.internal",
        "kubectl delete validatingwebhookconfiguration gatekeeper-validating-webhook-configuration",
        "kubectl create clusterrolebinding ci --clusterrole=cluster-admin --serviceaccount=ci:deployer",
        "terraform apply -lock=false",
        "kubectl delete pod web-1 --force --grace-period=0",
        "kubectl delete pod web-1 --grace-period=0 --force",
        "terraform force-unlock 1234",
        "kubectl drain node-1 --ignore-daemonsets",
        "kubectl delete pods --all -n web",
    ],
)
def test_unsafe_commands_are_refused(command: str) -> None:
    assert unsafe_reason(command) is not None


@pytest.mark.parametrize(
    "command",
    [
        "kubectl rollout undo deployment/orders-api -n orders",
        "kubectl set resources deployment/api -c api --limits=memory=1Gi",
        "kubectl describe pvc data-postgres-0 -n db",
        "kubectl get pv",
        "kubectl cordon ip-10-0-1-2.ec2.internal",
        "terraform force-unlock 1234  # ⚠ only after confirming run 42 is no longer running",
        "kubectl drain node-1 --ignore-daemonsets --delete-emptydir-data  # ⚠ risky: evicts every pod",
        "kubectl delete pod web-1 -n web",
        "kubectl create role deployer --verb=get,patch --resource=deployments.apps -n staging",
        "terraform plan -lock-timeout=10m",
    ],
)
def test_safe_commands_are_allowed(command: str) -> None:
    assert unsafe_reason(command) is None
