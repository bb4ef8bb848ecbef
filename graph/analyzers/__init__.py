"""The analyzer registry: one analyzer per category, one module each, listed explicitly.

Order does not decide the winner (scores and :data:`graph.taxonomy.PRECEDENCE` do); it is
the order in which analyzers plan reads, so the cheap, common categories come first.
"""

from __future__ import annotations

from graph.analyzers.admission import AdmissionDeniedAnalyzer
from graph.analyzers.base import Analyzer
from graph.analyzers.certificate import CertificateErrorAnalyzer
from graph.analyzers.crashloop import CrashLoopBackOffAnalyzer
from graph.analyzers.createcontainer import CreateContainerErrorAnalyzer
from graph.analyzers.createcontainerconfig import CreateContainerConfigErrorAnalyzer
from graph.analyzers.dns import DNSFailureAnalyzer
from graph.analyzers.evicted import EvictedAnalyzer
from graph.analyzers.hpa import HPAFailureAnalyzer
from graph.analyzers.imagepull import ImagePullBackOffAnalyzer
from graph.analyzers.initcontainer import InitContainerFailureAnalyzer
from graph.analyzers.job import JobFailedAnalyzer
from graph.analyzers.nodenotready import NodeNotReadyAnalyzer
from graph.analyzers.oomkilled import OOMKilledAnalyzer
from graph.analyzers.probe import ProbeFailureAnalyzer
from graph.analyzers.quota import QuotaExceededAnalyzer
from graph.analyzers.rbac import RBACForbiddenAnalyzer
from graph.analyzers.rollout import RolloutStuckAnalyzer
from graph.analyzers.sandbox import PodSandboxFailureAnalyzer
from graph.analyzers.scheduling import FailedSchedulingAnalyzer
from graph.analyzers.service import ServiceUnreachableAnalyzer
from graph.analyzers.terraform import TerraformStateLockAnalyzer
from graph.analyzers.unknown import UnknownAnalyzer
from graph.analyzers.volumemount import VolumeMountFailureAnalyzer

ANALYZERS: tuple[Analyzer, ...] = (
    CrashLoopBackOffAnalyzer(),
    OOMKilledAnalyzer(),
    ImagePullBackOffAnalyzer(),
    CreateContainerConfigErrorAnalyzer(),
    CreateContainerErrorAnalyzer(),
    FailedSchedulingAnalyzer(),
    ProbeFailureAnalyzer(),
    EvictedAnalyzer(),
    VolumeMountFailureAnalyzer(),
    InitContainerFailureAnalyzer(),
    NodeNotReadyAnalyzer(),
    ServiceUnreachableAnalyzer(),
    DNSFailureAnalyzer(),
    QuotaExceededAnalyzer(),
    AdmissionDeniedAnalyzer(),
    RBACForbiddenAnalyzer(),
    RolloutStuckAnalyzer(),
    JobFailedAnalyzer(),
    HPAFailureAnalyzer(),
    PodSandboxFailureAnalyzer(),
    CertificateErrorAnalyzer(),
    TerraformStateLockAnalyzer(),
    UnknownAnalyzer(),
)

__all__ = ["ANALYZERS", "Analyzer"]
